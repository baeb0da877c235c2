"""Every chapter in _toc.yml exists, ran top to bottom, has no errors, and can be compared by nbval."""

import ast
import importlib
import re
from pathlib import Path

import nbformat
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]


def toc_files():
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"]]
    for part in toc.get("parts", [{"chapters": toc.get("chapters", [])}]):
        files += [c["file"] for c in part["chapters"]]
    return files


def chapters():
    return [f for f in toc_files() if f.startswith("chapters/")]


def test_every_toc_entry_exists():
    for entry in toc_files():
        assert (ROOT / f"{entry}.ipynb").exists() or (ROOT / f"{entry}.md").exists(), (
            f"{entry} is in _toc.yml but missing"
        )
    on_disk = {f"chapters/{p.stem}" for p in (ROOT / "chapters").glob("*.ipynb")}
    assert on_disk == set(chapters()), "every notebook in chapters/ must be listed in _toc.yml"


@pytest.mark.parametrize("entry", chapters())
def test_chapter_executed_in_order_without_errors(entry):
    nb = nbformat.read(ROOT / f"{entry}.ipynb", as_version=4)
    counts = [c.execution_count for c in nb.cells if c.cell_type == "code"]
    # nbval skips cells whose execution_count is null: every code cell must carry its count
    assert None not in counts, f"{entry}: unexecuted code cells (null execution_count)"
    assert counts == list(range(1, len(counts) + 1)), (
        f"{entry}: cells not executed top to bottom: {counts}"
    )
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        tags = cell.metadata.get("tags", [])
        errors = [o for o in cell.outputs if o.output_type == "error"]
        assert not errors or "raises-exception" in tags, (
            f"{entry} cell {i}: error output {errors[0].ename}"
        )
        assert "execution" not in cell.metadata, (
            f"{entry} cell {i}: run-specific timing metadata left in"
        )


@pytest.mark.parametrize("entry", chapters())
def test_chapter_shape(entry):
    nb = nbformat.read(ROOT / f"{entry}.ipynb", as_version=4)
    text = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    assert "**After this chapter you can**" in nb.cells[0].source, (
        f"{entry}: open with the reader's goals"
    )
    assert "## Summary" in text and "## Exercises" in text, f"{entry}: summary and exercises"
    exercises = re.findall(r"^:{3,}\{exercise\}\n:label: (\S+)", text, flags=re.M)
    # A solution is one directive, or gated (solution-start ... solution-end) around code cells.
    solutions = re.findall(
        r"^:{3,}\{solution(?:-start)?\} (\S+)\n:class: dropdown", text, flags=re.M
    )
    gated = len(re.findall(r"^:{3,}\{solution-start\}", text, flags=re.M))
    ends = len(re.findall(r"^:{3,}\{solution-end\}", text, flags=re.M))
    assert gated == ends, f"{entry}: {gated} gated solutions, {ends} solution-end"
    assert len(exercises) >= 3, f"{entry}: {len(exercises)} exercises (sphinx-exercise), at least 3"
    assert solutions == exercises, (
        f"{entry}: each exercise needs a solution hidden behind a toggle (:class: dropdown)"
    )
    colab = nb.cells[1]
    assert "google.colab" in colab.source and colab.outputs == [], (
        f"{entry}: first code cell is the Colab setup, silent elsewhere"
    )


def test_colab_setup_cell_is_the_same_in_every_chapter():
    cells = {
        e: nbformat.read(ROOT / f"{e}.ipynb", as_version=4).cells[1].source for e in chapters()
    }
    first = next(iter(cells.values()))
    differ = [e for e, source in cells.items() if source != first]
    assert not differ, f"Colab setup cell differs from the first chapter's in {differ}"


def test_colab_setup_uses_the_configured_repository():
    url = yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]["url"]
    for entry in chapters():
        source = nbformat.read(ROOT / f"{entry}.ipynb", as_version=4).cells[1].source
        clones = re.findall(r'^\s*URL = "([^"]+)"$', source, flags=re.MULTILINE)
        assert clones == [url], f"{entry}: Colab cell clones {clones}, _config.yml says {url}"


def stored_widget_models(nb) -> dict:
    """The widget models stored with a notebook (what the published page renders), by model id."""
    return (
        nb.metadata.get("widgets", {})
        .get("application/vnd.jupyter.widget-state+json", {})
        .get("state", {})
    )


def test_interactive_controls_have_stored_widget_state():
    for entry in chapters():
        nb = nbformat.read(ROOT / f"{entry}.ipynb", as_version=4)
        uses_widgets = any("ipywidgets" in c.source for c in nb.cells if c.cell_type == "code")
        if uses_widgets:
            state = stored_widget_models(nb)
            assert state, (
                f"{entry}: ipywidgets used but no widget state stored (the book could not render them)"
            )


