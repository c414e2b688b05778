"""Every page type (tests/browser/pages.py) as each role that sees it, in
Italian and English, on a desktop (1280x900) and a phone (360x740):

- on the phone the page is no wider than the screen (no sideways scrolling)
  and no visible label is drawn over a form field;
- axe-core finds no violation of any impact, at either width;
- the first element Tab reaches is the skip link to the content, and every
  skip link of the page leads to an element that is there;
- the page answers its expected status without console errors, failed
  requests or CSP violations.

One crawl (tests/browser/crawl.py) does the work for these tests; each test
reports its part of what it found, every finding naming page, role, language
and width.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser

from tests.browser.conftest import LiveServer
from tests.browser.crawl import AXE, DESKTOP, PHONE, STYLESHEETS, Findings, crawl
from tests.browser.pages import PAGES
from tests.browser.scene import Scene

pytestmark = pytest.mark.slow

LANGUAGES = ("it", "en")


@pytest.fixture(scope="module")
def findings(live_server: LiveServer, scene: Scene) -> Iterator[Findings]:
    found = crawl(live_server, scene, PAGES, languages=LANGUAGES)
    print(f"\ncrawl: {found.visits} page loads, {found.axe_runs} axe runs in {found.seconds:.0f} s")
    yield found


def _report(title: str, lines: list[str]) -> str:
    return f"{len(lines)} {title}:\n" + "\n".join(lines)


def test_every_page_loads_cleanly(findings: Findings) -> None:
    assert findings.visits == sum(len(spec.roles) for spec in PAGES) * len(LANGUAGES)
    assert not findings.problems, _report("problems", findings.problems)


def test_phone_pages_fit_the_screen(findings: Findings) -> None:
    assert not findings.overflow, _report("pages wider than a 360 px phone", findings.overflow)


def test_phone_labels_leave_the_fields_clear(findings: Findings) -> None:
    assert not findings.overlaps, _report("labels over form fields on a phone", findings.overlaps)


def test_skip_links_come_first_and_lead_somewhere(findings: Findings) -> None:
    assert not findings.keyboard, _report("skip link problems", findings.keyboard)


def test_axe_finds_no_violations(findings: Findings) -> None:
    assert findings.checked and findings.axe_runs == 2 * findings.checked
    assert not findings.violations, _report("axe violations", findings.violations)


def test_orientation_is_not_locked(browser: Browser, live_server: LiveServer) -> None:
    """css-orientation-lock, left out of the crawl's runs (crawl.AXE_OPTIONS),
    on the stylesheets every page links, at both widths."""
    context = browser.new_context(base_url=live_server.url, viewport=DESKTOP)
    try:
        page = context.new_page()
        page.goto("/")
        sheets = page.eval_on_selector_all(
            'link[rel="stylesheet"]', "els => els.map(e => new URL(e.href).pathname)"
        )
        assert sheets == STYLESHEETS
        page.evaluate(AXE.axe_script)
        for size in (DESKTOP, PHONE):
            page.set_viewport_size(size)
            results = page.evaluate("() => axe.run(document, {runOnly: ['css-orientation-lock']})")
            assert not results["violations"], results["violations"]
            # It really read the stylesheets: "incomplete" would say it could not.
            assert not results["incomplete"], results["incomplete"]
            ran = [r["id"] for r in results["passes"] + results["inapplicable"]]
            assert ran == ["css-orientation-lock"], ran
    finally:
        context.close()
