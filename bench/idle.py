"""Idle-socket benchmark: what N open pages cost one collab worker when nobody posts.

    python -m bench.idle --sockets 5000

Starts collab as ``bench.fanout`` starts its ``collab_1w`` target (one uvicorn
process, a fresh DATA_DIR with the schema and the demo data, the in-memory
channel layer), opens N sockets from the load generator, logged in as a demo
user and subscribed to one thread like an open thread page, and then only
listens. Once a reply has reached every socket (every subscription is live)
and after a warm-up longer than one heartbeat interval (every socket has had
its first beat: the window sees the steady rate), it reads over a window in
which nobody posts: the server's CPU (utime + stime of /proc/PID/stat, its
threads included), its RSS growth per socket, the heartbeat frames the sockets
receive and the SQL statements the server runs (counted in the server by a
SQLAlchemy event; see :data:`COUNTING_SERVER`).

``--rev REV`` serves another commit instead of the working tree (a temporary
``git worktree``, removed at the end), so that one command compares before and
after: ``--rev 00023b0 --rev .`` (``.`` is the working tree). Prints the
command, a table and, as its last line, one JSON object for scripts. See
docs/performance.md, "Idle sockets".
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import secrets
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bench.fanout import Bench, log, wait_quiet
from bench.loadgen import FOREIGN_CPU, LoadGenerator, LoadSpec, Sampler, warm_token
from bench.procs import (
    COLLAB_WS_KEEPALIVE,
    ROOT,
    Server,
    collab_data,
    free_port,
    raise_fd_limit,
    rss_bytes,
    uvicorn_argv,
)

WORKING_TREE = "."

# The server, run as ``python -c COUNTING_SERVER <uvicorn options>``: uvicorn
# with a count of the SQL statements every engine executes, which a thread
# answers on a Unix socket. Self-contained (it imports nothing from bench), so
# that an older checkout on PYTHONPATH serves unchanged; the thread sleeps in
# accept() and costs nothing between readings.
COUNTING_SERVER = """\
import os, socket, sys, threading
from sqlalchemy import event
from sqlalchemy.engine import Engine
count = [0]
def _count(*args):
    count[0] += 1
event.listen(Engine, "before_cursor_execute", _count)
def _answer(path):
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(path)
        server.listen()
        while True:
            conn, _ = server.accept()
            with conn:
                conn.sendall(str(count[0]).encode())
threading.Thread(target=_answer, args=(os.environ["BENCH_QUERIES_SOCKET"],), daemon=True).start()
def _snapshots(path):
    # --tracemalloc: each connection takes a snapshot (tracing starts at the
    # first, before the sockets open: the server starts at full speed).
    import gc, tracemalloc
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(path)
        server.listen()
        for n in range(2):
            conn, _ = server.accept()
            with conn:
                if not tracemalloc.is_tracing():
                    tracemalloc.start(25)
                gc.collect()
                tracemalloc.take_snapshot().dump(f"{path}.{n}")
                conn.sendall(b"ok")
if os.environ.get("BENCH_TRACEMALLOC"):
    path = os.environ["BENCH_TRACEMALLOC"]
    threading.Thread(target=_snapshots, args=(path,), daemon=True).start()
