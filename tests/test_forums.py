"""The zone boards, told as a story through HTTP: with JavaScript off and with htmx.

The mayor of Pinerolo (``sindaco5``) opens zone 5, starts a thread on
"Trasporti e mobilità", replies, edits, deletes; CMTo staff hides and
restores a post; the zone's portavoce pins and closes the thread. Every write
is checked both as a plain form post (303 to the permalink) and as an htmx
request (a partial), and every bad input changes nothing.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any
from unittest.mock import ANY

import httpx
import pytest
from bs4 import BeautifulSoup, Tag
from sqlalchemy import func, select

from collab.db import Database
from collab.errors import ActionError
from collab.forums import actions
from collab.forums.models import Post, Thread
from collab.models import User, Zone
from collab.realtime.events import (
    NotificationsChanged,
    PostCreated,
    PostDeleted,
    PostEdited,
    ThreadCreated,
    ThreadUpdated,
)
from tests.conftest import World
from tests.helpers import Client, capture_events, italian, italian_n, parse, snapshot

Login = Callable[[str], Awaitable[Client]]

THEME = "trasporti-mobilita"
BOARD = f"/zones/5/{THEME}"
HTMX = {"HX-Request": "true"}


# --- helpers -----------------------------------------------------------------


def words(node: Tag | None) -> str:
    """The text of ``node`` with whitespace collapsed."""
    assert node is not None
    return " ".join(node.get_text().split())


def one(soup: BeautifulSoup | Tag, selector: str) -> Tag:
    node = soup.select_one(selector)
    assert node is not None, f"{selector!r} not found"
    return node


def fragment(response: httpx.Response) -> list[Tag]:
    """The top-level elements of an htmx partial (which must not be a whole page)."""
    soup = parse(response)
    assert soup.find("html") is None and soup.find("body") is None, "a page, not a partial"
    return [node for node in soup.children if isinstance(node, Tag)]


def location(response: httpx.Response) -> str:
    assert response.status_code == 303, (response.status_code, response.text[:300])
    return response.headers["location"]


def permalink(url: str) -> tuple[int, int, int]:
    """``/threads/{id}?page=N#post-{id}`` as (thread id, page, post id)."""
    match = re.fullmatch(r"/threads/(\d+)\?page=(\d+)#post-(\d+)", url)
    assert match, url
    return int(match[1]), int(match[2]), int(match[3])


def post_ids(soup: BeautifulSoup) -> list[int]:
    return [int(str(a["data-post-id"])) for a in soup.select("#posts > article.post")]


def alert(soup: BeautifulSoup | Tag) -> str:
    return words(one(soup, ".alert-danger"))


def alert_fragment(response: httpx.Response, status: int, title: str, msgid: str) -> None:
    """An htmx error that is not about a form: an alert for the page's ``#alerts``."""
    assert response.status_code == status, (response.status_code, response.text[:300])
    assert response.headers["hx-retarget"] == "#alerts"
    [box] = fragment(response)
    assert box["role"] == "alert"
    assert words(one(box, "strong")) == italian(title)
    assert words(box) == f"{italian(title)} {italian(msgid)}"


async def thread_page(client: Client, thread_id: int, page: int | str = 1) -> BeautifulSoup:
    response = await client.get(f"/threads/{thread_id}?page={page}")
    assert response.status_code == 200, response.text[:300]
    return parse(response)


async def post_count(db: Database, thread_id: int) -> int:
    async with db.session() as session:
        thread = await session.get_one(Thread, thread_id)
        return thread.post_count


async def count(db: Database, model: type[Any]) -> int:
    async with db.session() as session:
        return await session.scalar(select(func.count()).select_from(model)) or 0


async def start(
    db: Database, user: User, title: str = "Orari dei bus", body: str = "Primo messaggio.",
    zone_number: int | None = 5, theme: str = THEME,
) -> Thread:  # fmt: skip
    """Start a thread directly through the actions (fast set-up)."""
    async with db.session() as session:
        the_theme = await actions.get_theme(session, theme)
        zone_id = None
        if zone_number is not None:
            zone_id = await session.scalar(select(Zone.id).where(Zone.number == zone_number))
    async with db.transaction() as uow:
        return await actions.do_start_thread(uow, user, zone_id, the_theme, title, body)


async def reply(db: Database, user: User, thread_id: int, body: str) -> Post:
    async with db.transaction() as uow:
        return await actions.do_reply(uow, user, thread_id, body)


async def first_post_id(db: Database, thread_id: int) -> int:
    async with db.session() as session:
        first = await session.scalar(select(func.min(Post.id)).where(Post.thread_id == thread_id))
    assert first is not None
    return first


# --- the story, JavaScript off -------------------------------------------------


