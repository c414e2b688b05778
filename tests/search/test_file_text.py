"""The text of uploaded files: queued with the upload, read after commit, found
by whoever may read what carries the file, and by nobody else."""

from __future__ import annotations

import asyncio
import io
import logging
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from pathlib import Path

import docx
import pytest
from sqlalchemy import select, update
from starlette.applications import Starlette

from collab.consultations import actions as consultations
from collab.db import Database
from collab.demo_library import one_page_pdf
from collab.documents import library
from collab.documents.sniff import DOCX, PNG
from collab.documents.store import FileStore
from collab.documents.upload import Upload
from collab.forums import actions as forums
from collab.meetings import attachments
from collab.meetings.room import load_room
from collab.models import Theme, User, utcnow
from collab.search import queue
from collab.search.extract import ExtractionFailed
from collab.search.extractor import TextExtractor, wake_after_commit
from collab.search.index import reindex
from collab.search.models import FileText
from collab.search.tracking import TextQueued
from collab.settings import Settings
from collab.worker import Worker
from tests.conftest import World
from tests.consultations.scene import open_consultation
from tests.helpers import Client, capture_events, italian, parse
from tests.meetings.scene import convene
from tests.search.scene import find, thread, upload

WORD = "fitodepurazione"  # only inside the files


@pytest.fixture
async def files(app: Starlette, settings: Settings) -> AsyncIterator[FileStore]:
    """The file store, with the app's own extractor stopped: each test reads the queue
    with extractors of its own, when it chooses."""
    extractor = app.state.services.extractor
    assert extractor is not None
    await extractor.stop()
    yield FileStore(settings.files_dir)


def extractor(db: Database, files: FileStore) -> TextExtractor:
    return TextExtractor(db, files.root)


def regulation(word: str = WORD) -> bytes:
    return one_page_pdf(
        "Regolamento comunale del verde",
        [f"Art. 3 - Gli impianti di {word} sono ammessi nelle aree agricole."],
    )


async def post_with(db: Database, user: User, uploads: list[Upload], zone: int = 5) -> int:
    started = await thread(db, user, "Allegati della commissione", "Vedi il documento.", zone=zone)
    async with db.transaction() as uow:
        reply = await forums.do_reply(uow, user, started.id, "Ecco il regolamento.", uploads)
    return reply.id


async def rows(db: Database) -> list[FileText]:
    async with db.session() as session:
        return list(await session.scalars(select(FileText).order_by(FileText.sha256)))


async def test_a_word_inside_a_pdf_finds_the_post_for_its_readers_only(
    db: Database, world: World, files: FileStore
) -> None:
    s5 = world["sindaco5"]
    post_id = await post_with(db, s5, [await upload(files, regulation(), "regolamento.pdf")])
    [row] = await rows(db)
    assert (row.state, row.attempts, row.text) == ("pending", 0, "")
    assert (await find(db, s5, WORD)).total == 0  # not read yet

    assert await extractor(db, files).extract_due() == 1
    [row] = await rows(db)
    assert row.state == "done" and WORD in row.text
    found = await find(db, s5, WORD)
    assert [(h.kind, h.object_id) for h in found.hits] == [("post", post_id)]
    assert "<mark>" in found.hits[0].snippet
    assert [h.object_id for h in (await find(db, world["staff"], WORD)).hits] == [post_id]
    for outsider in (world["sindaco9"], world["tecnico9"], None):
        assert (await find(db, outsider, WORD)).total == 0
    # The post's own words are still there, an edit and a rebuild keep the file's.
    assert (await find(db, s5, "regolamento")).total >= 1
    async with db.transaction() as uow:
        await forums.do_edit_post(uow, s5, post_id, "Ecco il regolamento aggiornato.")
    assert [h.object_id for h in (await find(db, s5, f"{WORD} aggiornato")).hits] == [post_id]
    await reindex(db)
    assert [h.object_id for h in (await find(db, s5, WORD)).hits] == [post_id]