sys.argv[0] = "uvicorn"
from uvicorn.main import main
main()
"""


# Who holds an idle socket's memory, by the innermost frame of each traceback
# that is in one of these (the standard library's frames count for their caller).
HOLDERS = (
    ("/uvicorn/", "uvicorn: its websocket protocol, queue, ping timer, scope"),
    ("/websockets/", "websockets: the sans-I/O connection, parser, handshake"),
    ("/starlette/", "Starlette: WebSocket, routing, middleware frames"),
    ("/sqlalchemy/", "SQLAlchemy: the socket's User (and its Comune, Zone)"),
    ("/aiosqlite/", "SQLAlchemy: the socket's User (and its Comune, Zone)"),
    ("/collab/sqlite_trips.py", "SQLAlchemy: the socket's User (and its Comune, Zone)"),
    ("/collab/realtime/", "collab.realtime: handler, Connection, writer, hub, presence"),
    ("/collab/", "collab: middleware and the rest"),
)


def snapshot(path: Path) -> Path:
    """Have the server (run with ``--tracemalloc``) dump a tracemalloc snapshot."""
    with socket.socket(socket.AF_UNIX) as sock:
        sock.settimeout(120)
        sock.connect(str(path))
        sock.recv(8)
    return path


def holders(before: Path, after: Path, sockets: int) -> dict[str, float]:
    """KiB per socket allocated between two snapshots and still held, by holder."""
    import tracemalloc

    old = tracemalloc.Snapshot.load(str(before))
    new = tracemalloc.Snapshot.load(str(after))
    found: dict[str, float] = {}
    for stat in new.compare_to(old, "traceback"):
        holder = "the event loop (callbacks and timers, C)"
        for frame in reversed(stat.traceback):  # innermost first
            names = [name for key, name in HOLDERS if key in frame.filename]
            if names:
                holder = names[0]
                break
        found[holder] = found.get(holder, 0.0) + stat.size_diff / 1024 / max(sockets, 1)
    return dict(sorted(found.items(), key=lambda item: -item[1]))


def queries_so_far(path: Path) -> int | None:
    """The server's SQL statement count so far (None: it does not answer)."""
    with contextlib.suppress(OSError, ValueError), socket.socket(socket.AF_UNIX) as sock:
        sock.settimeout(5)
        sock.connect(str(path))
        data = b""
        while chunk := sock.recv(64):
            data += chunk
        return int(data)
    return None


@dataclass
class Target:
    """What to serve: the working tree, or a commit checked out in a temporary worktree."""

    rev: str  # as given: WORKING_TREE or a git revision
    label: str  # for the table: a short commit id, "+changes" when the tree differs
    checkout: Path = ROOT


@dataclass
class IdleResult:
    """The figures of one target over its window (NaN or None: not measured)."""

    target: str
    sockets: int
    connected: int = 0
    window_s: float = 0.0
    server_cpu: float = float("nan")  # fraction of one core
    rss_per_socket_kb: float = float("nan")
    rss_before_mb: float = float("nan")
    rss_after_mb: float = float("nan")
    heartbeats_per_s: float = float("nan")
    queries_per_s: float | None = None
    loadgen_cpu: float = float("nan")  # cores: the load generator and this process
    redis_cpu: float | None = None  # --redis: fraction of one core
    foreign_cpu: float = float("nan")  # cores used by processes not of this benchmark
    open_at_end: int = 0
    closed: dict[str, int] = field(default_factory=dict)  # sockets the server closed, by code
    held_kb: dict[str, float] = field(default_factory=dict)  # --tracemalloc: KiB/socket by holder
    warnings: list[str] = field(default_factory=list)


class IdleBench(Bench):
    """``bench.fanout``'s collab target, served from ``target.checkout``, counting queries."""

    def __init__(
        self, args: argparse.Namespace, workdir: Path, target: Target, settings: dict[str, str]
    ) -> None:
        super().__init__(args, workdir)
        self.target = target
        self.settings = settings
        self.queries_socket = workdir / "queries.sock"

    def collab_data(self) -> dict[str, str]:
        if self.collab_env is None:
            data_dir = self.workdir / "collab-data"
            log(f"  preparing collab's database in {data_dir} ({self.target.label})")
            extra = dict(self.settings)
            if self.args.redis:
                extra["REDIS_URL"] = self.redis_url()
                self.flush_redis()
            if self.target.checkout != ROOT:
                # Ahead of the editable install of the working tree (checked below).
                extra["PYTHONPATH"] = str(self.target.checkout)
            self.collab_env = collab_data(data_dir, cwd=self.target.checkout, **extra)
            check_imports(self.target.checkout, self.collab_env)
        return dict(self.collab_env)

    def _uvicorn(
        self, name: str, app: str, env: dict[str, str], *, factory: bool = False
    ) -> Server:
        port = free_port()
        argv = uvicorn_argv(app, port, factory=factory)
        assert argv[1:3] == ["-m", "uvicorn"], argv
        argv[1:3] = ["-c", COUNTING_SERVER]
        if self.args.ws_ping_interval is not None:  # instead of the Procfile's
            at = argv.index("--ws-ping-interval")
            argv[at + 1] = f"{self.args.ws_ping_interval:g}"
        env = {**env, "BENCH_QUERIES_SOCKET": str(self.queries_socket)}
        if self.args.tracemalloc:
            env["BENCH_TRACEMALLOC"] = str(self.workdir / "tracemalloc")
        return Server(name, argv, port, self.workdir, env=env, cwd=self.target.checkout)