async def test_mayor_starts_a_thread_from_the_zone_board(login_as: Login, db: Database) -> None:
    mayor = await login_as("sindaco5")
    home = parse(await mayor.get("/"))
    assert one(home, '[data-zone="5"] a')["href"] == "/zones/5"

    zone = await mayor.get("/zones/5")
    assert zone.status_code == 200
    theme_link = one(parse(zone), f'[data-testid="themes"] a[href="{BOARD}"]')
    assert words(theme_link) == "Trasporti e mobilità"

    board = parse(await mayor.get(BOARD))
    assert one(board, f'a[href="{BOARD}/new"]')
    form_page = await mayor.get(f"{BOARD}/new")
    assert form_page.status_code == 200
    form = one(parse(form_page), f'form[method="post"][action="{BOARD}/new"]')
    assert form.select_one('input[name="title"]') and form.select_one('textarea[name="body"]')

    started = await mayor.post(
        f"{BOARD}/new",
        {
            "title": "  Orari dei bus   per la Val Pellice ",
            "body": "Raccogliamo le **segnalazioni**.",
        },
    )
    match = re.fullmatch(r"/threads/(\d+)", location(started))
    assert match
    thread_id = int(match[1])

    page = await thread_page(mayor, thread_id)
    assert words(page.h1) == "Orari dei bus per la Val Pellice"
    [post_id] = post_ids(page)
    post = one(page, f"#post-{post_id}")
    assert words(one(post, ".post-body strong")) == "segnalazioni"
    assert words(one(post, f"#post-{post_id}-author")) == "Sindaco5"
    assert post.select_one('[data-testid="edited"]') is None
    # The new thread is on its board, with one message.
    row = one(parse(await mayor.get(BOARD)), f"#thread-{thread_id}")
    link = one(row, f'a[href="/threads/{thread_id}/unread"]')  # opens at the first unread
    assert words(link) == "Orari dei bus per la Val Pellice"
    assert words(one(row, ".badge")) == italian_n("%(num)d message", "%(num)d messages", 1)


async def test_reply_edit_history_and_delete_without_javascript(
    login_as: Login, world: World, db: Database
) -> None:
    thread = await start(db, world["sindaco5"])
    mayor = await login_as("sindaco5")

    replied = await mayor.post(f"/threads/{thread.id}/reply", {"body": "Prima versione."})
    thread_id, page_number, reply_id = permalink(location(replied))
    assert (thread_id, page_number) == (thread.id, 1)
    page = await thread_page(mayor, thread.id)
    assert post_ids(page) == [await first_post_id(db, thread.id), reply_id]
    assert await post_count(db, thread.id) == 2

    # Edit: the form holds the Markdown source; saving goes back to the permalink.
    edit_page = await mayor.get(f"/posts/{reply_id}/edit")
    assert edit_page.status_code == 200
    form = one(parse(edit_page), f'form[method="post"][action="/posts/{reply_id}/edit"]')
    assert one(form, 'textarea[name="body"]').get_text() == "Prima versione."
    edited = await mayor.post(f"/posts/{reply_id}/edit", {"body": "Seconda versione, *corretta*."})
    assert permalink(location(edited)) == (thread.id, 1, reply_id)

    post = one(await thread_page(mayor, thread.id), f"#post-{reply_id}")
    assert words(one(post, ".post-body")) == "Seconda versione, corretta."
    assert words(one(post, ".post-body em")) == "corretta"
    history_link = one(post, '[data-testid="edited"]')
    assert history_link["href"] == f"/posts/{reply_id}/history"

    history = await mayor.get(str(history_link["href"]))
    assert history.status_code == 200
    versions = parse(history).select('[data-testid="revisions"] > li.revision')
    assert [words(one(v, ".post-body")) for v in versions] == [
        "Seconda versione, corretta.",
        "Prima versione.",
    ]

    # Delete: a placeholder keeps the post's place, and the count goes down.
    deleted = await mayor.post(f"/posts/{reply_id}/delete")
    assert permalink(location(deleted)) == (thread.id, 1, reply_id)
    post = one(await thread_page(mayor, thread.id), f"#post-{reply_id}")
    assert "post-removed" in post["class"]
    assert words(one(post, '[data-testid="removed"]')) == italian("Message deleted by its author.")
    assert post.select_one(".post-body") is None
    assert post.select_one(f'a[href="/posts/{reply_id}/edit"]') is None
    assert await post_count(db, thread.id) == 1
    row = one(parse(await mayor.get(BOARD)), f"#thread-{thread.id}")
    assert words(one(row, ".badge")) == italian_n("%(num)d message", "%(num)d messages", 1)

    # A deleted post cannot be edited or deleted again.
    before = await snapshot(db)
    again = await mayor.post(f"/posts/{reply_id}/edit", {"body": "Torno indietro"})
    assert again.status_code == 409
    assert alert(parse(again)) == italian("This message has been deleted.")
    assert (await mayor.post(f"/posts/{reply_id}/delete")).status_code == 409
    assert await snapshot(db) == before


async def test_only_the_author_edits_or_deletes(
    login_as: Login, world: World, db: Database
) -> None:
    thread = await start(db, world["sindaco5"])
    post_id = await first_post_id(db, thread.id)
    others = {key: await login_as(key) for key in ("tecnico5", "portavoce5", "staff")}
    for other in others.values():  # a view records a read: before the snapshot
        await thread_page(other, thread.id)
    before = await snapshot(db)
    for key, other in others.items():
        page = await thread_page(other, thread.id)
        assert one(page, f"#post-{post_id}").select_one(f'a[href="/posts/{post_id}/edit"]') is None
        for url, data in ((f"/posts/{post_id}/edit", {"body": "Non mio"}),
                          (f"/posts/{post_id}/delete", {})):  # fmt: skip
            response = await other.post(url, data)
            assert response.status_code == 403, (key, url)
            assert alert(parse(response)) == italian("You can only change your own messages.")
        # Nor may they read the source through the edit form.
        assert (await other.get(f"/posts/{post_id}/edit")).status_code == 403
    assert await snapshot(db) == before


