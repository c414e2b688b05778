"""Login benchmark: does checking passwords stall the other users of a worker?

    python -m bench.login --rate 10 --seconds 20

Starts collab (one uvicorn process, ``--factory``, a fresh DATA_DIR with the
schema and the demo data) three times, one after the other, and in each run
measures for ``--seconds``, while the load below goes on:

- ``/healthz`` latency: one client asking every 20 ms (p50, p99, max);
- websocket delivery: a demo user's socket subscribed to a thread, another
  user posting a reply every 250 ms; the time from sending the post to the
  frame that carries it (p50, p99, max);
- and, in two of the runs, ``--rate`` logins a second with valid credentials
  (the demo users in turn, each a fresh client: GET /login, POST /login).

The three runs: ``idle`` (no logins), ``pool`` (logins; argon2 in collab's
hashing pool, as shipped) and ``inline`` (logins; the pool replaced by an
executor that runs each check on the event loop, as before the fix: the
factory :func:`inline_app`, used only here). Prints the command, a table and,
as its last line, one JSON object for scripts. See docs/performance.md,
"Logins".
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import contextlib
import json
import multiprocessing
import os
import secrets
import shlex
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import httpx
from starlette.applications import Starlette

from bench.fanout import CSRF_RE, POSTER, SUBSCRIBER, _login, _new_thread
from bench.procs import ROOT, Server, collab_data, free_port, uvicorn_argv
from bench.stats import percentile

DEMO_PASSWORD = "collab-demo"  # noqa: S105 - collab/demo.py, public demo data
# Who logs in, in turn (collab/demo.py): a valid e-mail and password each time.
LOGINS = [
    "admin@demo.collab.it",
    "staff@demo.collab.it",
    "sindaco.susa@demo.collab.it",
    "tecnico.ivrea@demo.collab.it",
    "portavoce.pinerolese@demo.collab.it",
]
HEALTH_EVERY = 0.020
POST_EVERY = 0.250
MODES = ("idle", "pool", "inline")


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --- the "before": argon2 on the event loop -------------------------------------


class _InlineExecutor(concurrent.futures.Executor):
    """Runs what it is given at once, in the caller's thread: the event loop's."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        future: concurrent.futures.Future[Any] = concurrent.futures.Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as exc:
            future.set_exception(exc)
        return future


def inline_app() -> Starlette:
    """collab as before the fix: every hash and check runs on the event loop."""
    from collab.accounts import passwords
    from collab.app import create_app

    app = create_app()
    inline = _InlineExecutor()
    passwords._executor = lambda: inline  # type: ignore[assignment,return-value]
    return app


# --- measuring ------------------------------------------------------------------


def _quantile(values: list[float], q: float) -> float:
    return percentile(values, q, empty=float("nan"))


def _figures(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"p50_ms": None, "p99_ms": None, "max_ms": None}
    return {
        "p50_ms": round(_quantile(values, 0.50) * 1000, 1),
        "p99_ms": round(_quantile(values, 0.99) * 1000, 1),
        "max_ms": round(max(values) * 1000, 1),
    }


@dataclass
class RunResult:
    mode: str
    seconds: float = 0.0
    health: list[float] = field(default_factory=list)
    delivery: list[float] = field(default_factory=list)
    logins: list[float] = field(default_factory=list)
    login_errors: int = 0
    posts_lost: int = 0

    def summary(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "healthz": {**_figures(self.health), "n": len(self.health)},
            "ws_delivery": {**_figures(self.delivery), "n": len(self.delivery)},
            "logins": {**_figures(self.logins), "n": len(self.logins)},
            "logins_per_s": round(len(self.logins) / self.seconds, 1) if self.seconds else 0,
            "login_errors": self.login_errors,
            "posts_lost": self.posts_lost,
        }


async def _health_loop(base: str, until: float, out: list[float]) -> None:
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        while time.monotonic() < until:
            started = time.perf_counter()
            response = await client.get("/healthz")
            if response.status_code == 200:
                out.append(time.perf_counter() - started)
            await asyncio.sleep(HEALTH_EVERY)


async def _one_login(
    clients: asyncio.Queue[httpx.AsyncClient], email: str, result: RunResult
) -> None:
    started = time.perf_counter()
    client = await clients.get()
    client.cookies.clear()  # a fresh visitor each time
    try:
        page = await client.get("/login")
        match = CSRF_RE.search(page.text)
        if match is None:
            raise RuntimeError(f"no csrf_token on /login (HTTP {page.status_code})")
        response = await client.post(
            "/login",
            data={"email": email, "password": DEMO_PASSWORD, "csrf_token": match.group(1)},
        )
        if response.status_code != 303:
            raise RuntimeError(f"HTTP {response.status_code}")
        result.logins.append(time.perf_counter() - started)
    except Exception as exc:
        result.login_errors += 1
        if result.login_errors == 1:
            log(f"  a login failed: {exc!r}")
    finally:
        clients.put_nowait(client)


