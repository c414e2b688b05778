"""Pages benchmark: every page type on the big dataset, as a mayor and as staff.

    python -m bench.pages [--data-dir DIR] [--rounds 30]

On the dataset of ``bench/dataset.py`` (built first in a temporary
directory, or the one given with ``--data-dir``), starts one collab worker
pinned to one core (the benchmark itself runs on the others), logs in a mayor
of the first zone and a member of staff (sessions written as a login writes
them), and requests every page type the site has (the list of
``tests/browser/pages.py``, with the dataset's heaviest instances: the
5,000-post thread on its first and last page, the consultation with 300
contributions) and the JSON API's lists.

After a warm-up (``--warmup`` requests of each page: templates compiled,
statements cached), ``--rounds`` rounds request every page once each, one
request at a time, in a shuffled order each round, so a pause of the server
(a garbage collection) falls on any page. Reports per page and role: p50, p99
and max of the time to the whole answer, and its size; it flags the pages
whose p99 is over p50 + 10 ms. The server's collector is watched
(``bench/gcprobe.py``): collections of each generation during the rounds,
their total and longest pause.

Prints a table, the command, and as its last line one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import signal
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select

from bench import dataset
from bench.gcprobe import FACTORY, read_log, summarize
from bench.procs import Server, command_line, free_port, print_report, uvicorn_argv, work_dir
from bench.stats import percentile

SLACK_MS = 10.0  # the goal: p99 within p50 + 10 ms
PUBLIC_LINK = "/m/"  # a meeting's public page: rate-limited per client address
PAGE_LINK = re.compile(r"[?&]page=(\d+)")


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@dataclass
class Page:
    name: str
    role: str
    url: str
    times: list[float] = field(default_factory=list)
    size: int = 0
    status: int = 0
    refused: int = 0  # measured answers other than 200

    def summary(self) -> dict[str, Any]:
        p50, p99 = statistics.median(self.times), percentile(self.times, 0.99)
        return {
            "page": self.name, "role": self.role, "url": self.url, "status": self.status,
            "p50_ms": round(p50, 1), "p99_ms": round(p99, 1),
            "max_ms": round(max(self.times), 1), "bytes": self.size,
            "slow_tail": p99 > p50 + SLACK_MS, "refused": self.refused,
        }  # fmt: skip


async def _facts(database_url: str, ids: dict[str, Any]) -> dict[str, Any]:
    """What the URLs need, read from the dataset."""
    from collab.consultations.models import Contribution
    from collab.db import Database
    from collab.documents.models import Document
    from collab.forums.models import Thread
    from collab.meetings.models import Meeting
    from collab.models import Theme
    from collab.sessions import do_start

    db = Database(database_url)
    try:
        async with db.session() as s:
            big = ids["big_consultation"]
            contribution = await s.scalar(
                select(Contribution.id).where(Contribution.consultation_id == big).limit(1)
            )
            document = await s.scalar(select(Document).order_by(Document.id).limit(1))
            library_theme = await s.get(Theme, document.theme_id) if document else None
            themes = {t.slug: t for t in await s.scalars(select(Theme))}
            live_token = await s.scalar(
                select(Meeting.public_token).where(Meeting.id == ids["meeting_live"])
            )
            theme_id = await s.scalar(select(Thread.theme_id).where(Thread.id == ids["big_thread"]))
            board_theme = next(slug for slug, t in themes.items() if t.id == theme_id)
        async with db.transaction() as uow:
            cookies = {
                role: await do_start(uow, uid, user_agent="bench.pages", ip="127.0.0.1", data={})
                for role, uid in (("sindaco", ids["mayor"]), ("staff", ids["staff"]))
            }
    finally:
        await db.dispose()
    metro = next(slug for slug in themes if slug.startswith("psm-"))
    return {
        "contribution": contribution, "document": document.id if document else None,
        "library_theme": library_theme.slug if library_theme else None,
        "theme": board_theme, "metro_theme": metro, "live_token": live_token,
        "cookies": cookies,
    }  # fmt: skip


def page_list(ids: dict[str, Any], facts: dict[str, Any]) -> list[tuple[str, str, tuple[str, ...]]]:
    """(name, url, roles): the page types of tests/browser/pages.py, on this dataset."""
    both = ("sindaco", "staff")
    zone, thread = ids["zone"], ids["big_thread"]
    consultation, meeting = ids["big_consultation"], ids["meeting_published"]
    pages = [
        ("home", "/", both),
        ("zone", f"/zones/{zone}", both),
        ("board", f"/zones/{zone}/{facts['theme']}", both),
        ("metro", "/metro", both),
        ("metro-board", f"/metro/{facts['metro_theme']}", both),
        ("thread-first", f"/threads/{thread}", both),
        ("thread-last", f"/threads/{thread}?page=LAST", both),
        ("new-thread", f"/zones/{zone}/{facts['theme']}/new", both),
        ("person", f"/people/{ids['mayor']}", both),
        ("consultations", "/consultations", both),
        ("consultation-300", f"/consultations/{consultation}", both),
        ("contribution", f"/contributions/{facts['contribution']}", both),
        ("receipt", f"/contributions/{facts['contribution']}/receipt", both),
        ("meetings", "/meetings", both),
        ("room-convened", f"/meetings/{ids['meeting_convened']}", both),
        ("room-live", f"/meetings/{ids['meeting_live']}", both),
        ("room-closed", f"/meetings/{meeting}", both),
        ("verbale", f"/meetings/{meeting}/verbale", both),
        ("public-room", f"/m/{facts['live_token']}", both),
        ("public-zone", f"/public/zones/{zone}", both),
        ("library", "/library", both),
        ("notifications", "/notifications", both),
        ("notification-settings", "/account/notifications", both),
        ("account-password", "/account/password", both),
        ("account-sessions", "/account/sessions", both),
        ("account-calendar", "/account/calendar", both),
        ("api-consultations", "/api/v1/consultations", both),
        ("api-contributions", f"/api/v1/consultations/{consultation}/contributions", both),
        ("consultation-new", "/consultations/new", ("staff",)),
        ("convene", "/meetings/new", ("staff",)),
    ]
    if facts["library_theme"]:
        pages.append(("library-theme", f"/library/{facts['library_theme']}", both))
        pages.append(("document", f"/documents/{facts['document']}", both))
    return pages


async def _last_page(client: httpx.AsyncClient, url: str) -> str:
    """The thread's last page, as its page 1 links to it (whatever the page size)."""
    first = await client.get(url.split("?")[0])
    numbers = [int(n) for n in PAGE_LINK.findall(first.text)]
    return url.replace("LAST", str(max(numbers, default=1)))


