"""Fixtures: settings, a fresh migrated database, the app, clients and users."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Generator, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import httpx
import pytest
from argon2 import PasswordHasher
from starlette.applications import Starlette

from collab.accounts import actions, passwords
from collab.accounts.actions import do_create_user
from collab.app import create_app
from collab.db import Database
from collab.demo import DEMO_CSV
from collab.importer import import_comuni
from collab.models import User
from collab.settings import Settings, load_settings
from tests.dbs import Template
from tests.helpers import PASSWORD, Client
from tests.smtp import SmtpServer


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """A failing test shows the end of the logs of the servers it started.

    Any fixture value with a ``failure_logs()`` method takes part (the browser
    tests' uvicorn, the multi-process tests' workers and Redis).
    """
    report = yield
    if report.failed:
        for name, value in getattr(item, "funcargs", {}).items():
            logs = getattr(value, "failure_logs", None)
            if callable(logs):
                report.sections.append((f"{name}: server logs (last lines)", logs()))
    return report


@pytest.fixture(autouse=True)
def fast_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Cheap argon2 parameters: tests check the logic, not the cost of a hash."""
    hasher = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    monkeypatch.setattr(passwords, "_hasher", hasher)
    monkeypatch.setattr(passwords, "DUMMY_HASH", hasher.hash("dummy"))
    monkeypatch.setattr(actions, "DUMMY_HASH", passwords.DUMMY_HASH)


@pytest.fixture(scope="session")
def db_template(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Template]:
    template = Template(tmp_path_factory.mktemp("template"))
    yield template
    template.close()


@pytest.fixture
def database_url(db_template: Template, tmp_path: Path) -> Iterator[str]:
    url = db_template.new_database(tmp_path)
    yield url
    db_template.drop_database(url)


@pytest.fixture
def cli(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """Environment for ``collab.cli.main`` on the test database; returns its URL."""
    monkeypatch.setenv("COLLAB_ENV", "test")
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    monkeypatch.setenv("SECRET_KEY", "c" * 40)
    for var in ("DEFAULT_LOCALE", "REDIS_URL", "COLLAB_PASSWORD"):
        monkeypatch.delenv(var, raising=False)
    return database_url


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    base = load_settings({"COLLAB_ENV": "test", "DATA_DIR": str(tmp_path), "SECRET_KEY": "t" * 40})
    return replace(base, database_url=database_url)


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[Starlette]:
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        # The text extractor writes file texts and the index on its own, after
        # an upload: tests that compare snapshots around a refused write must
        # not see it land in between. tests/search/ reads files when it means to.
        await application.state.services.extractor.stop()
        yield application


@pytest.fixture
def db(app: Starlette) -> Database:
    database: Database = app.state.services.db
    return database


@pytest.fixture
async def new_client(app: Starlette) -> AsyncIterator[Callable[..., Client]]:
    """Make clients of the app; each from 127.0.0.1 unless given another ``ip``."""
    opened: list[httpx.AsyncClient] = []

    def make(ip: str = "127.0.0.1") -> Client:
        http = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app, client=(ip, 40000 + len(opened))),
            base_url="http://testserver",
        )
        opened.append(http)
        return Client(http)

    yield make
    for http in opened:
        await http.aclose()


@pytest.fixture
def client(new_client: Callable[[], Client]) -> Client:
    return new_client()


@dataclass(frozen=True)
class World:
    """Comuni of the demo CSV and one user per role in zones 5 and 9 (emails are keys)."""

    users: dict[str, User]

    def __getitem__(self, key: str) -> User:
        return self.users[key]


# key -> (role, ISTAT code or None)
WORLD_USERS = {
    "sindaco5": ("sindaco", "001191"),  # Pinerolo, ZO 5
    "tecnico5": ("tecnico", "001139"),  # Luserna San Giovanni, ZO 5
    "portavoce5": ("portavoce", "001097"),  # Cumiana, ZO 5
    "sindaco9": ("sindaco", "001125"),  # Ivrea, ZO 9
    "tecnico9": ("tecnico", "001269"),  # Strambino, ZO 9
    "portavoce9": ("portavoce", "001020"),  # Banchette, ZO 9
    "staff": ("staff", None),
    "admin": ("admin", None),
}


def email(key: str) -> str:
    return f"{key}@test.collab.it"


@pytest.fixture
async def world(db: Database) -> World:
    async with db.transaction() as uow:
        report = await import_comuni(uow, DEMO_CSV.read_bytes())
        assert report.ok
    users = {}
    async with db.transaction() as uow:
        for key, (role, istat) in WORLD_USERS.items():
            users[key] = await do_create_user(
                uow, None, email=email(key), name=key.title(), role=role, password=PASSWORD,
                comune_istat=istat,
            )  # fmt: skip
    return World(users)


@pytest.fixture
def login_as(world: World, new_client: Callable[[], Client]) -> Callable[[str], Awaitable[Client]]:
    async def login(key: str) -> Client:
        c = new_client()
        await c.login(email(key))
        return c

    return login


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    """A real SMTP server (aiosmtpd) on a free loopback port."""
    server = SmtpServer()
    server.start()
    yield server
    server.stop()
