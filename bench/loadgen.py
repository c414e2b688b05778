"""The load generator: N websocket subscribers in their own processes, probes, figures.

``LoadGenerator`` starts ``procs`` worker processes (multiprocessing, spawn);
each opens its share of the N sockets with the ``websockets`` asyncio client
(on uvloop when installed), sends the target's first message (collab's
subscribe), then reads and counts every frame. A *probe* is a post whose text
carries a unique token (:func:`probe_token`); a worker notes the arrival time
of each token on each socket. Times are ``time.monotonic_ns()``, one clock for
every process on the machine, so the poster (the orchestrating process) and
the workers can be compared directly.

Workers also watch themselves: event loop lag (a 10 ms sleep, how late it
wakes) and their CPU time, so that a saturated generator is reported instead
of being mistaken for a slow server.

:func:`measure` drives one run: connect, warm up until every socket receives,
post the probes, wait for delivery, stop; :class:`Result` holds the figures.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import multiprocessing.connection
import os
import re
import resource
import time
from array import array
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from bench.procs import CLK_TCK, cpu_seconds, raise_fd_limit, rss_bytes
from bench.stats import percentile

__all__ = [
    "LoadGenerator",
    "LoadSpec",
    "Result",
    "machine_busy_seconds",
    "measure",
    "probe_token",
    "warm_token",
]

TOKEN_DIGITS = 6
PROBE, WARM = ord("p"), ord("w")
CONTROL_FRAME = re.compile(rb"<template data-([a-z-]+)")
SATURATED_LAG_S = 0.050
SATURATED_CPU = 0.90
FOREIGN_CPU = 0.15  # cores used by others: beyond it a run is not trusted


def probe_token(nonce: str, index: int) -> str:
    """The unique text of probe ``index`` (letters and digits: survives HTML and JSON)."""
    return f"zq{nonce}p{index:0{TOKEN_DIGITS}d}q"


def warm_token(nonce: str, index: int) -> str:
    """A warm-up post's token: proves a socket receives, not counted in the figures."""
    return f"zq{nonce}w{index:0{TOKEN_DIGITS}d}q"


@dataclass(frozen=True)
class LoadSpec:
    """What the workers connect to and how."""

    urls: Sequence[str]  # socket i goes to urls[(i // procs) % len(urls)]
    sockets: int
    probes: int
    nonce: str
    headers: Sequence[tuple[str, str]] = ()  # e.g. the session cookie
    subscribe: str | None = None  # first text the client sends after connecting
    compression: str | None = None  # "deflate" offers permessage-deflate
    procs: int = 2
    connect_concurrency: int = 50
    client: str = "lean"  # or "websockets" (the library's asyncio client)


# ---------------------------------------------------------------------------
# Worker process
# ---------------------------------------------------------------------------


