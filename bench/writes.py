"""Writes under contention: 1, then 10 people replying at once, as fast as they can.

    python -m bench.writes --seconds 20
    python -m bench.writes --database-url postgresql+asyncpg://...   # scripts/pg-tmp.sh

Starts collab (one uvicorn worker, ``--factory``, a fresh DATA_DIR with the
schema and the demo data; SQLite in it unless ``--database-url`` names
another database, which is migrated and given the demo data too). Each
poster gets a logged-in session of its own, written into the database as a
login would (``collab.sessions.do_start``), for a demo user who may reply
to a demo thread; posters are spread over the users and threads that
allow it.

For each poster count (``--posters 1,10``) every poster replies in a closed
loop (``POST /threads/{id}/reply``, the CSRF token in ``X-CSRF-Token``: the
next reply leaves when the last one is answered) for ``--seconds``. Reported
per count: replies accepted per second, the answer time (p50, p99, max) and
the answers that were not a redirect to the new post, and the server's CPU
time per accepted reply (its background work included: the notification
fan-out, the mailer). A warm-up before the
first count, not measured, compiles the server's statements and templates.

Then the database is read back: every accepted reply (a token in its body)
must be there exactly once, and no refused one may be there at all.

Prints a table, the command, and as its last line one JSON object for
scripts. See docs/performance.md, "Writes under contention".
"""

from __future__ import annotations

import argparse
import asyncio
import re
import secrets
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select

from bench.procs import (
    Server,
    collab_data,
    command_line,
    cpu_seconds,
    free_port,
    print_report,
    uvicorn_argv,
    work_dir,
)
from bench.stats import percentile

BODY = "Risposta di prova {token}: va bene per noi."
TOKEN = re.compile(r"zw[0-9a-f]{12}w")
WARMUP_POSTS = 3  # per poster, before the first measured count


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --- the posters: who may reply where, and their sessions ------------------------------


@dataclass(frozen=True)
class Poster:
    user_id: int
    thread_id: int
    cookie: str
    csrf: str


async def make_posters(database_url: str, count: int) -> list[Poster]:
    """``count`` sessions, spread over the (demo user, thread) pairs where a reply is allowed."""
    from collab.db import Database
    from collab.errors import ActionError
    from collab.forums.actions import check_reply
    from collab.forums.models import Thread
    from collab.models import User
    from collab.sessions import do_start
    from collab.web import CSRF_SESSION_KEY

    db = Database(database_url)
    try:
        pairs: list[tuple[int, int]] = []
        async with db.session() as session:
            users = list(await session.scalars(select(User).where(User.active).order_by(User.id)))
            threads = list(await session.scalars(select(Thread.id).order_by(Thread.id)))
            for user in users:
                for thread_id in threads:
                    try:
                        await check_reply(session, user, thread_id)
                    except ActionError:
                        continue
                    pairs.append((user.id, thread_id))
        if not pairs:
            raise RuntimeError("no demo user may reply to any demo thread")
        # Round-robin over users first, so that ten posters are as many people as possible.
        by_user: dict[int, list[int]] = {}
        for user_id, thread_id in pairs:
            by_user.setdefault(user_id, []).append(thread_id)
        chosen: list[tuple[int, int]] = []
        turn = 0
        while len(chosen) < count:
            for user_id, thread_ids in by_user.items():
                if len(chosen) < count:
                    chosen.append((user_id, thread_ids[turn % len(thread_ids)]))
            turn += 1
        posters = []
        async with db.transaction() as uow:
            for user_id, thread_id in chosen:
                csrf = secrets.token_urlsafe(32)
                cookie = await do_start(
                    uow, user_id, user_agent="bench.writes", ip="127.0.0.1",
                    data={CSRF_SESSION_KEY: csrf},
                )  # fmt: skip
                posters.append(Poster(user_id, thread_id, cookie, csrf))
        return posters
    finally:
        await db.dispose()


async def stored_tokens(database_url: str) -> Counter[str]:
    """How many times each reply token is in the database."""
    from collab.db import Database
    from collab.forums.models import Post

    db = Database(database_url)
    try:
        async with db.session() as session:
            sources = await session.scalars(
                select(Post.source).where(Post.source.like("Risposta di prova zw%"))
            )
            return Counter(m.group(0) for s in sources if (m := TOKEN.search(s)))
    finally:
        await db.dispose()


# --- one count of posters --------------------------------------------------------------


@dataclass
class Run:
    posters: int
    seconds: float
    latencies_ms: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    cpu_s: float = 0.0  # the server process's, over the run

    def summary(self) -> dict[str, Any]:
        values = sorted(self.latencies_ms)

        def pct(q: float) -> float:
            return round(percentile(values, q), 1)

        return {
            "posters": self.posters,
            "posts": len(values),
            "posts_per_s": round(len(values) / self.seconds, 1),
            "p50_ms": pct(0.50),
            "p99_ms": pct(0.99),
            "max_ms": round(values[-1], 1) if values else 0.0,
            "cpu_ms_per_post": round(self.cpu_s * 1000 / len(values), 2) if values else 0.0,
            "errors": sum(self.errors.values()),
            "error_kinds": dict(self.errors),
        }


@dataclass
class Ledger:
    """Every reply sent: the tokens the server accepted, and those it refused."""

    accepted: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)


