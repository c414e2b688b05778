"""Digest benchmark: the daily digest of 1,000 people with 50 notifications each.

    python -m bench.digest --people 1000 --per-person 50

Builds a fresh SQLite database (the schema by migration, the demo's zones and
themes), adds ``--people`` users and ``--per-person`` unread notifications
each in the digest state (spread over zones and themes, as replies and new
threads are), then runs the notifications' mailer's digest pass once, in
this process, as a worker would at ``DIGEST_TIME``: one message per person,
written to the outbox in batches. Measures the time and the process's RSS
every 10 ms during the pass (the goal: under 60 s, memory flat), and checks
that every person got exactly one message and that nothing is left owed.

Prints a table, the command, and as its last line one JSON object for
scripts. See docs/performance.md.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import threading
import time
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, insert, select

from bench.procs import command_line, print_report, rss_bytes, work_dir


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class Sampler:
    """This process's RSS every 10 ms, in a thread."""

    def __init__(self) -> None:
        self.samples: list[int] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.samples.append(rss_bytes(os.getpid()))
            self._stop.wait(0.010)

    def __enter__(self) -> Sampler:
        self.samples.append(rss_bytes(os.getpid()))
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


async def run(args: argparse.Namespace, path: Path) -> dict[str, Any]:
    from collab.db import Database
    from collab.features import make_templates
    from collab.mail.models import OutboxMail
    from collab.mail.sender import MailSender
    from collab.mail.transport import FileTransport
    from collab.migrate import upgrade
    from collab.models import Role, Theme, User, Zone, utcnow
    from collab.notifications.mailer import NotificationMailer
    from collab.notifications.models import MailState, Notification
    from collab.settings import load_settings

    settings = load_settings({"DATA_DIR": str(path), "SECRET_KEY": "d" * 40})
    url = f"sqlite+aiosqlite:///{path / 'digest.sqlite3'}"
    settings = replace(settings, database_url=url)
    await asyncio.to_thread(upgrade, url)
    db = Database(url)
    try:
        async with db.session() as session:
            zones = list(await session.scalars(select(Zone.id)))
            themes = list(await session.scalars(select(Theme.id)))
        created = utcnow() - timedelta(days=1)
        async with db.transaction() as uow:
            await uow.session.execute(
                insert(User),
                [
                    {
                        "email": f"persona{n}@bench.collab.it", "name": f"Persona {n}",
                        "password_hash": "x", "role": Role.TECNICO, "comune_id": None,
                        "active": True, "session_epoch": 0, "created_at": created,
                        "locale": "it" if n % 5 else "en",
                    }
                    for n in range(args.people)
                ],
            )  # fmt: skip
        async with db.session() as session:
            users = list(await session.scalars(select(User.id).order_by(User.id)))
        log(f"{len(users)} people; adding {args.per_person} notifications each")
        for start in range(0, len(users), 100):
            async with db.transaction() as uow:
                await uow.session.execute(
                    insert(Notification),
                    [
                        {
                            "user_id": uid, "kind": "reply" if n % 3 else "thread_new",
                            "ref": f"post:{uid}:{n}", "url": f"/threads/{n}?page=1#post-{n}",
                            "title": f"Discussione numero {n} sul trasporto scolastico",
                            "excerpt": "Proposta: una navetta comune per le scuole medie. " * 3,
                            "params": {}, "actor_id": users[(uid + n) % len(users)],
                            "zone_id": zones[n % len(zones)],
                            "theme_id": themes[n % len(themes)],
                            "created_at": created, "read_at": None,
                            "mail_state": MailState.DIGEST,
                        }
                        for uid in users[start : start + 100]
                        for n in range(args.per_person)
                    ],
                )  # fmt: skip
        templates = make_templates()
        sender = MailSender(db, FileTransport(path / "mail"), max_attempts=3)  # never started
        mailer = NotificationMailer(db, templates, settings, sender)
        log("running the digest")
        with Sampler() as sampler:
            started = time.perf_counter()
            sent = await mailer.send_digests(utcnow() + timedelta(days=1))
            seconds = time.perf_counter() - started
        async with db.session() as session:
            messages = await session.scalar(select(func.count()).select_from(OutboxMail))
            recipients = await session.scalar(
                select(func.count(func.distinct(OutboxMail.recipient)))
            )
            owed = await session.scalar(
                select(func.count())
                .select_from(Notification)
                .where(Notification.mail_state == MailState.DIGEST)
            )
    finally:
        await db.dispose()
    base = sampler.samples[0]
    peak = max(sampler.samples)
    half = len(sampler.samples) // 2
    first_half_peak = max(sampler.samples[: max(1, half)])
    return {
        "people": args.people,
        "per_person": args.per_person,
        "notifications": args.people * args.per_person,
        "seconds": round(seconds, 2),
        "messages": int(messages or 0),
        "recipients": int(recipients or 0),
        "sent": sent,
        "owed_after": int(owed or 0),
        "rss_start_mb": round(base / 2**20, 1),
        "rss_peak_mb": round(peak / 2**20, 1),
        "rss_growth_mb": round((peak - base) / 2**20, 1),
        # Flat: the second half of the pass does not climb above the first's peak.
        "rss_second_half_over_first_mb": round(
            (max(sampler.samples[half:] or [0]) - first_half_peak) / 2**20, 1
        ),
        "ok": messages == args.people and recipients == args.people and not owed,
    }


def table(s: dict[str, Any]) -> str:
    rows = [
        ("people x notifications each", f"{s['people']} x {s['per_person']}"),
        ("digest pass", f"{s['seconds']} s"),
        ("messages (distinct recipients)", f"{s['messages']} ({s['recipients']})"),
        ("left owed after the pass", str(s["owed_after"])),
        ("RSS start / peak", f"{s['rss_start_mb']} / {s['rss_peak_mb']} MB"),
        ("RSS, second half over first half's peak", f"{s['rss_second_half_over_first_mb']} MB"),
    ]
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"{k.ljust(width)}  {v}" for k, v in rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.digest", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--people", type=int, default=1000)
    parser.add_argument("--per-person", type=int, default=50)
    parser.add_argument("--quick", action="store_true", help="100 x 10, for the tests")
    args = parser.parse_args(argv)
    if args.quick:
        args.people, args.per_person = 100, 10
    command = command_line("bench.digest", argv)
    with work_dir("digest") as path:
        summary = asyncio.run(run(args, path))
    return print_report(command, table(summary), summary)


if __name__ == "__main__":
    sys.exit(main())
