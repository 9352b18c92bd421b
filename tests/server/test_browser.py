"""The hub's pages in a real browser: Playwright driving Debian's Chromium (``/usr/bin/chromium``,
headless, a fresh profile) against a real hub (uvicorn on 127.0.0.1, SQLite + local storage)
with a TF2 SavedModel in two versions, a TF1 Hub module and a private model published.

Search from the home page, open a model page, see its format and compatibility table,
follow a version link, filter by format, copy a snippet, log in with a token; phone
(375 x 740) and desktop (1280 x 800) layouts; the Content-Security-Policy blocks nothing
and no page logs an error. Without Chromium the tests fail (``scripts/system_deps.sh``,
which the test command runs, installs it)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from server.conftest import Models
from server.hubtest import Hub

pytestmark = pytest.mark.timeout(180)

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
TIMEOUT_MS = 15_000
PHONE = {"width": 375, "height": 740}
DESKTOP = {"width": 1280, "height": 800}
README = """# Lab encoder

Maps 3 numbers to 2 features. See [the docs](https://example.org/docs).

![diagram](https://example.org/diagram.png)

```python
import tfhub
model = tfhub.load("http://127.0.0.1/lab/encoder/1")
```
"""
# Collects CSP violations; init scripts are injected by the browser, not by the page.
CSP_PROBE = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation",
    (e) => window.__cspViolations.push(e.violatedDirective + " " + e.blockedURI));
"""


def _require_chromium() -> None:
    """The browser tests are part of the suite: a missing browser is a failure that says what
    to install (``scripts/system_deps.sh`` installs it), never a skip."""
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        pytest.fail(f"The browser tests need {CHROMIUM}: apt-get install chromium")


@pytest.fixture(scope="module")
def backend() -> str:
    return "sqlite-local"


@dataclass(frozen=True)
class Site:
    url: str
    token: str  # of the private publisher "hidden"


@pytest.fixture(scope="module")
def site(hub: Hub, models: Models) -> Site:
    lab, hidden = hub.token("lab"), hub.token("hidden", private=True)
    for archive, name, token, fields in (
        ("tf2_v1", "lab/encoder", lab, {"readme": README, "tags": "encoder,numbers"}),
        ("tf2_v2", "lab/encoder", lab, {"readme": README.replace("/1", "/2")}),
        ("tf1", "lab/words-module", lab, {"description": "A TF1 Hub module of words."}),
        ("tf2_v1", "hidden/private-encoder", hidden, {"description": "Only with a token."}),
    ):
        response = hub.publish(models.archive(archive), name, token, **fields)
        assert response.status_code == 201, response.text
    return Site(hub.url, hidden)


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    _require_chromium()
    from playwright.sync_api import sync_playwright

    profile = tmp_path_factory.mktemp("chromium-profile")
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(profile), executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS,
            viewport=DESKTOP, timeout=60_000,
        )  # fmt: skip
        context.set_default_timeout(TIMEOUT_MS)
        context.set_default_navigation_timeout(TIMEOUT_MS)
        context.add_init_script(CSP_PROBE)
        try:
            yield context
        finally:
            context.close()


@pytest.fixture
def page(browser: Any, site: Site) -> Iterator[Any]:
    """A new tab; after the test, no console errors, page errors or CSP violations."""
    tab = browser.new_page()
    tab.set_viewport_size(DESKTOP)
    problems: list[str] = []
    documents: dict[str, int] = {}

    def on_console(message: Any) -> None:
        # A 404 page is logged as a failed load of itself: expected for not-found pages.
        own_404 = documents.get(message.location.get("url", "")) == 404
        if message.type == "error" and not (own_404 and "404" in message.text):
            problems.append(message.text)

    tab.on("console", on_console)
    tab.on(
        "response",
        lambda r: (
            documents.update({r.url: r.status}) if r.request.resource_type == "document" else None
        ),
    )
    tab.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    visited: list[Any] = []
    tab.on("framenavigated", lambda f: visited.append(f.url) if f == tab.main_frame else None)
    try:
        yield tab
        violations = tab.evaluate("window.__cspViolations || []")
        assert violations == [], f"CSP blocked: {violations} on {visited}"
        assert problems == [], f"console errors on {visited}: {problems}"
    finally:
        browser.clear_cookies()
        tab.close()


def test_search_open_model_page_see_format_and_compatibility(page: Any, site: Site) -> None:
    page.goto(f"{site.url}/")
    assert page.title() == "Models · tfhub"
    page.fill("#q", "encoder")
    page.click("form.filters button[type=submit]")
    page.wait_for_url("**/?q=encoder*")
    results = page.locator("h3.card-title a")
    assert results.all_inner_texts() == ["lab/encoder"]  # the private one stays hidden
    results.first.click()
    page.wait_for_url(f"{site.url}/lab/encoder")
    assert page.locator("h1").inner_text() == "lab/encoder"
    assert page.locator(".model-head .badge").inner_text() == "TF2 SavedModel"
    assert "Version 2 (latest)" in page.locator(".model-head .meta").inner_text()
    table = page.locator("table.compat")
    assert table.is_visible()
    assert table.locator("thead th").all_inner_texts() == [
        "Operation", "TF1 compatibility mode", "TF2 (tf_keras)", "TF2 with Keras 3",
    ]  # fmt: skip
    assert table.locator("tbody th").all_inner_texts() == [
        "Load / inference",
        "Fine-tune",
        "Create",
    ]
    keras3 = table.locator("tbody tr").nth(1).locator("td").nth(2).inner_text()
    assert (
        "Works" in keras3
        and f"tfhub.KerasLayer('{site.url}/lab/encoder', trainable=True)" in keras3
    )
    assert page.locator(".readme h3").inner_text() == "Lab encoder"
    assert page.locator(".readme a", has_text="image: diagram").count() == 1


def test_follow_a_version_link(page: Any, site: Site) -> None:
    page.goto(f"{site.url}/lab/encoder")
    page.click("ol.versions a:text-is('Version 1')")
    page.wait_for_url(f"{site.url}/lab/encoder/1")
    assert page.title() == "lab/encoder v1 · tfhub"
    assert "A newer version exists" in page.locator(".notice").inner_text()
    assert page.input_value("#handle-url") == f"{site.url}/lab/encoder/1"
    current = page.locator("ol.versions a[aria-current=page]")
    assert current.inner_text() == "Version 1"
    page.click(".notice a")
    page.wait_for_url(f"{site.url}/lab/encoder/2")
    assert "Version 2 (latest)" in page.locator(".model-head .meta").inner_text()


def test_filter_by_format_and_open_a_tf1_module(page: Any, site: Site) -> None:
    page.goto(f"{site.url}/")
    page.select_option("#format", "tf1-hub-module")
    page.click("form.filters button[type=submit]")
    page.wait_for_url("**format=tf1-hub-module*")
    assert page.locator("h3.card-title a").all_inner_texts() == ["lab/words-module"]
    page.click("h3.card-title a")
    assert page.locator(".model-head .badge").inner_text() == "TF1 Hub module"
    variants = page.locator("#signatures h3").all_inner_texts()
    assert variants[:2] == ["Graph variant no tags (inference)", "Graph variant {train}"]
    compat = page.locator("table.compat").inner_text()
    assert f"tfhub.Module('{site.url}/lab/words-module'" in compat
    assert f"hub.Module('{site.url}/lab/words-module')" in page.inner_text("#snippet-tf1")


def test_copy_button_copies_the_snippet(page: Any, browser: Any, site: Site) -> None:
    browser.grant_permissions(["clipboard-read", "clipboard-write"], origin=site.url)
    page.goto(f"{site.url}/lab/encoder")
    button = page.locator("button.copy[data-copy=snippet-keras3]")
    assert button.is_visible()  # the script shows the buttons
    button.click()
    page.wait_for_function(
        "document.querySelector('button.copy[data-copy=snippet-keras3]').textContent"
        ".startsWith('Copied')"
    )
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied == page.evaluate("document.getElementById('snippet-keras3').textContent")
    assert f"tfhub.KerasLayer('{site.url}/lab/encoder'" in copied


def test_login_form_shows_a_private_model(page: Any, site: Site) -> None:
    response = page.goto(f"{site.url}/hidden/private-encoder")
    assert response is not None and response.status == 404
    assert page.locator("h1").inner_text() == "Not found"
    page.click("header a.account")
    page.fill("#token", site.token)
    page.click("form.login button[type=submit]")
    page.wait_for_url(f"{site.url}/hidden/private-encoder")
    assert page.locator("h1").inner_text() == "hidden/private-encoder"
    assert page.locator(".model-head .badge.private").is_visible()
    page.click("form.account button")
    page.wait_for_url(f"{site.url}/")
    assert page.goto(f"{site.url}/hidden/private-encoder").status == 404


PAGES = [
    "/",
    "/?q=encoder",
    "/lab",
    "/lab/encoder",
    "/lab/encoder/1",
    "/lab/words-module",
    "/login",
]


def _layout(page: Any) -> dict[str, Any]:
    return dict(
        page.evaluate(
            """() => {
            const box = (s) => { const e = document.querySelector(s);
                return e ? e.getBoundingClientRect().toJSON() : null; };
            const compat = document.querySelector("table.compat");
            return {scroll: document.documentElement.scrollWidth, inner: window.innerWidth,
                    primary: box(".primary"), secondary: box(".secondary"),
                    compat: compat ? getComputedStyle(compat).display : null,
                    font: parseFloat(getComputedStyle(document.body).fontSize)};
        }"""
        )
    )


def test_phone_layout_has_no_horizontal_scroll(page: Any, site: Site) -> None:
    page.set_viewport_size(PHONE)
    for path in [*PAGES, "/nobody/nothing"]:
        page.goto(f"{site.url}{path}")
        layout = _layout(page)
        assert layout["scroll"] <= layout["inner"] == PHONE["width"], (path, layout)
        assert layout["font"] >= 16, (path, layout)
        if layout["primary"] is not None:  # one column: the aside comes after the main part
            assert layout["secondary"]["top"] >= layout["primary"]["bottom"] - 1, layout
            assert layout["compat"] == "block"  # one block per operation


def test_desktop_layout_has_two_columns(page: Any, site: Site) -> None:
    for path in PAGES:
        page.goto(f"{site.url}{path}")
        layout = _layout(page)
        assert layout["scroll"] <= layout["inner"] == DESKTOP["width"], (path, layout)
        if layout["primary"] is not None:
            assert layout["secondary"]["left"] >= layout["primary"]["right"], layout
            assert layout["secondary"]["top"] == pytest.approx(layout["primary"]["top"], abs=2)
            assert layout["compat"] == "table"


def test_static_files_load_under_the_csp(page: Any, site: Site) -> None:
    loaded: list[tuple[str, int]] = []
    page.on("response", lambda r: loaded.append((r.url.split("?")[0], r.status)))
    page.goto(f"{site.url}/lab/encoder")
    page.wait_for_load_state("load")
    static = {u.removeprefix(site.url): s for u, s in loaded if "/static/" in u}
    assert static.pop("/static/hub.css") == 200 and static.pop("/static/hub.js") == 200
    assert static in ({}, {"/static/favicon.svg": 200})  # the icon, if the browser asks
    radius = page.evaluate(
        "getComputedStyle(document.querySelector('.model-head .badge')).borderTopLeftRadius"
    )
    assert radius == "999px"  # the stylesheet applied
    assert all(not u.startswith("http") or u.startswith(site.url) for u, _ in loaded)


def test_header_search_reports_no_match(page: Any, site: Site) -> None:
    page.goto(f"{site.url}/lab")  # the search box in the header of every other page
    page.fill("header #site-q", "zzz-no-such-model")
    page.press("header #site-q", "Enter")
    page.wait_for_url("**q=zzz-no-such-model*")
    assert page.locator("#results-heading").inner_text().startswith("No models")
    assert page.locator("h3.card-title").count() == 0
