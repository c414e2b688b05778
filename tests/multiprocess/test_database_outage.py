"""The database out of reach for a few seconds, under two real workers.

On PostgreSQL the workers' own throwaway server is stopped (``pg_ctl stop -m
fast``: every session ended, as in a real restart) and started again on the
same port (``scripts/pg-tmp.sh pause|resume``); on SQLite another process
holds the write lock past the workers' busy timeout. Meanwhile a reply sent
through either worker answers 503 with the message in Italian and writes
nothing; afterwards replies work again and live delivery resumes by itself:
followers on both workers hold every event once, in order, checked against
the database (topic_seq, the event log and the posts).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import subprocess
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import func, select

from collab.db import Database
from collab.forums.models import Post
from collab.migrate import upgrade
from collab.models import EventLog, TopicSeq
from tests.dbs import Template, is_postgres, sqlite_write_locked
from tests.multiprocess.clients import MAYOR, TECH5, Listener, User
from tests.multiprocess.conftest import Cluster, RedisServer, running_cluster
from tests.servers import ROOT

pytestmark = [pytest.mark.slow, pytest.mark.alone]

PG_TMP = ROOT / "scripts" / "pg-tmp.sh"
# Seconds the database stays away at least; on SQLite, as long as the refused
# writes take (each waits out the workers' busy timeout first).
OUT_FOR = 3.0 if is_postgres() else 0.0
FOLLOWERS = 10  # on each worker
UNAVAILABLE_IT = "Il servizio è momentaneamente non disponibile"


class PgServer:
    """A throwaway PostgreSQL server of the workers' own, which can be paused."""

    def __init__(self) -> None:
        # In /tmp (the default), not in pytest's directories: the server runs
        # as another user (PostgreSQL refuses root), who could not enter them.
        out = subprocess.run(
            [str(PG_TMP), "start"], check=True, capture_output=True, text=True
        ).stdout
        values = dict(
            line.removeprefix("export ").split("=", 1)
            for line in out.splitlines()
            if line.startswith("export ")
        )
        self.dir = values["PG_TMP_DIR"]
        self.url = values["DATABASE_URL"]

    def _run(self, command: str) -> None:
        subprocess.run([str(PG_TMP), command, self.dir], check=True, capture_output=True)

    @contextlib.contextmanager
    def down(self) -> Iterator[None]:
        self._run("pause")
        try:
            yield
        finally:
            self._run("resume")

    def close(self) -> None:
        self._run("stop")


@pytest.fixture(scope="module")
def outage_cluster(
    db_template: Template, redis_server: RedisServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Cluster, Callable[[], contextlib.AbstractContextManager[None]]]]:
    """Two workers, and what takes their database away for a block."""
    workdir = tmp_path_factory.mktemp("outage")
    if is_postgres():
        server = PgServer()  # not the session's server: other tests use it
        try:
            upgrade(server.url)
            with running_cluster(server.url, redis_server, workdir) as cluster:
                yield cluster, server.down
        finally:
            server.close()
        return
    url = db_template.new_database(workdir)
    with running_cluster(url, redis_server, workdir) as cluster:
        yield cluster, lambda: sqlite_write_locked(url)


async def _count(cluster: Cluster, query: Any) -> int:
    database = Database(cluster.database_url)
    try:
        async with database.session() as session:
            return int(await session.scalar(query) or 0)
    finally:
        await database.dispose()


async def test_the_database_away_for_seconds(
    outage_cluster: tuple[Cluster, Callable[[], contextlib.AbstractContextManager[None]]],
    listen: Callable[..., Listener],
) -> None:
    cluster, outage = outage_cluster
    via_a = await User.login(cluster.a, MAYOR)
    via_b = await User.login(cluster.b, MAYOR)
    reader = await User.login(cluster.b, TECH5)
    try:
        thread = await via_a.new_thread("Il database si ferma")
        topic = f"thread:{thread}"
        assert (await via_a.reply(thread, "prima")).status_code == 303

        def jitter() -> float:
            return random.uniform(0.2, 0.6)

        followers = [
            listen(worker, reader.cookie, topic, backoff=jitter, max_closes=200)
            for worker in (cluster.a, cluster.b)
            for _ in range(FOLLOWERS)
        ]
        for lis in followers:
            await lis.wait_for(1, within=30)

        with outage():
            started = time.monotonic()
            # Through both workers at once (on SQLite each waits out the busy timeout).
            refused = await asyncio.gather(
                *(user.reply(thread, f"durante {n}") for n, user in enumerate((via_a, via_b) * 2))
            )
            await asyncio.sleep(max(0.0, OUT_FOR - (time.monotonic() - started)))
        out_for = time.monotonic() - started
        for response in refused:
            assert response.status_code == 503, response.text[:300]
            assert response.headers.get("retry-after"), response.headers
            assert UNAVAILABLE_IT in response.text

        # Back: replies through both workers, and the followers get them live.
        for n, user in enumerate((via_b, via_a, via_b)):
            response = await user.reply(thread, f"dopo {n}")
            assert response.status_code == 303, response.text[:300]

        last = await _count(cluster, select(TopicSeq.last_seq).where(TopicSeq.topic == topic))
        assert last == 4  # "prima" and the three after: nothing of the refused ones
        for lis in followers:
            await lis.wait_for(last, within=30)
        await asyncio.sleep(0.3)  # room for a late duplicate
        for lis in followers:
            assert lis.seqs == [1, 2, 3, 4], (lis.ws_url, lis.seqs, lis.closes)
            assert lis.gave_up is None and 1011 not in lis.closes, lis.closes
        # Nothing half-written: the log and the posts hold exactly what was accepted.
        assert (
            await _count(
                cluster, select(func.count()).select_from(EventLog).where(EventLog.topic == topic)
            )
            == 4
        )
        posts = await _count(
            cluster, select(func.count()).select_from(Post).where(Post.thread_id == thread)
        )
        assert posts == 5  # the opening post, "prima" and the three after
        print(
            f"\ndatabase away for {out_for:.1f}s: {len(refused)} replies refused with 503; "
            f"close codes seen by the followers: "
            f"{sorted({code for lis in followers for code in lis.closes})}"
        )
    finally:
        for user in (via_a, via_b, reader):
            await user.http.aclose()