async def measure(args: argparse.Namespace, base: str, manifest: dict[str, Any], server: Server,
                  gc_log: Path) -> dict[str, Any]:  # fmt: skip
    ids = manifest["ids"]
    facts = await _facts(manifest["env"]["DATABASE_URL"], ids)
    pages: list[Page] = []
    clients = {
        role: httpx.AsyncClient(
            base_url=base, cookies={"collab_session": cookie}, timeout=60, follow_redirects=False
        )
        for role, cookie in facts["cookies"].items()
    }
    try:
        for name, url, roles in page_list(ids, facts):
            for role in roles:
                if "LAST" in url:
                    url = await _last_page(clients[role], url)
                pages.append(Page(name, role, url))
        for _ in range(args.warmup):
            for page in pages:
                response = await clients[page.role].get(page.url)
                page.status, page.size = response.status_code, len(response.content)
        bad = [(p.name, p.role, p.status) for p in pages if p.status != 200]
        if bad:
            raise RuntimeError(f"pages that did not answer 200: {bad}")
        if args.freeze_after_warmup:
            os.kill(server.pid, signal.SIGUSR1)
            await asyncio.sleep(1.0)
        _, offset = read_log(gc_log)
        rng = random.Random(15)
        started = time.perf_counter()
        visitors = 0
        for n in range(args.rounds):
            order = list(pages)
            rng.shuffle(order)
            for page in order:
                headers = {}
                if page.url.startswith(PUBLIC_LINK):
                    # A public link is opened by many people, each under the
                    # per-address limit (collab.ratelimit): one address each.
                    visitors += 1
                    a, b, c = visitors >> 16 & 255, visitors >> 8 & 255, visitors & 255
                    headers["X-Forwarded-For"] = f"10.{a}.{b}.{c}"
                t0 = time.perf_counter()
                response = await clients[page.role].get(page.url, headers=headers)
                page.times.append((time.perf_counter() - t0) * 1000)
                page.status = response.status_code
                page.refused += response.status_code != 200
            log(f"round {n + 1} of {args.rounds}")
        elapsed = time.perf_counter() - started
        await asyncio.sleep(0.2)
        collections, _ = read_log(gc_log, offset)
    finally:
        for client in clients.values():
            await client.aclose()
    rows = [p.summary() for p in pages]
    return {
        "pages": rows,
        "requests": sum(len(p.times) for p in pages),
        "seconds": round(elapsed, 1),
        "gc": summarize(collections),
        "slow_tails": sum(r["slow_tail"] for r in rows),
        "refused": sum(p.refused for p in pages),
        "ok": all(p.status == 200 and not p.refused for p in pages),
    }