def check_imports(checkout: Path, env: dict[str, str]) -> None:
    """Fail unless the server's environment imports ``collab`` from ``checkout``."""
    found = subprocess.run(
        [sys.executable, "-c", "import collab; print(collab.__file__)"],
        env={**os.environ, **env},
        cwd=checkout,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    if not Path(found).resolve().is_relative_to(checkout.resolve()):
        raise RuntimeError(f"the server would import collab from {found}, not from {checkout}")


def _git(*args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(ROOT), *args], capture_output=True, text=True, check=True
    ).stdout.strip()


@contextlib.contextmanager
def checkout(rev: str, workdir: Path) -> Iterator[Target]:
    """The target for ``rev``: the working tree, or a detached worktree removed on exit."""
    if rev == WORKING_TREE:
        changed = bool(_git("status", "--porcelain", "--untracked-files=no"))
        yield Target(rev, _git("rev-parse", "--short", "HEAD") + ("+changes" if changed else ""))
        return
    commit = _git("rev-parse", "--short", f"{rev}^{{commit}}")
    path = workdir / f"checkout-{commit}"
    _git("worktree", "add", "--detach", str(path), commit)
    try:
        yield Target(rev, commit, path)
    finally:
        _git("worktree", "remove", "--force", str(path))


async def until_subscribed(
    gen: LoadGenerator, post: Callable[[str], Awaitable[None]], nonce: str, sockets: int
) -> int:
    """Post replies until every socket has received one; how many have.

    The server sets sockets up (session, topics, heartbeat task) a bounded
    number at a time, well after their handshakes: the warm-up counts from
    here, so that every socket's first beat falls before the window.
    """
    deadline = time.monotonic() + 180
    for index in itertools.count():
        await post(warm_token(nonce, index))
        for _ in range(40):  # 2 s for this reply to reach every socket
            live = int(gen.status()["warm"])
            if live >= sockets or time.monotonic() > deadline:
                return live
            await asyncio.sleep(0.05)
    raise AssertionError("unreachable")


def _since(start: float) -> str:
    return f"{time.monotonic() - start:.1f} s"


