"""Uploads are refused before a byte of the body is read (issue 14, finding 3).

``/consultations/{id}/contributions``, ``/contributions/{id}/edit`` and
``/consultations/{id}/drafts`` streamed the whole body (up to 10 x 50 MB) to
disk before refusing a user who may not write there. Every route that takes
files now checks permission and the state of the place first. These tests
drive the app at the ASGI level with a 20 MB multipart body sent chunk by
chunk: the refusal must come after at most the first chunk has been pulled
(the server answers long before the client has finished sending), and no
file, not even a partial one, appears under ``DATA_DIR/files``.

The gate (``collab.uploads.upload_gate``) is tested the same way: the disk
floor (507), and the per-user (429) and per-process (503) caps.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from bs4 import BeautifulSoup
from sqlalchemy import select, update
from starlette.applications import Starlette
from starlette.types import Message

from collab.consultations import actions as consultation_actions
from collab.db import Database
from collab.documents.pages import NO_VERSION
from collab.forums import actions as forum_actions
from collab.meetings import actions as meeting_actions
from collab.meetings import minutes
from collab.meetings.attachments import NO_MORE
from collab.meetings.room import load_room
from collab.models import Theme, Zone
from collab.settings import Settings
from tests.conftest import World
from tests.consultations.scene import expire, open_consultation
from tests.helpers import (
    Client,
    italian,
    quiet_db,  # noqa: F401 (the db fixture: writes notify people)
)
from tests.meetings.scene import convene

Login = Callable[[str], Awaitable[Client]]
MiB = 1024 * 1024
CHUNK = 64 * 1024
TOTAL = 20 * MiB
BOUNDARY = "----collab-refusal-boundary"
PDF = b"%PDF-1.4\n1 0 obj\n<<>>\nendobj\ntrailer\n<<>>\n%%EOF\n"


def _chunks(token: str) -> Iterator[bytes]:
    """A multipart body: the CSRF token, a short text field, then a 20 MB PDF."""
    yield (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="csrf_token"\r\n\r\n{token}\r\n'
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="body"\r\n\r\nTesto.\r\n'
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="files"; filename="a.pdf"\r\n'
        "Content-Type: application/pdf\r\n\r\n"
    ).encode() + PDF
    for _ in range(TOTAL // CHUNK):
        yield b"\x00" * CHUNK
    yield f"\r\n--{BOUNDARY}--\r\n".encode()


class Upload:
    """One multipart POST driven at the ASGI level, counting what the app pulled.

    ``hold`` makes the client stall after its first chunk until set (an upload
    still arriving), so tests can open several at once.
    """

    def __init__(self, app: Starlette, client: Client, url: str) -> None:
        self.app, self.client, self.url = app, client, url
        self.pulled = 0  # body bytes the app had received when it answered
        self.status = 0
        self.body = b""
        self.hold: asyncio.Event | None = None
        self.started = asyncio.Event()  # the app pulled the first chunk

    async def run(self) -> Upload:
        token = await self.client.csrf()
        chunks = _chunks(token)
        cookies = "; ".join(f"{c.name}={c.value}" for c in self.client.http.cookies.jar)
        scope = {
            "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
            "method": "POST", "scheme": "http", "path": self.url,
            "raw_path": self.url.encode(), "query_string": b"", "root_path": "",
            "headers": [
                (b"host", b"testserver"),
                (b"content-type", f"multipart/form-data; boundary={BOUNDARY}".encode()),
                (b"x-csrf-token", token.encode()),
                (b"cookie", cookies.encode()),
            ],
            "client": ("127.0.0.1", 40000), "server": ("testserver", 80),
        }  # fmt: skip
        pulled = 0
        answered = False

        async def receive() -> Message:
            nonlocal pulled
            if answered:
                return {"type": "http.disconnect"}
            if pulled and self.hold is not None:
                self.started.set()
                await self.hold.wait()
            chunk = next(chunks, None)
            if chunk is None:
                return {"type": "http.request", "body": b"", "more_body": False}
            pulled += len(chunk)
            return {"type": "http.request", "body": chunk, "more_body": True}

        async def send(message: Message) -> None:
            nonlocal answered
            if message["type"] == "http.response.start":
                answered = True
                self.status, self.pulled = message["status"], pulled
            elif message["type"] == "http.response.body":
                self.body += message.get("body", b"")

        await self.app(scope, receive, send)
        return self


def _files(settings: Settings) -> list[Path]:
    root = settings.files_dir
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


async def _refused(
    app: Starlette, client: Client, url: str, status: int, msgid: str, **params: object
) -> None:
    settings: Settings = app.state.services.settings
    before = _files(settings)
    done = await Upload(app, client, url).run()
    assert done.status == status, (url, done.status, done.body[:300])
    assert done.pulled <= CHUNK, f"{url}: {done.pulled} bytes read before the refusal"
    alert = BeautifulSoup(done.body.decode(), "html.parser").select_one(".alert-danger")
    assert alert is not None
    assert " ".join(alert.get_text(" ").split()) == italian(msgid, **params)
    assert _files(settings) == before  # no file, not even a partial one in tmp/


# -- consultations --------------------------------------------------------------------


async def test_consultation_uploads_refused_before_the_body(
    app: Starlette, login_as: Login, db: Database, world: World
) -> None:
    consultation = await open_consultation(db, world["staff"])
    url = f"/consultations/{consultation.id}"
    tecnico5, sindaco9 = await login_as("tecnico5"), await login_as("sindaco9")
    await _refused(app, tecnico5, f"{url}/contributions", 403, consultation_actions.NOT_CONTRIBUTOR)
    await _refused(app, sindaco9, f"{url}/contributions", 404, consultation_actions.NO_CONSULTATION)
    sindaco5 = await login_as("sindaco5")
    await _refused(app, sindaco5, f"{url}/drafts", 403, consultation_actions.NOT_STAFF)
    async with db.transaction() as uow:
        sent = await consultation_actions.do_submit(
            uow, world["sindaco5"], consultation.id, "Il parere del comune.", []
        )
    # Already sent: the comune edits instead.
    await _refused(app, sindaco5, f"{url}/contributions", 409, consultation_actions.ALREADY_SENT)
    # Another comune of the zone may not edit Pinerolo's contribution.
    portavoce5 = await login_as("portavoce5")
    edit = f"/contributions/{sent.id}/edit"
    await _refused(app, portavoce5, edit, 403, consultation_actions.NOT_CONTRIBUTOR)
    await expire(db, consultation.id)
    await _refused(app, sindaco5, edit, 409, consultation_actions.CLOSED)
    other = await open_consultation(db, world["staff"])
    await expire(db, other.id)
    await _refused(
        app, sindaco5, f"/consultations/{other.id}/contributions", 409, consultation_actions.CLOSED
    )


# -- meetings, the library, the boards, the comuni import -----------------------------


async def test_meeting_attachments_refused_before_the_body(
    app: Starlette, login_as: Login, db: Database, world: World
) -> None:
    meeting = await convene(db, world["staff"], (5,))
    async with db.session() as session:
        room = await load_room(session, meeting.id)
    assert room is not None
    url = f"/meetings/{meeting.id}/items/{room.items[0].id}/files"
    await _refused(
        app, await login_as("tecnico5"), url, 403, "Only the chair of the meeting can do this."
    )
    # Another zone's mayor may not follow it: as if it did not exist.
    await _refused(app, await login_as("sindaco9"), url, 404, "This meeting does not exist.")
    chair = await login_as("portavoce5")
    await _refused(app, chair, f"/meetings/{meeting.id}/items/999999/files", 404,
                   "This item is not on the agenda of this meeting.")  # fmt: skip
    async with db.transaction() as uow:
        await meeting_actions.do_open(uow, world["portavoce5"], meeting.id)
    async with db.transaction() as uow:
        await minutes.do_close(uow, world["portavoce5"], meeting.id)
    await _refused(app, chair, url, 409, NO_MORE)


async def test_library_uploads_refused_before_the_body(
    app: Starlette, login_as: Login, db: Database
) -> None:
    async with db.session() as session:
        theme = await session.scalar(select(Theme).order_by(Theme.position).limit(1))
    assert theme is not None
    sindaco5 = await login_as("sindaco5")
    added = await sindaco5.upload(
        f"/library/{theme.slug}/new", {"title": "Modulo navetta"},
        [("file", ("modulo.pdf", PDF, "application/pdf"))],
    )  # fmt: skip
    assert added.status_code == 303, added.text
    versions = added.headers["location"] + "/versions"
    await _refused(app, await login_as("tecnico9"), versions, 403, NO_VERSION)
    async with db.transaction() as uow:
        await uow.session.execute(update(Theme).where(Theme.id == theme.id).values(active=False))
    await _refused(app, sindaco5, f"/library/{theme.slug}/new", 422,
                   "This theme is no longer in use.")  # fmt: skip


async def test_forum_uploads_refused_before_the_body(
    app: Starlette, login_as: Login, db: Database, world: World
) -> None:
    async with db.session() as session:
        theme = await session.scalar(select(Theme).order_by(Theme.position).limit(1))
        zone5 = await session.scalar(select(Zone).where(Zone.number == 5))
    assert theme is not None and zone5 is not None
    tecnico9 = await login_as("tecnico9")
    await _refused(app, tecnico9, f"/zones/5/{theme.slug}/new", 403,
                   "You are not allowed to see this zone's boards.")  # fmt: skip
    async with db.transaction() as uow:
        thread = await forum_actions.do_start_thread(
            uow, world["sindaco5"], zone5.id, theme, "Navetta", "Proposta di orari."
        )
    async with db.transaction() as uow:
        await forum_actions.do_set_closed(uow, world["staff"], thread.id, True)
    await _refused(app, await login_as("tecnico5"), f"/threads/{thread.id}/reply", 409,
                   "This thread is closed: no more replies or edits.")  # fmt: skip
    await _refused(app, tecnico9, f"/threads/{thread.id}/reply", 403,
                   "You are not allowed to do this here.")  # fmt: skip
    async with db.transaction() as uow:
        await uow.session.execute(update(Theme).where(Theme.id == theme.id).values(active=False))
    await _refused(app, await login_as("sindaco5"), f"/zones/5/{theme.slug}/new", 422,
                   "This theme is no longer in use.")  # fmt: skip


async def test_the_comuni_import_refuses_a_non_admin_before_the_body(
    app: Starlette, login_as: Login
) -> None:
    settings: Settings = app.state.services.settings
    done = await Upload(app, await login_as("staff"), "/admin/comuni/import").run()
    assert done.status == 403
    assert done.pulled <= CHUNK
    assert _files(settings) == []


# -- the gate: disk floor and concurrent uploads ------------------------------------------


async def test_uploads_are_refused_when_the_disk_is_nearly_full(
    app: Starlette, login_as: Login, db: Database, world: World
) -> None:
    services = app.state.services
    free_mb = 10**9  # more than any disk has: the floor is never met
    services.settings = replace(services.settings, upload_min_free_mb=free_mb)
    consultation = await open_consultation(db, world["staff"])
    await _refused(
        app, await login_as("sindaco5"), f"/consultations/{consultation.id}/contributions", 507,
        "The server is running out of disk space and cannot accept files now. "
        "Nothing was saved; please tell the administrators.",
    )  # fmt: skip


@pytest.fixture
async def gated(app: Starlette) -> AsyncIterator[Starlette]:
    services = app.state.services
    services.settings = replace(
        services.settings, upload_concurrent_per_user=1, upload_concurrent=2
    )
    yield app


async def _stalled(app: Starlette, client: Client, url: str) -> tuple[Upload, asyncio.Task[Upload]]:
    upload = Upload(app, client, url)
    upload.hold = asyncio.Event()
    task = asyncio.create_task(upload.run())
    await asyncio.wait_for(upload.started.wait(), 10)
    return upload, task


async def test_concurrent_uploads_are_capped_per_user_and_per_process(
    gated: Starlette, login_as: Login, db: Database, world: World
) -> None:
    app = gated
    consultation = await open_consultation(db, world["staff"], zones=(5, 9))
    url = f"/consultations/{consultation.id}/contributions"
    sindaco5, sindaco9 = await login_as("sindaco5"), await login_as("sindaco9")
    first, first_task = await _stalled(app, sindaco5, url)
    # The same user again while the first is arriving: 429, nothing read.
    await _refused(app, sindaco5, url, 429,
                   "You are already sending as many uploads at once as allowed (%(n)d): "
                   "wait until one has finished, then try again.", n=1)  # fmt: skip
    second, second_task = await _stalled(app, sindaco9, url)
    # The process is full (2): anyone else is told to try again shortly.
    await _refused(app, await login_as("portavoce5"), url, 503,
                   "Too many uploads are arriving right now: try again in a minute.")  # fmt: skip
    for upload in (first, second):
        assert upload.hold is not None
        upload.hold.set()
    for task in (first_task, second_task):
        done = await asyncio.wait_for(task, 60)
        assert done.status == 303, done.body[:300]
    assert app.state.services.uploads.running == 0
    assert app.state.services.uploads.per_user == {}
