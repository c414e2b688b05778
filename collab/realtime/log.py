"""The durable per-topic event log: append in the writing transaction, read to replay.

Each event is appended once per topic it concerns (``Event.topics``) with the
topic's next sequence number. The number comes from an upsert on
``topic_seq`` inside the writing transaction: its row lock makes writers of a
topic wait for each other, so a topic's numbers are contiguous and follow the
commit order. A reader that sees seq N+2 after N knows N+1 exists, committed.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    ARRAY,
    Integer,
    String,
    Table,
    Text,
    bindparam,
    delete,
    func,
    insert,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from collab.models import EventLog, TopicSeq, UTCDateTime, utcnow
from collab.prepared import Prepared
from collab.realtime.events import Event

__all__ = ["LoggedEvent", "append", "bounds", "last_seqs", "prune", "since"]


@dataclass(frozen=True)
class LoggedEvent:
    """One event on one topic, as stored and as sent: JSON-safe via :meth:`to_message`."""

    topic: str
    seq: int
    event: dict[str, Any]

    def to_message(self) -> dict[str, Any]:
        return {"type": "collab.event", "topic": self.topic, "seq": self.seq, "event": self.event}

    @classmethod
    def from_message(cls, message: dict[str, Any]) -> LoggedEvent:
        return cls(topic=message["topic"], seq=int(message["seq"]), event=message["event"])


def _upsert(dialect: str) -> Any:
    return pg_insert if dialect == "postgresql" else sqlite_insert


def _build_upsert(dialect: str) -> Any:
    insert_ = _upsert(dialect)(TopicSeq)
    statement = insert_.values(
        topic=bindparam("topic"), last_seq=bindparam("n")
    ).on_conflict_do_update(
        index_elements=[TopicSeq.topic],
        set_={"last_seq": TopicSeq.last_seq + insert_.excluded.last_seq},
    )
    return statement.returning(TopicSeq.topic, TopicSeq.last_seq)


# Built once per dialect, not per call (building a statement costs more than
# executing it on SQLite). Run with every topic's parameters at once, which
# SQLAlchemy sends as one multi-row statement ("insertmanyvalues"; a few for
# hundreds of topics): a reply's three or four topics are one round trip, not
# one each, and a notification to 600 people is not 600.
_UPSERTS = {dialect: _build_upsert(dialect) for dialect in ("postgresql", "sqlite")}
_INSERT_EVENTS = Prepared(insert(cast(Table, EventLog.__table__)))  # no ORM bookkeeping per row

# SQLite: the upsert of up to SMALL topics as one prepared multi-row statement
# per count (collab/prepared.py): a reply's topics are its thread's, its
# zone's and one per person it notifies.
SMALL = 16


def _build_small_upsert(count: int) -> Prepared:
    insert_ = sqlite_insert(TopicSeq)
    statement = insert_.values(
        [{"topic": bindparam(f"topic{i}"), "last_seq": bindparam(f"n{i}")} for i in range(count)]
    ).on_conflict_do_update(
        index_elements=[TopicSeq.topic],
        set_={"last_seq": TopicSeq.last_seq + insert_.excluded.last_seq},
    )
    return Prepared(statement.returning(TopicSeq.topic, TopicSeq.last_seq))


_SMALL_UPSERTS = [_build_small_upsert(count) for count in range(SMALL + 1)]


async def _advance(session: AsyncSession, counts: dict[str, int]) -> dict[str, int]:
    """Move each topic's last seq on by its count; the new last seqs.

    Topics go in name order (the rows of the multi-row upsert too), so two
    writes that share topics take their row locks (PostgreSQL) in the same
    order and cannot deadlock.
    """
    dialect = session.get_bind().dialect.name
    topics = sorted(counts)
    if dialect == "sqlite" and len(topics) <= SMALL:
        params: dict[str, Any] = {}
        for i, topic in enumerate(topics):
            params[f"topic{i}"], params[f"n{i}"] = topic, counts[topic]
        rows = await _SMALL_UPSERTS[len(topics)].rows(session, params)
        return {str(topic): int(seq) for topic, seq in rows}
    connection = await session.connection()
    result = await connection.execute(
        _UPSERTS[dialect], [{"topic": topic, "n": counts[topic]} for topic in topics]
    )
    return {str(topic): int(seq) for topic, seq in result}


# PostgreSQL: the topics' upsert and the events' INSERT in one statement (a
# data-modifying CTE), so a write's topic rows are locked for its commit only,
# and every write makes one round trip less. The events come as arrays, in
# order; ``back`` is how many events of its topic follow it in this write.
# The upsert takes the topics in name order, like _advance.
_PG_APPEND = text(
    """
