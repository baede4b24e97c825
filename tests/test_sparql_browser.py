"""The query editor in a real browser: Debian's chromium, driven by Playwright.

The page loads only from our server (every other request is refused and recorded), runs
an example query and a typed one, and shows their results.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, Page, Route, sync_playwright

from lod_publisher.uris import UriPolicy

pytestmark = pytest.mark.server

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

if not CHROMIUM.is_file() and shutil.which("chromium") is None:
    pytest.skip(
        "Debian's chromium is not installed (./dev test installs it)", allow_module_level=True
    )


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def page(browser: Browser, live_server: str) -> Iterator[tuple[Page, list[str], list[str]]]:
    """A fresh page whose requests may only go to the live server; others are recorded."""
    context = browser.new_context()
    page = context.new_page()
    elsewhere: list[str] = []
    errors: list[str] = []
    ours = urlsplit(live_server).netloc

    def only_ours(route: Route) -> None:
        url = route.request.url
        if urlsplit(url).netloc == ours or url.startswith(("data:", "blob:")):
            route.continue_()
        else:
            elsewhere.append(url)
            route.abort()

    page.route("**/*", only_ours)
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        yield page, elsewhere, errors
    finally:
        context.close()


def results_text(page: Page) -> str:
    page.locator(".yasr table tbody tr").first.wait_for(state="visible", timeout=20_000)
    return page.locator(".yasr").inner_text()


def test_editor_runs_an_example(page: tuple[Page, list[str], list[str]], live_server: str) -> None:
    tab, elsewhere, errors = page
    tab.goto(f"{live_server}sparql")
    tab.locator(".yasqe .CodeMirror").wait_for(state="visible", timeout=20_000)
    assert "SPARQL endpoint" in tab.title()
    assert "at most" in tab.locator("#limits-heading + ul").inner_text()
    links = tab.locator("ol.examples a")
    assert links.count() >= 12
    tab.locator('ol.examples a[data-slug="20-wikidata-links"]').click()
    text = results_text(tab)
    assert "wikidata.org/entity/Q" in text
    assert elsewhere == [], f"the page tried to load from elsewhere: {elsewhere}"
    assert errors == [], errors


def test_editor_runs_a_typed_query(
    page: tuple[Page, list[str], list[str]], live_server: str, policy: UriPolicy
) -> None:
    tab, elsewhere, errors = page
    tab.goto(f"{live_server}sparql")
    tab.locator(".yasqe .CodeMirror").wait_for(state="visible", timeout=20_000)
    query = (
        "PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>\n"
        f"SELECT ?label WHERE {{ <{policy.entity('place', 'astana')}> rdfs:label ?label }}"
    )
    tab.evaluate("query => { window.yasgui.getTab().setQuery(query); }", query)
    tab.locator(".yasqe_queryButton").first.click()
    assert "Astana" in results_text(tab)
    assert elsewhere == [] and errors == []
