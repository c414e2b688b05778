"""@mentions: parsing, rendering, who is linked and notified, the limit, the
autocomplete and the person page.

The world of ``tests/conftest.py``: the mayor of Pinerolo (``sindaco5``)
writes in a thread of zone 5; ``tecnico5`` and ``portavoce5`` may read it,
``sindaco9`` (zone 9) may not, CMTo ``staff`` and ``admin`` may.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import httpx
import pytest
from bs4 import BeautifulSoup, Tag
from sqlalchemy import delete, select, text
from sqlalchemy.dialects import sqlite

from collab.db import Database
from collab.forums import actions, mentions, people
from collab.forums.mention_routes import BEYOND_LIMIT
from collab.forums.models import Post, Thread
from collab.models import Role, User, Zone
from collab.notifications.kinds import Kind
from collab.notifications.models import FollowLevel, Notification, ThreadFollow
from collab.permissions import Action, can
from collab.settings import Settings
from tests.conftest import World
from tests.helpers import Client, italian, parse

Login = Callable[[str], Awaitable[Client]]

THEME = "trasporti-mobilita"
BOARD = f"/zones/5/{THEME}"
HTMX = {"HX-Request": "true"}


# --- helpers -----------------------------------------------------------------------


def tag(user: User) -> str:
    """What the autocomplete inserts for ``user``."""
    return f"@**{user.name}|{user.id}**"


def soup_of(html: str) -> BeautifulSoup:
    return BeautifulSoup(html, "html.parser")


def links(html: str) -> list[tuple[str, str]]:
    """The mention links of a post's HTML: (href, text)."""
    return [(str(a["href"]), a.get_text()) for a in soup_of(html).select("a.mention")]


async def zone_id(db: Database, number: int) -> int:
    async with db.session() as session:
        found = await session.scalar(select(Zone.id).where(Zone.number == number))
    assert found is not None
    return found


async def start(db: Database, user: User, body: str, zone: int | None = 5) -> Thread:
    async with db.session() as session:
        theme = await actions.get_theme(session, THEME)
    where = await zone_id(db, zone) if zone is not None else None
    async with db.transaction() as uow:
        return await actions.do_start_thread(uow, user, where, theme, "Orari dei bus", body)


async def reply(db: Database, user: User, thread_id: int, body: str, limit: int = 30) -> Post:
    async with db.transaction() as uow:
        return await actions.do_reply(uow, user, thread_id, body, mention_limit=limit)


async def notifications(db: Database, **where: object) -> list[Notification]:
    async with db.session() as session:
        stmt = select(Notification).filter_by(**where).order_by(Notification.id)
        return list((await session.scalars(stmt)).all())


async def rename(db: Database, user: User, name: str) -> None:
    async with db.transaction() as uow:
        (await uow.session.get_one(User, user.id)).name = name
    user.name = name


async def add_people(db: Database, count: int) -> list[int]:
    """``count`` active technicians of Luserna San Giovanni (zone 5), by name."""
    async with db.transaction() as uow:
        comune_id = await uow.session.scalar(
            select(User.comune_id).where(User.email == "tecnico5@test.collab.it")
        )
        people = [
            User(email=f"extra{i}@test.collab.it", name=f"Persona Extra {i:03d}",
                 password_hash="x", role=Role.TECNICO, comune_id=comune_id)
            for i in range(count)
        ]  # fmt: skip
        uow.session.add_all(people)
        await uow.session.flush()
        return [p.id for p in people]


# --- parsing and rendering ---------------------------------------------------------------


def test_parse_finds_mentions_outside_code_only() -> None:
    source = (
        "Ciao @**Mario Rossi|5** e @**Anna  Bianchi**, `@**Codice|6**`, "
        "mail@**x|7** e @Mario.\n\n```\n@**Blocco|8**\n```\n\n    @**Indentato|9**\n"
    )
    assert mentions.parse_mentions(source) == [
        mentions.Mention("Mario Rossi", 5),
        mentions.Mention("Anna Bianchi", None),
    ]