class _Worker:
    def __init__(self, spec: LoadSpec, index: int) -> None:
        self.spec = spec
        self.sids = list(range(index, spec.sockets, spec.procs))
        self.marker = f"zq{spec.nonce}".encode()
        self.sockets: list[Any] = []
        self.readers: list[asyncio.Task[None]] = []
        n = len(self.sids)
        self.got = bytearray(n * spec.probes)  # (local socket, probe) received yet?
        self.warm = bytearray(n)
        self.warm_count = 0
        self.unique = 0
        self.duplicates = 0
        self.frames = 0
        self.kinds: Counter[str] = Counter()  # frames without a token, by kind
        self.other_sample = ""
        self.rec_probe = array("i")
        self.rec_time = array("q")
        self.rec_server = array("b")  # index in spec.urls of the socket's server
        self.server_of = [(sid // spec.procs) % len(spec.urls) for sid in self.sids]
        self.closes: Counter[str] = Counter()
        self.connect_errors: Counter[str] = Counter()
        self.measuring = False
        self.lags: list[float] = []
        self.cpu_samples: list[tuple[int, float]] = []

    async def connect_all(self) -> None:
        spec = self.spec
        gate = asyncio.Semaphore(spec.connect_concurrency)
        lean = spec.client == "lean"

        async def one(local: int, sid: int) -> None:
            url = spec.urls[(sid // spec.procs) % len(spec.urls)]
            async with gate:
                try:
                    if lean:
                        await self._open_lean(url, local)
                    else:
                        await self._open_websockets(url, local)
                except Exception as exc:
                    self.connect_errors[f"{type(exc).__name__}: {exc}"[:200]] += 1

        await asyncio.gather(*(one(local, sid) for local, sid in enumerate(self.sids)))

    async def _open_lean(self, url: str, local: int) -> None:
        from bench import wsclient

        def on_message(data: bytes, t: int) -> None:
            self.message(local, data, t)

        client = await wsclient.connect(
            url,
            on_message,
            time.monotonic_ns,
            headers=self.spec.headers,
            compression=self.spec.compression,
        )
        if self.spec.subscribe is not None:
            client.send_text(self.spec.subscribe)
        self.sockets.append(client)

        async def closed() -> None:
            self.closes[f"closed {await client.closed}"] += 1

        self.readers.append(asyncio.create_task(closed()))

    async def _open_websockets(self, url: str, local: int) -> None:
        from websockets.asyncio.client import connect

        ws = await connect(
            url,
            compression=self.spec.compression,
            additional_headers=list(self.spec.headers),
            ping_interval=None,  # the servers ping; no extra traffic from us
            open_timeout=60,
            max_size=None,
        )
        if self.spec.subscribe is not None:
            await ws.send(self.spec.subscribe)
        self.sockets.append(ws)

        async def read() -> None:
            try:
                async for message in ws:
                    data = message.encode() if isinstance(message, str) else message
                    self.message(local, data, time.monotonic_ns())
            except Exception as exc:
                self.closes[f"error {type(exc).__name__}"] += 1
                return
            self.closes[f"closed {ws.close_code}"] += 1

        self.readers.append(asyncio.create_task(read()))

    def message(self, local: int, data: bytes, t: int) -> None:
        """Count one data message received at ``t`` on local socket ``local``."""
        self.frames += 1
        marker = self.marker
        at = data.find(marker)
        if at < 0:
            # collab's control frames: <template data-heartbeat ...>, data-reset, ...
            match = CONTROL_FRAME.match(data)
            if match:
                self.kinds[match.group(1).decode()] += 1
            else:
                self.kinds["unknown"] += 1
                if not self.other_sample:
                    self.other_sample = data[:300].decode(errors="replace")
            return
        mlen, probes, base = len(marker), self.spec.probes, local * self.spec.probes
        while at >= 0:
            kind = data[at + mlen]
            start = at + mlen + 1
            index = int(data[start : start + TOKEN_DIGITS])
            if kind == PROBE and 0 <= index < probes:
                if self.got[base + index]:
                    self.duplicates += 1
                else:
                    self.got[base + index] = 1
                    self.unique += 1
                    self.rec_probe.append(index)
                    self.rec_time.append(t)
                    self.rec_server.append(self.server_of[local])
            elif kind == WARM and not self.warm[local]:
                self.warm[local] = 1
                self.warm_count += 1
            at = data.find(marker, start)

    async def watch(self) -> None:
        """Event loop lag and CPU samples (kept only while measuring)."""
        interval = 0.010
        last_cpu = 0.0
        while True:
            t0 = time.perf_counter()
            await asyncio.sleep(interval)
            lag = time.perf_counter() - t0 - interval
            if self.measuring:
                self.lags.append(lag)
                now = time.monotonic_ns()
                if not self.cpu_samples or now - self.cpu_samples[-1][0] > 100_000_000:
                    usage = resource.getrusage(resource.RUSAGE_SELF)
                    last_cpu = usage.ru_utime + usage.ru_stime
                    self.cpu_samples.append((now, last_cpu))

    def status(self) -> dict[str, int]:
        return {
            "warm": self.warm_count,
            "unique": self.unique,
            "open": len(self.sockets) - sum(self.closes.values()),
            "heartbeats": self.kinds["heartbeat"],
        }

    async def close_all(self) -> None:
        self.measuring = False
        for ws in self.sockets:
            with contextlib.suppress(Exception):
                if self.spec.client == "lean":
                    ws.close()
                else:
                    await asyncio.wait_for(ws.close(), 2)
        if self.readers:
            await asyncio.wait(self.readers, timeout=5)
        for task in self.readers:
            task.cancel()

    def result(self) -> dict[str, Any]:
        return {
            "connected": len(self.sockets),
            "connect_errors": dict(self.connect_errors),
            "unique": self.unique,
            "duplicates": self.duplicates,
            "frames": self.frames,
            "kinds": dict(self.kinds),
            "other_sample": self.other_sample,
            "rec_probe": self.rec_probe,
            "rec_time": self.rec_time,
            "rec_server": self.rec_server,
            "closes": dict(self.closes),
            "lags": self.lags,
            "cpu_samples": self.cpu_samples,
        }


async def _worker_main(
    spec: LoadSpec, index: int, conn: multiprocessing.connection.Connection
) -> None:
    worker = _Worker(spec, index)
    watcher = asyncio.create_task(worker.watch())
    await worker.connect_all()
    conn.send(("ready", len(worker.sockets), dict(worker.connect_errors)))
    while True:
        command = await asyncio.to_thread(conn.recv)
        if command == "status":
            conn.send(worker.status())
        elif command == "go":
            worker.lags.clear()
            worker.cpu_samples.clear()
            worker.measuring = True
            conn.send("ok")
        elif command == "stop":
            worker.measuring = False
            result = worker.result()
            await worker.close_all()
            watcher.cancel()
            conn.send(result)
            return


def _worker_entry(spec: LoadSpec, index: int, conn: multiprocessing.connection.Connection) -> None:
    raise_fd_limit()
    try:
        import uvloop

        uvloop.run(_worker_main(spec, index, conn))
    except ImportError:
        asyncio.run(_worker_main(spec, index, conn))


# ---------------------------------------------------------------------------
# Coordinator side
# ---------------------------------------------------------------------------


class LoadGenerator:
    """The worker processes of one run."""

    def __init__(self, spec: LoadSpec) -> None:
        self.spec = spec
        ctx = multiprocessing.get_context("spawn")
        self.conns: list[multiprocessing.connection.Connection] = []
        self.procs: list[Any] = []
        for index in range(spec.procs):
            parent, child = ctx.Pipe()
            proc = ctx.Process(
                target=_worker_entry, args=(spec, index, child), name=f"loadgen-{index}"
            )
            proc.start()
            child.close()
            self.conns.append(parent)
            self.procs.append(proc)
        self.connected = 0
        self.connect_errors: Counter[str] = Counter()

    def _recv(self, conn: multiprocessing.connection.Connection, timeout: float) -> Any:
        if not conn.poll(timeout):
            raise TimeoutError("load generator worker did not answer")
        return conn.recv()

    def wait_ready(self, timeout: float = 180.0) -> int:
        for conn in self.conns:
            _, connected, errors = self._recv(conn, timeout)
            self.connected += connected
            self.connect_errors.update(errors)
        return self.connected

    def status(self) -> dict[str, int]:
        total: Counter[str] = Counter()
        for conn in self.conns:
            conn.send("status")
        for conn in self.conns:
            total.update(self._recv(conn, 30))
        return dict(total)

    def go(self) -> None:
        for conn in self.conns:
            conn.send("go")
        for conn in self.conns:
            self._recv(conn, 30)

    def stop(self) -> list[dict[str, Any]]:
        for conn in self.conns:
            conn.send("stop")
        results = [self._recv(conn, 60) for conn in self.conns]
        self.join()
        return results

    def join(self) -> None:
        for proc in self.procs:
            proc.join(10)
            if proc.is_alive():
                proc.kill()
                proc.join(5)


def _or0(value: float) -> float:
    return 0.0 if value != value else value


def _quantile(values: Sequence[float], q: float) -> float:
    return percentile(values, q, empty=float("nan"))


@dataclass
class Result:
    """The figures of one run (times in ms)."""

    name: str
    compression: str | None
    sockets: int
    probes: int
    round: int = 1  # with --rounds, which round of the targets this run was
    connected: int = 0
    delivered: int = 0
    expected: int = 0
    lost: int = 0
    duplicates: int = 0
    deliveries_per_s: float = 0.0
    p50_ms: float = float("nan")
    p99_ms: float = float("nan")
    p99_last_ms: float = float("nan")
    max_last_ms: float = float("nan")
    post_p50_ms: float = float("nan")
    rss_per_socket_kb: float = float("nan")
    server_cpu: float = float("nan")  # cores used by the server(s) while delivering
    aux_cpu: float = float("nan")  # cores used by Redis (NaN: no Redis)
    server_cpus: list[float] = field(default_factory=list)  # each server process
    foreign_cpu: float = float("nan")  # cores used by processes not of this benchmark
    machine_cpu: float = float("nan")  # cores busy on the whole machine
    loadgen_cpu: float = float("nan")  # cores used by all load generator workers
    loadgen_cpu_max: float = float("nan")  # busiest worker, fraction of one core
    loadgen_lag_p99_ms: float = float("nan")
    loadgen_lag_max_ms: float = float("nan")
    duration_s: float = 0.0
    frame_bytes: int = 0
    frames: int = 0
    # server index -> (deliveries, p50 ms, p99 ms), when sockets are spread over servers
    per_server: dict[int, tuple[int, float, float]] = field(default_factory=dict)
    kinds: dict[str, int] = field(default_factory=dict)  # frames without a probe, by kind
    closes: dict[str, int] = field(default_factory=dict)
    connect_errors: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    @property
    def saturated(self) -> bool:
        return (
            self.loadgen_lag_p99_ms > SATURATED_LAG_S * 1000 or self.loadgen_cpu_max > SATURATED_CPU
        )


Poster = Callable[[str], Awaitable[None]]


def machine_busy_seconds() -> float:
    """CPU seconds all CPUs of the machine spent busy so far (from /proc/stat)."""
    fields = [int(x) for x in open("/proc/stat").readline().split()[1:]]  # noqa: SIM115
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return (sum(fields[:8]) - idle) / CLK_TCK


class Sampler:
    """CPU of the server processes, of Redis, of the whole benchmark and of the machine."""

    def __init__(
        self, server_pids: Sequence[int], aux_pids: Sequence[int], own_pids: Sequence[int]
    ):
        self.groups = {
            **{f"server{i}": [pid] for i, pid in enumerate(server_pids)},
            "server": list(server_pids),
            "aux": list(aux_pids),
            "ours": [*server_pids, *aux_pids, *own_pids, os.getpid()],
        }
        self.samples: dict[str, list[tuple[int, float]]] = {
            k: [] for k in (*self.groups, "machine")
        }

    def sample(self) -> None:
        now = time.monotonic_ns()
        for name, pids in self.groups.items():
            total = 0.0
            for pid in pids:
                with contextlib.suppress(OSError):
                    total += cpu_seconds(pid)
            self.samples[name].append((now, total))
        self.samples["machine"].append((now, machine_busy_seconds()))

    def cores(self, name: str, start: int, end: int) -> float:
        return _cpu_between(self.samples[name], start, end)


def _cpu_between(samples: Sequence[tuple[int, float]], start: int, end: int) -> float:
    """CPU (fraction of one core) between two monotonic_ns times, from (time, cpu) samples."""
    inside = [s for s in samples if start <= s[0] <= end]
    if len(inside) < 2:
        inside = list(samples[:1]) + list(samples[-1:])
    if len(inside) < 2 or inside[-1][0] == inside[0][0]:
        return float("nan")
    return (inside[-1][1] - inside[0][1]) / ((inside[-1][0] - inside[0][0]) / 1e9)


async def measure(
    name: str,
    spec: LoadSpec,
    post: Poster,
    server_pids: Sequence[int],
    *,
    aux_pids: Sequence[int] = (),
    rate: float | None = None,
    frame_bytes: int = 0,
    idle_timeout: float = 15.0,
    log: Callable[[str], None] = print,
    window: Callable[[bool], None] | None = None,
) -> Result:
    """One run against a started target: connect, warm up, post the probes, collect."""
    result = Result(name, spec.compression, spec.sockets, spec.probes, frame_bytes=frame_bytes)
    rss_before = sum(rss_bytes(pid) for pid in server_pids)
    gen = LoadGenerator(spec)
    try:
        t_connect = time.monotonic()
        result.connected = await asyncio.to_thread(gen.wait_ready)
        result.connect_errors = dict(gen.connect_errors)
        log(
            f"  {result.connected}/{spec.sockets} sockets open "
            f"in {time.monotonic() - t_connect:.1f} s"
        )
        if result.connected == 0:
            result.warnings.append(f"no socket connected: {dict(gen.connect_errors)}")
            result.expected = result.lost = spec.sockets * spec.probes
            gen.stop()
            return result
        # Warm-up: post until every socket has received one (subscriptions are live).
        warm_ok = False
        for k in range(30):
            await post(warm_token(spec.nonce, k))
            deadline = time.monotonic() + 2.0
            while time.monotonic() < deadline:
                status = gen.status()
                if status["warm"] >= result.connected:
                    warm_ok = True
                    break
                await asyncio.sleep(0.05)
            if warm_ok:
                break
        if not warm_ok:
            result.warnings.append(
                f"warm-up: only {gen.status()['warm']}/{result.connected} sockets received"
            )
        await asyncio.sleep(0.5)  # let the warm-up's writes drain
        rss_after = sum(rss_bytes(pid) for pid in server_pids)
        result.rss_per_socket_kb = (rss_after - rss_before) / 1024 / max(1, result.connected)

        gen.go()
        if window:
            window(True)  # the measured window starts (e.g. a profiler attaches)
        sampler = Sampler(server_pids, aux_pids, [p.pid for p in gen.procs])
        sample_servers = sampler.sample
        sample_servers()
        post_times = array("q", [0] * spec.probes)
        post_durations: list[float] = []
        interval = 1.0 / rate if rate else 0.0
        start = time.monotonic()
        for index in range(spec.probes):
            if interval:
                delay = start + index * interval - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
            t0 = time.monotonic_ns()
            post_times[index] = t0
            await post(probe_token(spec.nonce, index))
            post_durations.append((time.monotonic_ns() - t0) / 1e6)
            if index % 10 == 0:
                sample_servers()
        sample_servers()
        result.expected = spec.sockets * spec.probes  # a socket that failed to open lost all
        last_count, last_progress = -1, time.monotonic()
        while True:
            status = gen.status()
            sample_servers()
            if status["unique"] >= result.connected * spec.probes:
                break
            if status["unique"] != last_count:
                last_count, last_progress = status["unique"], time.monotonic()
            elif time.monotonic() - last_progress > idle_timeout:
                result.warnings.append(
                    f"gave up waiting: no delivery for {idle_timeout:.0f} s "
                    f"({status['unique']}/{result.expected}, {status['open']} sockets open)"
                )
                break
            await asyncio.sleep(0.05)
        if window:
            window(False)
        results = gen.stop()
    finally:
        gen.join()

    _summarize(result, results, post_times, post_durations, sampler)
    return result


def _summarize(
    result: Result,
    results: list[dict[str, Any]],
    post_times: array[int],
    post_durations: list[float],
    sampler: Sampler,
) -> None:
    latencies: list[float] = []
    by_server: dict[int, list[float]] = {}
    last_arrival = [0] * result.probes
    closes: Counter[str] = Counter()
    for r in results:
        for index, t, server in zip(r["rec_probe"], r["rec_time"], r["rec_server"], strict=True):
            latency = (t - post_times[index]) / 1e6
            latencies.append(latency)
            by_server.setdefault(server, []).append(latency)
            last_arrival[index] = max(last_arrival[index], t)
        result.duplicates += r["duplicates"]
        result.frames += r["frames"]
        for kind, count in r["kinds"].items():
            result.kinds[kind] = result.kinds.get(kind, 0) + count
        closes.update(r["closes"])
        if r["other_sample"]:
            result.warnings.append(f"unexpected frame: {r['other_sample'][:120]!r}")
    result.closes = {k: v for k, v in closes.items() if not k.startswith("closed 1000")}
    result.delivered = len(latencies)
    result.lost = result.expected - result.delivered
    latencies.sort()
    if len(by_server) > 1:
        for server, values in sorted(by_server.items()):
            values.sort()
            result.per_server[server] = (
                len(values),
                _quantile(values, 0.50),
                _quantile(values, 0.99),
            )
    result.p50_ms = _quantile(latencies, 0.50)
    result.p99_ms = _quantile(latencies, 0.99)
    to_last = sorted(
        (last_arrival[i] - post_times[i]) / 1e6 for i in range(result.probes) if last_arrival[i]
    )
    result.p99_last_ms = _quantile(to_last, 0.99)
    result.max_last_ms = to_last[-1] if to_last else float("nan")
    result.post_p50_ms = _quantile(sorted(post_durations), 0.50)
    first_post, end = post_times[0], max(last_arrival, default=0)
    if end > first_post:
        result.duration_s = (end - first_post) / 1e9
        result.deliveries_per_s = result.delivered / result.duration_s
        result.server_cpu = sampler.cores("server", first_post, end)
        if sampler.groups["aux"]:
            result.aux_cpu = sampler.cores("aux", first_post, end)
        result.foreign_cpu = sampler.cores("machine", first_post, end) - sampler.cores(
            "ours", first_post, end
        )
        result.machine_cpu = sampler.cores("machine", first_post, end)
        result.server_cpus = [
            sampler.cores(f"server{i}", first_post, end) for i in range(len(sampler.groups) - 3)
        ]
        cpus = [_cpu_between(r["cpu_samples"], first_post, end) for r in results]
        result.loadgen_cpu_max = max((c for c in cpus if c == c), default=float("nan"))
        result.loadgen_cpu = sum(c for c in cpus if c == c)
    lags = sorted(lag for r in results for lag in r["lags"])
    result.loadgen_lag_p99_ms = _quantile(lags, 0.99) * 1000
    result.loadgen_lag_max_ms = (lags[-1] if lags else float("nan")) * 1000
    if result.saturated:
        cores = os.cpu_count() or 1
        why = (
            f"a worker used {result.loadgen_cpu_max:.0%} of a core"
            if result.loadgen_cpu_max > SATURATED_CPU
            else f"its event loop lagged (p99 {result.loadgen_lag_p99_ms:.0f} ms)"
        )
        result.warnings.append(
            f"LOAD GENERATOR SATURATED: {why}; machine: {result.machine_cpu:.2f} of {cores} "
            f"cores busy (server {result.server_cpu:.2f}, Redis {_or0(result.aux_cpu):.2f}, "
            f"load generator {result.loadgen_cpu:.2f}, others {result.foreign_cpu:.2f}). "
            "Arrival times may be late by up to the lag; deliveries/s is a floor."
        )
    if result.foreign_cpu > FOREIGN_CPU:
        result.warnings.append(
            f"OTHER PROCESSES used {result.foreign_cpu:.2f} cores during the run: "
            "the machine was not quiet, the figures are unreliable"
        )
    if result.lost:
        result.warnings.append(f"{result.lost} of {result.expected} deliveries lost")
    if result.closes:
        result.warnings.append(f"sockets closed early: {result.closes}")
    if result.kinds.get("reset"):
        result.warnings.append(f"{result.kinds['reset']} reset frames (the page would reload)")
    if result.connect_errors:
        result.warnings.append(f"connect errors: {result.connect_errors}")
