"""The process's heartbeat schedule: one task beats every socket, with jitter,
presence touched in one round per tick, no task per socket, checks on demand."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from collab.models import User
from collab.realtime import beats as beats_module
from collab.realtime.access import Rejected
from collab.realtime.beats import Beating, Beats
from collab.realtime.connection import Connection
from collab.realtime.frames import heartbeat_frame
from collab.realtime.presence import Entry, MemoryPresence
from collab.realtime.sessions import RECHECK

INTERVAL = 0.2  # seconds between beats here: ticks of 10 ms


class CountingPresence(MemoryPresence):
    """Presence in memory that counts its rounds and every single touch."""

    def __init__(self, ttl: float) -> None:
        super().__init__(ttl)
        self.rounds: list[int] = []
        self.single = 0

    async def touch(self, topic: str, key: str, user_id: int, name: str) -> None:
        self.single += 1
        await super().touch(topic, key, user_id, name)

    async def touch_many(self, entries: list[Entry]) -> None:
        self.rounds.append(len(entries))
        await super().touch_many(entries)


class FakeHere:
    """What the schedule uses of :class:`collab.realtime.here.Here`."""

    def __init__(self, presence: MemoryPresence, key: str, topics: list[str]) -> None:
        self.presence = presence
        self.key = key
        self.topics = topics
        self.reads = 0

    async def who(self, topic: str) -> list[list[Any]]:
        self.reads += 1
        return [[p.user_id, p.name] for p in await self.presence.who(topic)]


def _socket(
    beats: Beats, n: int, checks: list[int] | None = None, *, public: bool = False
) -> tuple[Connection, Beating]:
    conn = Connection(None, User(id=n, name=f"U{n}"), "it", queue_size=1000)  # type: ignore[arg-type]

    async def check() -> None:
        if checks is not None:
            checks.append(n)

    presence = beats.presence
    assert isinstance(presence, MemoryPresence)
    here = FakeHere(presence, f"w#{n}", ["thread:1"])
    beating = Beating(conn, here, check, public=public)  # type: ignore[arg-type]
    beats.add(beating)
    return conn, beating


async def _until(condition: Any, within: float = 30) -> None:
    """Wait for ``condition()`` (a busy machine may stall the loop for a while)."""
    async with asyncio.timeout(within):
        while not condition():  # noqa: ASYNC110 (polls frames the schedule queues)
            await asyncio.sleep(INTERVAL / 4)


def _beaten(conn: Connection) -> int:
    return conn.frames.count(heartbeat_frame())


async def test_one_task_beats_every_socket_at_its_own_jittered_time() -> None:
    presence = CountingPresence(ttl=60)
    beats = Beats(presence, INTERVAL)
    before = len(asyncio.all_tasks())
    sockets = [_socket(beats, n) for n in range(40)]
    assert len(asyncio.all_tasks()) == before + 1  # the schedule's, not one per socket
    # Not in step: each socket's next beat is due at its own time.
    assert len({due for due, _, _ in beats._due}) == 40
    await _until(lambda: all(_beaten(conn) >= 3 for conn, _ in sockets))
    # Every socket's entry is alive and every socket was shown the list.
    assert len(await presence.who("thread:1")) == 40
    await _until(lambda: all("data-presence" in "".join(conn.frames) for conn, _ in sockets))
    # Touched in rounds (one per tick with sockets due), never one per socket.
    assert presence.single == 0
    assert sum(presence.rounds) <= sum(_beaten(conn) for conn, _ in sockets)
    assert len(presence.rounds) < sum(presence.rounds) / 2
    assert max(presence.rounds) > 1
    for _, beating in sockets:
        beats.remove(beating)
    await asyncio.sleep(0)
    assert len(asyncio.all_tasks()) == before  # no task outlives the last socket


async def test_a_socket_removed_beats_no_more() -> None:
    beats = Beats(CountingPresence(ttl=5), INTERVAL)
    gone, beating = _socket(beats, 1)
    stays, _ = _socket(beats, 2)
    beats.remove(beating)
    await _until(lambda: _beaten(stays) >= 2)
    assert _beaten(gone) == 0


async def test_full_checks_come_every_nth_beat_and_public_links_at_every_beat(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(beats_module, "FULL_CHECK_EVERY", 3)
    beats = Beats(CountingPresence(ttl=5), INTERVAL)
    checks: list[int] = []
    logged_in, _ = _socket(beats, 1, checks)
    public, _ = _socket(beats, 2, checks, public=True)
    await _until(lambda: _beaten(logged_in) >= 4 and _beaten(public) >= 4)
    beaten = {1: _beaten(logged_in), 2: _beaten(public)}
    await asyncio.sleep(0)  # the checks of the last beat run
    # (one more beat may have come meanwhile, its check not yet run)
    assert checks.count(1) in (beaten[1] // 3, (beaten[1] + 1) // 3)
    assert checks.count(2) in (beaten[2], beaten[2] + 1)


async def test_a_failed_check_closes_the_socket_with_its_code() -> None:
    beats = Beats(CountingPresence(ttl=5), INTERVAL)
    conn = Connection(None, User(id=1, name="A"), "it", queue_size=10)  # type: ignore[arg-type]
    answers = [None, Rejected(4401)]
    started = asyncio.Event()

    async def check() -> None:
        started.set()
        await asyncio.sleep(0.01)
        answer = answers.pop(0)
        if answer is not None:
            raise answer

    beating = Beating(conn, FakeHere(MemoryPresence(5), "k", []), check, public=False)  # type: ignore[arg-type]
    beats.add(beating)
    # Two user.changed events while the first check runs: one more check after it.
    beating.check_soon()
    await started.wait()
    beating.check_soon()
    beating.check_soon()
    assert await asyncio.wait_for(conn.ended, 2) == 4401
    assert answers == []
    beats.remove(beating)


async def test_heartbeats_go_on_while_a_presence_round_hangs() -> None:
    class Hanging(MemoryPresence):
        rounds = 0

        async def touch_many(self, entries: list[Entry]) -> None:
            self.rounds += 1
            await asyncio.sleep(3600)  # Redis not answering

    presence = Hanging(ttl=5)
    beats = Beats(presence, INTERVAL)
    before = len(asyncio.all_tasks())
    conn, beating = _socket(beats, 1)
    await _until(lambda: _beaten(conn) >= 3)
    assert presence.rounds == 1  # one round in flight at most; the others wait
    beats.remove(beating)
    await asyncio.sleep(0)
    assert len(asyncio.all_tasks()) == before


async def test_one_socket_failing_its_beat_stops_no_other(caplog: pytest.LogCaptureFixture) -> None:
    beats = Beats(CountingPresence(ttl=5), INTERVAL)
    broken, _ = _socket(beats, 1)
    healthy, _ = _socket(beats, 2)

    def put(frame: str) -> None:
        raise RuntimeError("broken socket")

    broken.put = put  # type: ignore[method-assign]
    await _until(lambda: _beaten(healthy) >= 3)
    assert "a heartbeat failed" in caplog.text


async def test_a_rights_change_during_the_setup_is_checked_once_the_checks_exist() -> None:
    # The user's own topic is followed before the user is read; an event that
    # comes after the read but before the socket's checks exist (its zones
    # still being authorized) must not be lost (collab/realtime/ws.py).
    conn = Connection(None, User(id=1, name="A"), "it", queue_size=10)  # type: ignore[arg-type]
    conn.deliver("user:1", 7, RECHECK)
    assert conn.recheck_missed
    assert not conn.frames  # nothing sent to the page
    checked: list[int] = []
    conn.on_recheck = lambda: checked.append(1)
    conn.deliver("user:1", 8, RECHECK)
    assert checked == [1]