def test_chapters_that_choose_a_profile_open_on_a_colab_gpu_runtime():
    for entry in chapters():
        nb = nbformat.read(ROOT / f"{entry}.ipynb", as_version=4)
        chooses = any("profile()" in c.source for c in nb.cells if c.cell_type == "code")
        gpu = (
            nb.metadata.get("accelerator") == "GPU"
            and nb.metadata.get("colab", {}).get("gpuType") == "T4"
        )
        assert chooses == gpu, (
            f"{entry}: a GPU runtime is for the chapters that can use it (profile())"
        )


# What a cell whose output nbval does not compare may do: time something or measure memory.
# (Widgets that draw when created use lora_teach.notebook.live, so their cells are compared like any other.)
UNCOMPARED_REASONS = (
    "perf_counter",
    "interleaved_medians",
    "measure_step_costs",
    "epoch_seconds",
    "peak_rss_bytes",
    "mean_epoch_seconds",
)


@pytest.mark.parametrize("entry", chapters())
def test_only_timing_cells_are_left_uncompared(entry):
    nb = nbformat.read(ROOT / f"{entry}.ipynb", as_version=4)
    for i, cell in enumerate(nb.cells):
        if "nbval-ignore-output" in cell.metadata.get("tags", []):
            assert any(reason in cell.source for reason in UNCOMPARED_REASONS), (
                f"{entry} cell {i}: output left uncompared, but it times nothing"
            )


@pytest.mark.parametrize("entry", chapters())
def test_live_widgets_store_their_first_drawing(entry):
    """Each cell drawing through lora_teach.notebook.live leaves one Output widget holding its drawing, in
    the stored widget state the published page renders."""
    nb = nbformat.read(ROOT / f"{entry}.ipynb", as_version=4)
    live_cells = sum(
        "live_controls(" in c.source or "show_in(" in c.source
        for c in nb.cells
        if c.cell_type == "code"
    )
    drawn = sum(
        model["model_name"] == "OutputModel" and bool(model["state"].get("outputs"))
        for model in stored_widget_models(nb).values()
    )
    assert drawn >= live_cells, f"{entry}: {live_cells} live cells, {drawn} stored drawings"


# The book's code column shows about 77 characters at a 1280-pixel window (pydata theme,
# measured in Chromium); chapters/ruff.toml formats at this width and the browser test checks
# that nothing scrolls sideways.
CODE_WIDTH = 76


@pytest.mark.parametrize("entry", chapters())
def test_code_lines_fit_the_page(entry):
    nb = nbformat.read(ROOT / f"{entry}.ipynb", as_version=4)
    long = [
        (i, line)
        for i, cell in enumerate(nb.cells)
        if cell.cell_type == "code"
        for line in cell.source.splitlines()
        if len(line) > CODE_WIDTH
    ]
    assert not long, f"{entry}: {len(long)} code lines over {CODE_WIDTH} characters: {long[:3]}"


# A gated solution's code sits inside a dropdown, whose padding leaves about 74.7 characters.
SOLUTION_WIDTH = 74


@pytest.mark.parametrize("entry", chapters())
def test_solution_code_fits_its_dropdown(entry):
    nb = nbformat.read(ROOT / f"{entry}.ipynb", as_version=4)
    inside, long = False, []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "markdown":
            # one markdown cell may close a solution and open the next: the last marker wins
            start = cell.source.rfind("{solution-start}")
            end = cell.source.rfind("{solution-end}")
            inside = start > end if max(start, end) >= 0 else inside
        elif inside:
            long += [(i, line) for line in cell.source.splitlines() if len(line) > SOLUTION_WIDTH]
    assert not long, f"{entry}: solution code lines over {SOLUTION_WIDTH} characters: {long[:3]}"


def _resolve(dotted: str):
    """The object a dotted ``lora_teach`` path names: the longest importable module, then attributes."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError:
            continue
        for attr in parts[cut:]:
            obj = getattr(obj, attr)
        return obj
    raise ModuleNotFoundError(dotted)


@pytest.mark.parametrize("entry", chapters())
def test_chapters_name_paths_that_exist(entry):
    """Every `from lora_teach... import name` in the code and every lora_teach.x.y in the prose
    resolves, so that a moved module fails here in seconds rather than in nbval."""
    nb = nbformat.read(ROOT / f"{entry}.ipynb", as_version=4)
    missing = []
    for cell in nb.cells:
        if cell.cell_type == "code":
            tree = ast.parse(cell.source)
            for node in ast.walk(tree):
                if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(
                    "lora_teach"
                ):
                    module = importlib.import_module(node.module)
                    missing += [
                        f"{node.module}.{a.name}" for a in node.names if not hasattr(module, a.name)
                    ]
        else:
            for dotted in re.findall(r"lora_teach(?:\.\w+)+", cell.source):
                try:
                    _resolve(dotted)
                except (ModuleNotFoundError, AttributeError):
                    missing.append(dotted)
    assert not missing, f"{entry}: {missing}"