WITH placed AS (
    SELECT p.topic, p.back, p.payload
    FROM unnest(:topics, :backs, :payloads) AS p(topic, back, payload)
), advanced AS (
    INSERT INTO topic_seq (topic, last_seq)
    SELECT topic, count(*) FROM placed GROUP BY topic ORDER BY topic
    ON CONFLICT (topic) DO UPDATE SET last_seq = topic_seq.last_seq + excluded.last_seq
    RETURNING topic, last_seq
)
INSERT INTO event_log (topic, seq, payload, created_at)
SELECT placed.topic, advanced.last_seq - placed.back, CAST(placed.payload AS json), :now
FROM placed JOIN advanced ON advanced.topic = placed.topic
RETURNING topic, seq
"""
).bindparams(
    bindparam("topics", type_=ARRAY(String)),
    bindparam("backs", type_=ARRAY(Integer)),
    bindparam("payloads", type_=ARRAY(Text)),
    bindparam("now", type_=UTCDateTime()),
)


async def _append_pg(
    session: AsyncSession, placed: list[tuple[dict[str, Any], str]], counts: dict[str, int]
) -> list[LoggedEvent]:
    backs: list[int] = []
    seen: dict[str, int] = {}
    for _, topic in placed:
        seen[topic] = seen.get(topic, 0) + 1
        backs.append(counts[topic] - seen[topic])
    result = await (await session.connection()).execute(
        _PG_APPEND,
        {
            "topics": [topic for _, topic in placed],
            "backs": backs,
            "payloads": [json.dumps(payload) for payload, _ in placed],
            "now": utcnow(),
        },
    )
    last: dict[str, int] = {}
    for topic, seq in result:
        last[topic] = max(last.get(topic, 0), int(seq))
    return [
        LoggedEvent(topic, last[topic] - back, payload)
        for (payload, topic), back in zip(placed, backs, strict=True)
    ]


async def append(session: AsyncSession, events: Sequence[Event]) -> list[LoggedEvent]:
    """Append ``events`` to their topics' logs, in order; part of the caller's transaction."""
    placed = [(event.to_dict(), topic) for event in events for topic in event.topics]
    if not placed:
        return []
    counts: dict[str, int] = {}
    for _, topic in placed:
        counts[topic] = counts.get(topic, 0) + 1
    if session.get_bind().dialect.name == "postgresql":
        return await _append_pg(session, placed, counts)
    last = await _advance(session, counts)
    # A topic's seqs for this write: the ``count`` just before its new last.
    next_seq = {topic: last[topic] - count + 1 for topic, count in counts.items()}
    now = utcnow()
    logged: list[LoggedEvent] = []
    rows: list[dict[str, Any]] = []
    for payload, topic in placed:
        seq = next_seq[topic]
        next_seq[topic] = seq + 1
        rows.append({"topic": topic, "seq": seq, "payload": payload, "created_at": now})
        logged.append(LoggedEvent(topic, seq, payload))
    await _INSERT_EVENTS.run_many(session, rows)
    return logged


async def since(
    session: AsyncSession, topic: str, after: int, limit: int = 1000
) -> list[LoggedEvent]:
    """The events of ``topic`` with seq > ``after``, oldest first."""
    rows = await session.execute(
        select(EventLog.seq, EventLog.payload)
        .where(EventLog.topic == topic, EventLog.seq > after)
        .order_by(EventLog.seq)
        .limit(limit)
    )
    return [LoggedEvent(topic, seq, payload) for seq, payload in rows]


async def bounds(session: AsyncSession, topic: str) -> tuple[int, int]:
    """(first seq still in the log, last seq given out) for ``topic``; (0, 0) if none."""
    last = await session.scalar(select(TopicSeq.last_seq).where(TopicSeq.topic == topic))
    first = await session.scalar(select(func.min(EventLog.seq)).where(EventLog.topic == topic))
    if not last:
        return 0, 0
    # Everything pruned: the next event will be last + 1.
    return (first if first is not None else last + 1), last


async def prune(session: AsyncSession, before: datetime) -> int:
    """Drop events older than ``before`` (the log's retention); returns how many."""
    result = await session.execute(delete(EventLog).where(EventLog.created_at < before))
    return int(getattr(result, "rowcount", 0) or 0)


# Every live page runs it before its content: built once.
_LAST_SEQS = select(TopicSeq.topic, TopicSeq.last_seq).where(
    TopicSeq.topic.in_(bindparam("topics", expanding=True))
)


async def last_seqs(session: AsyncSession, topics: Sequence[str]) -> dict[str, int]:
    """The last seq of each topic (0 if none yet).

    A page reads these *before* its content, so an event can only be both in
    the page and replayed (applied twice, which the client makes harmless),
    never in neither.
    """
    rows = await session.execute(_LAST_SEQS, {"topics": list(topics)})
    found = {topic: last for topic, last in rows}
    return {topic: found.get(topic, 0) for topic in topics}