async def measure_idle(
    args: argparse.Namespace, target: Target, workdir: Path, settings: dict[str, str]
) -> IdleResult:
    """One target: start it, open the sockets, warm up, read the window, stop everything."""
    result = IdleResult(target.label, args.sockets)
    bench = IdleBench(args, workdir, target, settings)
    running = await bench.start("collab_1w")
    try:
        server = running.servers[0]
        rss_before = rss_bytes(server.pid)
        traced = bench.workdir / "tracemalloc"
        if args.tracemalloc:
            snapshot(traced)
        spec = LoadSpec(
            urls=running.urls,
            sockets=args.sockets,
            probes=0,
            nonce=secrets.token_hex(4),
            headers=running.headers,
            subscribe=running.subscribe,
            procs=args.procs,
        )
        gen = LoadGenerator(spec)
        try:
            started = time.monotonic()
            result.connected = await asyncio.to_thread(gen.wait_ready)
            log(f"  {result.connected}/{args.sockets} sockets open in {_since(started)}")
            if gen.connect_errors:
                result.warnings.append(f"connect errors: {dict(gen.connect_errors)}")
            live = await until_subscribed(gen, running.post, spec.nonce, result.connected)
            log(f"  {live} subscriptions live in {_since(started)}; warm-up {args.warmup:g} s")
            if live < result.connected:
                result.warnings.append(f"only {live}/{result.connected} subscriptions went live")
            await asyncio.sleep(args.warmup)
            log(f"  measuring for {args.window:g} s")
            redis = [bench.redis.pid] if bench.redis is not None else []
            sampler = Sampler([server.pid], redis, [p.pid for p in gen.procs])
            beats_before = gen.status()["heartbeats"]
            queries_before = queries_so_far(bench.queries_socket)
            t0 = time.monotonic_ns()
            sampler.sample()
            end = time.monotonic() + args.window
            while (left := end - time.monotonic()) > 0:
                await asyncio.sleep(min(1.0, left))
                sampler.sample()
            status = gen.status()
            queries_after = queries_so_far(bench.queries_socket)
            t1 = time.monotonic_ns()
            rss_after = rss_bytes(server.pid)
            if args.tracemalloc:
                snapshot(traced)
            outcomes = gen.stop()
        finally:
            gen.join()
    finally:
        await running.stop()
        if bench.redis is not None:
            bench.redis.stop()

    seconds = (t1 - t0) / 1e9
    result.window_s = seconds
    result.server_cpu = sampler.cores("server", t0, t1)
    if bench.redis is not None:
        result.redis_cpu = sampler.cores("aux", t0, t1)
    result.foreign_cpu = sampler.cores("machine", t0, t1) - sampler.cores("ours", t0, t1)
    result.loadgen_cpu = sampler.cores("ours", t0, t1) - result.server_cpu
    result.rss_before_mb = rss_before / 2**20
    result.rss_after_mb = rss_after / 2**20
    if result.connected:
        result.rss_per_socket_kb = (rss_after - rss_before) / 1024 / result.connected
    result.heartbeats_per_s = (status["heartbeats"] - beats_before) / seconds
    if queries_before is not None and queries_after is not None:
        result.queries_per_s = (queries_after - queries_before) / seconds
    else:
        result.warnings.append("the server did not answer the query count")
    result.open_at_end = status["open"]
    if args.tracemalloc:
        result.held_kb = holders(Path(f"{traced}.0"), Path(f"{traced}.1"), result.connected)
        result.warnings.append(
            "--tracemalloc: tracing slows the server and takes memory of its own"
        )
    for outcome in outcomes:
        for why, count in outcome["closes"].items():
            result.closed[why] = result.closed.get(why, 0) + count
    if result.closed:
        result.warnings.append(f"sockets closed by the server during the run: {result.closed}")
        tail = running.servers[0].log_tail(10)
        if tail.strip():
            log(f"  the server's log ends with:\n{tail}")
    if result.connected < args.sockets:
        result.warnings.append(f"only {result.connected} of {args.sockets} sockets connected")
    if result.foreign_cpu > FOREIGN_CPU:
        result.warnings.append(
            f"OTHER PROCESSES used {result.foreign_cpu:.2f} cores during the window: "
            "the machine was not quiet, the figures are unreliable"
        )
    return result


def _finite(figures: dict[str, Any]) -> dict[str, Any]:
    """NaN (not measured) as null: the JSON line stays JSON."""
    return {
        k: None if isinstance(v, float) and v != v else round(v, 4) if isinstance(v, float) else v
        for k, v in figures.items()
    }


def _num(value: float | None, digits: int = 1) -> str:
    return "-" if value is None or value != value else f"{value:,.{digits}f}"


def table(results: list[IdleResult]) -> str:
    lines = [
        "| target | sockets | server CPU, % of a core | RSS/socket KiB | heartbeats/s "
        "| SQL queries/s | Redis CPU, % of a core |",
        "|---" * 7 + "|",
    ]
    for r in results:
        redis = "-" if r.redis_cpu is None else _num(r.redis_cpu * 100)
        lines.append(
            f"| {r.target} | {r.connected:,} | {_num(r.server_cpu * 100)} "
            f"| {_num(r.rss_per_socket_kb)} | {_num(r.heartbeats_per_s)} "
            f"| {_num(r.queries_per_s)} | {redis} |"
        )
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.idle", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--sockets", type=int, default=5000, help="idle websockets (5000)")
    parser.add_argument("--window", type=float, default=60, help="measured seconds (60)")
    parser.add_argument(
        "--warmup",
        type=float,
        default=30,
        help="seconds between the last socket opening and the window: more than one "
        "heartbeat interval, so that every socket's first beat is behind (30)",
    )
    parser.add_argument(
        "--heartbeat",
        type=int,
        default=None,
        metavar="S",
        help="WS_HEARTBEAT for the server (default: the app's own, 25 s)",
    )
    parser.add_argument(
        "--ws-ping-interval",
        type=float,
        default=None,
        metavar="S",
        help="uvicorn's --ws-ping-interval for the server (default: the Procfile's, 60; "
        "uvicorn's own default is 20; 0: no pings)",
    )
    parser.add_argument(
        "--rev",
        action="append",
        default=None,
        metavar="GIT_REV",
        help="serve this commit (a temporary git worktree) instead of the working tree; "
        "repeat to compare, '.' is the working tree: --rev 00023b0 --rev .",
    )
    parser.add_argument("--procs", type=int, default=2, help="load generator processes (2)")
    parser.add_argument(
        "--redis",
        action="store_true",
        help="give the server a Redis (REDIS_URL: presence and fan-out as with several "
        "workers) and measure its CPU too",
    )
    parser.add_argument(
        "--wait-quiet",
        type=float,
        default=0.0,
        metavar="S",
        help="before each run, wait up to this long for other processes to go idle",
    )
    parser.add_argument(
        "--tracemalloc",
        action="store_true",
        help="trace the server's allocations and print the KiB each holder keeps per socket "
        "(the CPU and RSS figures are then not comparable)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the work directory (logs, data)")
    args = parser.parse_args(argv)
    args.rev = args.rev or [WORKING_TREE]
    return args


