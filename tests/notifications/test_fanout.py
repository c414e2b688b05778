"""Notifications to many people: one batch row in the write, written out after commit."""

from __future__ import annotations

import asyncio
import logging

import pytest
from sqlalchemy import func, select

from collab.db import Database
from collab.notifications import actions, fanout
from collab.notifications.fanout import NotificationFanout, expand
from collab.notifications.kinds import Kind
from collab.notifications.models import Notification, NotificationBatch
from collab.realtime.events import NotificationsChanged
from tests.conftest import World
from tests.helpers import capture_events


@pytest.fixture
def small_inline(monkeypatch: pytest.MonkeyPatch) -> None:
    """More than two people make a batch (the world has a handful of users)."""
    monkeypatch.setattr(actions, "INLINE_RECIPIENTS", 2)


async def _notify(
    db: Database, recipients: list[int], kind: Kind, ref: str, text: str = ""
) -> None:
    async with db.transaction() as uow:
        await actions.notify(uow, recipients, kind, ref=ref, url="/threads/1", title="T", text=text)


async def _rows(db: Database) -> list[tuple[int, str, str]]:
    async with db.session() as session:
        rows = await session.execute(
            select(Notification.user_id, Notification.kind, Notification.ref).order_by(
                Notification.user_id, Notification.ref
            )
        )
        return [(int(u), k, r) for u, k, r in rows]


async def _batches(db: Database) -> int:
    async with db.session() as session:
        return int(await session.scalar(select(func.count()).select_from(NotificationBatch)) or 0)


def _people(world: World) -> list[int]:
    return [world[k].id for k in ("sindaco5", "tecnico5", "portavoce5", "sindaco9")]


async def test_many_recipients_make_one_batch_row_and_no_events(
    db: Database, world: World, small_inline: None
) -> None:
    async with capture_events(db) as events, db.transaction() as uow:
        notified = await actions.notify(
            uow, _people(world), Kind.CONSULTATION_OPENED, ref="consultation:1:opened",
            url="/consultations/1", title="Piano", text="Il testo", actor_id=world["staff"].id,
        )  # fmt: skip
    assert notified == []  # none yet: the fan-out writes them
    assert await _rows(db) == []
    assert await _batches(db) == 1
    assert [type(e) for e in events] == [actions.BatchQueued]


async def test_expand_writes_rows_and_events_once_and_deletes_the_batch(
    db: Database, world: World, small_inline: None
) -> None:
    people = _people(world)
    await _notify(db, people, Kind.CONSULTATION_OPENED, "consultation:1:opened", text="Il testo")
    async with db.session() as session:
        batch_id = await session.scalar(select(NotificationBatch.id))
    assert batch_id is not None
    async with capture_events(db) as events, db.transaction() as uow:
        notified = await expand(uow, batch_id)
    assert sorted(notified or []) == sorted(people)
    rows = await _rows(db)
    assert sorted(u for u, _, _ in rows) == sorted(people)
    assert {(k, r) for _, k, r in rows} == {("consultation_opened", "consultation:1:opened")}
    assert sorted(e.user_id for e in events if isinstance(e, NotificationsChanged)) == sorted(
        people
    )
    assert await _batches(db) == 0
    async with db.transaction() as uow:  # taken already (by another process, say)
        assert await expand(uow, batch_id) is None
    assert len(await _rows(db)) == len(people)


async def test_two_processes_expanding_the_same_batch_write_it_once(
    db: Database, world: World, small_inline: None
) -> None:
    people = _people(world)
    await _notify(db, people, Kind.CONSULTATION_OPENED, "consultation:2:opened")
    async with db.session() as session:
        batch_id = await session.scalar(select(NotificationBatch.id))
    assert batch_id is not None

    async def one() -> list[int] | None:
        async with db.transaction() as uow:
            return await expand(uow, batch_id)

    results = await asyncio.gather(one(), one(), return_exceptions=True)
    done = [r for r in results if isinstance(r, list)]
    assert len(done) == 1 and sorted(done[0]) == sorted(people), results
    # The other found nothing (or, on SQLite, was refused the write lock).
    assert all(r is None or isinstance(r, Exception) for r in results if r is not done[0])
    assert sorted(u for u, _, _ in await _rows(db)) == sorted(people)
    assert await _batches(db) == 0


async def test_once_a_write_batches_its_later_notifications_wait_in_order(
    db: Database, world: World, small_inline: None
) -> None:
    """A reply that mentions someone notifies them once, as a mention, even
    when the mentions went to a batch and the reply's readers are few."""
    mentioned = _people(world)  # more than INLINE_RECIPIENTS: a batch
    mayor = world["sindaco5"].id
    async with db.transaction() as uow:
        await actions.notify(uow, mentioned, Kind.MENTION, ref="post:7", url="/p", title="T")
        await actions.notify(uow, [mayor], Kind.REPLY, ref="post:7", url="/p", title="T")
    assert await _rows(db) == [] and await _batches(db) == 2
    worker = NotificationFanout(db)
    await worker.run_pass()
    rows = await _rows(db)
    assert (mayor, "mention", "post:7") in rows
    assert all(kind == "mention" for _, kind, _ in rows)
    assert await _batches(db) == 0


async def test_the_worker_writes_out_what_a_dead_process_left(
    db: Database, world: World, small_inline: None
) -> None:
    """Batches committed by a process that died before its fan-out ran are
    written by the next pass of any process, oldest first."""
    people = _people(world)
    for n in range(3):
        await _notify(db, people, Kind.CONSULTATION_OPENED, f"consultation:{n}:opened")
    assert await _batches(db) == 3
    worker = NotificationFanout(db)
    await worker.run_pass()
    assert await _batches(db) == 0
    assert len(await _rows(db)) == 3 * len(people)


async def test_a_failing_batch_does_not_hold_up_the_others(
    db: Database,
    world: World,
    small_inline: None,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    people = _people(world)
    await _notify(db, people, Kind.CONSULTATION_OPENED, "consultation:bad:opened")
    await _notify(db, people, Kind.CONSULTATION_OPENED, "consultation:good:opened")
    real = actions.write_notifications

    async def broken(uow, wanted, kind, **fields):  # type: ignore[no-untyped-def]
        if "bad" in fields["ref"]:
            raise RuntimeError("boom")
        return await real(uow, wanted, kind, **fields)

    monkeypatch.setattr(fanout, "write_notifications", broken)
    worker = NotificationFanout(db)
    with caplog.at_level(logging.ERROR, logger="collab.notifications.fanout"):
        await worker.run_pass()
    assert {r for _, _, r in await _rows(db)} == {"consultation:good:opened"}
    assert await _batches(db) == 1  # kept (rolled back), tried again later
    assert "batch" in caplog.text
    monkeypatch.setattr(fanout, "write_notifications", real)
    monkeypatch.setattr(fanout, "RETRY_AFTER", 0.0)
    await worker.run_pass()
    assert await _batches(db) == 0
    assert len(await _rows(db)) == 2 * len(people)


async def test_few_recipients_are_written_in_the_write_itself(db: Database, world: World) -> None:
    people = _people(world)
    assert len(people) <= actions.INLINE_RECIPIENTS
    await _notify(db, people, Kind.CONSULTATION_OPENED, "consultation:3:opened")
    assert await _batches(db) == 0
    assert len(await _rows(db)) == len(people)
