"""The permission matrix, cell by cell, through real HTTP requests.

``collab/permissions.py`` (``TABLE``), ``docs/permissions.md`` and this file
must change together:

- ``EXPECTED`` below is the table copied by hand from the docs; a test checks
  that ``TABLE`` equals it, and another that the Markdown table in
  ``docs/permissions.md`` equals ``TABLE``.
- ``test_cell`` walks every (action, role, relation) cell: an allowed cell
  must answer 200 or a 303 to the right place *and* change the database as
  asked; a denied cell must answer 403 with the Italian error page and change
  nothing at all.

How the relations are realised: a comune user of role R is the zone-5 user
of that role (``sindaco5`` ...), so "own zone" is zone 5, "other zone" zone 9
and "metro" the metropolitan board. CMTo users (staff, admin) have no own
zone: their "own_zone" cell uses zone 5 too, which is another zone for them,
so ``test_cmto_rows_ignore_own_zone`` requires their OWN and OTHER entries to
agree. MANAGE is not zone-bound: each of its rows must be all-or-nothing
(``test_manage_is_not_zone_bound``) and it is walked once per role, with the
relation id ``any``. Meeting actions (CONVENE, VOTE) and consultation actions
(CONSULT, CONTRIBUTE) have no metropolitan cell (meetings and consultations are
always addressed to zones: ``test_meeting_rows_have_no_metro``); their "own
zone" is a meeting or consultation of zone 5, "other zone" one of zone 9. A
consultation or meeting the user may not even read (a comune user's of
another zone) answers 404, not 403: its denied cells expect that (existence
is not revealed).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from argon2 import PasswordHasher
from sqlalchemy import select

import collab.app
from collab.accounts import passwords
from collab.accounts.actions import do_create_user
from collab.app import create_app
from collab.consultations.models import Consultation, Contribution, ContributionVersion
from collab.db import Database
from collab.demo import DEMO_CSV
from collab.features import make_templates
from collab.forums import actions
from collab.forums.models import Post, PostRevision, Thread
from collab.importer import import_comuni
from collab.legal.models import LegalKind, LegalPage
from collab.markup import render_markdown
from collab.meetings import actions as meeting_actions
from collab.meetings import voting
from collab.meetings.models import Attendance, Ballot, Choice, Meeting, MeetingState, MeetingZone
from collab.models import Base, Comune, Role, Theme, User, Zone, utcnow
from collab.permissions import MEETING_ACTIONS, TABLE, Action, Relation, can, can_in_zones
from collab.settings import DEFAULT_UPLOAD_MAX_BYTES, Settings, load_settings
from collab.templating import ROME, Templates
from tests.conftest import WORLD_USERS, World, email
from tests.consultations.scene import open_consultation
from tests.dbs import Template
from tests.helpers import PASSWORD, UNSNAPSHOTTED, Client, italian, parse
from tests.meetings.scene import convene

Login = Callable[[str], Awaitable[Client]]

DOCS = Path(__file__).resolve().parent.parent / "docs" / "permissions.md"

OWN, OTHER, METRO = Relation.OWN_ZONE, Relation.OTHER_ZONE, Relation.METRO
ALL = frozenset(Relation)
NO: frozenset[Relation] = frozenset()
OWN_AND_METRO = frozenset({OWN, METRO})
ZONES = frozenset({OWN, OTHER})  # meetings, consultations: every zone, no metropolitan board

# Copied by hand from docs/permissions.md: do not derive it from TABLE.
EXPECTED: dict[str, dict[str, frozenset[Relation]]] = {
    "read": {
        "sindaco": OWN_AND_METRO,
        "tecnico": OWN_AND_METRO,
        "portavoce": OWN_AND_METRO,
        "staff": ALL,
        "admin": ALL,
    },
    "post": {
        "sindaco": OWN_AND_METRO,
        "tecnico": OWN_AND_METRO,
        "portavoce": OWN_AND_METRO,
        "staff": ALL,
        "admin": ALL,
    },
    "edit_own": {
        "sindaco": OWN_AND_METRO,
        "tecnico": OWN_AND_METRO,
        "portavoce": OWN_AND_METRO,
        "staff": ALL,
        "admin": ALL,
    },
    "moderate": {
        "sindaco": NO,
        "tecnico": NO,
        "portavoce": frozenset({OWN}),
        "staff": ALL,
        "admin": ALL,
    },
    "manage": {"sindaco": NO, "tecnico": NO, "portavoce": NO, "staff": NO, "admin": ALL},
    "convene": {
        "sindaco": NO,
        "tecnico": NO,
        "portavoce": frozenset({OWN}),
        "staff": ZONES,
        "admin": NO,
    },
    "vote": {
        "sindaco": frozenset({OWN}),
        "tecnico": NO,
        "portavoce": frozenset({OWN}),
        "staff": NO,
        "admin": NO,
    },
    "consult": {"sindaco": NO, "tecnico": NO, "portavoce": NO, "staff": ZONES, "admin": NO},
    "contribute": {
        "sindaco": frozenset({OWN}),
        "tecnico": NO,
        "portavoce": frozenset({OWN}),
        "staff": NO,
        "admin": NO,
    },
}

# The world user that plays each role (comune users live in zone 5).
PLAYER = {
    Role.SINDACO: "sindaco5",
    Role.TECNICO: "tecnico5",
    Role.PORTAVOCE: "portavoce5",
    Role.STAFF: "staff",
    Role.ADMIN: "admin",
}
ZONE_OF = {OWN: 5, OTHER: 9, METRO: None}

FAST_HASHER = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)


@pytest.fixture(autouse=True)
def fast_app(monkeypatch: pytest.MonkeyPatch) -> None:
    """Authorization is under test, not hashing nor template compilation.

    The real argon2 parameters cost ~150 ms per hash, and every test here
    creates eight users and logs in; every new app compiles its templates
    again. One cheap hasher and one (pure, stateless) ``Templates`` for the
    whole module keep the file fast.
    """
    monkeypatch.setattr(passwords, "_hasher", FAST_HASHER)
    monkeypatch.setattr(collab.app, "make_templates", _shared_templates)


@cache
def _shared_templates(
    upload_max_bytes: int = DEFAULT_UPLOAD_MAX_BYTES, *, reload: bool = False
) -> Templates:
    return make_templates(upload_max_bytes, reload=reload)


@dataclass
class Shared:
    """One app, database and world for all of ``test_cell``, with one logged-in
    client per user. The cells only read users and make their own threads and
    posts, so sharing is safe, and it spares ~80 app starts, worlds and logins."""

    db: Database
    world: World
    transport: httpx.ASGITransport
    clients: dict[str, Client]

    async def login(self, key: str) -> Client:
        if key not in self.clients:
            client = Client(httpx.AsyncClient(transport=self.transport, base_url=BASE))
            await client.login(email(key))
            self.clients[key] = client
        return self.clients[key]


BASE = "http://testserver"


@pytest.fixture(scope="module")
def shared_settings(
    db_template: Template, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Settings]:
    # Outside the event loop: the PostgreSQL template runs its own asyncio.run().
    tmp = tmp_path_factory.mktemp("permissions")
    url = db_template.new_database(tmp)
    base = load_settings({"COLLAB_ENV": "test", "DATA_DIR": str(tmp), "SECRET_KEY": "t" * 40})
    yield replace(base, database_url=url)
    db_template.drop_database(url)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def shared(shared_settings: Settings) -> AsyncIterator[Shared]:
    # The same steps as conftest's app and world fixtures, once per module.
    application = create_app(shared_settings)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(passwords, "_hasher", FAST_HASHER)
        async with application.router.lifespan_context(application):
            db: Database = application.state.services.db
            # Writes notify people: the mailer would write rows while a
            # test compares them (``snapshot``). Mail is not under test here.
            await application.state.services.notices.stop()
            await application.state.services.mail.stop()
            async with db.transaction() as uow:
                assert (await import_comuni(uow, DEMO_CSV.read_bytes())).ok
            users = {}
            async with db.transaction() as uow:
                for key, (role, istat) in WORLD_USERS.items():
                    users[key] = await do_create_user(
                        uow, None, email=email(key), name=key.title(), role=role,
                        password=PASSWORD, comune_istat=istat,
                    )  # fmt: skip
            transport = httpx.ASGITransport(app=application, client=("127.0.0.1", 41000))
            state = Shared(db, World(users), transport, {})
            yield state
            for client in state.clients.values():
                await client.http.aclose()


# --- the table itself ---------------------------------------------------------


def _plain(table: dict[Action, dict[Role, frozenset[Relation]]]) -> dict[str, dict[str, Any]]:
    return {
        a.value: {r.value: frozenset(rels) for r, rels in row.items()} for a, row in table.items()
    }


def test_table_matches_the_documented_matrix() -> None:
    assert _plain(TABLE) == EXPECTED


def test_table_covers_every_action_and_role() -> None:
    assert set(TABLE) == set(Action)
    for action, row in TABLE.items():
        assert set(row) == set(Role), action


def test_cmto_rows_ignore_own_zone() -> None:
    # CMTo users have no comune, so relation() never yields OWN_ZONE for them.
    for action, row in TABLE.items():
        for role in (Role.STAFF, Role.ADMIN):
            assert (OWN in row[role]) == (OTHER in row[role]), (action, role)


def test_manage_is_not_zone_bound() -> None:
    for role, rels in TABLE[Action.MANAGE].items():
        assert rels in (ALL, NO), role


def test_meeting_rows_have_no_metro() -> None:
    # Meetings and consultations are addressed to zones; none is metropolitan.
    assert {Action.CONVENE, Action.VOTE, Action.CONSULT, Action.CONTRIBUTE} == MEETING_ACTIONS
    for action in MEETING_ACTIONS:
        for role, rels in TABLE[action].items():
            assert METRO not in rels, (action, role)
    walked = [cell.values for cell in _cells()]
    assert not [c for c in walked if c[0] in MEETING_ACTIONS and c[2] is METRO]


# --- the docs ---------------------------------------------------------------------

DOC_RELATIONS = {"own zone": OWN, "other zones": OTHER, "metropolitan": METRO}
DOC_SHORTHANDS = {"all": ALL, "all zones": ZONES}
CODE = re.compile(r"`([a-z_]+)`")


def _doc_cell(text: str) -> frozenset[Relation]:
    text = text.strip().lower()
    if text in DOC_SHORTHANDS:
        return DOC_SHORTHANDS[text]
    if text in {"—", "-", ""}:
        return NO
    return frozenset(DOC_RELATIONS[part.strip()] for part in text.split(","))


def parse_docs_table(markdown: str) -> dict[str, dict[str, frozenset[Relation]]]:
    """The first Markdown table of the document whose header names the roles in backticks."""
    rows = [line.strip() for line in markdown.splitlines() if line.strip().startswith("|")]
    cells = [[c.strip() for c in row.strip("|").split("|")] for row in rows]
    header_at = next(i for i, row in enumerate(cells) if len(CODE.findall(" ".join(row[1:]))) >= 5)
    roles = [CODE.findall(cell)[0] for cell in cells[header_at][1:]]
    table: dict[str, dict[str, frozenset[Relation]]] = {}
    for row in cells[header_at + 2 :]:  # skip the |---| line
        code = CODE.search(row[0])
        if code is None:
            break
        assert len(row) == len(roles) + 1, row
        table[code.group(1)] = {
            role: _doc_cell(cell) for role, cell in zip(roles, row[1:], strict=True)
        }
    return table


def test_docs_table_matches_code_table() -> None:
    assert parse_docs_table(DOCS.read_text(encoding="utf-8")) == _plain(TABLE)


def test_docs_cell_parser() -> None:
    assert _doc_cell("own zone, metropolitan") == OWN_AND_METRO
    assert _doc_cell("All") == ALL
    assert _doc_cell("all zones") == ZONES == _doc_cell("own zone, other zones")
    assert _doc_cell("—") == NO
    with pytest.raises(KeyError):
        _doc_cell("own zone, elsewhere")


# --- setup data, snapshots and assertions ----------------------------------------


@dataclass
class Scene:
    """One cell's world: the acting user, where they act, and setup helpers."""

    db: Database
    world: World
    theme: Theme
    actor: str  # world key
    zone: int | None  # zone number, None = metropolitan

    @property
    def user(self) -> User:
        return self.world[self.actor]

    @property
    def setup_author(self) -> str:
        """A CMTo user other than the actor: can write (and moderate) anywhere."""
        return "admin" if self.actor == "staff" else "staff"

    @property
    def board(self) -> str:
        return f"/zones/{self.zone}" if self.zone else "/metro"

    async def zone_id(self) -> int | None:
        if self.zone is None:
            return None
        async with self.db.session() as session:
            return await session.scalar(select(Zone.id).where(Zone.number == self.zone))

    async def thread(self, title: str = "Filo di prova") -> Thread:
        """A thread started in the scene's board by the setup author."""
        zone_id = await self.zone_id()
        async with self.db.transaction() as uow:
            return await actions.do_start_thread(
                uow, self.world[self.setup_author], zone_id, self.theme, title, "Primo messaggio."
            )

    async def reply(self, thread: Thread, author: str, body: str) -> Post:
        """A post by ``author``: through the action when they may post here,
        otherwise (a denied cell's "own" post) as a bare row."""
        user = self.world[author]
        if can(user, Action.POST, thread.zone_id):
            async with self.db.transaction() as uow:
                return await actions.do_reply(uow, user, thread.id, body)
        async with self.db.transaction() as uow:
            post = Post(
                thread_id=thread.id, author_id=user.id, source=body, html=render_markdown(body),
                created_at=utcnow(),
            )  # fmt: skip
            uow.session.add(post)
            (await uow.session.get_one(Thread, thread.id)).post_count += 1
            await uow.session.flush()
            return post

    async def hide(self, post: Post) -> None:
        async with self.db.transaction() as uow:
            await actions.do_hide_post(uow, self.world[self.setup_author], post.id, "Fuori tema")

    async def get(self, model: type[Any], id_: int) -> Any:
        async with self.db.session() as session:
            return await session.get_one(model, id_, populate_existing=True)