async def run(args: argparse.Namespace, workdir: Path) -> list[IdleResult]:
    settings = {} if args.heartbeat is None else {"WS_HEARTBEAT": str(args.heartbeat)}
    results = []
    for index, rev in enumerate(args.rev):
        run_dir = workdir / f"run-{index}"
        run_dir.mkdir()
        with checkout(rev, workdir) as target:
            log(f"{target.label} ({'working tree' if rev == WORKING_TREE else rev}):")
            await wait_quiet(args.wait_quiet)
            result = await measure_idle(args, target, run_dir, settings)
        log(
            f"  server CPU {_num(result.server_cpu * 100)}% of a core, "
            f"RSS {_num(result.rss_before_mb)} -> {_num(result.rss_after_mb)} MB, "
            f"{_num(result.heartbeats_per_s)} heartbeats/s, "
            f"{_num(result.queries_per_s)} queries/s, load generator "
            f"{_num(result.loadgen_cpu * 100)}%, other processes {_num(result.foreign_cpu * 100)}%"
        )
        for warning in result.warnings:
            log(f"  WARNING: {warning}")
        results.append(result)
    return results


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    raise_fd_limit()
    command = "python -m bench.idle " + shlex.join(sys.argv[1:] if argv is None else argv)
    started = time.monotonic()
    workdir = Path(tempfile.mkdtemp(prefix="collab-bench-idle-"))
    try:
        results = asyncio.run(run(args, workdir))
    finally:
        if args.keep:
            log(f"logs and data kept in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    print()
    print(f"command: {command}")
    ping = args.ws_ping_interval
    if ping is None:
        ping = float(COLLAB_WS_KEEPALIVE[COLLAB_WS_KEEPALIVE.index("--ws-ping-interval") + 1])
    print(
        f"machine: {os.cpu_count()} CPUs, Python {sys.version.split()[0]}; "
        f"window {args.window:g} s after a {args.warmup:g} s warm-up, "
        + (f"WS_HEARTBEAT={args.heartbeat}" if args.heartbeat else "WS_HEARTBEAT default")
        + f", uvicorn's --ws-ping-interval {ping:g}"
        + f"; took {time.monotonic() - started:.0f} s"
    )
    print()
    print(table(results))
    for r in results:
        if r.held_kb:
            print()
            print(
                f"KiB per idle socket by holder ({r.target}, tracemalloc), "
                f"{sum(r.held_kb.values()):.1f} in all:"
            )
            for holder, kib in r.held_kb.items():
                print(f"  {kib:5.1f}  {holder}")
    warned = [(r.target, w) for r in results for w in r.warnings]
    if warned:
        print()
        for target, warning in warned:
            print(f"WARNING ({target}): {warning}")
    print()
    print(
        json.dumps(
            {
                "command": command,
                "window_s": args.window,
                "warmup_s": args.warmup,
                "heartbeat_s": args.heartbeat,
                "ws_ping_interval_s": args.ws_ping_interval,
                "runs": [_finite(asdict(r)) for r in results],
            }
        )
    )
    # Exit 1 when the run measured nothing sound; a busy machine only warns.
    ok = all(r.connected == r.sockets and not r.closed and r.heartbeats_per_s > 0 for r in results)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