def run(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    if args.data_dir:
        manifest = dataset.load(args.data_dir)
    else:
        log(f"building the dataset at scale {args.scale}")
        manifest = dataset.make(work / "data", args.database_url or None, args.scale)
    env = dict(manifest["env"])
    gc_log = work / "gc"
    env.update(BENCH_GC_LOG=str(gc_log), COLLAB_ENV="development")
    if args.gc_thresholds:
        env["BENCH_GC_THRESHOLDS"] = args.gc_thresholds
    if args.freeze_after_warmup:
        env["BENCH_GC_FREEZE_ON_SIGNAL"] = "1"
    port = free_port()
    server = Server("collab", uvicorn_argv(FACTORY, port, factory=True), port, work, env=env)
    cpus = sorted(os.sched_getaffinity(0))
    try:
        server.wait_http("/healthz", timeout=60)
        # The server on one core, this process on the others (when there are others).
        os.sched_setaffinity(server.pid, {cpus[-1]})
        if len(cpus) > 1:
            os.sched_setaffinity(0, set(cpus[:-1]))
        report = asyncio.run(measure(args, f"http://127.0.0.1:{port}", manifest, server,
                                     Path(f"{gc_log}.{server.pid}")))  # fmt: skip
    finally:
        server.stop()
    report["dataset"] = manifest["ids"]["counts"]
    report["server_cpu"] = cpus[-1]
    return report


def table(report: dict[str, Any]) -> str:
    lines = [f"{'page':<22} {'role':<8} {'p50':>7} {'p99':>7} {'max':>7} {'bytes':>8}"]
    for r in report["pages"]:
        flag = "  p99 > p50 + 10 ms" if r["slow_tail"] else ""
        lines.append(
            f"{r['page']:<22} {r['role']:<8} {r['p50_ms']:>7} {r['p99_ms']:>7} "
            f"{r['max_ms']:>7} {r['bytes']:>8}{flag}"
        )
    gc = report["gc"]
    lines.append("")
    lines.append(
        f"{report['requests']} requests in {report['seconds']} s; server GC: "
        + ", ".join(
            f"gen{g} {gc[f'gen{g}']['n']} x (max {gc[f'gen{g}']['max_ms']} ms,"
            f" CPU mean {gc[f'gen{g}']['cpu_mean_ms']} ms)"
            for g in (0, 1, 2)
        )
        + f"; {gc['total_ms']} ms paused in all ({gc['cpu_total_ms']} ms CPU)"
    )
    lines.append(f"pages with p99 > p50 + {SLACK_MS:.0f} ms: {report['slow_tails']}")
    if report["refused"]:
        lines.append(f"WARNING: {report['refused']} measured answers were not 200 (not ok)")
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.pages", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--data-dir", type=Path, help="a dataset built by bench.dataset")
    parser.add_argument("--scale", type=float, default=1.0, help="of the dataset to build")
    parser.add_argument("--database-url", default="", help="build on this (empty) database")
    parser.add_argument("--rounds", type=int, default=30, help="measured rounds (30)")
    parser.add_argument("--warmup", type=int, default=3, help="warm-up requests per page (3)")
    parser.add_argument("--gc-thresholds", default="", help="A,B,C instead of collab's")
    parser.add_argument(
        "--freeze-after-warmup", action="store_true", help="gc.freeze() in the server after it"
    )
    parser.add_argument("--quick", action="store_true", help="a small dataset, 3 rounds: tests")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    args = parser.parse_args(argv)
    if args.quick:
        args.scale, args.rounds, args.warmup = 0.02, 3, 1
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    command = command_line("bench.pages", argv)
    with work_dir("pages", keep=args.keep) as path:
        report = run(args, path)
    return print_report(command, table(report), report)


if __name__ == "__main__":
    sys.exit(main())