async def _login_loop(base: str, rate: float, seconds: float, conn: Connection) -> None:
    """``rate`` logins a second for ``seconds``, after telling ``conn`` it is ready."""
    # Clients made beforehand: making one (its SSL context) costs milliseconds
    # of this loop, which must keep its pace.
    clients: asyncio.Queue[httpx.AsyncClient] = asyncio.Queue()
    for _ in range(int(rate * 30) + 10):
        clients.put_nowait(httpx.AsyncClient(base_url=base, timeout=120))
    result = RunResult("logins", seconds=seconds)
    conn.send("ready")
    await asyncio.get_running_loop().run_in_executor(None, conn.recv)  # "go"
    pending: set[asyncio.Task[None]] = set()
    start = time.monotonic()
    n = 0
    while time.monotonic() < start + seconds:
        task = asyncio.create_task(_one_login(clients, LOGINS[n % len(LOGINS)], result))
        pending.add(task)
        task.add_done_callback(pending.discard)
        n += 1
        await asyncio.sleep(max(0.0, start + n / rate - time.monotonic()))
    if pending:
        await asyncio.wait(pending, timeout=120)
    conn.send((result.logins, result.login_errors))
    while not clients.empty():
        await clients.get_nowait().aclose()


def _login_process(base: str, rate: float, seconds: float, conn: Connection) -> None:
    asyncio.run(_login_loop(base, rate, seconds, conn))


@dataclass
class Subscriber:
    """A socket subscribed to a thread, and a writer logged in to reply there."""

    writer: httpx.AsyncClient
    csrf: str
    thread_id: int
    ws: Any
    sent: dict[str, float] = field(default_factory=dict)


@contextlib.asynccontextmanager
async def subscriber(base: str, port: int) -> AsyncIterator[Subscriber]:
    from websockets.asyncio.client import connect

    async with (
        httpx.AsyncClient(base_url=base, timeout=60) as reader,
        httpx.AsyncClient(base_url=base, timeout=60) as writer,
    ):
        await _login(reader, SUBSCRIBER)
        csrf = await _login(writer, POSTER)
        thread_id = await _new_thread(writer, csrf)
        cookies = "; ".join(f"{k}={v}" for k, v in reader.cookies.items())
        url = f"ws://127.0.0.1:{port}/ws"
        async with connect(url, additional_headers=[("Cookie", cookies)]) as ws:
            # From seq 0, not "from now on" (None): the first reply may commit
            # before the server has taken the subscription, and is replayed.
            topics = {f"thread:{thread_id}": 0}
            await ws.send(json.dumps({"type": "subscribe", "topics": topics}))
            yield Subscriber(writer, csrf, thread_id, ws)


async def _delivery_loop(sub: Subscriber, until: float, result: RunResult) -> None:
    async def receive() -> None:
        async for frame in sub.ws:
            text = frame if isinstance(frame, str) else frame.decode()
            at = time.perf_counter()
            for token in [t for t in sub.sent if t in text]:
                result.delivery.append(at - sub.sent.pop(token))

    receiver = asyncio.create_task(receive())
    try:
        while time.monotonic() < until:
            token = "zq" + secrets.token_hex(5) + "q"
            sub.sent[token] = time.perf_counter()
            response = await sub.writer.post(
                f"/threads/{sub.thread_id}/reply",
                data={"body": f"Messaggio di prova {token}", "csrf_token": sub.csrf},
            )
            if response.status_code >= 400:
                raise RuntimeError(f"reply failed: HTTP {response.status_code}")
            await asyncio.sleep(POST_EVERY)
        for _ in range(200):  # up to 10 s for the last frames
            if not sub.sent:
                break
            await asyncio.sleep(0.05)
        result.posts_lost = len(sub.sent)
    finally:
        receiver.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await receiver