def test_names_match_by_word_prefix_without_case_or_accents() -> None:
    assert mentions.match_name("Élise Bàrberis", "eli")
    assert mentions.match_name("Élise Bàrberis", "BARB")
    assert mentions.match_name("Élise Bàrberis", "bar eli")
    assert mentions.match_name("Anna D'Àmico", "ami")
    assert not mentions.match_name("Élise Bàrberis", "ris")
    assert not mentions.match_name("Élise Bàrberis", "")


async def test_readers_are_who_the_permission_table_lets_read(world: World, db: Database) -> None:
    for zone in (await zone_id(db, 5), await zone_id(db, 9), None):
        async with db.session() as session:
            readers = {p.id for p in await mentions.readers(session, zone)}
        expected = {u.id for u in world.users.values() if can(u, Action.READ, zone)}
        assert readers == expected, zone


async def test_readers_are_linked_and_others_stay_plain_text(world: World, db: Database) -> None:
    mayor, tech, other, staff = (
        world["sindaco5"],
        world["tecnico5"],
        world["sindaco9"],
        world["staff"],
    )
    body = (
        f"Per {tag(tech)}, {tag(other)} e {tag(staff)}; @**Nessuno|999999**, "
        f"@**{world['portavoce5'].name}** a mano, @Tecnico5 senza stelle, `{tag(tech)}` in codice."
    )
    thread = await start(db, mayor, body)
    async with db.session() as session:
        post = await session.scalar(select(Post).where(Post.thread_id == thread.id))
    assert post is not None
    portavoce = world["portavoce5"]
    assert links(post.html) == [
        (f"/people/{tech.id}", "@Tecnico5"),
        (f"/people/{staff.id}", "@Staff"),
        (f"/people/{portavoce.id}", "@Portavoce5"),
    ]
    text = " ".join(soup_of(post.html).get_text().split())
    assert "@Sindaco9 e" in text  # another zone's mayor: plain text
    assert "@Nessuno," in text
    assert "@Tecnico5 senza stelle" in text
    [code] = soup_of(post.html).select("code")
    assert code.get_text() == tag(tech)
    # Linked and notified: readers only, never the author, never the other zone.
    rows = await notifications(db, kind=Kind.MENTION.value)
    assert sorted(n.user_id for n in rows) == sorted([tech.id, staff.id, portavoce.id])
    assert await notifications(db, user_id=other.id) == []


async def test_names_are_escaped(world: World, db: Database) -> None:
    tech = world["tecnico5"]
    await rename(db, tech, 'Anna <b onmouseover="x">& Co</b>')
    thread = await start(db, world["sindaco5"], f"Ciao {tag(tech)} e @**<i>Ignota</i>|999999**")
    async with db.session() as session:
        post = await session.scalar(select(Post).where(Post.thread_id == thread.id))
    assert post is not None
    soup = soup_of(post.html)
    [link] = soup.select("a.mention")
    assert link.get_text() == '@Anna <b onmouseover="x">& Co</b>'
    assert link.find("b") is None and soup.find("i") is None
    assert "@<i>Ignota</i>" in soup.get_text()


async def test_a_name_alone_links_only_when_one_reader_has_it(world: World, db: Database) -> None:
    tech, portavoce = world["tecnico5"], world["portavoce5"]
    await rename(db, tech, "Mario Rossi")
    await rename(db, portavoce, "Mario Rossi")
    await rename(db, world["sindaco9"], "Luca Bianchi")  # a name only another zone has
    thread = await start(db, world["sindaco5"], "@**Mario Rossi** e @**luca bianchi**")
    post = await reply(db, world["sindaco5"], thread.id, f"{tag(portavoce)} e @**mario  rossi**")
    async with db.session() as session:
        first = await session.scalar(select(Post).where(Post.thread_id == thread.id))
    assert first is not None
    assert links(first.html) == []
    assert links(post.html) == [(f"/people/{portavoce.id}", "@Mario Rossi")]


# --- notifications --------------------------------------------------------------------