async def test_the_same_bytes_are_read_once(db: Database, world: World, files: FileStore) -> None:
    s5 = world["sindaco5"]
    first = await post_with(db, s5, [await upload(files, regulation(), "a.pdf")])
    second = await post_with(db, s5, [await upload(files, regulation(), "b.pdf")])
    reader = extractor(db, files)
    await reader.extract_due()
    assert reader.read == 1 and len(await rows(db)) == 1
    assert {h.object_id for h in (await find(db, s5, WORD)).hits} == {first, second}
    # Attached again after it was read: found at once, nothing to read.
    third = await post_with(db, s5, [await upload(files, regulation(), "c.pdf")])
    assert third in {h.object_id for h in (await find(db, s5, WORD)).hits}
    assert await reader.extract_due() == 0


async def test_an_image_is_not_queued(db: Database, world: World, files: FileStore) -> None:
    png = b"\x89PNG\r\n\x1a\n" + b"\0" * 64
    await post_with(db, world["sindaco5"], [await upload(files, png, "foto.png", PNG)])
    assert await rows(db) == []


async def test_a_commit_that_queues_wakes_the_extractor(
    db: Database, world: World, files: FileStore
) -> None:
    async with capture_events(db) as seen:
        await post_with(db, world["sindaco5"], [await upload(files, regulation(), "r.pdf")])
    assert sum(isinstance(e, TextQueued) for e in seen) == 1

    class Sleeper(Worker):
        woken = 0

        def wake(self) -> None:
            self.woken += 1

    sleeper = Sleeper(poll=60)
    calls: list[int] = []

    async def then(events: object) -> None:
        calls.append(1)

    hook = wake_after_commit(sleeper, then)
    await hook([object()])
    assert (sleeper.woken, len(calls)) == (0, 1)
    await hook([TextQueued()])
    assert (sleeper.woken, len(calls)) == (1, 2)


async def test_broken_and_encrypted_files_are_skipped_and_logged(
    db: Database, world: World, files: FileStore, caplog: pytest.LogCaptureFixture
) -> None:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(regulation())))
    writer.encrypt(user_password="segreto", algorithm="RC4-128")
    locked = io.BytesIO()
    writer.write(locked)
    broken = b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\n%%EOF\n"
    await post_with(
        db, world["sindaco5"],
        [await upload(files, broken, "rotto.pdf"), await upload(files, locked.getvalue(), "x.pdf")],
    )  # fmt: skip
    reader = extractor(db, files)
    with caplog.at_level(logging.WARNING, logger="collab.search.extractor"):
        assert await reader.extract_due() == 2
    assert [(r.state, r.attempts) for r in await rows(db)] == [("skipped", 1)] * 2
    assert all(r.error for r in await rows(db))
    assert sum("skipped" in r.getMessage() for r in caplog.records) == 2
    assert "encrypted" in caplog.text
    # Never tried again, whatever the time.
    assert await queue.claim_due(db, 10, now=utcnow() + timedelta(days=30)) == []
    assert (await find(db, world["sindaco5"], WORD)).total == 0


async def test_a_failure_is_retried_later_then_given_up(
    db: Database, world: World, files: FileStore, caplog: pytest.LogCaptureFixture
) -> None:
    await post_with(db, world["sindaco5"], [await upload(files, regulation(), "r.pdf")])
    attempts = Counter[str]()

    def stuck(path: Path, content_type: str) -> str:
        attempts[path.name] += 1
        raise ExtractionFailed("no text after 30 s")

    reader = TextExtractor(db, files.root, extract=stuck)
    waits = []
    for attempt in range(1, queue.MAX_ATTEMPTS + 1):
        assert await reader.extract_due() == 1
        [row] = await rows(db)
        assert row.attempts == attempt and row.claim is None
        waits.append(row.due_at - row.updated_at)
        assert await reader.extract_due() == 0  # not due yet: no busy loop
        async with db.transaction() as uow:
            await uow.session.execute(update(FileText).values(due_at=utcnow()))
    assert row.state == "failed" and "30 s" in row.error
    assert waits == [queue.backoff(n) for n in (1, 2, 3)] and waits[0] < waits[1]
    assert sum(attempts.values()) == queue.MAX_ATTEMPTS
    assert await reader.extract_due() == 0
    assert "(failed)" in caplog.text


