"""A real browser (Debian's chromium, driven by Playwright) on the built book, served locally.

Runs when LORA_TEACH_BROWSER=1 (CI sets it; then a missing build or browser is a failure),
and is skipped otherwise. CDN assets are served from local copies so no internet is needed.
"""

import functools
import http.server
import os
import re
import threading
from pathlib import Path

import pytest
from book_paths import HTML

VENDOR = Path(__file__).resolve().parent / "node_modules"
CHROMIUM = "/usr/bin/chromium"
REQUIRED = os.environ.get("LORA_TEACH_BROWSER") == "1"


def _plotly_js() -> Path:
    import plotly

    return Path(plotly.__file__).parent / "package_data" / "plotly.min.js"


# CDN URL pattern -> function(match) -> local file. Anything else outside the local server is aborted.
CDN_ROUTES = [
    (re.compile(r"https://cdn\.plot\.ly/plotly-[\d.]+\.min(\.js)?$"), lambda m: _plotly_js()),
    (
        re.compile(r"https://cdn\.jsdelivr\.net/npm/(@jupyter-widgets/html-manager)@[\d.]+/(.+)$"),
        lambda m: VENDOR / m[1] / m[2],
    ),
    (
        re.compile(r"https://cdn\.jsdelivr\.net/npm/requirejs@[\d.]+/(.+)$"),
        lambda m: VENDOR / "requirejs" / m[1],
    ),
    (
        re.compile(r"https://cdn\.jsdelivr\.net/npm/mathjax@3/(.+)$"),
        lambda m: VENDOR / "mathjax" / m[1],
    ),
    (
        re.compile(
            r"https://cdnjs\.cloudflare\.com/ajax/libs/mathjax/[\d.]+/(es5/.+?)(\.min)?\.js$"
        ),
        lambda m: VENDOR / "mathjax" / f"{m[1]}.js",
    ),
]


def _need(condition: bool, message: str):
    if not condition:
        (pytest.fail if REQUIRED else pytest.skip)(message)


@pytest.fixture(scope="session")
def book_url():
    _need(REQUIRED, "browser tests run with LORA_TEACH_BROWSER=1 (scripts/test.sh sets it)")
    _need(
        (HTML / "index.html").is_file(), f"no built book at {HTML}: run jupyter-book build . first"
    )

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    handler = functools.partial(Quiet, directory=str(HTML))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture(scope="session")
def browser():
    _need(Path(CHROMIUM).exists(), f"{CHROMIUM} missing: apt-get install chromium")
    _need(VENDOR.is_dir(), f"{VENDOR} missing: npm install in tests/browser")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield b
        b.close()


class PageVisit:
    """A loaded page with its console errors and the external requests it made."""

    def __init__(self, page):
        self.page, self.errors, self.blocked, self.failed = page, [], [], []


@pytest.fixture
def visit(browser, book_url):
    context = browser.new_context(viewport={"width": 1280, "height": 900})

    def route(r):
        url = r.request.url
        if url.startswith(book_url):
            return r.continue_()
        for pattern, local in CDN_ROUTES:
            m = pattern.match(url)
            if m and local(m).is_file():
                ctype = "application/javascript" if url.endswith(".js") or "plotly" in url else None
                return r.fulfill(
                    path=str(local(m)),
                    content_type=ctype,
                    headers={"Access-Control-Allow-Origin": "*"},
                )
        opened[-1].blocked.append(url)
        return r.abort()

    context.route("**/*", route)
    opened = []

    def open_page(path: str) -> PageVisit:
        page = context.new_page()
        v = PageVisit(page)
        opened.append(v)
        page.on("console", lambda msg: v.errors.append(msg.text) if msg.type == "error" else None)
        page.on("pageerror", lambda exc: v.errors.append(f"page error: {exc}"))
        page.on(
            "response",
            lambda r: v.failed.append(f"{r.status} {r.url}") if r.status >= 400 else None,
        )
        response = page.goto(f"{book_url}/{path}", wait_until="networkidle")
        v.status = response.status if response else None
        page.wait_for_load_state("load")  # networkidle can come before a long page is parsed
        page.wait_for_timeout(300)  # let figure and widget scripts settle after the network is idle
        return v

    yield open_page
    context.close()
