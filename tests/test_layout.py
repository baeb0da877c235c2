"""The package's layers (README, "Layout"): imports only point down, never in a circle, never
through a package ``__init__``; ``import lora_teach`` needs neither lalsuite nor openai-whisper."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "lora_teach"
# Bottom to top. The top level is LoRA itself; each folder is one part of the experiment.
LAYERS = ["lora_teach", "whisper", "gw", "detection", "train", "experiments", "notebook"]


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer(module: str) -> int:
    parts = module.split(".")
    sub = parts[1] if len(parts) > 1 and (PACKAGE / parts[1]).is_dir() else "lora_teach"
    return LAYERS.index(sub)


def imports(path: Path) -> list[tuple[str, int]]:
    """(imported lora_teach module, line) for every import in the file, in functions too."""
    tree = ast.parse(path.read_text())
    here = module_name(path)
    package = here if path.stem == "__init__" else here.rpartition(".")[0]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(a.name, node.lineno) for a in node.names if a.name.startswith("lora_teach")]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                target = f"{base}.{node.module}" if node.module else base
            else:
                target = node.module or ""
            if not target.startswith("lora_teach"):
                continue
            # `from package import submodule` imports the submodule
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                is_module = (PACKAGE.parent / Path(*sub.split("."))).with_suffix(".py").is_file()
                found.append((sub if is_module else target, node.lineno))
    return found


MODULES = {module_name(p): p for p in PACKAGE.rglob("*.py")}
GRAPH = {name: {target for target, _ in imports(path)} for name, path in MODULES.items()}


def test_the_layers_cover_every_folder():
    folders = {p.name for p in PACKAGE.iterdir() if p.is_dir() and p.name != "__pycache__"}
    assert folders == set(LAYERS[1:])


@pytest.mark.parametrize("name", sorted(MODULES))
def test_imports_point_down_the_layers(name):
    up = [(target, line) for target, line in imports(MODULES[name]) if layer(target) > layer(name)]
    assert not up, f"{name} imports from a higher layer: {up}"


@pytest.mark.parametrize("name", sorted(n for n, p in MODULES.items() if p.stem != "__init__"))
def test_modules_import_from_the_defining_module(name):
    through = [
        (target, line)
        for target, line in imports(MODULES[name])
        if MODULES.get(target, Path()).stem == "__init__"
    ]
    assert not through, f"{name} imports through a package __init__: {through}"


def test_no_import_circles():
    state: dict[str, str] = {}

    def visit(node, path):
        state[node] = "open"
        for nxt in sorted(GRAPH.get(node, ())):
            if nxt not in MODULES:
                continue
            if state.get(nxt) == "open":
                cycle = path[path.index(nxt) :] + [nxt]
                pytest.fail("import circle: " + " -> ".join(cycle))
            if nxt not in state:
                visit(nxt, path + [nxt])
        state[node] = "done"

    for name in sorted(MODULES):
        if name not in state:
            visit(name, [name])


def test_package_inits_only_re_export():
    for name, path in MODULES.items():
        if path.stem != "__init__":
            continue
        body = ast.parse(path.read_text()).body
        kinds = {
            type(node).__name__
            for node in body
            if not (isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant))
        }
        assert kinds <= {"ImportFrom", "Assign"}, f"{name}: {kinds}"


def test_import_lora_teach_needs_neither_lalsuite_nor_whisper():
    code = "import sys, lora_teach; print(sorted({'lal', 'whisper'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_tests_mirror_the_package():
    tests = Path(__file__).resolve().parent
    folders = {p.name for p in tests.iterdir() if p.is_dir() and not p.name.startswith("__")}
    # browser: the built book; peers: PyCBC's run in its own environment; support: helpers
    assert folders - {"browser", "peers", "support"} == set(LAYERS[1:])
