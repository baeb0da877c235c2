"""The published book as readers meet it: every page, figure, widget, formula and link, in Chromium."""

import re
from urllib.parse import urlparse

import nbformat
import pytest
import yaml
from book_paths import HTML, ROOT

# Console errors that are known and harmless, each with its reason.
ALLOWED_CONSOLE_ERRORS = [
    # Sphinx 7.4 (pinned by jupyter-book 1.x) emits the THEBE_JS_URL script twice on every page.
    re.compile(r"THEBE_JS_URL.*already been declared"),
    # pydata-sphinx-theme logs this in a fresh browser profile (no stored light/dark choice).
    re.compile(r"Got invalid theme mode: \. Resetting to auto"),
    # ipywidgets' html-manager 1.0.6 typesets widget labels with MathJax 2's API (MathJax.Hub.Queue);
    # the book uses MathJax 3, so each labelled widget logs this. The widgets still render (tested below).
    re.compile(r"page error: Cannot read properties of undefined \(reading 'Queue'\)"),
    # Failed requests are checked one by one against ALLOWED_FAILED_REQUESTS instead.
    re.compile(r"Failed to load resource"),
]
ALLOWED_FAILED_REQUESTS = [
    # html-manager 1.0.6 asks for its icon fonts relative to the page, not to its own CDN folder,
    # so they 404 on any host (icons inside widgets fall back to nothing; widgets still render).
    re.compile(r"^404 .*/@jupyter-widgets/html-manager/dist/[0-9a-f]+\.(woff2?|ttf|eot|svg)$"),
]


def toc_pages():
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    pages = [toc["root"]]
    for part in toc["parts"]:
        pages += [c["file"] for c in part["chapters"]]
    return pages


def notebook(page):
    path = ROOT / f"{page}.ipynb"
    return nbformat.read(path, as_version=4) if path.exists() else None