async def snapshot(db: Database) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table: a denied request must leave it all as it was
    (but the sessions, which reads write too: ``tests.helpers.UNSNAPSHOTTED``)."""
    result = {}
    async with db.session() as session:
        for table in Base.metadata.sorted_tables:
            if table.name in UNSNAPSHOTTED:
                continue
            rows = (await session.execute(select(table))).all()
            result[table.name] = sorted((tuple(row) for row in rows), key=repr)
    return result


def assert_denied(response: httpx.Response, status: int = 403) -> None:
    """403 with the (Italian) error page, never a redirect or a partial success.

    ``status=404`` for an object the user may not even read: its existence is
    not revealed, so the refusal is the "not found" page."""
    assert response.status_code == status, (response.status_code, response.headers, response.text)
    page = parse(response)
    assert page.html is not None and page.html.get("lang") == "it"
    alert = page.select_one(f'.alert[data-status="{status}"]')
    assert alert is not None and alert.get_text(strip=True), response.text
    assert page.h1 is not None
    title = {403: "Accesso negato", 404: italian("Page not found")}[status]
    assert page.h1.get_text(strip=True) == title


def assert_redirect(response: httpx.Response, location: str) -> None:
    assert response.status_code == 303, (response.status_code, response.text)
    assert response.headers["location"] == location


def assert_ok(response: httpx.Response) -> Any:
    assert response.status_code == 200, (response.status_code, response.text)
    return parse(response)


def permalink(post: Post) -> str:
    return f"/threads/{post.thread_id}?page=1#post-{post.id}"


# --- one checker per action: (scene, client, allowed) -------------------------------


async def check_read(s: Scene, c: Client, allowed: bool) -> None:
    thread = await s.thread("Filo da leggere")
    async with s.db.session() as session:
        first = await session.scalar(select(Post.id).where(Post.thread_id == thread.id))
    before = await snapshot(s.db)
    zone_page = await c.get(s.board)
    board_page = await c.get(f"{s.board}/{s.theme.slug}")
    thread_page = await c.get(f"/threads/{thread.id}")
    if allowed:
        assert assert_ok(zone_page).select_one(f"#thread-{thread.id}") is not None
        threads = assert_ok(board_page).select_one('[data-testid="threads"]')
        assert threads is not None and threads.select_one(f"#thread-{thread.id}") is not None
        page = assert_ok(thread_page)
        assert page.h1 is not None and page.h1.get_text(strip=True) == "Filo da leggere"
        assert page.select_one(f"#post-{first}") is not None
    else:
        for response in (zone_page, board_page, thread_page):
            assert_denied(response)
    after = await snapshot(s.db)
    # Reading a thread records how far its reader read (and nothing else).
    earlier = {row[:3] for row in before.pop("thread_read")}
    reads = [row[:3] for row in after.pop("thread_read") if row[:3] not in earlier]
    assert reads == ([(s.user.id, thread.id, first)] if allowed else [])
    assert after == before


async def check_post(s: Scene, c: Client, allowed: bool) -> None:
    existing = await s.thread("Filo esistente")
    before = await snapshot(s.db)
    form = await c.get(f"{s.board}/{s.theme.slug}/new")
    started = await c.post(
        f"{s.board}/{s.theme.slug}/new", {"title": "Nuovo filo", "body": "Apro io."}
    )
    replied = await c.post(f"/threads/{existing.id}/reply", {"body": "Rispondo io."})
    if not allowed:
        for response in (form, started, replied):
            assert_denied(response)
        assert await snapshot(s.db) == before
        return
    assert assert_ok(form).select_one('textarea[name="body"]') is not None
    assert started.status_code == 303, started.text
    match = re.fullmatch(r"/threads/(\d+)", started.headers["location"])
    assert match is not None, started.headers["location"]
    new = await s.get(Thread, int(match.group(1)))
    assert (new.title, new.zone_id, new.theme_id, new.author_id) == (
        "Nuovo filo", await s.zone_id(), s.theme.id, s.user.id,
    )  # fmt: skip
    async with s.db.session() as session:
        posts = (await session.scalars(select(Post).where(Post.thread_id == existing.id))).all()
    mine = [p for p in posts if p.author_id == s.user.id]
    assert [p.source for p in mine] == ["Rispondo io."]
    assert_redirect(replied, permalink(mine[0]))


async def check_edit_own(s: Scene, c: Client, allowed: bool) -> None:
    thread = await s.thread("Filo con un mio messaggio")
    post = await s.reply(thread, s.actor, "Testo originale.")
    before = await snapshot(s.db)
    form = await c.get(f"/posts/{post.id}/edit")
    edited = await c.post(f"/posts/{post.id}/edit", {"body": "Testo corretto."})
    deleted = await c.post(f"/posts/{post.id}/delete")
    if not allowed:
        for response in (form, edited, deleted):
            assert_denied(response)
        assert await snapshot(s.db) == before
        return
    textarea = assert_ok(form).select_one('textarea[name="body"]')
    assert textarea is not None and textarea.get_text() == "Testo originale."
    assert_redirect(edited, permalink(post))
    assert_redirect(deleted, permalink(post))
    after = await s.get(Post, post.id)
    assert after.source == "Testo corretto."
    assert (after.deleted, after.deleted_by_id, after.delete_reason) == (True, s.user.id, None)
    async with s.db.session() as session:
        revisions = (
            await session.scalars(
                select(PostRevision.source).where(PostRevision.post_id == post.id)
            )
        ).all()
    assert revisions == ["Testo originale."]


async def check_moderate(s: Scene, c: Client, allowed: bool) -> None:
    thread = await s.thread("Filo da moderare")
    target = await s.reply(thread, s.setup_author, "Messaggio di qualcun altro.")
    if not allowed:
        already_hidden = await s.reply(thread, s.setup_author, "Già nascosto.")
        await s.hide(already_hidden)
        before = await snapshot(s.db)
        responses = [
            await c.post(f"/posts/{target.id}/hide", {"reason": "Fuori tema"}),
            await c.post(f"/posts/{already_hidden.id}/restore"),
            await c.post(f"/threads/{thread.id}/pin", {"value": "1"}),
            await c.post(f"/threads/{thread.id}/close", {"value": "1"}),
        ]
        for response in responses:
            assert_denied(response)
        assert await snapshot(s.db) == before
        return
    hidden = await c.post(f"/posts/{target.id}/hide", {"reason": "Fuori tema"})
    assert_redirect(hidden, permalink(target))
    post = await s.get(Post, target.id)
    assert (post.deleted, post.deleted_by_id, post.delete_reason) == (True, s.user.id, "Fuori tema")
    assert_redirect(await c.post(f"/posts/{target.id}/restore"), permalink(target))
    assert not (await s.get(Post, target.id)).deleted
    pinned = await c.post(f"/threads/{thread.id}/pin", {"value": "1"})
    closed = await c.post(f"/threads/{thread.id}/close", {"value": "1"})
    assert_redirect(pinned, f"/threads/{thread.id}")
    assert_redirect(closed, f"/threads/{thread.id}")
    after = await s.get(Thread, thread.id)
    assert (after.pinned, after.closed) == (True, True)


async def check_manage(s: Scene, c: Client, allowed: bool) -> None:
    target = s.world["tecnico9"]
    before = await snapshot(s.db)
    urls = ("/admin/users", "/admin/users/new", "/admin/audit", "/admin/legal",
            "/admin/legal/cookies", "/admin/legal/cookies/history")  # fmt: skip
    pages = [await c.get(url) for url in urls]
    new_email = f"nuovo-{s.actor}@test.collab.it"
    created = await c.post(
        "/admin/users/new",
        {"email": new_email, "name": "Nuovo Utente", "role": "sindaco",
         "comune": "001191", "password": PASSWORD},
    )  # fmt: skip
    updated = await c.post(
        f"/admin/users/{target.id}", {"role": "sindaco", "comune": "001269", "active": "1"}
    )
    legal_text = f"Solo cookie tecnici, scritto da {s.actor}."
    form = parse(pages[4]).select_one('input[name="version"]')
    version = str(form["value"]) if form is not None else "0"
    legal = await c.post("/admin/legal/cookies", {"body_it": legal_text, "version": version})
    if not allowed:
        for response in [*pages, created, updated, legal]:
            assert_denied(response)
        assert await snapshot(s.db) == before
        return
    users = assert_ok(pages[0]).select_one('[data-testid="users"]')
    assert users is not None
    assert email(s.actor) in [td.get_text(strip=True) for td in users.select("td")]
    assert assert_ok(pages[1]).select_one('input[name="email"]') is not None
    assert_ok(pages[2])
    assert assert_ok(pages[3]).select_one('[data-testid="legal-pages"]') is not None
    assert assert_ok(pages[4]).select_one('textarea[name="body_it"]') is not None
    assert_ok(pages[5])
    assert_redirect(legal, "/legal/cookies")
    async with s.db.session() as session:
        saved = await session.scalar(select(LegalPage).where(LegalPage.kind == LegalKind.COOKIES))
    assert saved is not None and (saved.body_it, saved.updated_by_id) == (legal_text, s.user.id)
    assert_redirect(created, "/admin/users")
    assert_redirect(updated, "/admin/users")
    async with s.db.session() as session:
        new = await session.scalar(select(User).where(User.email == new_email))
        pinerolo = await session.scalar(select(Comune.id).where(Comune.istat_code == "001191"))
    assert new is not None and (new.role, new.comune_id) == (Role.SINDACO, pinerolo)
    assert (await s.get(User, target.id)).role == Role.SINDACO


async def _convene_form(s: Scene, zone_id: int, title: str) -> dict[str, Any]:
    """The convening form as a browser sends it (``datetime-local`` in Turin's time)."""
    starts = (datetime.now(UTC) + timedelta(days=7)).astimezone(ROME)
    return {
        "title": title, "description": "", "zones": [str(zone_id)],
        "starts_at": starts.strftime("%Y-%m-%dT%H:%M"), "place": "Sala consiliare",
        "video_url": "", "quorum": "", "item-0-title": "Parere sul PSM",
        "item-0-theme": str(s.theme.id), "item-0-minutes": "30",
    }  # fmt: skip


async def check_convene(s: Scene, c: Client, allowed: bool) -> None:
    zone_id = await s.zone_id()
    assert s.zone is not None and zone_id is not None
    meeting = await convene(s.db, s.world["staff"], (s.zone,))  # to be opened
    async with s.db.session() as session:
        elsewhere = [z for z in await session.scalars(select(Zone.id)) if z != zone_id]
    title = f"Assemblea convocata da {s.actor}"
    before = await snapshot(s.db)
    form = await c.get("/meetings/new")
    created = await c.post("/meetings/new", await _convene_form(s, zone_id, title))
    opened = await c.post(f"/meetings/{meeting.id}/open")
    offered = f'input[name="zones"][value="{zone_id}"]'
    if not allowed:
        if any(can(s.user, Action.CONVENE, z) for z in elsewhere):
            # The form is theirs for another zone (a portavoce's own): not for this one.
            assert assert_ok(form).select_one(offered) is None
        else:
            assert_denied(form)
        assert_denied(created)
        assert_denied(opened, await _meeting_refusal(s))
        assert await snapshot(s.db) == before
        return
    assert assert_ok(form).select_one(offered) is not None
    assert created.status_code == 303, created.text
    match = re.fullmatch(r"/meetings/(\d+)", created.headers["location"])
    assert match is not None, created.headers["location"]
    new = await s.get(Meeting, int(match.group(1)))
    assert (new.title, new.convened_by_id, new.state) == (title, s.user.id, MeetingState.CONVOCATA)
    async with s.db.session() as session:
        zones = set(
            await session.scalars(
                select(MeetingZone.zone_id).where(MeetingZone.meeting_id == new.id)
            )
        )
    assert zones == {zone_id}
    assert_redirect(opened, f"/meetings/{meeting.id}")
    after = await s.get(Meeting, meeting.id)
    assert (after.state, after.chair_id) == (MeetingState.IN_CORSO, s.user.id)


async def _meeting_refusal(s: Scene) -> int:
    """The status a refused meeting action gets: 404 when the actor may not
    even read the scene's zone (the meeting is not revealed), else 403."""
    zone_id = await s.zone_id()
    assert zone_id is not None
    return 403 if can_in_zones(s.user, Action.READ, {zone_id}) else 404


async def check_vote(s: Scene, c: Client, allowed: bool) -> None:
    assert s.zone is not None
    staff = s.world["staff"]
    meeting = await convene(s.db, staff, (s.zone,))
    async with s.db.transaction() as uow:
        await meeting_actions.do_open(uow, staff, meeting.id)
    async with s.db.transaction() as uow:
        vote = await voting.do_open_vote(uow, staff, meeting.id, "Parere sul PSM")
    comune = s.user.comune_id
    if comune is None:  # CMTo users have no comune: they try one of the zone
        async with s.db.session() as session:
            comune = await session.scalar(
                select(Comune.id).join(Zone).where(Zone.number == s.zone).order_by(Comune.id)
            )
    room = f"/meetings/{meeting.id}"
    before = await snapshot(s.db)
    checked = await c.post(f"{room}/checkin", {"comune_id": str(comune)})
    cast = await c.post(f"{room}/votes/{vote.id}/ballot", {"choice": "favorevole"})
    if not allowed:
        refusal = await _meeting_refusal(s)
        assert_denied(checked, refusal)
        assert_denied(cast, refusal)
        assert await snapshot(s.db) == before
        return
    assert_redirect(checked, room)
    assert_redirect(cast, room)
    async with s.db.session() as session:
        present = (await session.execute(
            select(Attendance.comune_id, Attendance.user_id, Attendance.left_at)
            .where(Attendance.meeting_id == meeting.id)
        )).all()  # fmt: skip
        ballots = (await session.execute(
            select(Ballot.comune_id, Ballot.cast_by_id, Ballot.choice)
            .where(Ballot.vote_id == vote.id)
        )).all()  # fmt: skip
    assert [tuple(r) for r in present] == [(comune, s.user.id, None)]
    assert [tuple(r) for r in ballots] == [(comune, s.user.id, Choice.FAVOREVOLE)]


async def _consultation(s: Scene) -> tuple[Consultation, int]:
    """A consultation of the scene's zone, opened by staff, and the status a
    refusal gets: 404 when the actor may not even read it, else 403."""
    assert s.zone is not None
    zone_id = await s.zone_id()
    assert zone_id is not None
    consultation = await open_consultation(s.db, s.world["staff"], zones=(s.zone,))
    return consultation, (403 if can_in_zones(s.user, Action.READ, {zone_id}) else 404)


def _turin_in_days(days: int) -> str:
    """A ``datetime-local`` value, Turin time, ``days`` from now (as a browser sends it)."""
    return (datetime.now(ROME) + timedelta(days=days)).strftime("%Y-%m-%dT%H:%M")


async def check_consult(s: Scene, c: Client, allowed: bool) -> None:
    consultation, refusal = await _consultation(s)
    local = _turin_in_days(30)
    before = await snapshot(s.db)
    extended = await c.post(f"/consultations/{consultation.id}/extend", {"deadline": local})
    text = f"Testo corretto da {s.actor}: il parere della zona."
    revised = await c.post(
        f"/consultations/{consultation.id}/edit", {"title": "Parere corretto", "body": text}
    )
    if not allowed:
        assert_denied(extended, refusal)
        assert_denied(revised, refusal)
        assert await snapshot(s.db) == before
        return
    assert_redirect(extended, f"/consultations/{consultation.id}")
    assert_redirect(revised, f"/consultations/{consultation.id}")
    after = await s.get(Consultation, consultation.id)
    expected = datetime.fromisoformat(local).replace(tzinfo=ROME).astimezone(UTC)
    assert after.deadline == expected != consultation.deadline
    assert (after.title, after.body_source) == ("Parere corretto", text)


async def check_contribute(s: Scene, c: Client, allowed: bool) -> None:
    consultation, refusal = await _consultation(s)
    text = f"Il parere del comune, inviato da {s.actor}."
    before = await snapshot(s.db)
    sent = await c.upload(f"/consultations/{consultation.id}/contributions", {"body": text})
    if not allowed:
        assert_denied(sent, refusal)
        assert await snapshot(s.db) == before
        return
    assert s.user.comune_id is not None  # only comune users contribute here
    async with s.db.session() as session:
        rows = (
            await session.scalars(
                select(Contribution).where(Contribution.consultation_id == consultation.id)
            )
        ).all()
        assert [(r.comune_id, r.submitted_by_id, r.number) for r in rows] == [
            (s.user.comune_id, s.user.id, 1)
        ]
        bodies = (
            await session.scalars(
                select(ContributionVersion.body_source).where(
                    ContributionVersion.contribution_id == rows[0].id
                )
            )
        ).all()
    assert bodies == [text]
    assert_redirect(sent, f"/contributions/{rows[0].id}/receipt")


CHECKS: dict[Action, Callable[[Scene, Client, bool], Awaitable[None]]] = {
    Action.READ: check_read,
    Action.POST: check_post,
    Action.EDIT_OWN: check_edit_own,
    Action.MODERATE: check_moderate,
    Action.MANAGE: check_manage,
    Action.CONVENE: check_convene,
    Action.VOTE: check_vote,
    Action.CONSULT: check_consult,
    Action.CONTRIBUTE: check_contribute,
}


def _cells() -> list[Any]:
    cells = []
    for action in Action:
        for role in Role:
            if action is Action.MANAGE:
                cells.append(pytest.param(action, role, None, id=f"{action}-{role}-any"))
                continue
            for rel in Relation:
                if action in MEETING_ACTIONS and rel is METRO:
                    continue  # meetings, consultations: zones only, no metropolitan cell
                cells.append(pytest.param(action, role, rel, id=f"{action}-{role}-{rel}"))
    return cells


async def _theme(db: Database) -> Theme:
    async with db.session() as session:
        theme = await session.scalar(select(Theme).where(Theme.active).order_by(Theme.position))
    assert theme is not None
    return theme


@pytest.mark.asyncio(loop_scope="module")
@pytest.mark.parametrize(("action", "role", "rel"), _cells())
async def test_cell(action: Action, role: Role, rel: Relation | None, shared: Shared) -> None:
    rels = TABLE[action][role]
    if rel is None:  # MANAGE: the whole row is all-or-nothing
        allowed = rels == ALL
        assert allowed == (EXPECTED[action][role] == ALL)
        zone = None
    else:
        allowed = rel in rels
        assert allowed == (rel in EXPECTED[action][role]), "TABLE and EXPECTED disagree"
        zone = ZONE_OF[rel]
    actor = PLAYER[role]
    scene = Scene(shared.db, shared.world, await _theme(shared.db), actor, zone)
    if rel is not None and not role.is_cmto:
        # The scene realises the relation it claims to test.
        zone_id = await scene.zone_id()
        if action in MEETING_ACTIONS:
            assert zone_id is not None
            assert can_in_zones(scene.user, action, {zone_id}) == allowed
        else:
            assert can(scene.user, action, zone_id) == allowed
    client = await shared.login(actor)
    await CHECKS[action](scene, client, allowed)


# --- anonymous, deactivated and changed users -----------------------------------------


async def test_anonymous_pages_redirect_to_login(
    world: World, db: Database, client: Client
) -> None:
    scene = Scene(db, world, await _theme(db), "staff", 5)
    thread = await scene.thread()
    post = await scene.reply(thread, "sindaco5", "Un messaggio.")
    slug = scene.theme.slug
    urls = [
        "/metro", f"/metro/{slug}", f"/metro/{slug}/new", "/zones/5", f"/zones/5/{slug}",
        f"/zones/5/{slug}/new", f"/threads/{thread.id}", f"/posts/{post.id}",
        f"/posts/{post.id}/edit", f"/posts/{post.id}/history", "/admin/users",
        "/admin/users/new", f"/admin/users/{world['sindaco5'].id}", "/admin/audit",
        "/admin/legal", "/admin/legal/privacy", "/admin/legal/privacy/history",
    ]  # fmt: skip
    for url in urls:
        response = await client.get(url)
        assert response.status_code == 303, url
        assert response.headers["location"].startswith("/login?next="), url
    # The home page is public, but links to no zone board; the legal pages are public.
    home = assert_ok(await client.get("/"))
    assert not home.select('a[href^="/zones/"]')
    for kind in LegalKind:
        assert assert_ok(await client.get(f"/legal/{kind.value}")).h1 is not None
    public = assert_ok(await client.get("/public/zones/5"))
    assert not public.select('a[href^="/zones/"], a[href^="/threads/"]')


async def test_anonymous_writes_change_nothing(
    world: World, db: Database, new_client: Callable[[], Client]
) -> None:
    scene = Scene(db, world, await _theme(db), "staff", 5)
    thread = await scene.thread()
    post = await scene.reply(thread, "sindaco5", "Un messaggio.")
    slug = scene.theme.slug
    writes = {
        f"/zones/5/{slug}/new": {"title": "Anonimo", "body": "x"},
        f"/metro/{slug}/new": {"title": "Anonimo", "body": "x"},
        f"/threads/{thread.id}/reply": {"body": "x"},
        f"/threads/{thread.id}/pin": {"value": "1"},
        f"/threads/{thread.id}/close": {"value": "1"},
        f"/posts/{post.id}/edit": {"body": "x"},
        f"/posts/{post.id}/delete": {},
        f"/posts/{post.id}/hide": {"reason": "x"},
        f"/posts/{post.id}/restore": {},
        "/admin/users/new": {"email": "x@test.collab.it", "name": "X", "role": "admin",
                             "password": PASSWORD},
        f"/admin/users/{world['sindaco5'].id}": {"role": "admin", "comune": "", "active": "1"},
        "/admin/legal/privacy": {"body_it": "Anonimo", "version": "0"},
    }  # fmt: skip
    before = await snapshot(db)
    stranger, visitor = new_client(), new_client()
    for url, data in writes.items():
        # No session at all (no cookie, no token): the CSRF check refuses it.
        response = await stranger.http.post(url, data=data)
        assert response.status_code == 403, url
        # A visitor with a session and its token, but not logged in: sent to log in.
        response = await visitor.post(url, data)
        assert response.status_code == 303, url
        assert response.headers["location"].startswith("/login?next="), url
    assert await snapshot(db) == before


async def _set_user(admin: Client, user: User, role: str, istat: str, active: bool) -> None:
    response = await admin.post(
        f"/admin/users/{user.id}", {"role": role, "comune": istat, "active": "1" if active else "0"}
    )
    assert_redirect(response, "/admin/users")


async def test_deactivated_user_can_do_nothing(world: World, db: Database, login_as: Login) -> None:
    scene = Scene(db, world, await _theme(db), "staff", 5)
    thread = await scene.thread()
    mayor, admin = await login_as("sindaco5"), await login_as("admin")
    assert_ok(await mayor.get(f"/threads/{thread.id}"))
    await _set_user(admin, world["sindaco5"], "sindaco", "001191", active=False)
    before = await snapshot(db)

    # Their next request finds the session ended: a write goes to the login page...
    response = await mayor.post(f"/threads/{thread.id}/reply", {"body": "Ci sono ancora?"})
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login?next=")
    # ...and so does every page, and the old CSRF token died with the session.
    for url in ("/zones/5", "/metro", f"/threads/{thread.id}"):
        response = await mayor.get(url)
        assert response.status_code == 303, url
        assert response.headers["location"].startswith("/login?next="), url
    response = await mayor.post(f"/threads/{thread.id}/reply", {"body": "Ci sono ancora?"})
    assert response.status_code == 403
    # Logging in again fails.
    mayor.token = None
    response = await mayor.post("/login", {"email": email("sindaco5"), "password": PASSWORD})
    assert response.status_code == 422
    assert (await mayor.get("/zones/5")).status_code == 303
    after = await snapshot(db)
    # Only the failed login attempt was recorded.
    assert {k: v for k, v in after.items() if k != "login_attempt"} == {
        k: v for k, v in before.items() if k != "login_attempt"
    }


async def test_role_change_ends_old_rights(world: World, db: Database, login_as: Login) -> None:
    scene = Scene(db, world, await _theme(db), "staff", 5)
    thread = await scene.thread()
    chair, admin = await login_as("portavoce5"), await login_as("admin")
    assert_redirect(await chair.post(f"/threads/{thread.id}/pin", {"value": "1"}),
                    f"/threads/{thread.id}")  # fmt: skip
    await _set_user(admin, world["portavoce5"], "tecnico", "001097", active=True)

    # The next request, made with the old session, no longer moderates.
    response = await chair.post(f"/threads/{thread.id}/close", {"value": "1"})
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login?next=")
    assert not (await scene.get(Thread, thread.id)).closed

    # Logged in again, they have the new role's rights only.
    chair = await login_as("portavoce5")
    page = assert_ok(await chair.get(f"/threads/{thread.id}"))
    assert page.select_one('[data-testid="moderation"]') is None
    assert_denied(await chair.post(f"/threads/{thread.id}/close", {"value": "1"}))
    assert_denied(await chair.post(f"/threads/{thread.id}/pin", {"value": "0"}))
    after = await scene.get(Thread, thread.id)
    assert (after.pinned, after.closed) == (True, False)


async def test_comune_change_moves_zone_rights(world: World, db: Database, login_as: Login) -> None:
    mayor, admin = await login_as("sindaco5"), await login_as("admin")
    assert_ok(await mayor.get("/zones/5"))
    await _set_user(admin, world["sindaco5"], "sindaco", "001125", active=True)  # Ivrea, ZO 9
    assert (await mayor.get("/zones/5")).status_code == 303
    mayor = await login_as("sindaco5")
    assert_denied(await mayor.get("/zones/5"))
    assert_ok(await mayor.get("/zones/9"))


# --- edges of the table: other people's posts, closed threads, htmx ------------------


async def test_edit_own_means_own(world: World, db: Database, login_as: Login) -> None:
    scene = Scene(db, world, await _theme(db), "sindaco5", 5)
    thread = await scene.thread()
    theirs = await scene.reply(thread, "tecnico5", "Scritto dal tecnico.")
    hidden = await scene.reply(thread, "tecnico5", "Testo segreto nascosto.")
    await scene.hide(hidden)
    mayor, author = await login_as("sindaco5"), await login_as("tecnico5")
    before = await snapshot(db)
    for post in (theirs, hidden):
        assert_denied(await mayor.get(f"/posts/{post.id}/edit"))
        assert_denied(await mayor.post(f"/posts/{post.id}/edit", {"body": "Mio ora."}))
        assert_denied(await mayor.post(f"/posts/{post.id}/delete"))
    # Not even its author gets a hidden post's text back through the edit form.
    response = await author.get(f"/posts/{hidden.id}/edit")
    assert response.status_code == 409
    assert parse(response).select_one("textarea") is None
    assert await snapshot(db) == before


async def test_closed_thread_only_moderators_write(
    world: World, db: Database, login_as: Login
) -> None:
    scene = Scene(db, world, await _theme(db), "staff", 5)
    thread = await scene.thread()
    mine = await scene.reply(thread, "sindaco5", "Il mio contributo.")
    chairs = await scene.reply(thread, "portavoce5", "Il contributo della portavoce.")
    async with db.transaction() as uow:
        await actions.do_set_closed(uow, world["staff"], thread.id, True)
    mayor, chair = await login_as("sindaco5"), await login_as("portavoce5")
    before = await snapshot(db)
    for response in (
        await mayor.post(f"/threads/{thread.id}/reply", {"body": "Ancora una cosa."}),
        await mayor.get(f"/posts/{mine.id}/edit"),
        await mayor.post(f"/posts/{mine.id}/edit", {"body": "Corretto."}),
        await mayor.post(f"/posts/{mine.id}/delete"),
    ):
        assert response.status_code == 409
        assert parse(response).select_one('.alert[data-status="409"]') is not None
    assert await snapshot(db) == before
    # The zone's portavoce moderates it, so may still reply and edit.
    replied = await chair.post(f"/threads/{thread.id}/reply", {"body": "Chiudo con una sintesi."})
    assert replied.status_code == 303
    edited = await chair.post(f"/posts/{chairs.id}/edit", {"body": "Contributo corretto."})
    assert_redirect(edited, permalink(chairs))
    assert (await scene.get(Post, chairs.id)).source == "Contributo corretto."


async def test_denied_htmx_write_gets_an_alert(world: World, db: Database, login_as: Login) -> None:
    scene = Scene(db, world, await _theme(db), "staff", 9)
    thread = await scene.thread()
    mayor = await login_as("sindaco5")
    before = await snapshot(db)
    response = await mayor.post(f"/threads/{thread.id}/reply", {"body": "x"}, htmx=True)
    assert response.status_code == 403
    assert response.headers["HX-Retarget"] == "#alerts"
    alert = parse(response).select_one(".alert")
    assert alert is not None and alert.get_text(strip=True)
    assert await snapshot(db) == before