async def test_staff_hides_a_post_with_a_reason_and_restores_it(
    login_as: Login, world: World, db: Database
) -> None:
    thread = await start(db, world["sindaco5"])
    tecnico = await login_as("tecnico5")
    _, _, hidden_id = permalink(
        location(await tecnico.post(f"/threads/{thread.id}/reply", {"body": "Testo fuori tema"}))
    )
    assert await post_count(db, thread.id) == 2

    staff = await login_as("staff")
    hidden = await staff.post(f"/posts/{hidden_id}/hide", {"reason": "Non pertinente"})
    assert permalink(location(hidden)) == (thread.id, 1, hidden_id)
    assert await post_count(db, thread.id) == 1

    notice = italian(
        "Message hidden by %(name)s. Reason: %(reason)s", name="Staff", reason="Non pertinente"
    )
    mayor = await login_as("sindaco5")
    portavoce = await login_as("portavoce5")
    for viewer, moderator in ((mayor, False), (tecnico, False), (staff, True), (portavoce, True)):
        page = await thread_page(viewer, thread.id)
        post = one(page, f"#post-{hidden_id}")
        assert words(one(post, '[data-testid="removed"]')) == notice
        if moderator:
            original = one(post, "details .post-body")
            assert words(original) == "Testo fuori tema"
            assert one(post, f'form[action="/posts/{hidden_id}/restore"]')
        else:
            assert post.select_one("details") is None
            assert post.select_one(".post-body") is None
            assert "Testo fuori tema" not in page.get_text()
    # The history of a hidden post is for moderators only.
    history = parse(await tecnico.get(f"/posts/{hidden_id}/history"))
    assert history.select_one('[data-testid="revisions"]') is None
    assert "Testo fuori tema" not in history.get_text()

    # Hiding needs a reason; hiding twice is a conflict; nothing changes.
    before = await snapshot(db)
    other = await tecnico.post(f"/threads/{thread.id}/reply", {"body": "Altro"})
    _, _, other_id = permalink(location(other))
    before = await snapshot(db)
    no_reason = await staff.post(f"/posts/{other_id}/hide", {"reason": "  "})
    assert no_reason.status_code == 422
    assert alert(parse(no_reason)) == italian("Say why the message is hidden.")
    twice = await staff.post(f"/posts/{hidden_id}/hide", {"reason": "Ancora"})
    assert twice.status_code == 409
    assert alert(parse(twice)) == italian("This message has already been removed.")
    # A mayor is no moderator.
    refused = await mayor.post(f"/posts/{other_id}/hide", {"reason": "Non mi piace"})
    assert refused.status_code == 403
    assert alert(parse(refused)) == italian("You are not allowed to do this here.")
    assert await snapshot(db) == before

    restored = await staff.post(f"/posts/{hidden_id}/restore")
    assert permalink(location(restored)) == (thread.id, 1, hidden_id)
    post = one(await thread_page(mayor, thread.id), f"#post-{hidden_id}")
    assert "post-removed" not in post["class"]
    assert words(one(post, ".post-body")) == "Testo fuori tema"
    assert await post_count(db, thread.id) == 3
    assert (await staff.post(f"/posts/{hidden_id}/restore")).status_code == 409


@pytest.mark.parametrize("moderator", ["portavoce5", "staff"])
async def test_pin_and_close(login_as: Login, world: World, db: Database, moderator: str) -> None:
    thread = await start(db, world["sindaco5"], title="Da chiudere")
    tecnico = await login_as("tecnico5")
    mayor = await login_as("sindaco5")
    mod = await login_as(moderator)

    page = await thread_page(mod, thread.id)
    moderation = one(page, '[data-testid="moderation"]')
    assert moderation.select_one(f'form[action="/threads/{thread.id}/pin"]')
    assert (await thread_page(tecnico, thread.id)).select_one('[data-testid="moderation"]') is None

    pinned = await mod.post(f"/threads/{thread.id}/pin", {"value": "1"})
    assert location(pinned) == f"/threads/{thread.id}"
    closed = await mod.post(f"/threads/{thread.id}/close", {"value": "1"})
    assert location(closed) == f"/threads/{thread.id}"
    async with db.session() as session:
        row = await session.get_one(Thread, thread.id)
        assert (row.pinned, row.closed) == (True, True)

    page = await thread_page(tecnico, thread.id)
    badges = [words(b) for b in page.select("h1 + p .badge")]
    assert badges == [italian("Pinned"), italian("Closed")]
    assert page.select_one("#reply-form") is None
    assert words(one(page, '[role="status"]')) == italian("This thread is closed: no more replies.")
    # The moderator still has the reply form.
    assert (await thread_page(mod, thread.id)).select_one("#reply-form") is not None

    before = await snapshot(db)
    refused = await tecnico.post(f"/threads/{thread.id}/reply", {"body": "Ancora una cosa"})
    assert refused.status_code == 409
    assert parse(refused).html["lang"] == "it"  # type: ignore[index]
    assert alert(parse(refused)) == italian("This thread is closed: no more replies or edits.")
    assert await snapshot(db) == before
    # The author cannot edit in a closed thread either.
    post_id = await first_post_id(db, thread.id)
    assert (await mayor.post(f"/posts/{post_id}/edit", {"body": "Modifica"})).status_code == 409
    assert await snapshot(db) == before

    assert location(await mod.post(f"/threads/{thread.id}/close", {"value": "0"}))
    assert location(await mod.post(f"/threads/{thread.id}/pin", {"value": "0"}))
    page = await thread_page(tecnico, thread.id)
    assert page.select("h1 + p .badge") == []
    assert page.select_one("#reply-form") is not None