def settle(v, condition_js: str, timeout_ms: int = 20_000) -> None:
    """Wait until ``condition_js`` holds in the page (scripts render after load, slower on a busy
    machine); on time-out, carry on and let the test's own assertion report what is missing."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        v.page.wait_for_function(condition_js, timeout=timeout_ms)
    except PlaywrightTimeout:
        pass


PLOTS_DRAWN = "() => [...document.querySelectorAll('.plotly-graph-div')].every(gd => gd.querySelector('.main-svg') && (gd.data || []).length)"
# Only once the page has been parsed: before that, a widget's script may not exist yet, and
# every() over no scripts is true.
WIDGETS_DRAWN = """() => document.readyState === 'complete' && [...document.querySelectorAll('script[type="application/vnd.jupyter.widget-view+json"]')].every(
    s => s.parentElement.querySelector('.jupyter-widgets, .widget-inline-hbox, .widget-vbox, .widget-container') !== null)"""


def settle_figures(v, expected: int) -> None:
    """Wait until ``expected`` figure divs exist and all are drawn: on a busy machine the drawn-check
    alone can pass on the figures parsed so far."""
    settle(
        v,
        f"() => document.querySelectorAll('.plotly-graph-div').length >= {expected} && ({PLOTS_DRAWN})()",
    )


def count_outputs(nb, predicate):
    return sum(1 for c in nb.cells if c.cell_type == "code" for o in c.outputs if predicate(o))


def is_plotly(o):
    return "plotly-graph-div" in o.get("data", {}).get("text/html", "")


def is_widget(o):
    return "application/vnd.jupyter.widget-view+json" in o.get("data", {})


@pytest.mark.parametrize("page", toc_pages())
def test_page_loads_without_console_errors(visit, page):
    v = visit(f"{page}.html")
    assert v.status == 200, f"{page}.html: HTTP {v.status}"
    unexpected = [e for e in v.errors if not any(p.search(e) for p in ALLOWED_CONSOLE_ERRORS)]
    assert not unexpected, f"{page}.html: console errors {unexpected}"
    failed = [r for r in v.failed if not any(p.search(r) for p in ALLOWED_FAILED_REQUESTS)]
    assert not failed, f"{page}.html: failed requests {failed}"
    assert not v.blocked, f"{page}.html requested external assets with no local copy: {v.blocked}"


@pytest.mark.parametrize("page", [p for p in toc_pages() if notebook(p)])
def test_every_plotly_figure_is_drawn(visit, page):
    expected = count_outputs(notebook(page), is_plotly)
    v = visit(f"{page}.html")
    settle_figures(v, expected)
    drawn = v.page.evaluate(
        """() => [...document.querySelectorAll('.plotly-graph-div')].map(gd =>
            gd.querySelectorAll('.main-svg').length > 0 && (gd.data || []).length > 0 &&
            gd.querySelectorAll('.trace, .hm, .bars path, .scatterlayer path').length > 0)"""
    )
    assert len(drawn) == expected, (
        f"{page}.html: {len(drawn)} plotly figures on the page, notebook has {expected}"
    )
    assert all(drawn), (
        f"{page}.html: plotly figures not drawn: indexes {[i for i, ok in enumerate(drawn) if not ok]}"
    )


SNAPSHOT = """(i) => { const gd = document.querySelectorAll('.plotly-graph-div')[i];
    return JSON.stringify([...gd.querySelectorAll('.trace path, .hm image, .point path, .bars path')].map(e => e.getAttribute('d') || e.getAttribute('href') || '').join('|')) + JSON.stringify((gd.data||[]).map(t => t.visible)); }"""


@pytest.mark.parametrize(
    "page", [p for p in toc_pages() if notebook(p) and count_outputs(notebook(p), is_plotly)]
)
def test_sliders_and_dropdowns_change_the_figure(visit, page):
    v = visit(f"{page}.html")
    settle_figures(v, count_outputs(notebook(page), is_plotly))
    n = v.page.evaluate("() => document.querySelectorAll('.plotly-graph-div').length")
    for i in range(n):
        gd = v.page.locator(".plotly-graph-div").nth(i)
        gd.scroll_into_view_if_needed()
        before = v.page.evaluate(SNAPSHOT, i)
        rail = gd.locator(".slider-rail-rect")
        if rail.count():
            box = rail.first.bounding_box()
            v.page.mouse.click(box["x"] + 3, box["y"] + box["height"] / 2)  # the first step
            v.page.wait_for_timeout(300)
            after = v.page.evaluate(SNAPSHOT, i)
            assert after != before, f"{page}.html figure {i}: moving the slider changed nothing"
            before = after
        header = gd.locator(".updatemenu-header")
        if header.count():
            header.first.click()
            active = v.page.evaluate(
                "(i) => document.querySelectorAll('.plotly-graph-div')[i].layout.updatemenus[0].active || 0",
                i,
            )
            gd.locator(".updatemenu-dropdown-button, .updatemenu-button").nth(
                1 if active == 0 else 0
            ).click()  # not the shown one
            v.page.wait_for_timeout(300)
            after = v.page.evaluate(SNAPSHOT, i)
            assert after != before, (
                f"{page}.html figure {i}: choosing a dropdown entry changed nothing"
            )


@pytest.mark.parametrize(
    "page", [p for p in toc_pages() if notebook(p) and count_outputs(notebook(p), is_widget)]
)
def test_stored_widgets_render(visit, page):
    expected = count_outputs(notebook(page), is_widget)
    v = visit(f"{page}.html")
    settle(v, WIDGETS_DRAWN)
    rendered = v.page.evaluate(
        "() => [...document.querySelectorAll('script[type=\"application/vnd.jupyter.widget-view+json\"]')]"
        ".map(s => s.parentElement.querySelector('.jupyter-widgets, .widget-inline-hbox, .widget-vbox, .widget-container') !== null)"
    )
    assert len(rendered) == expected, (
        f"{page}.html: {len(rendered)} widget views on the page, notebook has {expected}"
    )
    assert all(rendered), f"{page}.html: widget views not rendered: {rendered}"


def is_image(o):
    return "image/png" in o.get("data", {})


def widget_drawings(nb):
    """How many images the notebook's stored widget state shows (lora_teach.notebook.live's drawings)."""
    state = nb.metadata.get("widgets", {}).get("application/vnd.jupyter.widget-state+json", {})
    return sum(
        "image/png" in out.get("data", {})
        for model in state.get("state", {}).values()
        for out in model.get("state", {}).get("outputs", [])
    )


IMAGES_LOADED = "() => [...document.querySelectorAll('.cell_output img')].map(i => i.complete && i.naturalWidth > 0)"


@pytest.mark.parametrize(
    "page",
    [
        p
        for p in toc_pages()
        if notebook(p) and count_outputs(notebook(p), is_image) + widget_drawings(notebook(p))
    ],
)
def test_static_figures_diagrams_and_widget_drawings_load(visit, page):
    nb = notebook(page)
    expected = count_outputs(nb, is_image) + widget_drawings(nb)
    v = visit(f"{page}.html")
    settle(v, f"() => ({IMAGES_LOADED})().filter(Boolean).length >= {expected}")
    loaded = v.page.evaluate(IMAGES_LOADED)
    assert len(loaded) == expected, f"{page}.html: {len(loaded)} images, notebook has {expected}"
    assert all(loaded), f"{page}.html: images that did not load: {loaded}"
    inside_widgets = v.page.evaluate(
        "() => document.querySelectorAll('.cell_output .jupyter-widgets img, .cell_output .widget-output img').length"
    )
    assert inside_widgets == widget_drawings(nb), f"{page}.html: a widget's drawing is missing"


@pytest.mark.parametrize("page", toc_pages())
def test_maths_renders(visit, page):
    v = visit(f"{page}.html")
    settle(
        v,
        "() => !document.querySelector('main') || !/\\$[^$\\n]*\\\\[a-zA-Z]/.test(document.querySelector('main').innerText)",
    )
    text = v.page.inner_text("main")
    raw = re.findall(r"\$[^$\n]{1,40}\\[a-zA-Z]+[^$\n]{0,40}\$", text)
    assert not raw, f"{page}.html: raw TeX left on the page: {raw[:3]}"
    source = (
        (ROOT / f"{page}.md").read_text()
        if (ROOT / f"{page}.md").exists()
        else "".join(c.source for c in notebook(page).cells if c.cell_type == "markdown")
    )
    if "$" in source:
        settle(v, "() => document.querySelectorAll('mjx-container').length > 0")
        assert v.page.locator("mjx-container").count() > 0, (
            f"{page}.html: maths in the source, no MathJax output"
        )


@pytest.mark.parametrize("page", [p for p in toc_pages() if p.startswith("chapters/")])
def test_exercise_solutions_are_hidden_until_clicked(visit, page):
    v = visit(f"{page}.html")
    exercises, solutions = v.page.locator("div.exercise"), v.page.locator("div.solution")
    assert exercises.count() >= 3, (
        f"{page}.html: {exercises.count()} exercises, at least 3 expected"
    )
    assert solutions.count() == exercises.count(), f"{page}.html: an exercise without a solution"
    settle(
        v,
        "() => [...document.querySelectorAll('div.solution')].every(s => s.querySelector('button.toggle-button'))",
    )
    for i in range(solutions.count()):
        body = solutions.nth(i).locator(":scope > :not(.admonition-title)").first
        assert not body.is_visible(), f"{page}.html: solution {i + 1} is shown before a click"
    solution = solutions.first
    solution.scroll_into_view_if_needed()
    solution.locator(".admonition-title").click()
    body = solution.locator(":scope > :not(.admonition-title)").first
    body.wait_for(state="visible", timeout=5000)
    assert body.inner_text().strip(), f"{page}.html: the revealed solution is empty"


# Each shown code block whose text is wider than its box (it would scroll sideways): its longest line.
OVERFLOWING_CODE = """() => [...document.querySelectorAll('div.cell_input pre')]
    .filter(pre => pre.scrollWidth > pre.clientWidth + 1)
    .map(pre => pre.textContent.split('\\n').reduce((a, b) => (b.length > a.length ? b : a), ''))"""


@pytest.mark.parametrize("page", [p for p in toc_pages() if p.startswith("chapters/")])
def test_code_fits_the_column(visit, page):
    v = visit(f"{page}.html")
    shown = v.page.locator("div.cell_input pre").count()
    assert shown, f"{page}.html: no code cells found (selector out of date?)"
    wide = v.page.evaluate(OVERFLOWING_CODE)
    assert not wide, f"{page}.html: {len(wide)} of {shown} code cells scroll sideways: {wide[:3]}"


@pytest.mark.parametrize("page", [p for p in toc_pages() if p.startswith("chapters/")])
def test_colab_link_points_at_the_notebook(visit, page):
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    repo = urlparse(config["repository"]["url"]).path.strip("/")
    branch = config["repository"]["branch"]
    v = visit(f"{page}.html")
    hrefs = v.page.eval_on_selector_all(
        "a[href*='colab.research.google.com']", "els => els.map(e => e.href)"
    )
    assert hrefs, f"{page}.html: no launch-in-Colab link"
    expected = f"https://colab.research.google.com/github/{repo}/blob/{branch}/{page}.ipynb"
    assert expected in hrefs, f"{page}.html: Colab link {hrefs} is not {expected}"
    assert (ROOT / f"{page}.ipynb").is_file()


def test_internal_links_resolve(visit, book_url):
    broken = []
    for page in toc_pages():
        v = visit(f"{page}.html")
        for href in v.page.eval_on_selector_all("a[href]", "els => els.map(e => e.href)"):
            if not href.startswith(book_url):
                continue
            path = urlparse(href).path.lstrip("/") or "index.html"
            target = HTML / path
            if target.is_dir():
                target = target / "index.html"
            if not target.exists():
                broken.append(f"{page}.html -> {href}")
    assert not broken, f"broken internal links: {broken[:10]}"


def test_screenshots(visit, tmp_path_factory):
    out = ROOT / "_build" / "screenshots"
    out.mkdir(parents=True, exist_ok=True)
    for page in ("book/intro", "chapters/02_pseudocode_loop"):
        v = visit(f"{page}.html")
        settle(v, "() => document.querySelectorAll('mjx-container').length > 0")
        path = out / f"{page.replace('/', '_')}.png"
        v.page.screenshot(path=str(path), full_page=False)
        assert path.stat().st_size > 10_000