async def test_a_mention_notifies_once_with_a_link_to_the_post(world: World, db: Database) -> None:
    mayor, tech = world["sindaco5"], world["tecnico5"]
    thread = await start(db, mayor, "Apriamo.")
    await reply(db, tech, thread.id, "Ci sono anch'io.")  # tech takes part: replies notify them
    post = await reply(db, mayor, thread.id, f"Grazie {tag(tech)}, **ottimo**.")
    [row] = await notifications(db, user_id=tech.id)
    assert row.kind == Kind.MENTION.value  # one notification, of the mention (same ref)
    assert row.ref == f"post:{post.id}"
    assert row.url == f"/threads/{thread.id}?page=1#post-{post.id}"
    assert row.title == "Orari dei bus"
    assert row.excerpt == "Grazie @Tecnico5, ottimo."
    assert row.actor_id == mayor.id


async def test_the_link_reaches_the_right_page_of_a_long_thread(world: World, db: Database) -> None:
    mayor, tech = world["sindaco5"], world["tecnico5"]
    thread = await start(db, mayor, "Uno.")
    for n in range(24):
        await reply(db, mayor, thread.id, f"Messaggio {n}.")
    post = await reply(db, mayor, thread.id, f"Vedi {tag(tech)}")
    [row] = await notifications(db, user_id=tech.id)
    assert row.url == f"/threads/{thread.id}?page=2#post-{post.id}"


async def test_who_muted_the_thread_is_not_notified(world: World, db: Database) -> None:
    mayor, tech = world["sindaco5"], world["tecnico5"]
    thread = await start(db, mayor, "Apriamo.")
    async with db.transaction() as uow:
        uow.session.add(ThreadFollow(user_id=tech.id, thread_id=thread.id, level=FollowLevel.MUTED))
    post = await reply(db, mayor, thread.id, f"Per {tag(tech)}")
    assert links(post.html) == [(f"/people/{tech.id}", "@Tecnico5")]  # still linked
    assert await notifications(db, user_id=tech.id) == []


async def test_an_edit_notifies_only_people_newly_mentioned(world: World, db: Database) -> None:
    mayor, tech, portavoce = world["sindaco5"], world["tecnico5"], world["portavoce5"]
    thread = await start(db, mayor, "Apriamo.")
    post = await reply(db, mayor, thread.id, f"Per {tag(tech)}")
    async with db.transaction() as uow:  # read and pruned: the ref no longer guards
        await uow.session.execute(delete(Notification))
    async with db.transaction() as uow:
        await actions.do_edit_post(uow, mayor, post.id, f"Per {tag(tech)} e {tag(portavoce)}")
    rows = await notifications(db, kind=Kind.MENTION.value)
    assert [n.user_id for n in rows] == [portavoce.id]


async def test_a_mention_storm_notifies_at_most_the_limit(
    world: World, db: Database, settings: Settings, login_as: Login
) -> None:
    limit = settings.mention_limit
    extra = await add_people(db, limit + 10)
    thread = await start(db, world["staff"], "Apriamo.", zone=5)
    storm = [f"@**Persona|{uid}**" for uid in extra]
    storm += [f"@**Nessuno|{900000 + n}**" for n in range(500 - len(storm))]
    assert len(storm) == 500
    mayor = await login_as("sindaco5")
    response = await mayor.post(f"/threads/{thread.id}/reply", {"body": " ".join(storm)})
    assert response.status_code == 303
    rows = await notifications(db, kind=Kind.MENTION.value)
    assert [n.user_id for n in rows] == extra[:limit]  # the first ones, in order
    async with db.session() as session:
        last = await session.scalar(
            select(Post).where(Post.thread_id == thread.id).order_by(Post.id.desc()).limit(1)
        )
    assert last is not None
    assert len(links(last.html)) == limit + 10  # everyone still linked
    # The author is told, on the page the redirect leads to, once.
    told = italian(BEYOND_LIMIT) % {"limit": limit, "count": limit + 10}
    page = parse(await mayor.get(response.headers["location"]))
    notice = page.select_one("[data-testid=mention-notice]")
    assert notice is not None and " ".join(notice.get_text().split()) == told
    again = parse(await mayor.get(response.headers["location"]))
    assert again.select_one("[data-testid=mention-notice]") is None
    # With htmx, on the page being shown: in the answer, for #alerts.
    response = await mayor.post(
        f"/threads/{thread.id}/reply", {"body": " ".join(storm[:60]), "page": "1"}, htmx=True
    )
    assert response.status_code == 200, response.text[:300]
    alerts = parse(response).select_one("#alerts[hx-swap-oob]")
    assert alerts is not None
    assert " ".join(alerts.get_text().split()) == told


