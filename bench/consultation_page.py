"""Pages on a big dataset: a consultation with 300 contributions, a 5,000-post thread.

    python -m bench.consultation_page --requests 200

Builds a fresh SQLite database (the schema by migration, the demo's comuni
plus 300 more, bulk rows for the contributions and posts), then asks the app
in this process (httpx over ASGI, ``COLLAB_ENV=production``: templates as a
deployed worker has them) for: the consultation's page as staff and as a
mayor, and the thread's first and last pages as staff. For each, after a few
warm-up requests, ``--requests`` times in a row: the wall time and the
process's CPU time of each request (p50 and p99; CPU time is what a busy
machine disturbs least), the page's size and the SQL statements one request
runs (all of them: the session, the page's queries, the bell). Then the
thread page's post query alone, first and last page, run ``--requests`` times straight in
SQLite (no event loop in between): as ``collab.forums.queries.thread_posts``
writes it, and as the plain ``OFFSET`` over the posts it replaced. The goals of issue 15:
consultation p50 < 25 ms, last page of the thread within 20% of the first.

Prints the command, a table and, as its last line, one JSON object.
See docs/performance.md.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import sqlite3
import statistics
import sys
import time
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx

from bench.procs import command_line, print_report, work_dir
from bench.stats import percentile

PASSWORD = "password-del-banco"  # noqa: S105 (the throwaway users of a temporary database)
TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


async def build(db: Any, contributions: int, posts: int) -> dict[str, int]:
    """The data: the ids of the consultation and the thread."""
    from sqlalchemy import insert, select, update

    from collab.accounts.actions import do_create_user
    from collab.consultations import actions as consultations
    from collab.consultations.models import Consultation, Contribution, ContributionVersion
    from collab.demo import DEMO_CSV
    from collab.forums import actions as forums
    from collab.forums.models import Post
    from collab.importer import import_comuni
    from collab.models import Comune, Theme, Zone, utcnow

    async with db.transaction() as uow:
        assert (await import_comuni(uow, DEMO_CSV.read_bytes())).ok
        zones = list(await uow.session.scalars(select(Zone.id).order_by(Zone.number)))
        await uow.session.execute(insert(Comune), [
            {"istat_code": f"9{n:05d}", "name": f"Comune {n:03d}", "zone_id": zones[n % len(zones)]}
            for n in range(contributions)
        ])  # fmt: skip
    async with db.transaction() as uow:
        staff = await do_create_user(
            uow, None, email="staff@bench.collab.it", name="Staff", role="staff",
            password=PASSWORD, comune_istat=None,
        )  # fmt: skip
        mayor = await do_create_user(
            uow, None, email="sindaco@bench.collab.it", name="Sindaco", role="sindaco",
            password=PASSWORD, comune_istat="001191",
        )  # fmt: skip
    async with db.transaction() as uow:
        theme = await uow.session.scalar(select(Theme).order_by(Theme.position).limit(1))
        assert theme is not None
        opening = consultations.Opening(
            title="Parere sul Piano strategico", body="La zona esprima il parere sul PSM.",
            deadline=utcnow() + timedelta(days=7), zone_ids=zones, theme_ids=[theme.id],
        )  # fmt: skip
        consultation = await consultations.do_open(uow, staff, opening, [])
        thread = await forums.do_start_thread(
            uow, staff, None, theme, "Un thread lungo", "Il primo messaggio del thread."
        )
    now = utcnow()
    async with db.transaction() as uow:
        comuni = list(
            await uow.session.scalars(
                select(Comune.id).where(Comune.name.like("Comune %")).order_by(Comune.id)
            )
        )
        await uow.session.execute(insert(Contribution), [
            {"consultation_id": consultation.id, "comune_id": comune, "number": n,
             "submitted_by_id": staff.id, "submitted_at": now, "updated_at": now}
            for n, comune in enumerate(comuni, start=1)
        ])  # fmt: skip
        ids = list(
            await uow.session.scalars(
                select(Contribution.id).where(Contribution.consultation_id == consultation.id)
            )
        )
        await uow.session.execute(insert(ContributionVersion), [
            {"contribution_id": cid, "number": 1, "body_source": "Parere favorevole.",
             "body_html": "<p>Parere favorevole.</p>", "created_by_id": staff.id, "created_at": now}
            for cid in ids
        ])  # fmt: skip
        await uow.session.execute(
            update(Consultation)
            .where(Consultation.id == consultation.id)
            .values(last_number=len(ids))
        )
        await uow.session.execute(insert(Post), [
            {"thread_id": thread.id, "author_id": staff.id if n % 2 else mayor.id,
             "source": f"Risposta {n}.", "html": f"<p>Risposta {n}.</p>", "created_at": now}
            for n in range(posts - 1)
        ])  # fmt: skip
    return {"consultation": consultation.id, "thread": thread.id}


async def login(app: Any, email: str) -> httpx.AsyncClient:
    http = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, client=("127.0.0.1", 40000)),
        base_url="http://bench",
    )
    page = await http.get("/login")
    token = TOKEN.search(page.text)
    assert token, "no CSRF token on /login"
    data = {"csrf_token": token[1], "email": email, "password": PASSWORD}
    response = await http.post("/login", data=data)
    assert response.status_code == 303, response.status_code
    return http


async def measure(http: httpx.AsyncClient, engine: Any, url: str, requests: int) -> dict[str, Any]:
    from sqlalchemy import event

    for _ in range(5):
        await http.get(url)
    statements: list[str] = []

    def keep(*args: Any) -> None:
        statements.append(args[2])

    event.listen(engine, "before_cursor_execute", keep)
    try:
        await http.get(url)
    finally:
        event.remove(engine, "before_cursor_execute", keep)
    wall, cpu = [], []
    size = 0
    for _ in range(requests):
        started, used = time.perf_counter(), time.process_time()
        response = await http.get(url)
        cpu.append((time.process_time() - used) * 1000)
        wall.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, (url, response.status_code)
        size = len(response.content)

    def p99(values: list[float]) -> float:
        return percentile(values, 0.99)

    return {
        "url": url,
        "n": requests,
        "wall_p50_ms": round(statistics.median(wall), 2),
        "wall_p99_ms": round(p99(wall), 2),
        "cpu_p50_ms": round(statistics.median(cpu), 2),
        "cpu_p99_ms": round(p99(cpu), 2),
        "kb": round(size / 1024, 1),
        "statements": len(statements),
    }


def thread_queries(path: Path, thread_id: int, last: int, requests: int) -> dict[str, Any]:
    """The thread page's post query alone, on the first and the last page, as
    ``queries.thread_posts`` runs it and as the plain ``OFFSET`` over the posts
    (with the same eager joins) ran it before: median ms in SQLite itself."""
    from sqlalchemy import create_engine, event, select
    from sqlalchemy.orm import Session

    from collab.forums.models import Post

    per_page = 20
    engine = create_engine(f"sqlite:///{path / 'pages.sqlite3'}")
    statements: list[tuple[str, Any]] = []

    @event.listens_for(engine, "before_cursor_execute")
    def keep(_conn: Any, _cursor: Any, sql: str, params: Any, *_: Any) -> None:
        statements.append((sql, params))

    def offset(number: int) -> Any:
        stmt = select(Post).where(Post.thread_id == thread_id).order_by(Post.id)
        return stmt.limit(per_page).offset((number - 1) * per_page)

    def ids_first(number: int) -> Any:
        ids = select(Post.id).where(Post.thread_id == thread_id).order_by(Post.id)
        ids = ids.limit(per_page).offset((number - 1) * per_page)
        return select(Post).where(Post.id.in_(ids.scalar_subquery())).order_by(Post.id)

    results: dict[str, Any] = {}
    with sqlite3.connect(path / "pages.sqlite3") as raw:
        for name, build_stmt in (("offset", offset), ("ids_first", ids_first)):
            for number in (1, last):
                with Session(engine) as session:
                    session.scalars(build_stmt(number)).all()  # the SQL, eager joins included
                sql, params = statements[-1]
                times = []
                for _ in range(requests):
                    started = time.perf_counter()
                    rows = raw.execute(sql, params).fetchall()
                    times.append((time.perf_counter() - started) * 1000)
                assert len(rows) == per_page, (name, number, len(rows))
                results[f"{name}_page_{number}_ms"] = round(statistics.median(times), 3)
    engine.dispose()
    return results


async def run(args: argparse.Namespace, path: Path) -> dict[str, Any]:
    from collab.app import create_app
    from collab.migrate import upgrade
    from collab.settings import load_settings

    url = f"sqlite+aiosqlite:///{path / 'pages.sqlite3'}"
    await asyncio.to_thread(upgrade, url)
    base = load_settings(
        {"COLLAB_ENV": "production", "DATA_DIR": str(path), "SECRET_KEY": "p" * 40}
    )
    app = create_app(replace(base, database_url=url))
    async with app.router.lifespan_context(app):
        log(f"building {args.contributions} contributions and a {args.posts}-post thread")
        ids = await build(app.state.services.db, args.contributions, args.posts)
        staff = await login(app, "staff@bench.collab.it")
        mayor = await login(app, "sindaco@bench.collab.it")
        last = -(-args.posts // 20)  # POSTS_PER_PAGE
        pages = {
            "consultation_staff": (staff, f"/consultations/{ids['consultation']}"),
            "consultation_mayor": (mayor, f"/consultations/{ids['consultation']}"),
            "thread_first": (staff, f"/threads/{ids['thread']}?page=1"),
            "thread_last": (staff, f"/threads/{ids['thread']}?page={last}"),
        }
        results = {}
        engine = app.state.services.db.engine.sync_engine
        for name, (http, page) in pages.items():
            log(f"{name}: {page}")
            results[name] = await measure(http, engine, page, args.requests)
        for http in (staff, mayor):
            await http.aclose()
    log("the thread's post query alone, in SQLite")
    sql = await asyncio.to_thread(thread_queries, path, ids["thread"], last, args.requests)
    first, lastp = results["thread_first"], results["thread_last"]
    return {
        "ok": True,
        "contributions": args.contributions,
        "posts": args.posts,
        "pages": results,
        "thread_query": sql,
        "thread_last_over_first_cpu": round(lastp["cpu_p50_ms"] / first["cpu_p50_ms"], 2),
        "load_after": os.getloadavg()[0],
    }


def table(summary: dict[str, Any]) -> str:
    lines = [
        "| page | wall p50 | wall p99 | CPU p50 | CPU p99 | size | statements |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, r in summary["pages"].items():
        lines.append(
            f"| {name} | {r['wall_p50_ms']} ms | {r['wall_p99_ms']} ms | {r['cpu_p50_ms']} ms"
            f" | {r['cpu_p99_ms']} ms | {r['kb']} KB | {r['statements']} |"
        )
    lines.append(f"\nthread, last page / first (CPU p50): {summary['thread_last_over_first_cpu']}")
    lines.append("thread's post query alone, SQLite median: " + ", ".join(
        f"{k.removesuffix('_ms')} {v} ms" for k, v in summary["thread_query"].items()
    ))  # fmt: skip
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.consultation_page", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--contributions", type=int, default=300)
    parser.add_argument("--posts", type=int, default=5000)
    parser.add_argument("--requests", type=int, default=200, help="timed requests per page")
    parser.add_argument(
        "--quick", action="store_true", help="60 contributions, 500 posts, 5 requests"
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.contributions, args.posts, args.requests = 60, 500, 5
    command = command_line("bench.consultation_page", argv)
    load = os.getloadavg()[0]
    with work_dir("consultation-page") as path:
        summary = asyncio.run(run(args, path))
    return print_report(command, table(summary), summary, load_before=load)


if __name__ == "__main__":
    sys.exit(main())