@pytest.mark.parametrize("key", ["sindaco5", "tecnico5", "portavoce9", "sindaco9"])
async def test_who_may_not_pin_or_close(
    login_as: Login, world: World, db: Database, key: str
) -> None:
    thread = await start(db, world["sindaco5"])
    client = await login_as(key)
    before = await snapshot(db)
    for action in ("pin", "close"):
        response = await client.post(f"/threads/{thread.id}/{action}", {"value": "1"})
        assert response.status_code == 403
        assert parse(response).html["lang"] == "it"  # type: ignore[index]
        assert alert(parse(response)) == italian("You are not allowed to do this here.")
    assert await snapshot(db) == before


# --- the same story with htmx ----------------------------------------------------


async def test_story_with_htmx(login_as: Login, world: World, db: Database) -> None:
    mayor = await login_as("sindaco5")

    # Starting a thread: htmx is told where to go.
    started = await mayor.post(
        f"{BOARD}/new", {"title": "Con htmx", "body": "Primo messaggio."}, htmx=True
    )
    assert started.status_code == 200
    match = re.fullmatch(r"/threads/(\d+)", started.headers["hx-redirect"])
    assert match
    thread_id = int(match[1])

    # Reply on the page shown: the post, plus a fresh reply form swapped out of band.
    replied = await mayor.post(
        f"/threads/{thread_id}/reply", {"body": "Risposta *htmx*", "page": "1"}, htmx=True
    )
    assert replied.status_code == 200
    article, form = fragment(replied)
    assert article.name == "article" and form.name == "form"
    reply_id = int(str(article["data-post-id"]))
    assert article["id"] == f"post-{reply_id}"
    assert words(one(article, ".post-body")) == "Risposta htmx"
    assert form["id"] == "reply-form" and form["hx-swap-oob"] == "true"
    assert one(form, 'textarea[name="body"]').get_text() == ""
    assert one(form, 'input[name="page"]')["value"] == "1"
    assert one(form, 'input[name="csrf_token"]')["value"] == mayor.token
    assert post_ids(await thread_page(mayor, thread_id))[-1] == reply_id

    # Reply from elsewhere (no page shown): htmx is sent to the permalink.
    elsewhere = await mayor.post(f"/threads/{thread_id}/reply", {"body": "Altra"}, htmx=True)
    assert elsewhere.status_code == 200
    assert permalink(elsewhere.headers["hx-redirect"])[:2] == (thread_id, 1)

    # Edit: the form replaces the post, saving gives the updated post back.
    edit_form = await mayor.get(f"/posts/{reply_id}/edit", headers=HTMX)
    assert edit_form.status_code == 200
    [editing] = fragment(edit_form)
    assert editing.name == "article" and editing["id"] == f"post-{reply_id}"
    form = one(editing, "form")
    assert form["hx-post"] == f"/posts/{reply_id}/edit"
    assert one(form, 'textarea[name="body"]').get_text() == "Risposta *htmx*"
    cancel = await mayor.get(f"/posts/{reply_id}", headers=HTMX)
    [unchanged] = fragment(cancel)
    assert words(one(unchanged, ".post-body")) == "Risposta htmx"

    saved = await mayor.post(
        f"/posts/{reply_id}/edit", {"body": "Risposta **corretta**"}, htmx=True
    )
    assert saved.status_code == 200
    [updated] = fragment(saved)
    assert updated["id"] == f"post-{reply_id}"
    assert words(one(updated, ".post-body strong")) == "corretta"
    assert one(updated, '[data-testid="edited"]')["href"] == f"/posts/{reply_id}/history"
    history = parse(await mayor.get(f"/posts/{reply_id}/history"))
    assert [words(one(li, ".post-body")) for li in history.select("li.revision")] == [
        "Risposta corretta",
        "Risposta htmx",
    ]

    # Delete: the placeholder replaces the post.
    deleted = await mayor.post(f"/posts/{reply_id}/delete", htmx=True)
    assert deleted.status_code == 200
    [gone] = fragment(deleted)
    assert words(one(gone, '[data-testid="removed"]')) == italian("Message deleted by its author.")
    assert gone.select_one(".post-body") is None

    # Staff hides the mayor's first post, then restores it.
    first_id = await first_post_id(db, thread_id)
    staff = await login_as("staff")
    hidden = await staff.post(f"/posts/{first_id}/hide", {"reason": "Prova"}, htmx=True)
    assert hidden.status_code == 200
    [hidden_post] = fragment(hidden)
    assert words(one(hidden_post, '[data-testid="removed"]')) == italian(
        "Message hidden by %(name)s. Reason: %(reason)s", name="Staff", reason="Prova"
    )
    assert words(one(hidden_post, "details .post-body")) == "Primo messaggio."
    restored = await staff.post(f"/posts/{first_id}/restore", htmx=True)
    assert restored.status_code == 200
    [back] = fragment(restored)
    assert "post-removed" not in back["class"]
    assert words(one(back, ".post-body")) == "Primo messaggio."

    # Pin and close answer htmx with a redirect to the thread.
    portavoce = await login_as("portavoce5")
    for action in ("pin", "close"):
        response = await portavoce.post(f"/threads/{thread_id}/{action}", {"value": "1"}, htmx=True)
        assert response.status_code == 200
        assert response.headers["hx-redirect"] == f"/threads/{thread_id}"
    assert await post_count(db, thread_id) == 2


