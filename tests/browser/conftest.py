"""Fixtures for browser tests: a real uvicorn serving the demo data, and Chromium.

The server is a separate process (``uvicorn --factory collab.app:create_app``)
on a free port, with a fresh database copied from the session's migrated
template (SQLite or PostgreSQL, see ``tests/dbs.py``) and the demo data
loaded. The browser is Debian's Chromium driven by Playwright's sync API:
``playwright install`` cannot download browsers here, and a missing
``/usr/bin/chromium`` is a test failure, never a skip.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Page,
    Playwright,
    Request,
    ViewportSize,
    expect,
    sync_playwright,
)
from playwright.sync_api import Response as PwResponse

from collab.db import Database
from collab.demo import DEMO_PASSWORD, load_demo
from collab.documents.store import FileStore
from tests.browser.scene import SECRET_KEY, Scene, build_scene
from tests.dbs import Template
from tests.servers import free_port, start_uvicorn, stop_process, wait_healthy

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-gpu",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
# Screenshots for a person to look at; outside the repository.
SHOTS = Path(os.environ.get("COLLAB_SHOTS", "/tmp/collab-shots"))  # noqa: S108
# Generous: CI machines and busy laptops are slow; a passing run never waits this long.
TIMEOUT_MS = 10_000
expect.set_options(timeout=TIMEOUT_MS)


async def _load_demo(url: str, files: Path) -> None:
    database = Database(url)
    try:
        await load_demo(database, FileStore(files))
    finally:
        await database.dispose()


@dataclass
class LiveServer:
    url: str
    database_url: str
    log: Path
    data_dir: Path

    def failure_logs(self, lines: int = 40) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


@contextlib.contextmanager
def serving(
    db_template: Template,
    workdir: Path,
    factory: str = "collab.app:create_app",
    extra_env: dict[str, str] | None = None,
) -> Iterator[LiveServer]:
    """A uvicorn of ``factory`` on a free port, on a new database with the demo
    data (``extra_env``: more settings, e.g. a test SMTP server's ``SMTP_URL``)."""
    database_url = db_template.new_database(workdir)
    asyncio.run(_load_demo(database_url, workdir / "files"))  # DATA_DIR/files, as the app
    port = free_port()
    env = {
        **os.environ,
        "DATA_DIR": str(workdir),
        "SECRET_KEY": SECRET_KEY,
        "COLLAB_ENV": "test",
        "DATABASE_URL": database_url,
        "DEFAULT_LOCALE": "it",
        "BASE_URL": f"http://127.0.0.1:{port}",
    }
    env.pop("REDIS_URL", None)  # one process: the in-memory channel layer
    env.update(extra_env or {})
    log = workdir / "uvicorn.log"
    proc = start_uvicorn(port, env, log, factory=factory)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, proc, log)
        yield LiveServer(url=url, database_url=database_url, log=log, data_dir=workdir)
    finally:
        stop_process(proc)
        db_template.drop_database(database_url)


@pytest.fixture(scope="session")
def live_server(
    db_template: Template, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    with serving(db_template, tmp_path_factory.mktemp("live")) as server:
        yield server


@pytest.fixture(scope="session")
def scene(live_server: LiveServer) -> Scene:
    """One object in each state a page has (tests/browser/scene.py), made once."""
    return build_scene(live_server.database_url, live_server.data_dir)


@pytest.fixture(scope="module")
def playwright(live_server: LiveServer) -> Iterator[Playwright]:
    # While the sync API is active its event loop counts as running in this
    # thread: asyncio.run() (demo data, PostgreSQL databases) and async tests
    # would fail. So the server is set up first, and Playwright stops at the
    # end of each browser test module, before any other test runs.
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: browser tests need Debian's Chromium "
            "(apt-get install -y chromium); `playwright install` cannot download browsers here."
        )
    browser = playwright.chromium.launch(
        executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
    )
    yield browser
    browser.close()


