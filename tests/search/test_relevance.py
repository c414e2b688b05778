"""The relevance set (tests/search/relevance.py) on the database the suite runs on."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from starlette.applications import Starlette

from collab.consultations import actions as consultations
from collab.db import Database
from collab.demo_library import one_page_pdf
from collab.documents.store import FileStore
from collab.forums import actions as forums
from collab.forums.models import Post
from collab.meetings import actions as meetings
from collab.meetings import floor, minutes
from collab.models import Zone
from collab.search.extractor import TextExtractor
from tests.conftest import World
from tests.consultations.scene import open_consultation
from tests.meetings.scene import convene
from tests.search import relevance
from tests.search.relevance import CASES, Case
from tests.search.scene import find, thread, upload

Keys = dict[tuple[str, int], str]


async def _threads(db: Database, world: World) -> Keys:
    keys: Keys = {}
    for key, (zone, theme, title, body) in relevance.THREADS.items():
        author = world["sindaco5" if zone == 5 else "sindaco9"]
        started = await thread(db, author, title, body, zone=zone, theme=theme)
        async with db.session() as session:
            first = await session.scalar(select(Post.id).where(Post.thread_id == started.id))
        assert first is not None
        keys[("thread", started.id)] = keys[("post", first)] = key
    return keys


async def _consultation(db: Database, world: World) -> Keys:
    opened = await open_consultation(db, world["staff"], zones=(5,))
    title, body = relevance.CONSULTATION
    async with db.transaction() as uow:
        await consultations.do_revise(
            uow, world["staff"], opened.id,
            consultations.Opening(title=title, body=body, deadline=opened.deadline,
                                  zone_ids=await _zones(db, opened.id), theme_ids=[]),
        )  # fmt: skip
        contribution = await consultations.do_submit(
            uow, world["sindaco5"], opened.id, relevance.CONTRIBUTION, []
        )
    return {
        ("consultation", opened.id): "consultation",
        ("contribution", contribution.id): "contribution",
    }


async def _zones(db: Database, consultation_id: int) -> list[int]:
    from collab.consultations.models import ConsultationZone

    async with db.session() as session:
        rows = await session.scalars(
            select(ConsultationZone.zone_id).where(
                ConsultationZone.consultation_id == consultation_id
            )
        )
        return list(rows)


async def _meeting(db: Database, world: World) -> Keys:
    chair = world["portavoce5"]
    convened = await convene(db, chair, zones=(5,), title=relevance.MEETING_TITLE)
    async with db.transaction() as uow:
        room = await meetings.do_open(uow, chair, convened.id)
        item = room.items[0]
    async with db.transaction() as uow:
        await floor.do_save_notes(uow, chair, convened.id, item.id, relevance.MEETING_NOTES)
    async with db.transaction() as uow:
        await minutes.do_close(uow, chair, convened.id)
    async with db.transaction() as uow:
        await minutes.do_publish_verbale(uow, chair, convened.id)
    return {("meeting", convened.id): "meeting", ("verbale", convened.id): "verbale"}


async def _regulation(app: Starlette, db: Database, world: World) -> Keys:
    """The regulation's thread, its PDF read as the extractor reads it after commit."""
    services = app.state.services
    store = FileStore(services.settings.files_dir)
    await services.extractor.stop()  # read here, not in the background
    title, lines = relevance.REGULATION_PDF
    pdf = await upload(store, one_page_pdf(title, lines), "regolamento-verde.pdf")
    async with db.session() as session:
        theme = await forums.get_theme(session, "ambiente-rifiuti")
        zone_id = await session.scalar(select(Zone.id).where(Zone.number == 5))
    async with db.transaction() as uow:
        started = await forums.do_start_thread(
            uow, world["sindaco5"], zone_id, theme, *relevance.REGULATION_THREAD, [pdf]
        )
    assert await TextExtractor(db, store.root).extract_due() == 1
    async with db.session() as session:
        first = await session.scalar(select(Post.id).where(Post.thread_id == started.id))
    assert first is not None
    return {("thread", started.id): "regulation", ("post", first): "regulation"}


@pytest.fixture
async def corpus(app: Starlette, db: Database, world: World) -> Keys:
    return {
        **await _threads(db, world),
        **await _consultation(db, world),
        **await _meeting(db, world),
        **await _regulation(app, db, world),
    }


async def test_relevance_set(db: Database, world: World, corpus: Keys) -> None:
    failures = []
    for case in CASES:
        found = await find(db, world[case.viewer], case.query, typing=case.typing)
        keys = [corpus.get((hit.kind, hit.object_id), "?") for hit in found.hits]
        if not keys or keys[0] not in case.first or set(keys) & case.absent:
            failures.append(f"{case.query!r} as {case.viewer}: {keys}")
    assert not failures, "\n".join(failures)


def test_the_set_has_forty_cases_or_more() -> None:
    assert len(CASES) >= 40
    assert len({(c.query, c.viewer) for c in CASES}) == len(CASES)
    assert all(isinstance(c, Case) and c.first for c in CASES)
