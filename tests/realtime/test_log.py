"""The durable event log: contiguous per-topic seqs, written with the write or not at all."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from sqlalchemy import select

from collab.db import Database
from collab.forums import actions
from collab.models import EventLog, Theme, User, utcnow
from collab.realtime import log
from collab.realtime.events import PostCreated
from tests.conftest import World
from tests.helpers import Client


async def _theme(db: Database) -> Theme:
    async with db.session() as session:
        theme = await session.scalar(select(Theme).where(Theme.slug == "turismo"))
    assert theme is not None
    return theme


async def _rows(db: Database) -> list[tuple[str, int, str]]:
    async with db.session() as session:
        rows = await session.execute(
            select(EventLog.topic, EventLog.seq, EventLog.payload).order_by(EventLog.id)
        )
        return [(topic, seq, payload["type"]) for topic, seq, payload in rows]


async def test_seqs_are_contiguous_per_topic(db: Database, world: World) -> None:
    mayor: User = world["sindaco5"]
    zone = mayor.zone_id
    async with db.transaction() as uow:
        thread = await actions.do_start_thread(
            uow, mayor, zone, await _theme(db), "Titolo", "Testo"
        )
    for text in ("uno", "due", "tre"):
        async with db.transaction() as uow:
            await actions.do_reply(uow, mayor, thread.id, text)
    rows = await _rows(db)
    assert rows == [
        (f"zone:{zone}", 1, "thread.created"),
        (f"thread:{thread.id}", 1, "post.created"),
        (f"zone:{zone}", 2, "post.created"),
        (f"thread:{thread.id}", 2, "post.created"),
        (f"zone:{zone}", 3, "post.created"),
        (f"thread:{thread.id}", 3, "post.created"),
        (f"zone:{zone}", 4, "post.created"),
    ]
    async with db.session() as session:
        assert await log.bounds(session, f"thread:{thread.id}") == (1, 3)
        replay = await log.since(session, f"thread:{thread.id}", 1)
    assert [item.seq for item in replay] == [2, 3]
    assert replay[0].event["type"] == PostCreated.type


async def test_a_rolled_back_write_logs_and_publishes_nothing(db: Database, world: World) -> None:
    published: list[Any] = []
    assert db.sink is not None
    real_publish = db.sink.publish

    async def spy(logged: Any) -> None:
        published.extend(logged)
        await real_publish(logged)

    db.sink.publish = spy  # type: ignore[method-assign]
    mayor = world["sindaco5"]
    with pytest.raises(RuntimeError):
        async with db.transaction() as uow:
            await actions.do_start_thread(uow, mayor, mayor.zone_id, await _theme(db), "Tit", "T")
            raise RuntimeError("boom after the write")
    assert await _rows(db) == []
    assert published == []
    async with db.session() as session:
        assert await log.bounds(session, f"zone:{mayor.zone_id}") == (0, 0)


async def test_a_failed_publish_keeps_the_write_and_its_log(
    db: Database, login_as: Callable[[str], Awaitable[Client]]
) -> None:
    assert db.sink is not None

    async def broken(logged: Any) -> None:
        raise ConnectionError("redis is down")

    db.sink.publish = broken  # type: ignore[method-assign]
    mayor = await login_as("sindaco5")
    response = await mayor.post("/zones/5/turismo/new", {"title": "Sentieri", "body": "Proposta"})
    assert response.status_code == 303  # the user's write succeeded
    assert [t for _, _, t in await _rows(db)] == ["thread.created"]


async def test_prune_drops_old_events_and_bounds_follow(db: Database, world: World) -> None:
    mayor = world["sindaco5"]
    async with db.transaction() as uow:
        await actions.do_start_thread(uow, mayor, mayor.zone_id, await _theme(db), "Tit", "T")
    async with db.transaction() as uow:
        removed = await log.prune(uow.session, utcnow())
    assert removed == 1
    async with db.session() as session:
        # Nothing left in the log, but the seq goes on from where it was.
        assert await log.bounds(session, f"zone:{mayor.zone_id}") == (2, 1)


@pytest.mark.parametrize("users", [3, 450])
async def test_a_write_with_many_topics_numbers_each_in_order(db: Database, users: int) -> None:
    """A notification to hundreds (one topic each, several events on some)
    takes multi-row upserts; each topic's seqs stay contiguous and ordered."""
    from collab.realtime.events import NotificationsChanged

    def batch(round_: int) -> list[NotificationsChanged]:
        events = [
            NotificationsChanged(zone_id=None, user_id=u, notification_id=round_ * 1000 + u)
            for u in range(1, users + 1)
        ]
        # Two more for user 1 and one for user 2, interleaved with the rest.
        events.insert(1, NotificationsChanged(zone_id=None, user_id=1, notification_id=None))
        events.append(NotificationsChanged(zone_id=None, user_id=2, notification_id=None))
        events.append(NotificationsChanged(zone_id=None, user_id=1, notification_id=-round_))
        return events

    for round_ in (1, 2):
        async with db.transaction() as uow:
            logged = await log.append(uow.session, batch(round_))
        per_topic: dict[str, list[int]] = {}
        for item in logged:
            per_topic.setdefault(item.topic, []).append(item.seq)
        start = 0 if round_ == 1 else 3
        assert per_topic["user:1"] == [start + 1, start + 2, start + 3]
        assert per_topic["user:2"] == [2 * round_ - 1, 2 * round_]
        assert per_topic[f"user:{users}"] == [round_] if users > 2 else True
        # The log holds them in the write's order, under the seqs returned.
        ones = [i for i in logged if i.topic == "user:1"]
        assert [i.event["notification_id"] for i in ones] == [
            round_ * 1000 + 1, None, -round_,
        ]  # fmt: skip
    async with db.session() as session:
        assert await log.bounds(session, "user:1") == (1, 6)
        assert [i.seq for i in await log.since(session, "user:2", 0)] == [1, 2, 3, 4]


async def test_concurrent_writes_to_shared_topics_number_them_once_each(db: Database) -> None:
    """Twelve writes at once, each on the same shared topics given in a
    different order (on PostgreSQL: row locks, taken in name order, so no
    deadlock): every topic's seqs are 1..N, each event once, and each write
    got back the seqs the log holds."""
    import asyncio

    from collab.realtime.events import NotificationsChanged

    topics_of = [list(range(1, 6)), list(range(5, 0, -1)), [3, 1, 4, 2, 5]]

    async def write(n: int) -> list[log.LoggedEvent]:
        users = topics_of[n % len(topics_of)]
        events = [
            NotificationsChanged(zone_id=None, user_id=u, notification_id=n * 100 + u)
            for u in users
        ]
        async with db.transaction() as uow:
            return await log.append(uow.session, events)

    written = await asyncio.gather(*(write(n) for n in range(12)))
    returned = {(i.topic, i.seq): i.event["notification_id"] for w in written for i in w}
    async with db.session() as session:
        for user in range(1, 6):
            stored = await log.since(session, f"user:{user}", 0)
            assert [i.seq for i in stored] == list(range(1, 13))
            for item in stored:
                assert returned[(item.topic, item.seq)] == item.event["notification_id"]
            assert sorted(i.event["notification_id"] % 100 for i in stored) == [user] * 12