@dataclass
class Watcher:
    """Collects what should never happen on a page: console errors, uncaught
    exceptions, failed requests, static assets with an error status, CSP
    violations. Documents a test *expects* to fail (a 403 page) are allowed."""

    problems: list[str] = field(default_factory=list)
    expected_urls: set[str] = field(default_factory=set)
    # Requests whose answer was an ``HX-Redirect``: htmx leaves the page as
    # soon as the answer has loaded, and Chromium may report the finished
    # request as aborted when the page it belonged to goes away.
    _redirected: set[str] = field(default_factory=set)

    def attach(self, page: Page) -> None:
        page.on("console", self._console)
        page.on("pageerror", lambda exc: self.problems.append(f"page error: {exc}"))
        page.on("requestfailed", self._failed)
        page.on("response", self._response)

    def expect_error_status(self, url: str) -> None:
        self.expected_urls.add(url)

    def _console(self, message: ConsoleMessage) -> None:
        if message.type not in ("error", "warning"):
            return
        text = message.text
        where = message.location.get("url", "")
        if "Failed to load resource" in text and where in self.expected_urls:
            return
        if message.type == "warning" and "Content Security Policy" not in text:
            return
        self.problems.append(f"console {message.type}: {text} ({where})")

    def _failed(self, request: Request) -> None:
        if request.failure == "net::ERR_ABORTED" and self._left_behind(request):
            return
        self.problems.append(f"request failed: {request.method} {request.url} {request.failure}")

    def _left_behind(self, request: Request) -> bool:
        """Whether an aborted request is only the page being left: the answer
        of an htmx write that said ``HX-Redirect`` (the request had finished),
        or a static asset (a font a live fragment asked for) still loading
        when the test moved on. A missing asset answers 404, never an abort."""
        if request.url in self._redirected:
            return True
        path = urlsplit(request.url).path
        return request.method == "GET" and path.startswith("/static/")

    def _response(self, response: PwResponse) -> None:
        if response.headers.get("hx-redirect"):
            self._redirected.add(response.url)
        if response.status >= 400 and response.url not in self.expected_urls:
            self.problems.append(f"HTTP {response.status}: {response.url}")

    def assert_clean(self) -> None:
        problems, self.problems = self.problems, []
        assert not problems, "problems in the browser:\n" + "\n".join(problems)


@dataclass
class Session:
    """One logged-in browser context with its watched page."""

    context: BrowserContext
    page: Page
    watcher: Watcher
    base_url: str

    def login(self, email: str, password: str = DEMO_PASSWORD) -> None:
        page = self.page
        page.goto("/login")
        page.fill("#email", email)
        page.fill("#password", password)
        with page.expect_navigation():
            page.click('form[action="/login"] [type="submit"]')
        assert page.url == f"{self.base_url}/", (
            f"login as {email} failed: {page.url} {page.inner_text('main')}"
        )
        assert page.locator('[data-testid="current-user"]').count() == 1


@pytest.fixture
def open_session(browser: Browser, live_server: LiveServer) -> Iterator[Callable[..., Session]]:
    """A factory of new browser contexts (cookies apart), closed after the test."""
    contexts: list[BrowserContext] = []

    def make(java_script: bool = True, viewport: ViewportSize | None = None) -> Session:
        context = browser.new_context(
            base_url=live_server.url,
            java_script_enabled=java_script,
            locale="it-IT",
            viewport=viewport or {"width": 1280, "height": 900},
        )
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        page = context.new_page()
        watcher = Watcher()
        watcher.attach(page)
        return Session(context, page, watcher, live_server.url)

    yield make
    for context in contexts:
        context.close()


def login_session(open_session: Callable[..., Session], email: str) -> Session:
    """A new browser context logged in as ``email``."""
    session = open_session()
    session.login(email)
    return session


# Set on ``window`` by a test; a reload would erase it.
NO_RELOAD_MARKER = "window.__noReload = 'still-here'"


def assert_no_reload(page: Page) -> None:
    assert page.evaluate("window.__noReload") == "still-here", "the page was reloaded"


@pytest.fixture(scope="session")
def shots() -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    return SHOTS