async def test_htmx_errors(login_as: Login, world: World, db: Database) -> None:
    thread = await start(db, world["sindaco5"])
    post_id = await first_post_id(db, thread.id)
    mayor = await login_as("sindaco5")
    staff = await login_as("staff")
    tecnico = await login_as("tecnico5")
    before = await snapshot(db)

    # A form error: the form comes back, with the message and the input.
    empty = await mayor.post(
        f"/threads/{thread.id}/reply", {"body": "  \n ", "page": "1"}, htmx=True
    )
    assert empty.status_code == 422
    assert empty.headers["hx-retarget"] == "#reply-form"
    [form] = fragment(empty)
    assert form["id"] == "reply-form"
    assert alert(form) == italian("The message is empty.")
    assert "is-invalid" in one(form, "textarea")["class"]

    too_long = "x" * (actions.MAX_BODY + 1)
    bad_edit = await mayor.post(f"/posts/{post_id}/edit", {"body": too_long}, htmx=True)
    assert bad_edit.status_code == 422
    [editing] = fragment(bad_edit)
    assert editing["id"] == f"post-{post_id}"
    assert alert(editing) == italian(
        "The message is too long (at most %(max)d characters).", max=actions.MAX_BODY
    )
    assert one(editing, 'textarea[name="body"]').get_text() == too_long

    # Any other error goes to the page's alert area.
    no_reason = await staff.post(f"/posts/{post_id}/hide", {"reason": ""}, htmx=True)
    alert_fragment(no_reason, 422, "Invalid data", "Say why the message is hidden.")
    denied = await mayor.post(f"/threads/{thread.id}/pin", {"value": "1"}, htmx=True)
    alert_fragment(denied, 403, "Access denied", "You are not allowed to do this here.")
    assert await snapshot(db) == before

    assert location(await staff.post(f"/threads/{thread.id}/close", {"value": "1"}))
    before = await snapshot(db)
    closed = await tecnico.post(
        f"/threads/{thread.id}/reply", {"body": "Troppo tardi", "page": "1"}, htmx=True
    )
    alert_fragment(
        closed, 409, "Not possible now", "This thread is closed: no more replies or edits."
    )
    missing = await tecnico.post("/threads/999999/reply", {"body": "Dove?"}, htmx=True)
    alert_fragment(missing, 404, "Page not found", "This thread does not exist.")
    assert await snapshot(db) == before


# --- validation ------------------------------------------------------------------

TOO_LONG_BODY = "y" * (actions.MAX_BODY + 1)


@pytest.mark.parametrize(
    ("title", "body", "field", "msgid", "params"),
    [
        ("Titolo valido", "", "body", "The message is empty.", {}),
        ("Titolo valido", "   \n\t ", "body", "The message is empty.", {}),
        ("Titolo valido", TOO_LONG_BODY, "body",
         "The message is too long (at most %(max)d characters).", {"max": actions.MAX_BODY}),
        ("T" * 201, "Testo", "title", "The title must be at most 200 characters long.", {}),
        ("ab", "Testo", "title", "The title must be at least 3 characters long.", {}),
        ("  a   ", "Testo", "title", "The title must be at least 3 characters long.", {}),
        ("", "Testo", "title", "The title must be at least 3 characters long.", {}),
    ],
)  # fmt: skip
async def test_new_thread_validation(
    login_as: Login,
    db: Database,
    title: str,
    body: str,
    field: str,
    msgid: str,
    params: dict[str, Any],
) -> None:
    mayor = await login_as("sindaco5")
    before = await snapshot(db)
    async with capture_events(db) as events:
        response = await mayor.post(f"{BOARD}/new", {"title": title, "body": body})
    assert response.status_code == 422
    page = parse(response)
    assert page.html["lang"] == "it"  # type: ignore[index]
    message = italian(msgid, **params)
    assert alert(page) == message
    # The message is next to the field at fault, and what was typed is still there.
    control = one(page, f'[name="{field}"]')
    assert "is-invalid" in control["class"]
    assert words(one(page, ".invalid-feedback")) == message
    assert one(page, 'input[name="title"]')["value"] == title
    assert one(page, 'textarea[name="body"]').get_text() == body
    assert await snapshot(db) == before
    assert events == []


@pytest.mark.parametrize("body", ["", "  \n  ", TOO_LONG_BODY])
async def test_reply_validation(login_as: Login, world: World, db: Database, body: str) -> None:
    thread = await start(db, world["sindaco5"])
    mayor = await login_as("sindaco5")
    before = await snapshot(db)
    response = await mayor.post(f"/threads/{thread.id}/reply", {"body": body})
    assert response.status_code == 422
    page = parse(response)
    form = one(page, "#reply-form")
    expected = (
        italian("The message is too long (at most %(max)d characters).", max=actions.MAX_BODY)
        if body and body.strip()
        else italian("The message is empty.")
    )
    assert alert(form) == expected
    assert one(form, 'textarea[name="body"]').get_text() == body
    # The page still shows the thread.
    assert post_ids(page) == [await first_post_id(db, thread.id)]
    assert await snapshot(db) == before


