"""Load every listed page as each role and check it on a desktop and a phone.

Used by ``tests/browser/test_pages.py``. Each role and language has its own
browser context, which loads the pages that role sees one after the other:
at desktop width axe runs, then the page is resized to the phone in place and
checked again (width, labels, axe). The contexts run side by side (each is a
renderer process of its own, so they share the machine's cores), a few at a
time, on Playwright's async API in a thread of their own: the test module's
sync API is untouched.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from axe_playwright_python.sync_playwright import Axe
from playwright.async_api import Browser, BrowserContext, Page, ViewportSize, async_playwright

from collab.demo import DEMO_PASSWORD
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, TIMEOUT_MS, LiveServer, Watcher
from tests.browser.pages import PageSpec
from tests.browser.scene import ROLES, Scene, run_async

__all__ = ["AXE", "DESKTOP", "PHONE", "STYLESHEETS", "Findings", "crawl"]

DESKTOP: ViewportSize = {"width": 1280, "height": 900}
PHONE: ViewportSize = {"width": 360, "height": 740}
# Contexts at work at the same time: enough to keep two cores busy while
# others wait for the server, few enough not to thrash.
CONCURRENCY = 4
AXE = Axe()

# axe-core options. Only violations are collected (passes and incomplete
# results cost time and are not asserted). Every rule axe enables by default
# runs but one, checked on its own by test_pages.test_orientation_is_not_locked:
# css-orientation-lock reads only the stylesheets, which are the same two on
# every page (base.html links them; the crawl checks each page's list), and
# it makes axe download and parse them on every run ("preload").
AXE_OPTIONS: dict[str, Any] = {
    "resultTypes": ["violations"],
    "preload": False,
    "rules": {"css-orientation-lock": {"enabled": False}},
}
STYLESHEETS = [
    "/static/vendor/bootstrap-italia/css/bootstrap-italia.min.css",
    "/static/css/app.css",
]

# Fonts loaded and two frames drawn: the layout is final.
SETTLE = """() => document.fonts.ready.then(() => new Promise(
  (done) => requestAnimationFrame(() => requestAnimationFrame(done))))"""

# axe-core's violations once the layout is final (injected once per page load).
AXE_RUN = f"""async (options) => {{
  await ({SETTLE})();
  return (await axe.run(document, options)).violations;
}}"""

# The document is wider than the screen: say so, with what sticks out: the
# outermost elements wider than the screen, and words running out of their
# box (a long word does not widen its element, only the document). What sits
# inside a box that scrolls or clips it is not counted.
OVERFLOW = """() => {
  const width = document.documentElement.clientWidth;
  if (document.documentElement.scrollWidth <= width) return null;
  const clipped = (el) => {
    for (let p = el.parentElement; p && p !== document.body; p = p.parentElement) {
      const s = getComputedStyle(p);
      if (s.overflowX !== 'visible' || s.position === 'fixed') return true;
    }
    return false;
  };
  const wider = (el) => el.getBoundingClientRect().right > width + 0.5;
  const name = (el) => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') +
    [...el.classList].map((c) => '.' + c).join('');
  const culprits = [...document.body.querySelectorAll('*')].filter((el) =>
    el.getBoundingClientRect().width > 0 && wider(el) && !clipped(el) &&
    !(el.parentElement && wider(el.parentElement))).map((el) =>
      `${name(el)} (right ${Math.round(el.getBoundingClientRect().right)})`);
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  const range = document.createRange();
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const parent = node.parentElement;
    if (!parent || wider(parent) || clipped(node)) continue;
    range.selectNodeContents(node);
    const right = Math.max(0, ...[...range.getClientRects()].map((r) => r.right));
    if (right > width + 0.5) {
      culprits.push(`text "${node.textContent.trim().slice(0, 30)}" in ${name(parent)} ` +
        `(right ${Math.round(right)})`);
    }
  }
  return {width: document.documentElement.scrollWidth, culprits: culprits.slice(0, 6)};
}"""

# A visible label's text drawn over a visible form field: its own or another
# one (a floating label lifted onto the field above). The text, not the
# label's box: Bootstrap Italia's floating labels keep a 2.5rem line-height,
# so the box of a lifted label reaches into its field while the words stand
# clear. A field its label draws (Bootstrap Italia hides the input of
# checkboxes, radios and uploads) is not visible, hence not compared.
LABEL_OVERLAPS = """() => {
  const shown = (el) => {
    const r = el.getBoundingClientRect();
    return r.width > 1 && r.height > 1 &&
      el.checkVisibility({checkOpacity: true, checkVisibilityCSS: true});
  };
  const fields = [...document.querySelectorAll(
    'input:not([type=hidden]), select, textarea')].filter(shown);
  const found = [];
  for (const label of document.querySelectorAll('label')) {
    if (!shown(label)) continue;
    const range = document.createRange();
    range.selectNodeContents(label);
    const words = [...range.getClientRects()].filter((r) => r.width > 0 && r.height > 0);
    for (const field of fields) {
      if (label.contains(field)) continue;
      const b = field.getBoundingClientRect();
      const hit = words.find((a) =>
        Math.min(a.right, b.right) - Math.max(a.left, b.left) > 1 &&
        Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top) > 1);
      if (hit) {
        const own = field === label.control ? 'its field' : 'another field';
        found.push(`label "${label.textContent.trim().slice(0, 40)}" over ${own} ` +
          `${field.tagName.toLowerCase()}#${field.id || field.name}`);
      }
    }
  }
  return found;
}"""


# The keyboard's way in: the first element Tab reaches is the skip link to the
# content, and every skip link leads somewhere on the page.
SKIP_LINKS = """() => {
  const problems = [];
  const tabbable = [...document.querySelectorAll(
    'a[href], button, input, select, textarea, summary, [tabindex]')].filter((el) =>
      el.tabIndex >= 0 && !el.disabled && !el.closest('[hidden], [inert]') &&
      (el.closest('.skiplinks') || el.checkVisibility({visibilityProperty: true})));
  if (tabbable[0] !== document.querySelector('.skiplinks a[href="#main"]')) {
    const first = tabbable[0] ? tabbable[0].outerHTML.slice(0, 80) : 'none';
    problems.push('the first focusable element is ' + first);
  }
  for (const link of document.querySelectorAll('.skiplinks a')) {
    const target = document.getElementById(link.hash.slice(1));
    if (!target || !target.checkVisibility()) problems.push(`skip link ${link.hash} leads nowhere`);
  }
  return problems;
}"""


# What the page links and where the keyboard gets in, in one round trip.
PAGE_FACTS = f"""() => ({{
  sheets: [...document.querySelectorAll('link[rel="stylesheet"]')].map(
    (e) => new URL(e.href).pathname),
  skip: ({SKIP_LINKS})(),
}})"""
# The phone's layout, once final.
PHONE_FACTS = f"""async () => {{
  await ({SETTLE})();
  return {{overflow: ({OVERFLOW})(), overlaps: ({LABEL_OVERLAPS})()}};
}}"""


@dataclass
class Findings:
    """What the crawl saw, by kind; each entry says where."""

    visits: int = 0
    checked: int = 0  # visits that answered the expected status
    axe_runs: int = 0
    seconds: float = 0.0
    overflow: list[str] = field(default_factory=list)
    overlaps: list[str] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    keyboard: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


class _Crawler:
    def __init__(self, server: LiveServer, scene: Scene) -> None:
        self.server = server
        self.scene = scene
        self.findings = Findings()

    async def _context(self, browser: Browser, role: str, lang: str) -> BrowserContext:
        context = await browser.new_context(
            base_url=self.server.url, viewport=DESKTOP,
            locale="it-IT" if lang == "it" else "en-GB",
        )  # fmt: skip
        context.set_default_timeout(TIMEOUT_MS)
        await context.add_cookies([{"name": "lang", "value": lang, "url": self.server.url}])
        if email := ROLES[role]:
            page = await context.new_page()
            await page.goto("/login")
            await page.fill("#email", email)
            await page.fill("#password", DEMO_PASSWORD)
            async with page.expect_navigation():
                await page.click('form[action="/login"] [type="submit"]')
            assert page.url == f"{self.server.url}/", f"login as {email} failed"
            await page.close()
        return context

    async def _axe(self, page: Page, where: str) -> None:
        violations = await page.evaluate(AXE_RUN, AXE_OPTIONS)
        self.findings.axe_runs += 1
        for v in violations:
            targets = [" ".join(map(str, node["target"])) for node in v["nodes"]][:4]
            self.findings.violations.append(
                f"{where}: {v['id']} ({v['impact']}): {v['help']} {targets}"
            )

    async def _visit(self, page: Page, watcher: Watcher, spec: PageSpec, where: str) -> None:
        url = spec.address(self.scene)
        if spec.status >= 400:
            watcher.expect_error_status(f"{self.server.url}{url}")
        await page.set_viewport_size(DESKTOP)
        response = await page.goto(url)
        self.findings.visits += 1
        status = response.status if response else None
        if status != spec.status:
            self.findings.problems.append(f"{where}: HTTP {status}, expected {spec.status}")
            return
        facts = await page.evaluate(PAGE_FACTS)
        if facts["sheets"] != STYLESHEETS:
            self.findings.problems.append(f"{where}: stylesheets {facts['sheets']}")
        self.findings.keyboard.extend(f"{where}: {p}" for p in facts["skip"])
        self.findings.checked += 1
        await page.evaluate(AXE.axe_script)
        await self._axe(page, f"{where} desktop")
        await page.set_viewport_size(PHONE)
        phone = await page.evaluate(PHONE_FACTS)
        if overflow := phone["overflow"]:
            self.findings.overflow.append(
                f"{where}: {overflow['width']} px wide: {', '.join(overflow['culprits'])}"
            )
        self.findings.overlaps.extend(f"{where}: {o}" for o in phone["overlaps"])
        await self._axe(page, f"{where} phone")

    async def pipeline(self, browser: Browser, role: str, lang: str, pages: list[PageSpec]) -> None:
        context = await self._context(browser, role, lang)
        try:
            page = await context.new_page()
            watcher = Watcher()
            watcher.attach(page)  # type: ignore[arg-type]  # the async Page has the same events
            for spec in pages:
                where = f"{spec.name} {spec.address(self.scene)} as {role} [{lang}]"
                await self._visit(page, watcher, spec, where)
                self.findings.problems.extend(f"{where}: {p}" for p in watcher.problems)
                watcher.problems.clear()
        finally:
            await context.close()


async def _crawl(
    server: LiveServer, scene: Scene, pages: list[PageSpec], roles: list[str], languages: list[str]
) -> Findings:
    crawler = _Crawler(server, scene)
    started = time.monotonic()
    work = [
        (role, lang, [spec for spec in pages if role in spec.roles])
        for role in roles for lang in languages
    ]  # fmt: skip
    work.sort(key=lambda w: -len(w[2]))  # the longest first: they finish together
    slots = asyncio.Semaphore(CONCURRENCY)

    async def run(role: str, lang: str, specs: list[PageSpec]) -> None:
        async with slots:
            await crawler.pipeline(browser, role, lang, specs)

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            await asyncio.gather(*(run(*w) for w in work if w[2]))
        finally:
            await browser.close()
    crawler.findings.seconds = time.monotonic() - started
    return crawler.findings


def crawl(
    server: LiveServer,
    scene: Scene,
    pages: Iterable[PageSpec],
    roles: Iterable[str] = tuple(ROLES),
    languages: Iterable[str] = ("it", "en"),
) -> Findings:
    """Visit ``pages`` as each of ``roles`` that sees them, in each language."""
    return run_async(_crawl(server, scene, list(pages), list(roles), list(languages)))