async def test_two_extractors_never_read_the_same_file(
    db: Database, world: World, files: FileStore, settings: Settings
) -> None:
    uploads = [await upload(files, regulation(f"parola{n}"), f"{n}.pdf") for n in "abcde"]
    await post_with(db, world["sindaco5"], uploads)
    lock = threading.Lock()
    reads = Counter[str]()

    def slow(path: Path, content_type: str) -> str:
        with lock:
            reads[path.name] += 1
        time.sleep(0.2)
        return f"testo {path.name}"

    # Two processes: two engines, two pools, each its own writers' queue.
    other = Database(settings.database_url)
    try:
        one = TextExtractor(db, files.root, extract=slow)
        two = TextExtractor(other, files.root, extract=slow)

        async def drain(reader: TextExtractor) -> None:
            while await reader.extract_due():
                pass

        await asyncio.gather(drain(one), drain(two))
    finally:
        await other.dispose()
    assert len(reads) == 5 and set(reads.values()) == {1}
    assert one.read + two.read == 5 and one.read and two.read
    assert {r.state for r in await rows(db)} == {"done"}


async def test_a_new_process_picks_up_what_was_left(
    db: Database, world: World, files: FileStore
) -> None:
    await post_with(db, world["sindaco5"], [await upload(files, regulation(), "r.pdf")])
    await post_with(db, world["sindaco5"], [await upload(files, regulation("lagunaggio"), "s.pdf")])
    # One was claimed by a process that died: its claim has run out.
    first, _ = await rows(db)
    async with db.transaction() as uow:
        await uow.session.execute(
            update(FileText)
            .where(FileText.sha256 == first.sha256)
            .values(claim="dead", claimed_until=utcnow() - timedelta(seconds=1))
        )
    reader = extractor(db, files)
    reader.start()  # as the app's lifespan does: a first pass at once
    try:
        for _ in range(600):
            if {r.state for r in await rows(db)} == {"done"}:
                break
            await asyncio.sleep(0.05)
    finally:
        await reader.stop()
    assert {r.state for r in await rows(db)} == {"done"}
    assert (await find(db, world["sindaco5"], "lagunaggio")).total == 1


async def test_the_library_is_searched_with_its_files(
    db: Database, world: World, files: FileStore
) -> None:
    document = docx.Document()
    document.add_paragraph(f"Domanda di contributo per impianti di {WORD}.")
    buffer = io.BytesIO()
    document.save(buffer)
    async with db.session() as session:
        theme = await session.scalar(select(Theme).where(Theme.slug == "ambiente-rifiuti"))
    assert theme is not None
    async with db.transaction() as uow:
        added = await library.do_add_document(
            uow, world["staff"], theme, "Modulo di domanda", "Per i comuni della zona.",
            await upload(files, buffer.getvalue(), "domanda.docx", DOCX),
        )  # fmt: skip
    found = await find(db, world["sindaco9"], "modulo domanda")
    assert [(h.kind, h.object_id, h.url) for h in found.hits] == [
        ("document", added.id, f"/documents/{added.id}")
    ]
    await extractor(db, files).extract_due()
    # Every account reads the library; nobody without one.
    for key in ("sindaco9", "tecnico5", "staff"):
        assert [h.kind for h in (await find(db, world[key], WORD)).hits] == ["document"]
    assert (await find(db, None, WORD)).total == 0
    # A new version without the word: the library finds the current text only.
    async with db.transaction() as uow:
        await library.do_add_version(
            uow, world["staff"], added, await upload(files, regulation("vermicompost"), "v2.pdf"),
            "Nuova versione",
        )  # fmt: skip
    await extractor(db, files).extract_due()
    assert [h.kind for h in (await find(db, world["sindaco9"], "vermicompost")).hits] == [
        "document"
    ]
    assert (await find(db, world["sindaco9"], WORD)).total == 0
    await reindex(db)
    assert (await find(db, world["sindaco9"], "vermicompost")).total == 1