async def post_one(client: httpx.AsyncClient, poster: Poster, ledger: Ledger) -> tuple[float, str]:
    """One reply; its answer time in ms and "" (accepted) or what went wrong."""
    token = "zw" + secrets.token_hex(6) + "w"
    started = time.perf_counter()
    try:
        response = await client.post(
            f"/threads/{poster.thread_id}/reply",
            data={"body": BODY.format(token=token)},
            headers={"x-csrf-token": poster.csrf},
        )
        outcome = "" if response.status_code == 303 else f"HTTP {response.status_code}"
    except httpx.HTTPError as exc:
        outcome = type(exc).__name__
    elapsed = (time.perf_counter() - started) * 1000
    (ledger.refused if outcome else ledger.accepted).append(token)
    return elapsed, outcome


async def poster_loop(
    client: httpx.AsyncClient, poster: Poster, until: float, run: Run, ledger: Ledger
) -> None:
    while time.perf_counter() < until:
        elapsed, outcome = await post_one(client, poster, ledger)
        if outcome:
            run.errors[outcome] += 1
        else:
            run.latencies_ms.append(elapsed)


async def measure(
    base: str, pid: int, posters: list[Poster], counts: list[int], seconds: float
) -> tuple[list[Run], Ledger]:
    ledger = Ledger()
    clients = [
        httpx.AsyncClient(
            base_url=base, timeout=60, cookies={"collab_session": p.cookie}
        )
        for p in posters
    ]  # fmt: skip
    try:
        # Warm-up, not measured: every poster's first replies (statements
        # compiled, templates loaded, the session rows touched).
        for client, poster in zip(clients, posters, strict=True):
            for _ in range(WARMUP_POSTS):
                _, outcome = await post_one(client, poster, ledger)
                if outcome:
                    raise RuntimeError(f"warm-up reply refused: {outcome}")
        runs = []
        for count in counts:
            run = Run(count, seconds)
            until = time.perf_counter() + seconds
            started, cpu = time.perf_counter(), cpu_seconds(pid)
            await asyncio.gather(
                *(poster_loop(clients[i], posters[i], until, run, ledger) for i in range(count))
            )
            run.seconds = time.perf_counter() - started  # the last answers came after `until`
            run.cpu_s = cpu_seconds(pid) - cpu
            log(f"{count} posters: {run.summary()}")
            runs.append(run)
        return runs, ledger
    finally:
        for client in clients:
            await client.aclose()


# --- the run ---------------------------------------------------------------------------


@dataclass
class Report:
    database: str
    runs: list[Run]
    accepted: int
    missing: int
    twice: int
    refused_stored: int

    def summary(self) -> dict[str, Any]:
        return {
            "database": self.database,
            "runs": {str(r.posters): r.summary() for r in self.runs},
            "accepted": self.accepted,
            "missing": self.missing,
            "twice": self.twice,
            "refused_stored": self.refused_stored,
            "ok": self.missing == 0 and self.twice == 0 and self.refused_stored == 0,
        }


def run(args: argparse.Namespace, path: Path) -> Report:
    counts = [int(n) for n in args.posters.split(",")]
    database_url = args.database_url or f"sqlite+aiosqlite:///{path / 'data' / 'collab.sqlite3'}"
    env = collab_data(path / "data", DATABASE_URL=database_url)
    posters = asyncio.run(make_posters(database_url, max(counts)))
    log(f"{len(posters)} posters, {len({p.user_id for p in posters})} people; starting collab")
    port = free_port()
    argv = uvicorn_argv("collab.app:create_app", port, factory=True)
    server = Server("collab", argv, port, path, env=env)
    try:
        server.wait_http("/healthz")
        runs, ledger = asyncio.run(
            measure(f"http://127.0.0.1:{port}", server.pid, posters, counts, args.seconds)
        )
    except Exception:
        log(server.log_tail())
        raise
    finally:
        server.stop()
    stored = asyncio.run(stored_tokens(database_url))
    return Report(
        database="sqlite" if database_url.startswith("sqlite") else "postgresql",
        runs=runs,
        accepted=len(ledger.accepted),
        missing=sum(1 for t in ledger.accepted if stored[t] == 0),
        twice=sum(1 for t in ledger.accepted if stored[t] > 1),
        refused_stored=sum(1 for t in ledger.refused if stored[t] > 0),
    )


def table(report: Report) -> str:
    lines = [
        f"{'posters':>7} {'posts':>6} {'posts/s':>8} {'p50 ms':>7} {'p99 ms':>7} "
        f"{'max ms':>7} {'errors':>6} {'CPU ms/post':>11}"
    ]
    for r in report.runs:
        s = r.summary()
        lines.append(
            f"{s['posters']:>7} {s['posts']:>6} {s['posts_per_s']:>8} {s['p50_ms']:>7} "
            f"{s['p99_ms']:>7} {s['max_ms']:>7} {s['errors']:>6} {s['cpu_ms_per_post']:>11}"
        )
    lines.append(
        f"database {report.database}: {report.accepted} accepted replies, "
        f"{report.missing} missing, {report.twice} stored twice, "
        f"{report.refused_stored} refused but stored"
    )
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.writes", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--seconds", type=float, default=20.0, help="per poster count (20)")
    parser.add_argument("--posters", default="1,10", help="poster counts, in order (1,10)")
    parser.add_argument(
        "--database-url", default="", help="a database to use instead of SQLite in DATA_DIR"
    )
    parser.add_argument("--quick", action="store_true", help="2 s, 1 and 4 posters: tests")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    args = parser.parse_args(argv)
    if args.quick:
        args.seconds, args.posters = 2.0, "1,4"
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    command = command_line("bench.writes", argv)
    with work_dir("writes", keep=args.keep) as path:
        report = run(args, path)
    return print_report(command, table(report), report.summary())


if __name__ == "__main__":
    sys.exit(main())