async def test_replying_without_javascript_links_the_mention(
    world: World, db: Database, login_as: Login
) -> None:
    tech = world["tecnico5"]
    thread = await start(db, world["staff"], "Apriamo.")
    mayor = await login_as("sindaco5")
    response = await mayor.post(f"/threads/{thread.id}/reply", {"body": "Chiedo a @**Tecnico5**."})
    assert response.status_code == 303
    page = parse(await mayor.get(response.headers["location"]))
    assert page.select_one("[data-testid=mention-notice]") is None
    [link] = page.select("#posts a.mention")
    assert (link["href"], link.get_text()) == (f"/people/{tech.id}", "@Tecnico5")
    assert [n.user_id for n in await notifications(db, kind=Kind.MENTION.value)] == [tech.id]


# --- the autocomplete -------------------------------------------------------------------


def options(response: httpx.Response) -> list[tuple[str, str]]:
    """(data-mention, visible text) of each option of an autocomplete answer."""
    assert response.status_code == 200, response.text[:300]
    soup = parse(response)
    assert soup.find("html") is None  # a fragment
    [box] = soup.select("[role=listbox]")
    return [
        (str(li["data-mention"]), " ".join(li.get_text().split()))
        for li in box.select("[role=option]")
        if isinstance(li, Tag)
    ]


async def test_the_autocomplete_offers_only_readers(
    world: World, db: Database, login_as: Login
) -> None:
    tech, staff = world["tecnico5"], world["staff"]
    thread = await start(db, world["portavoce5"], "Apriamo.")
    mayor = await login_as("sindaco5")
    found = options(await mayor.get(f"/threads/{thread.id}/mentions?q=tec"))
    assert found == [(tag(tech), f"Tecnico5 {italian('Technician')}, Luserna San Giovanni")]
    found = options(await mayor.get(f"/threads/{thread.id}/mentions?q=@STA"))
    assert found == [(tag(staff), f"Staff {italian('CMTo staff')}, CMTo")]
    assert options(await mayor.get(f"/threads/{thread.id}/mentions?q=sindaco")) == []  # not self
    assert options(await mayor.get(f"/threads/{thread.id}/mentions?q=")) == []
    # Accents and case do not matter; at most 8.
    await rename(db, tech, "Élise Bàrberis")
    found = options(await mayor.get(f"/threads/{thread.id}/mentions?q=barb"))
    assert [m for m, _ in found] == [tag(tech)]
    await add_people(db, 12)
    assert len(options(await mayor.get(f"/threads/{thread.id}/mentions?q=pers"))) == 8
    # Another zone's mayor may not read the thread, nor ask who is in it.
    other = await login_as("sindaco9")
    assert (await other.get(f"/threads/{thread.id}/mentions?q=tec")).status_code == 403
    assert (await mayor.get("/threads/999999/mentions?q=tec")).status_code == 404


async def test_the_new_thread_form_asks_its_board(world: World, login_as: Login) -> None:
    other = await login_as("sindaco9")
    assert (await other.get(f"{BOARD}/mentions?q=tec")).status_code == 403
    assert (await other.get(f"/zones/99/{THEME}/mentions?q=tec")).status_code == 404
    assert (await other.get("/zones/9/nessun-tema/mentions?q=tec")).status_code == 404
    found = options(await other.get(f"/metro/{THEME}/mentions?q=tec"))
    assert [m for m, _ in found] == [tag(world["tecnico5"]), tag(world["tecnico9"])]
    found = options(await other.get(f"/zones/9/{THEME}/mentions?q=tec"))
    assert [m for m, _ in found] == [tag(world["tecnico9"])]


