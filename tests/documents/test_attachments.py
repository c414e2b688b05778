"""Files attached to forum posts and to meeting agenda items, through HTTP and the websocket."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from bs4 import BeautifulSoup, Tag
from sqlalchemy import func, select

from collab.db import Database
from collab.documents.models import StoredFile
from collab.forums import actions
from collab.forums.models import Post, Thread
from collab.models import Zone
from tests.conftest import World
from tests.helpers import Client, parse
from tests.meetings.scene import convene
from tests.realtime.test_ws import MAYOR, TECH5, Browser, browser, frames, subscribe

__all__ = ["browser"]  # the fixture, shared with the websocket tests

Login = Callable[[str], Awaitable[Client]]

PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x00" * 17
ELF = b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 56  # an executable calling itself a PDF
FilePart = tuple[str, tuple[str, bytes, str]]
TWO_FILES: list[FilePart] = [
    ("files", ("parere.pdf", PDF, "application/pdf")),
    ("files", ("mappa.png", PNG, "image/png")),
]


async def start(db: Database, world: World, key: str = "sindaco5") -> Thread:
    async with db.session() as session:
        theme = await actions.get_theme(session, "trasporti-mobilita")
        zone_id = await session.scalar(select(Zone.id).where(Zone.number == 5))
    async with db.transaction() as uow:
        return await actions.do_start_thread(uow, world[key], zone_id, theme, "Navetta", "Idea.")


async def send(
    client: Client, url: str, data: dict[str, str], files: list[FilePart], htmx: bool = False
) -> httpx.Response:
    """A multipart post as the upload form sends it: the CSRF token its first field (or header)."""
    token = await client.csrf()
    if htmx:
        headers = {"HX-Request": "true", "X-CSRF-Token": token}
        return await client.http.post(url, data=data, files=files, headers=headers)
    return await client.http.post(url, data={"csrf_token": token, **data}, files=files)


def links(node: Tag | BeautifulSoup) -> dict[str, str]:
    """The file links shown in ``node``: name -> download URL."""
    return {
        a.get_text(strip=True): str(a["href"])
        for a in node.select('[data-testid="post-files"] a[href^="/files/"]')
    }


async def count(db: Database, model: type[Any]) -> int:
    async with db.session() as session:
        return await session.scalar(select(func.count()).select_from(model)) or 0


async def test_a_reply_with_two_files_shows_them_to_its_zone_only(
    db: Database, world: World, login_as: Login
) -> None:
    thread = await start(db, world)
    mayor = await login_as("sindaco5")
    form_page = parse(await mayor.get(f"/threads/{thread.id}"))
    form = form_page.select_one("#reply-form")
    assert form is not None and form["enctype"] == "multipart/form-data"
    assert form.select_one('input[type="file"][name="files"][multiple]') is not None
    assert form.select_one("[data-upload-progress]") is not None

    replied = await send(
        mayor, f"/threads/{thread.id}/reply", {"body": "Allego il parere."}, TWO_FILES
    )
    assert replied.status_code == 303, replied.text[:300]
    post_id = int(replied.headers["location"].rsplit("#post-", 1)[1])

    page = parse(await mayor.get(f"/threads/{thread.id}"))
    article = page.select_one(f"#post-{post_id}")
    assert article is not None
    shown = links(article)
    assert set(shown) == {"parere.pdf", "mappa.png"}
    first = page.select_one(f"#post-{post_id - 1}")
    assert first is not None and links(first) == {}

    reader = await login_as("tecnico5")
    pdf = await reader.get(shown["parere.pdf"])
    assert pdf.status_code == 200 and pdf.content == PDF
    assert pdf.headers["content-type"] == "application/pdf"
    png = await reader.get(shown["mappa.png"])
    assert png.status_code == 200 and png.content == PNG
    outsider = await login_as("sindaco9")
    assert (await outsider.get(shown["parere.pdf"])).status_code == 404


async def test_an_htmx_reply_and_a_new_thread_carry_files(
    db: Database, world: World, login_as: Login
) -> None:
    thread = await start(db, world)
    mayor = await login_as("sindaco5")
    replied = await send(
        mayor, f"/threads/{thread.id}/reply", {"body": "Via htmx", "page": "1"}, TWO_FILES[:1], True
    )
    assert replied.status_code == 200, replied.text[:300]
    article = parse(replied).select_one("article")
    assert article is not None and set(links(article)) == {"parere.pdf"}

    started = await send(
        mayor, "/zones/5/trasporti-mobilita/new", {"title": "Con allegati", "body": "Vedi file."},
        TWO_FILES,
    )  # fmt: skip
    assert started.status_code == 303, started.text[:300]
    page = parse(await mayor.get(started.headers["location"]))
    assert set(links(page)) == {"parere.pdf", "mappa.png"}
    # Without files, a url-encoded post still works (forms without JavaScript of old pages).
    plain = await mayor.post(f"/threads/{thread.id}/reply", {"body": "Solo testo"})
    assert plain.status_code == 303


async def test_a_spoofed_file_is_refused_and_nothing_is_written(
    db: Database, world: World, login_as: Login
) -> None:
    thread = await start(db, world)
    mayor = await login_as("sindaco5")
    posts, files = await count(db, Post), await count(db, StoredFile)
    spoofed: list[FilePart] = [TWO_FILES[0], ("files", ("relazione.pdf", ELF, "application/pdf"))]
    refused = await send(mayor, f"/threads/{thread.id}/reply", {"body": "Ecco"}, spoofed)
    assert refused.status_code == 415
    too_many = await send(mayor, f"/threads/{thread.id}/reply", {"body": "Ecco"}, TWO_FILES * 3)
    assert too_many.status_code == 422
    assert (await count(db, Post), await count(db, StoredFile)) == (posts, files)


# --- agenda items ----------------------------------------------------------------


async def test_the_chair_attaches_documents_to_an_agenda_item(
    db: Database, world: World, login_as: Login
) -> None:
    meeting = await convene(db, world["portavoce5"])
    room_url = f"/meetings/{meeting.id}"
    chair = await login_as("portavoce5")
    room = parse(await chair.get(room_url))
    upload = room.select_one('[data-testid="agenda"] form[enctype="multipart/form-data"]')
    assert upload is not None
    item_id = int(str(upload["action"]).split("/items/")[1].split("/")[0])

    url = f"{room_url}/items/{item_id}/files"
    mayor = await login_as("sindaco5")
    assert parse(await mayor.get(room_url)).select_one('[data-testid="agenda"] form') is None
    assert (await send(mayor, url, {}, TWO_FILES)).status_code == 403

    attached = await send(chair, url, {}, TWO_FILES)
    assert attached.status_code == 303, attached.text[:300]
    agenda = parse(await mayor.get(room_url)).select_one(f"#agenda-item-{item_id}")
    assert agenda is not None
    names = {a.get_text(strip=True): str(a["href"]) for a in agenda.select('a[href^="/files/"]')}
    assert set(names) == {"parere.pdf", "mappa.png"}
    assert (await mayor.get(names["parere.pdf"])).content == PDF
    outsider = await login_as("sindaco9")
    assert (await outsider.get(names["parere.pdf"])).status_code == 404

    htmx = await send(chair, url, {}, TWO_FILES[1:], htmx=True)
    assert htmx.status_code == 200
    section = parse(htmx).select_one("#room-agenda")
    assert section is not None
    assert len(section.select(f'#agenda-item-{item_id} a[href^="/files/"]')) == 3

    cancelled = await chair.post(f"{room_url}/cancel", {"confirmed": "1"})
    assert cancelled.status_code in (200, 303)
    files = await count(db, StoredFile)
    assert (await send(chair, url, {}, TWO_FILES)).status_code == 409
    assert await count(db, StoredFile) == files


# --- live push -------------------------------------------------------------------


def _appended(ws: Any) -> BeautifulSoup:
    """The first frame that appends a post (a replay may bring others first)."""
    while True:
        (frame,) = frames(ws, 1)
        op = frame.select_one("template[data-op]")
        if op is not None and op["data-op"] == "append":
            return frame


def test_the_pushed_reply_carries_its_file_links(browser: Browser) -> None:
    browser.login(MAYOR)
    thread = browser.new_thread()
    browser.login(TECH5)
    with browser.client.websocket_connect("/ws") as ws:
        # From seq 0, not "from now on": the reply may commit before the
        # server has finished subscribing, and is then replayed, not missed.
        subscribe(ws, {f"thread:{thread}": 0})
        browser.login(MAYOR)
        page = BeautifulSoup(browser.client.get("/").text, "html.parser")
        node = page.select_one('input[name="csrf_token"]')
        assert node is not None
        response = browser.client.post(
            f"/threads/{thread}/reply",
            data={"csrf_token": str(node["value"]), "body": "Con allegato"},
            files=TWO_FILES,
            follow_redirects=False,
        )
        assert response.status_code == 303, response.text[:300]
        frame = _appended(ws)
    op = frame.select_one("template[data-op]")
    assert op is not None and op["data-op"] == "append"
    article = BeautifulSoup(op.decode_contents(), "html.parser").select_one("article")
    assert article is not None
    assert set(links(article)) == {"parere.pdf", "mappa.png"}