async def test_the_page_shows_a_library_document(
    db: Database, world: World, files: FileStore, login_as: Callable[[str], Awaitable[Client]]
) -> None:
    async with db.session() as session:
        theme = await session.scalar(select(Theme).where(Theme.slug == "ambiente-rifiuti"))
    assert theme is not None
    async with db.transaction() as uow:
        added = await library.do_add_document(
            uow, world["staff"], theme, "Regolamento del verde", "Il testo approvato.",
            await upload(files, regulation(), "verde.pdf"),
        )  # fmt: skip
    await extractor(db, files).extract_due()
    client = await login_as("sindaco9")
    response = await client.get(f"/search?q={WORD}&kind=document")
    assert response.status_code == 200
    page = parse(response)
    [hit] = page.select('[data-testid="search-hit"]')
    assert hit["data-kind"] == "document"
    assert hit.select_one(".badge").get_text(strip=True) == italian("Forms library")
    assert hit.select_one("a")["href"] == f"/documents/{added.id}"
    assert [m.get_text() for m in hit.select(".search-snippet mark")] == [WORD]
    kinds = {o["value"]: o.get_text() for o in page.select("#search-kind option")}
    assert kinds["document"] == italian("Forms library")
    # The kind filter leaves the rest out.
    other = parse(await client.get(f"/search?q={WORD}&kind=post"))
    assert other.select('[data-testid="search-hit"]') == []


async def test_contributions_consultations_and_meetings_carry_their_files(
    db: Database, world: World, files: FileStore
) -> None:
    opened = await open_consultation(db, world["staff"], zones=(5,))
    async with db.transaction() as uow:
        contribution = await consultations.do_submit(
            uow, world["sindaco5"], opened.id, "Il parere del comune è allegato.",
            [await upload(files, regulation("contributoallegato"), "parere.pdf")],
        )  # fmt: skip
    meeting = await convene(db, world["portavoce5"], zones=(5,))
    async with db.session() as session:
        room = await load_room(session, meeting.id)
    async with db.transaction() as uow:
        await attachments.do_attach(
            uow, world["portavoce5"], meeting.id, room.items[0].id,
            [await upload(files, regulation("ordinegiorno"), "odg.pdf")],
        )  # fmt: skip
    await extractor(db, files).extract_due()
    s5, s9 = world["sindaco5"], world["sindaco9"]
    hits = (await find(db, s5, "contributoallegato")).hits
    assert [(h.kind, h.object_id) for h in hits] == [("contribution", contribution.id)]
    assert [(h.kind, h.object_id) for h in (await find(db, s5, "ordinegiorno")).hits] == [
        ("meeting", meeting.id)
    ]
    for word in ("contributoallegato", "ordinegiorno"):
        assert (await find(db, s9, word)).total == 0
        assert (await find(db, None, word)).total == 0


async def test_stopping_does_not_wait_for_a_long_read(
    db: Database, world: World, files: FileStore
) -> None:
    await post_with(db, world["sindaco5"], [await upload(files, regulation(), "r.pdf")])
    started = threading.Event()

    def slow(path: Path, content_type: str) -> str:
        started.set()
        time.sleep(3)  # a child near its time limit
        return "troppo tardi"

    reader = TextExtractor(db, files.root, extract=slow)
    reader.start()
    assert await asyncio.to_thread(started.wait, 30)
    begun = time.monotonic()
    await reader.stop(grace=0.2)
    assert time.monotonic() - begun < 2
    # The read was abandoned: the row is still claimed, and pending once the claim runs out.
    [row] = await rows(db)
    assert (row.state, row.attempts) == ("pending", 0) and row.claim is not None
    again = await queue.claim_due(db, 10, now=utcnow() + timedelta(seconds=queue.CLAIM_SECONDS + 1))
    assert [c.sha256 for c in again] == [row.sha256]