async def test_the_forms_ask_the_autocomplete(world: World, db: Database, login_as: Login) -> None:
    thread = await start(db, world["sindaco5"], "Apriamo.")
    mayor = await login_as("sindaco5")
    page = parse(await mayor.get(f"/threads/{thread.id}"))
    area = page.select_one("#reply-body")
    assert area is not None and area["data-mentions"] == f"/threads/{thread.id}/mentions"
    assert page.select_one('script[src="/static/js/mentions.js"]') is not None
    page = parse(await mayor.get(f"{BOARD}/new"))
    area = page.select_one("textarea[name=body]")
    assert area is not None and area["data-mentions"] == f"{BOARD}/mentions"
    page = parse(await mayor.get(f"/posts/{await _first_post(db, thread.id)}/edit"))
    area = page.select_one("textarea[name=body]")
    assert area is not None and area["data-mentions"] == f"/threads/{thread.id}/mentions"


async def _first_post(db: Database, thread_id: int) -> int:
    async with db.session() as session:
        found = await session.scalar(
            select(Post.id).where(Post.thread_id == thread_id).order_by(Post.id)
        )
    assert found is not None
    return found


# --- the person page ----------------------------------------------------------------------


async def test_the_person_page(world: World, db: Database, login_as: Login) -> None:
    tech = world["tecnico5"]
    zoned = await start(db, tech, "Nella zona 5.")
    metro = await start(db, world["staff"], "Metropolitana.", zone=None)
    await reply(db, tech, metro.id, "Anche qui.")
    mayor, other = await login_as("sindaco5"), await login_as("sindaco9")

    page = parse(await mayor.get(f"/people/{tech.id}"))
    heading = page.select_one("h1")
    assert heading is not None and heading.get_text().strip() == "Tecnico5"
    facts = page.select_one("[data-testid=person-facts]")
    assert facts is not None
    assert [" ".join(dd.get_text().split()) for dd in facts.select("dd")] == [
        italian("Technician"), "Luserna San Giovanni",
        f"{italian('Zone %(number)d', number=5)} · Pinerolese",
    ]  # fmt: skip
    listed = [str(a["href"]) for a in page.select("[data-testid=person-threads] a")]
    assert listed == [f"/threads/{metro.id}", f"/threads/{zoned.id}"]  # the latest first
    # Another zone's mayor sees only what they may read.
    page = parse(await other.get(f"/people/{tech.id}"))
    assert [str(a["href"]) for a in page.select("[data-testid=person-threads] a")] == [
        f"/threads/{metro.id}"
    ]
    assert (await mayor.get("/people/999999")).status_code == 404
    async with db.transaction() as uow:
        (await uow.session.get_one(User, tech.id)).active = False
    assert (await mayor.get(f"/people/{tech.id}")).status_code == 404


async def test_the_person_page_needs_a_login(world: World, client: Client) -> None:
    response = await client.get(f"/people/{world['tecnico5'].id}")
    assert response.status_code in (302, 303)
    assert response.headers["location"].startswith("/login")


@pytest.mark.parametrize("source", ["@**|5**", "@** **", "@****", "@**Nome|**"])
def test_malformed_mentions_are_text(source: str) -> None:
    assert mentions.parse_mentions(source) == []


async def test_a_persons_threads_are_read_from_their_own_posts(world: World, db: Database) -> None:
    """The page reads the person's posts through their index, not every post
    (a second for a mayor of the big dataset before migration 0017)."""
    tech = world["tecnico5"]
    thread = await start(db, tech, "Nella zona 5.")
    async with db.session() as session:
        threads = await people.recent_threads(session, world["sindaco5"], tech.id)
        assert [t.id for t in threads] == [thread.id]
        if db.engine.dialect.name == "sqlite":
            stmt = await people.threads_statement(session, world["sindaco5"], tech.id)
            literal = stmt.compile(dialect=sqlite.dialect(), compile_kwargs={"literal_binds": True})
            rows = await session.execute(text(f"EXPLAIN QUERY PLAN {literal}"))
            plan = " ".join(str(row[-1]) for row in rows)
            assert "USING INDEX ix_post_author_thread_live (author_id=?)" in plan, plan