async def measure(base: str, port: int, mode: str, rate: float, seconds: float) -> RunResult:
    """The probes run here; the logins in a process of their own, so that their
    client-side work does not delay the probes' own event loop."""
    result = RunResult(mode, seconds=seconds)
    loop = asyncio.get_running_loop()
    async with httpx.AsyncClient(base_url=base, timeout=60) as warm:
        # Warm-up: templates compiled, the hashing pool's threads started.
        clients: asyncio.Queue[httpx.AsyncClient] = asyncio.Queue()
        clients.put_nowait(warm)
        for _ in range(2):
            await _one_login(clients, LOGINS[0], RunResult("warm"))
    ours, theirs = multiprocessing.get_context("spawn").Pipe()
    logins = None
    if mode != "idle":
        logins = multiprocessing.get_context("spawn").Process(
            target=_login_process, args=(base, rate, seconds, theirs), daemon=True
        )
        logins.start()
        await loop.run_in_executor(None, ours.recv)  # "ready"
    try:
        async with subscriber(base, port) as sub:
            if logins is not None:
                ours.send("go")
            until = time.monotonic() + seconds
            await asyncio.gather(
                _health_loop(base, until, result.health), _delivery_loop(sub, until, result)
            )
        if logins is not None:
            result.logins, result.login_errors = await loop.run_in_executor(None, ours.recv)
    finally:
        if logins is not None:
            logins.join(5)
            if logins.is_alive():
                logins.kill()
    return result


def run_mode(mode: str, args: argparse.Namespace, workdir: Path) -> RunResult:
    env = collab_data(
        workdir / f"data-{mode}",
        PASSWORD_HASH_THREADS=str(args.threads),
        # Every login comes from 127.0.0.1, for a few accounts, many at once:
        # the throttle (which counts attempts still being checked) stays out of
        # the way, this measures the event loop.
        LOGIN_MAX_FAILURES_ACCOUNT="100000",
        LOGIN_MAX_FAILURES_IP="100000",
    )
    port = free_port()
    app = "bench.login:inline_app" if mode == "inline" else "collab.app:create_app"
    argv = [*uvicorn_argv(app, port, factory=True), "--ws-per-message-deflate", "false"]
    server = Server(f"collab-{mode}", argv, port, workdir, env=env, cwd=ROOT)
    try:
        server.wait_http("/healthz")
        log(f"{mode}: measuring for {args.seconds:g} s")
        base = f"http://127.0.0.1:{port}"
        return asyncio.run(measure(base, port, mode, args.rate, args.seconds))
    except Exception:
        log(server.log_tail())
        raise
    finally:
        server.stop()


def table(results: list[RunResult]) -> str:
    lines = [
        f"{'run':<8} {'logins/s':>8} {'healthz p50/p99/max ms':>24} "
        f"{'ws delivery p50/p99/max ms':>28} {'login p50/p99 ms':>18} {'errors':>6}"
    ]

    def ms(figures: dict[str, Any], *keys: str) -> str:
        return "/".join("-" if figures[k] is None else f"{figures[k]:g}" for k in keys)

    every = ("p50_ms", "p99_ms", "max_ms")
    for r in results:
        s = r.summary()
        lines.append(
            f"{r.mode:<8} {s['logins_per_s']:>8g} {ms(s['healthz'], *every):>24} "
            f"{ms(s['ws_delivery'], *every):>28} {ms(s['logins'], 'p50_ms', 'p99_ms'):>18} "
            f"{r.login_errors + r.posts_lost:>6}"
        )
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.login", description=__doc__)
    parser.add_argument("--rate", type=float, default=10.0, help="logins a second (default 10)")
    parser.add_argument("--seconds", type=float, default=20.0, help="each run's length")
    parser.add_argument(
        "--threads", type=int, default=1, help="PASSWORD_HASH_THREADS of the server (default 1)"
    )
    parser.add_argument("--modes", default=",".join(MODES), help="runs, in order")
    parser.add_argument("--quick", action="store_true", help="short runs: a smoke test")
    args = parser.parse_args(argv)
    if args.quick:
        args.seconds, args.rate = 3.0, 2.0
    args.modes = [m for m in args.modes.split(",") if m]
    if not set(args.modes) <= set(MODES):
        parser.error(f"--modes: choose among {', '.join(MODES)}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # Stopped from outside (a timeout): end the server on the way out.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    command = "python -m bench.login " + shlex.join(sys.argv[1:] if argv is None else argv)
    workdir = Path(tempfile.mkdtemp(prefix="collab-bench-login-"))
    try:
        results = [run_mode(mode, args, workdir) for mode in args.modes]
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print()
    print(f"command: {command.strip()}")
    print(f"machine: {os.cpu_count()} CPUs, Python {sys.version.split()[0]}")
    print(f"{args.rate:g} logins/s with valid credentials, {args.seconds:g} s a run")
    print()
    print(table(results))
    # The "before" may fail logins (a stalled loop times out the database): shown, not fatal.
    ok = all(
        r.posts_lost == 0 and r.delivery and (r.login_errors == 0 or r.mode == "inline")
        for r in results
    )
    print(
        json.dumps(
            {
                "ok": ok,
                "rate": args.rate,
                "seconds": args.seconds,
                "threads": args.threads,
                "runs": {r.mode: r.summary() for r in results},
            }
        )
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
