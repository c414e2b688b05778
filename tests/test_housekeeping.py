"""Housekeeping: the event log and the login attempts do not grow without end."""

from __future__ import annotations

import asyncio
import hashlib
import os
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from collab import housekeeping
from collab.cli import main
from collab.db import Database
from collab.documents.models import Blob
from collab.forums import actions
from collab.models import EventLog, LoginAttempt, Theme, utcnow
from collab.realtime import log
from collab.settings import Settings
from tests.conftest import World


async def _count(db: Database, model: type[EventLog] | type[LoginAttempt]) -> int:
    async with db.session() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def _age_events(db: Database, days: float) -> None:
    async with db.transaction() as uow:
        await uow.session.execute(
            update(EventLog).values(created_at=utcnow() - timedelta(days=days))
        )


async def _thread(db: Database, world: World) -> int:
    mayor = world["sindaco5"]
    async with db.session() as session:
        theme = await session.scalar(select(Theme).where(Theme.slug == "turismo"))
    assert theme is not None
    async with db.transaction() as uow:
        thread = await actions.do_start_thread(uow, mayor, mayor.zone_id, theme, "Tit", "T")
    return thread.id


async def test_sweep_drops_events_past_retention_and_keeps_the_numbering(
    db: Database, world: World, settings: Settings
) -> None:
    thread_id = await _thread(db, world)
    async with db.transaction() as uow:
        await actions.do_reply(uow, world["tecnico5"], thread_id, "prima")
    await _age_events(db, settings.event_log_days + 1)
    async with db.transaction() as uow:
        await actions.do_reply(uow, world["tecnico5"], thread_id, "recente")
    # 4 old (zone, thread + zone, the author's bell), 3 recent
    assert await _count(db, EventLog) == 7

    swept = await housekeeping.sweep(db, settings)

    assert swept.events == 4
    async with db.session() as session:
        # The recent reply stays for replay, and numbering goes on after it.
        assert await log.bounds(session, f"thread:{thread_id}") == (2, 2)
        assert [e.event["type"] for e in await log.since(session, f"thread:{thread_id}", 0)] == [
            "post.created"
        ]


async def test_sweep_keeps_events_within_retention(
    db: Database, world: World, settings: Settings
) -> None:
    await _thread(db, world)
    await _age_events(db, settings.event_log_days - 0.5)
    assert (await housekeeping.sweep(db, settings)).events == 0
    assert await _count(db, EventLog) == 1


async def test_sweep_drops_login_attempts_older_than_the_admins_see(
    db: Database, settings: Settings
) -> None:
    now = utcnow()
    keep = timedelta(days=settings.login_attempt_keep_days)
    assert keep > timedelta(seconds=settings.login_throttle_window)
    async with db.transaction() as uow:
        uow.session.add_all(
            [
                LoginAttempt(email="a@x.it", ip="10.0.0.1", at=now - keep - timedelta(hours=1)),
                # Past the throttle's window, still on the admins' page.
                LoginAttempt(email="a@x.it", ip="10.0.0.1", at=now - keep + timedelta(hours=1)),
                LoginAttempt(email="a@x.it", ip="10.0.0.1", at=now, outcome="ok"),
            ]
        )
    swept = await housekeeping.sweep(db, settings)
    assert swept.login_attempts == 1
    assert await _count(db, LoginAttempt) == 2


async def test_sweep_forever_survives_a_failed_pass(
    db: Database, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    passes: list[int] = []
    third = asyncio.Event()
    real = housekeeping.sweep

    async def flaky(database: Database, s: Settings) -> housekeeping.Swept:
        passes.append(1)
        if len(passes) == 3:
            third.set()
        if len(passes) == 1:
            raise OSError("database unavailable")
        return await real(database, s)

    monkeypatch.setattr(housekeeping, "sweep", flaky)
    task = asyncio.create_task(housekeeping.sweep_forever(db, settings, interval=0.01))
    await asyncio.wait_for(third.wait(), 5)
    assert not task.done()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


def test_collab_sweep_runs_one_pass(
    cli: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    database_url = cli
    monkeypatch.setenv("EVENT_LOG_DAYS", "1")
    monkeypatch.setenv("LOGIN_ATTEMPT_KEEP_DAYS", "1")

    async def seed() -> None:
        database = Database(database_url)
        try:
            async with database.transaction() as uow:
                uow.session.add(
                    LoginAttempt(email="a@x.it", ip="10.0.0.1", at=utcnow() - timedelta(days=2))
                )
        finally:
            await database.dispose()

    asyncio.run(seed())
    assert main(["sweep"]) == 0
    assert capsys.readouterr().out.strip() == "swept 0 events and 1 login attempts"


async def test_sweep_removes_orphan_files_only_once_old(db: Database, settings: Settings) -> None:
    root = settings.files_dir
    known = hashlib.sha256(b"known").hexdigest()
    orphan = hashlib.sha256(b"orphan").hexdigest()
    young = hashlib.sha256(b"young").hexdigest()
    for sha in (known, orphan, young):
        path = root / sha[:2] / sha
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x")
    partial = root / "tmp" / "abandoned"
    partial.parent.mkdir(parents=True, exist_ok=True)
    partial.write_bytes(b"x")
    async with db.transaction() as uow:
        uow.session.add(Blob(sha256=known, size=1, content_type="application/pdf"))
    two_days_ago = (utcnow() - timedelta(days=2)).timestamp()
    for path in (root / known[:2] / known, root / orphan[:2] / orphan, partial):
        os.utime(path, (two_days_ago, two_days_ago))
    swept = await housekeeping.sweep(db, settings)
    assert swept.files == 2
    assert (root / known[:2] / known).exists()  # a row names it
    assert (root / young[:2] / young).exists()  # its transaction may be running
    assert not (root / orphan[:2] / orphan).exists() and not partial.exists()