async def test_edit_validation_without_javascript(
    login_as: Login, world: World, db: Database
) -> None:
    thread = await start(db, world["sindaco5"])
    post_id = await first_post_id(db, thread.id)
    mayor = await login_as("sindaco5")
    before = await snapshot(db)
    response = await mayor.post(f"/posts/{post_id}/edit", {"body": " "})
    assert response.status_code == 422
    page = parse(response)
    assert page.html is not None  # a whole page, JavaScript off
    assert alert(page) == italian("The message is empty.")
    assert await snapshot(db) == before


# --- pagination ------------------------------------------------------------------


async def test_thread_pagination_and_permalinks(
    login_as: Login, world: World, db: Database
) -> None:
    author = world["tecnico5"]
    thread = await start(db, author, body="Messaggio 1")
    ids = [await first_post_id(db, thread.id)]
    for n in range(2, 46):
        ids.append((await reply(db, author, thread.id, f"Messaggio {n}")).id)
    assert len(ids) == 45 and await post_count(db, thread.id) == 45

    mayor = await login_as("sindaco5")
    pages = {n: await thread_page(mayor, thread.id, n) for n in (1, 2, 3)}
    assert post_ids(pages[1]) == ids[:20]
    assert post_ids(pages[2]) == ids[20:40]
    assert post_ids(pages[3]) == ids[40:]
    for n, page in pages.items():
        assert words(one(page, '.pagination [aria-current="page"]')) == str(n)
    assert words(one(pages[3], f"#post-{ids[44]} .post-body")) == "Messaggio 45"

    # Out of range goes to the last page; nonsense goes to the first.
    assert post_ids(await thread_page(mayor, thread.id, 99)) == ids[40:]
    for nonsense in ("abc", "0", "-1", "", "1e3", "9999999999"):
        page = await thread_page(mayor, thread.id, nonsense)
        assert post_ids(page) == ids[:20], nonsense

    # A post's permalink redirects to the page it is on.
    for index in (0, 19, 20, 39, 40, 44):
        response = await mayor.get(f"/posts/{ids[index]}")
        assert permalink(location(response)) == (thread.id, index // 20 + 1, ids[index])

    # A reply from page 1 lands on page 3: htmx is sent there instead of appending.
    replied = await mayor.post(
        f"/threads/{thread.id}/reply", {"body": "Messaggio 46", "page": "1"}, htmx=True
    )
    assert replied.status_code == 200
    assert permalink(replied.headers["hx-redirect"])[:2] == (thread.id, 3)
    plain = await mayor.post(f"/threads/{thread.id}/reply", {"body": "Messaggio 47"})
    assert permalink(location(plain))[:2] == (thread.id, 3)
    # Deleted posts keep their place, so permalinks do not move.
    async with db.transaction() as uow:
        await actions.do_delete_own_post(uow, author, ids[5])
    response = await mayor.get(f"/posts/{ids[20]}")
    assert permalink(location(response))[1] == 2


async def test_board_pagination_pinned_first_then_latest_activity(
    login_as: Login, world: World, db: Database
) -> None:
    author = world["tecnico5"]
    threads = [await start(db, author, title=f"Discussione {n:02d}") for n in range(25)]
    # Not on this board: another theme, another zone.
    await start(db, author, title="Altro tema", theme="scuola")
    await start(db, world["tecnico9"], title="Altra zona", zone_number=9)

    mayor = await login_as("sindaco5")
    portavoce = await login_as("portavoce5")
    # The oldest thread gets a reply (latest activity); another is pinned.
    assert location(await mayor.post(f"/threads/{threads[0].id}/reply", {"body": "Su!"}))
    assert location(await portavoce.post(f"/threads/{threads[7].id}/pin", {"value": "1"}))
    expected = [threads[7], threads[0], *[t for t in reversed(threads) if t not in (
        threads[0], threads[7])]]  # fmt: skip

    def rows(page: BeautifulSoup) -> list[int]:
        return [
            int(str(li["id"]).removeprefix("thread-"))
            for li in page.select('[data-testid="threads"] > li')
        ]

    first = parse(await mayor.get(BOARD))
    second = parse(await mayor.get(f"{BOARD}?page=2"))
    assert rows(first) == [t.id for t in expected[:20]]
    assert rows(second) == [t.id for t in expected[20:]]
    assert len(rows(second)) == 5
    assert words(one(first, f"#thread-{threads[7].id} .badge")) == italian("Pinned")
    assert rows(parse(await mayor.get(f"{BOARD}?page=99"))) == rows(second)
    assert rows(parse(await mayor.get(f"{BOARD}?page=abc"))) == rows(first)
    next_link = one(first, '.pagination a[rel="next"]')
    assert next_link["href"] == f"{BOARD}?page=2"


# --- home page, permissions to read, not found -------------------------------------


async def test_home_shows_activity_of_readable_zones_only(
    login_as: Login, world: World, db: Database, client: Client
) -> None:
    await start(db, world["tecnico5"], title="Prima del Pinerolese")
    await start(db, world["sindaco5"], title="Ultima del Pinerolese", theme="scuola")
    await start(db, world["sindaco9"], title="Riservato all'Eporediese", zone_number=9)

    def card(page: BeautifulSoup, number: int) -> Tag:
        return one(page, f'[data-zone="{number}"]')

    mayor = parse(await (await login_as("sindaco5")).get("/"))
    own = card(mayor, 5)
    assert words(one(own, '[data-testid="thread-count"]')) == italian_n(
        "%(num)d thread", "%(num)d threads", 2
    )
    assert words(one(own, 'a[href^="/threads/"]')) == "Ultima del Pinerolese"
    assert one(own, "time")["datetime"]
    other = card(mayor, 9)
    assert other.select_one('[data-testid="thread-count"]') is None
    assert other.select_one("a") is None
    assert "Riservato all'Eporediese" not in mayor.get_text()

    staff = parse(await (await login_as("staff")).get("/"))
    assert words(one(card(staff, 9), 'a[href^="/threads/"]')) == "Riservato all'Eporediese"
    assert words(one(card(staff, 9), '[data-testid="thread-count"]')) == italian_n(
        "%(num)d thread", "%(num)d threads", 1
    )
    assert card(staff, 6).select_one('a[href^="/threads/"]') is None

    anonymous = parse(await client.get("/"))
    assert anonymous.select('[data-testid="thread-count"]') == []
    assert anonymous.select('a[href^="/threads/"]') == []


async def test_other_zone_is_closed_to_comune_users(
    login_as: Login, world: World, db: Database
) -> None:
    thread = await start(db, world["sindaco9"], zone_number=9)
    post_id = await first_post_id(db, thread.id)
    mayor = await login_as("sindaco5")
    urls = ["/zones/9", f"/zones/9/{THEME}", f"/zones/9/{THEME}/new", f"/threads/{thread.id}",
            f"/posts/{post_id}", f"/posts/{post_id}/history"]  # fmt: skip
    for url in urls:
        response = await mayor.get(url)
        assert response.status_code == 403, url
        assert parse(response).html["lang"] == "it"  # type: ignore[index]
    before = await snapshot(db)
    for url in (f"/threads/{thread.id}/reply", f"/zones/9/{THEME}/new"):
        response = await mayor.post(url, {"title": "Intrusione", "body": "No"})
        assert response.status_code == 403, url
    assert await snapshot(db) == before


@pytest.mark.parametrize(
    ("url", "msgid"),
    [
        ("/zones/99", "This zone does not exist."),
        (f"/zones/99/{THEME}", "This zone does not exist."),
        ("/zones/5/nessun-tema", "This theme does not exist."),
        ("/zones/5/nessun-tema/new", "This theme does not exist."),
        ("/metro/nessun-tema", "This theme does not exist."),
        ("/threads/999999", "This thread does not exist."),
        ("/posts/999999", "This message does not exist."),
        ("/posts/999999/edit", "This message does not exist."),
        ("/posts/999999/history", "This message does not exist."),
        (
            "/pagina-che-non-esiste",
            "The page you are looking for does not exist or has been moved.",
        ),
    ],
)
async def test_unknown_things_are_italian_404_pages(login_as: Login, url: str, msgid: str) -> None:
    mayor = await login_as("sindaco5")
    response = await mayor.get(url)
    assert response.status_code == 404
    page = parse(response)
    assert page.html["lang"] == "it"  # type: ignore[index]
    assert words(page.h1) == italian("Page not found")
    assert alert(page) == italian(msgid)


@pytest.mark.parametrize(
    "url", ["/threads/999999/reply", "/posts/999999/edit", "/posts/999999/delete",
            "/posts/999999/hide", "/posts/999999/restore", "/threads/999999/pin"],
)  # fmt: skip
async def test_writes_to_unknown_things_are_404(login_as: Login, db: Database, url: str) -> None:
    staff = await login_as("staff")
    before = await snapshot(db)
    response = await staff.post(url, {"body": "x", "reason": "x", "value": "1"})
    assert response.status_code == 404
    assert words(parse(response).h1) == italian("Page not found")
    assert await snapshot(db) == before


# --- events ----------------------------------------------------------------------


async def test_each_write_sends_exactly_its_events(
    login_as: Login, world: World, db: Database
) -> None:
    zone5 = world["sindaco5"].zone_id
    mayor = await login_as("sindaco5")
    staff = await login_as("staff")
    portavoce = await login_as("portavoce5")
    async with db.session() as session:
        theme = await actions.get_theme(session, THEME)

    async with capture_events(db) as events:
        url = location(await mayor.post(f"{BOARD}/new", {"title": "Eventi", "body": "Uno"}))
    thread_id = int(url.rsplit("/", 1)[1])
    assert events == [ThreadCreated(zone_id=zone5, thread_id=thread_id, theme_id=theme.id)]
    first_id = await first_post_id(db, thread_id)

    async def sent(client: Client, url: str, data: dict[str, str] | None = None) -> list[Any]:
        async with capture_events(db) as events:
            response = await client.post(url, data)
        assert response.status_code == 303, response.text[:300]
        return events

    async with capture_events(db) as events:
        reply_url = location(await mayor.post(f"/threads/{thread_id}/reply", {"body": "Due"}))
    reply_id = permalink(reply_url)[2]
    assert events == [PostCreated(zone_id=zone5, thread_id=thread_id, post_id=reply_id)]
    assert await sent(mayor, f"/posts/{reply_id}/edit", {"body": "Due bis"}) == [
        PostEdited(zone_id=zone5, thread_id=thread_id, post_id=reply_id)
    ]
    # Saving the same text changes nothing and announces nothing.
    assert await sent(mayor, f"/posts/{reply_id}/edit", {"body": "Due bis"}) == []
    assert await sent(mayor, f"/posts/{reply_id}/delete") == [
        PostDeleted(zone_id=zone5, thread_id=thread_id, post_id=reply_id)
    ]
    assert await sent(staff, f"/posts/{first_id}/hide", {"reason": "Prova"}) == [
        PostDeleted(zone_id=zone5, thread_id=thread_id, post_id=first_id)
    ]
    assert await sent(staff, f"/posts/{first_id}/restore") == [
        PostDeleted(zone_id=zone5, thread_id=thread_id, post_id=first_id, restored=True)
    ]
    assert await sent(portavoce, f"/threads/{thread_id}/pin", {"value": "1"}) == [
        ThreadUpdated(zone_id=zone5, thread_id=thread_id, pinned=True, closed=False)
    ]
    assert await sent(portavoce, f"/threads/{thread_id}/pin", {"value": "1"}) == []
    assert await sent(portavoce, f"/threads/{thread_id}/close", {"value": "1"}) == [
        ThreadUpdated(zone_id=zone5, thread_id=thread_id, pinned=True, closed=True)
    ]

    # Metropolitan threads carry no zone.
    async with capture_events(db) as events:
        url = location(await staff.post(f"/metro/{THEME}/new", {"title": "Tutti", "body": "Ciao"}))
    metro_id = int(url.rsplit("/", 1)[1])
    assert events == [ThreadCreated(zone_id=None, thread_id=metro_id, theme_id=theme.id)]
    async with capture_events(db) as events:
        url = location(await mayor.post(f"/threads/{metro_id}/reply", {"body": "Presente"}))
    # The thread's author (staff) is notified of the reply, on their own topic.
    staff_id = world["staff"].id
    assert [e for e in events if isinstance(e, NotificationsChanged)] == [
        NotificationsChanged(zone_id=None, user_id=staff_id, notification_id=ANY)
    ]
    events = [e for e in events if not isinstance(e, NotificationsChanged)]
    assert events == [PostCreated(zone_id=None, thread_id=metro_id, post_id=permalink(url)[2])]
    # Events are plain data: a JSON-safe dict with their type.
    assert events[0].to_dict() == {
        "type": "post.created", "zone_id": None, "thread_id": metro_id,
        "post_id": permalink(url)[2],
    }  # fmt: skip


async def test_failed_writes_send_no_events(login_as: Login, world: World, db: Database) -> None:
    thread = await start(db, world["sindaco5"])
    post_id = await first_post_id(db, thread.id)
    mayor = await login_as("sindaco5")
    staff = await login_as("staff")
    tecnico = await login_as("tecnico5")
    before = await snapshot(db)
    failures = [
        (mayor, f"{BOARD}/new", {"title": "ab", "body": "Testo"}, 422),
        (mayor, f"{BOARD}/new", {"title": "Titolo", "body": ""}, 422),
        (mayor, f"/threads/{thread.id}/reply", {"body": ""}, 422),
        (mayor, f"/posts/{post_id}/edit", {"body": ""}, 422),
        (staff, f"/posts/{post_id}/hide", {"reason": ""}, 422),
        (staff, f"/posts/{post_id}/restore", {}, 409),
        (tecnico, f"/posts/{post_id}/edit", {"body": "Non mio"}, 403),
        (tecnico, f"/posts/{post_id}/delete", {}, 403),
        (tecnico, f"/threads/{thread.id}/pin", {"value": "1"}, 403),
    ]
    for client, url, data, status in failures:
        async with capture_events(db) as events:
            response = await client.post(url, data)
        assert response.status_code == status, url
        assert events == [], url
    assert await snapshot(db) == before


async def test_an_exception_inside_the_transaction_rolls_back_and_sends_nothing(
    world: World, db: Database
) -> None:
    thread = await start(db, world["sindaco5"])
    before = await snapshot(db)
    async with capture_events(db) as events:
        with pytest.raises(RuntimeError):
            async with db.transaction() as uow:
                post = await actions.do_reply(uow, world["tecnico5"], thread.id, "Mai salvato")
                assert uow.events == [
                    NotificationsChanged(
                        zone_id=None, user_id=world["sindaco5"].id, notification_id=ANY
                    ),
                    PostCreated(zone_id=thread.zone_id, thread_id=thread.id, post_id=post.id),
                ]
                raise RuntimeError("the database went away")
        # A validation error half-way through a write is a rollback too.
        with pytest.raises(ActionError):
            async with db.transaction() as uow:
                await actions.do_set_pinned(uow, world["staff"], thread.id, True)
                await actions.do_reply(uow, world["staff"], thread.id, "")
    assert events == []
    assert await snapshot(db) == before


async def test_events_leave_only_after_the_commit(world: World, db: Database) -> None:
    """The hook runs when the write is visible to any other session."""
    thread = await start(db, world["sindaco5"])
    seen: list[tuple[int, str | None]] = []

    async def check(events: Any) -> None:
        async with db.session() as session:
            for event in events:
                if not isinstance(event, PostCreated):
                    continue  # the author's notification
                post = await session.get(Post, event.post_id)
                seen.append((event.post_id, post.source if post else None))

    previous, db.after_commit = db.after_commit, check
    try:
        post = await reply(db, world["tecnico5"], thread.id, "Già salvato")
    finally:
        db.after_commit = previous
    assert seen == [(post.id, "Già salvato")]
