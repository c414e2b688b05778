"""Property-based fuzzing of every route of the app (issue 14).

For each route in ``app.routes`` (GET pages and JSON, and every unsafe form
route, whose fields ``tests/fuzz/requests.py`` names), hypothesis sends
hostile requests as an admin, a staff member or a mayor: random, huge and
invalid UTF-8 values, NUL bytes, out-of-range numbers and dates, wrong enum
words, missing and duplicated fields, wrong content types, odd path
parameters. Two properties must hold for every one of them:

- the answer is 2xx, 3xx or 4xx, never 5xx;
- after a refused request (4xx) the database holds exactly what it held
  before (every table's row count and the hash of its rows), and the file
  store too: no half-written row, no orphan file.

One app and one demo world serve the whole module, so hundreds of examples
stay cheap. ``FUZZ_EXAMPLES`` is the total number of examples over all routes
(``make test``: a bounded run; ``make fuzz``: 10,000).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from argon2 import PasswordHasher
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.applications import Starlette
from starlette.routing import BaseRoute, Route, WebSocketRoute

from collab.accounts import actions as account_actions
from collab.accounts import passwords
from collab.app import create_app
from collab.consultations.models import Consultation, Contribution
from collab.db import Database
from collab.demo import DEMO_PASSWORD, load_demo
from collab.documents.models import Document, StoredFile
from collab.documents.store import FileStore
from collab.forums.models import Post, Thread
from collab.legal.models import LegalKind
from collab.mail.models import OutboxMail
from collab.meetings import actions as meeting_actions
from collab.meetings import attendance, floor, voting
from collab.meetings.models import AgendaItem, FloorRequest, Meeting, Vote
from collab.models import Base, Comune, Theme, User, Zone
from collab.notifications.models import Notification
from collab.settings import Settings, load_settings
from tests.dbs import Template
from tests.fuzz.requests import CSRF_PLACEHOLDER, SPECS, Probe, World, probes
from tests.helpers import Client

pytestmark = pytest.mark.fuzz

UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}
# Rows these tables gain on a refused request by design: a failed login is
# recorded (throttling counts them) and every visitor's session row is
# created or touched (last seen) on any request.
WRITTEN_BY_DESIGN = {"login_attempt", "web_session"}
# Routes that are no HTTP form or JSON endpoint: the websocket speaks JSON
# frames (tests/realtime/test_ws.py sends it malformed ones), and static
# files are read-only.
NOT_FUZZED = {"/ws", "/static"}

# Mayors and staff the fuzzing clients log in as (demo users).
CLIENTS = {
    "admin": "admin@demo.collab.it",
    "staff": "staff@demo.collab.it",
    "mayor": "sindaco.pinerolo@demo.collab.it",
    "mayor_susa": "sindaco.susa@demo.collab.it",
}


def _routing_table() -> list[BaseRoute]:
    """The routes of an app that is built, never started (it touches no disk)."""
    environ = {"COLLAB_ENV": "test", "SECRET_KEY": "f" * 40, "DATA_DIR": "/nonexistent-fuzz"}
    return list(create_app(load_settings(environ)).routes)


def _app_routes() -> list[tuple[str, str]]:
    """(method, path) of every HTTP route."""
    found: list[tuple[str, str]] = []
    for route in _routing_table():
        if isinstance(route, Route):
            methods = sorted((route.methods or {"GET"}) - {"HEAD"})
            found.extend((method, route.path) for method in methods)
    return found


def _fuzzed_routes() -> list[tuple[str, str]]:
    routes = [(m, p) for m, p in _app_routes() if p not in NOT_FUZZED]
    # Routes that change what the others need (close the meeting, move a
    # comune) come last.
    return sorted(routes, key=lambda r: (r[1] in SPECS and SPECS[r[1]].last, r[0] == "POST"))


ROUTES = _fuzzed_routes()
READS = [r for r in ROUTES if r[1] not in SPECS or r[0] == "GET"]
WRITES = [r for r in ROUTES if r not in READS]
# Two thirds of the examples go to the routes that write.
TOTAL_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "500"))
READ_EXAMPLES = max(2, TOTAL_EXAMPLES // 3 // len(READS))
WRITE_EXAMPLES = max(3, TOTAL_EXAMPLES * 2 // 3 // len(WRITES))


def test_every_unsafe_route_has_a_strategy() -> None:
    unsafe = set()
    for route in _routing_table():
        if isinstance(route, Route) and (route.methods or set()) & UNSAFE:
            unsafe.add(route.path)
        elif isinstance(route, WebSocketRoute):
            assert route.path in NOT_FUZZED, f"websocket {route.path} is neither fuzzed nor excused"
    missing = sorted(unsafe - set(SPECS))
    assert not missing, f"add a Spec to tests/fuzz/requests.py for: {missing}"
    stale = sorted(set(SPECS) - unsafe)
    assert not stale, f"specs for routes that are gone: {stale}"


@dataclass
class Scene:
    app: Starlette
    db: Database
    clients: dict[str, Client]
    world: World
    files: Path


@pytest.fixture(scope="module")
def fuzz_settings(
    db_template: Template, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Settings]:
    tmp = tmp_path_factory.mktemp("fuzz")
    url = db_template.new_database(tmp)
    base = load_settings({"COLLAB_ENV": "test", "DATA_DIR": str(tmp), "SECRET_KEY": "z" * 40})
    yield replace(base, database_url=url)
    db_template.drop_database(url)


async def _live_meeting(db: Database) -> None:
    """The demo meeting in progress: Pinerolo checked in, a hand up, a vote open."""
    async with db.transaction() as uow:
        s = uow.session
        staff = await s.scalar(select(User).where(User.email == CLIENTS["staff"]))
        mayor = await s.scalar(select(User).where(User.email == CLIENTS["mayor"]))
        meeting_id = await s.scalar(select(Meeting.id).order_by(Meeting.id))
        assert staff and mayor and meeting_id
        await meeting_actions.do_open(uow, staff, meeting_id)
    async with db.transaction() as uow:
        assert mayor.comune_id is not None
        await attendance.do_check_in(uow, mayor, meeting_id, mayor.comune_id)
    async with db.transaction() as uow:
        await floor.do_raise_hand(uow, mayor, meeting_id)
    async with db.transaction() as uow:
        # One comune of the assembly's eight: the chair confirms it without the quorum.
        await voting.do_open_vote(
            uow, staff, meeting_id, "Parere favorevole sul Piano", without_quorum=True
        )


async def _real_ids(session: AsyncSession) -> dict[str, tuple[int, ...]]:
    """Ids of the objects of the demo world, by the name a path gives them."""

    async def of(column: Any) -> tuple[int, ...]:
        return tuple(await session.scalars(select(column).order_by(column).limit(20)))

    users = await of(User.id)
    return {
        "meetings": await of(Meeting.id),
        "item_id": await of(AgendaItem.id),
        "item": await of(AgendaItem.id),
        "vote_id": await of(Vote.id),
        "request_id": await of(FloorRequest.id),
        "threads": await of(Thread.id),
        "posts": await of(Post.id),
        "people": users,
        "users": users,
        "themes": await of(Theme.id),
        "comuni": await of(Comune.id),
        "number": await of(Zone.number),
        "zones": await of(Zone.number),
        "mail": await of(OutboxMail.id),
        "consultations": await of(Consultation.id),
        "contributions": await of(Contribution.id),
        "documents": await of(Document.id),
        "files": await of(StoredFile.id),
        "notifications": await of(Notification.id),
        "version": (1, 2),
    }


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def scene(fuzz_settings: Settings) -> AsyncIterator[Scene]:
    app = create_app(fuzz_settings)
    with pytest.MonkeyPatch.context() as patch:
        # Cheap hashes, as in tests/conftest.py's fast_hashing, for the demo users.
        hasher = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
        patch.setattr(passwords, "_hasher", hasher)
        patch.setattr(passwords, "DUMMY_HASH", hasher.hash("dummy"))
        patch.setattr(account_actions, "DUMMY_HASH", passwords.DUMMY_HASH)
        async with app.router.lifespan_context(app):
            services = app.state.services
            # Background senders change notification and outbox rows on their
            # own, the extractor file texts and the search index: stopped, so
            # only the fuzzed requests change the database.
            await services.notices.stop()
            await services.mail.stop()
            await services.extractor.stop()
            db: Database = services.db
            await load_demo(db, FileStore(fuzz_settings.files_dir))
            await _live_meeting(db)
            clients: dict[str, Client] = {}
            opened: list[httpx.AsyncClient] = []
            for n, who in enumerate([*CLIENTS, "anonymous"]):
                http = httpx.AsyncClient(
                    transport=httpx.ASGITransport(app=app, client=("127.0.0.1", 41000 + n)),
                    base_url="http://testserver",
                )
                opened.append(http)
                clients[who] = Client(http)
                if who in CLIENTS:
                    await clients[who].login(CLIENTS[who], DEMO_PASSWORD)
            async with db.session() as s:
                slugs = tuple(await s.scalars(select(Theme.slug).order_by(Theme.id)))
                tokens = tuple(
                    t for t in await s.scalars(select(Meeting.public_token)) if t is not None
                )
                protected = frozenset(
                    await s.scalars(select(User.id).where(User.email.in_(CLIENTS.values())))
                )
                assert await s.scalar(select(Comune.id))
                ids = await _real_ids(s)
            world = World(slugs, tuple(k.value for k in LegalKind), tokens, protected, ids)
            try:
                yield Scene(app, db, clients, world, fuzz_settings.files_dir)
            finally:
                for http in opened:
                    await http.aclose()


async def fingerprint(scene: Scene) -> dict[str, tuple[int, str]]:
    """Row count and hash of every table's rows, and of the file store's listing."""
    found: dict[str, tuple[int, str]] = {}
    async with scene.db.session() as session:
        # The driver's own SQL: a third cheaper than select(table), and the
        # rows are only compared with themselves.
        conn = await session.connection()
        for table in Base.metadata.sorted_tables:
            if table.name in WRITTEN_BY_DESIGN:
                continue
            result = await conn.exec_driver_sql(f'SELECT * FROM "{table.name}"')  # noqa: S608
            rows = sorted(repr(tuple(row)) for row in result)
            found[table.name] = (len(rows), hashlib.sha256("\n".join(rows).encode()).hexdigest())
    files = sorted(
        f"{p.relative_to(scene.files)} {p.stat().st_size}"
        for p in scene.files.rglob("*")
        if p.is_file()
    )
    found["<files>"] = (len(files), hashlib.sha256("\n".join(files).encode()).hexdigest())
    return found


async def send(scene: Scene, probe: Probe) -> httpx.Response:
    client = scene.clients[probe.who]
    token = await client.csrf()
    headers, url, content = dict(probe.headers), probe.url, probe.content
    if probe.csrf == "header":
        headers["X-CSRF-Token"] = token
    elif probe.csrf == "field":
        content = f"csrf_token={token}&".encode() + (content or b"")
    elif probe.csrf == "part":
        content = (content or b"").replace(CSRF_PLACEHOLDER, token.encode(), 1)
    elif probe.csrf == "query":
        url += ("&" if "?" in url else "?") + f"csrf_token={token}"
    response = await client.http.request(probe.method, url, content=content, headers=headers)
    if "set-cookie" in response.headers:
        client.token = None  # a new session (a logout, a login): fetch its token next time
    return response


# The last fingerprint taken, while it is still known to be current (a 4xx
# that changed nothing leaves it so): saves one database read per example.
_last: dict[str, Any] = {}


def _settings(examples: int) -> settings:
    return settings(
        max_examples=examples,
        deadline=None,
        suppress_health_check=[
            HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large,
        ],
    )  # fmt: skip


async def _check(scene: Scene, method: str, path: str, data: st.DataObject) -> None:
    probe = data.draw(probes(method, path, scene.world, SPECS.get(path)), label="probe")
    before = _last.pop("fingerprint", None) or await fingerprint(scene)
    response = await send(scene, probe)
    event(f"status {response.status_code}")  # pytest --hypothesis-show-statistics
    assert response.status_code < 500, f"{response.status_code} for {probe!r}"
    if 400 <= response.status_code < 500:
        after = await fingerprint(scene)
        changed = sorted(name for name in after if after[name] != before.get(name))
        assert not changed, f"{response.status_code} for {probe!r}, yet {changed} changed"
        _last["fingerprint"] = after


@pytest.mark.asyncio(loop_scope="module")
@pytest.mark.parametrize(("method", "path"), READS, ids=[f"{m} {p}" for m, p in READS])
@_settings(READ_EXAMPLES)
@given(data=st.data())
async def test_reads_never_fail(scene: Scene, method: str, path: str, data: st.DataObject) -> None:
    await _check(scene, method, path, data)


@pytest.mark.asyncio(loop_scope="module")
@pytest.mark.parametrize(("method", "path"), WRITES, ids=[f"{m} {p}" for m, p in WRITES])
@_settings(WRITE_EXAMPLES)
@given(data=st.data())
async def test_writes_never_fail_and_refusals_write_nothing(
    scene: Scene, method: str, path: str, data: st.DataObject
) -> None:
    await _check(scene, method, path, data)
