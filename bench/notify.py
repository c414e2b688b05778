"""Notification benchmark: a consultation opened for 312 comuni, 600 bells and 600 e-mails.

    python -m bench.notify --rounds 3

Starts collab (one uvicorn worker, a fresh DATA_DIR with the schema and the
demo data, ``SMTP_URL`` pointing at an aiosmtpd server run by this process)
and fills the database to the size of the metropolitan city: 312 comuni
across the 11 zones (the demo's, plus generated ones) with a mayor and a
technician each, about 600 people. Each person's page socket is opened
(with a session of their own written straight into the database, as a
login would, so no 600 password checks), following their own topic, as the
bell does.

Then, in interleaved rounds, the demo staff user opens a consultation for
all 11 zones through the page's form (``POST /consultations/new``):

- **on**: every one of them is notified: the time from the request to each
  socket's bell frame (p50, p99, max), and from the request to the last of
  the e-mails accepted by the SMTP server (each recipient's, counted once by
  Message-ID: 0 lost, 0 twice);
- **off**: the same action with the kind turned off for everyone (a
  ``never`` setting per person), for the answer time to compare: the
  request must not wait for the notifications or the mail.

A first opening, not measured, warms the server up (SQL statements compiled,
templates loaded), so that neither mode pays for it.

Prints a table, the command, and as its last line one JSON object for
scripts. See docs/performance.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import statistics
import sys
import time
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.header import decode_header, make_header
from pathlib import Path
from typing import Any

import httpx
from aiosmtpd.controller import Controller
from sqlalchemy import delete, insert, select

from bench.procs import (
    Server,
    collab_data,
    command_line,
    free_port,
    print_report,
    raise_fd_limit,
    uvicorn_argv,
    work_dir,
)
from bench.stats import percentile
from bench.wsclient import LeanClient, connect

STAFF = "staff@demo.collab.it"
DEMO_PASSWORD = "collab-demo"  # noqa: S105 - collab/demo.py, public demo data
COMUNI = 312
CSRF = re.compile(r'name="csrf_token"\s+value="([^"]+)"|value="([^"]+)"\s+name="csrf_token"')
BELL = b'data-target="#notif-bell"'
KIND = "consultation_opened"
WAIT_BELLS_S = 30.0
WAIT_MAIL_S = 120.0


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --- the SMTP server: records who got which message, when ----------------------------


class Inbox:
    def __init__(self) -> None:
        self.received: list[tuple[float, list[str], str, str]] = []  # at, to, id, subject

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        # Only the headers, parsed lightly: this thread shares the GIL with
        # the sockets whose arrival times are measured.
        head = envelope.content.split(b"\r\n\r\n", 1)[0]
        message = message_from_bytes(head, policy=policy.compat32)
        subject = str(make_header(decode_header(message.get("Subject", ""))))
        self.received.append(
            (time.perf_counter(), list(envelope.rcpt_tos), str(message["Message-ID"]), subject)
        )
        return "250 OK"

    def about(self, title: str) -> list[tuple[float, list[str], str, str]]:
        return [r for r in self.received if title in r[3]]


# --- the people -------------------------------------------------------------------------


async def populate(database_url: str, target: int) -> list[int]:
    """``target`` comuni over the 11 zones, a mayor and a technician each; their ids."""
    from collab.accounts.passwords import hash_password
    from collab.db import Database
    from collab.models import Comune, Role, User, Zone, utcnow

    db = Database(database_url)
    try:
        async with db.transaction() as uow:
            session = uow.session
            zones = list(await session.scalars(select(Zone.id).order_by(Zone.number)))
            have = len(list(await session.scalars(select(Comune.id))))
            new = [
                {
                    "istat_code": f"9{n:05d}",
                    "name": f"Comune di prova {n}",
                    "zone_id": zones[n % len(zones)],
                }
                for n in range(max(0, target - have))
            ]
            if new:
                await session.execute(insert(Comune), new)
        async with db.transaction() as uow:
            session = uow.session
            comuni = list(await session.scalars(select(Comune.id).order_by(Comune.id)))
            staffed = set(
                await session.scalars(select(User.comune_id).where(User.comune_id.is_not(None)))
            )
            secret = await hash_password("bench-" + os.urandom(8).hex())  # nobody logs in as them
            people = []
            for comune_id in comuni:
                if comune_id in staffed:
                    continue
                for role in (Role.SINDACO, Role.TECNICO):
                    people.append(
                        {
                            "email": f"{role.value}.{comune_id}@bench.collab.it",
                            "name": f"{role.value.title()} {comune_id}",
                            "password_hash": secret,
                            "role": role,
                            "comune_id": comune_id,
                            "active": True,
                            "session_epoch": 0,
                            "created_at": utcnow(),
                            "locale": "it",
                        }
                    )
            if people:
                await session.execute(insert(User), people)
        async with db.session() as session:
            return list(
                await session.scalars(
                    select(User.id).where(User.comune_id.is_not(None), User.active)
                )
            )
    finally:
        await db.dispose()


async def set_kind(database_url: str, users: list[int], mode: str | None) -> None:
    """Everyone's mode for the consultation kind: ``never``, or None (the default)."""
    from collab.db import Database
    from collab.notifications.models import Mode, NotificationSetting

    db = Database(database_url)
    try:
        async with db.transaction() as uow:
            await uow.session.execute(
                delete(NotificationSetting).where(NotificationSetting.kind == KIND)
            )
            if mode is not None:
                await uow.session.execute(
                    insert(NotificationSetting),
                    [{"user_id": uid, "kind": KIND, "mode": Mode(mode)} for uid in users],
                )
    finally:
        await db.dispose()


async def zones_and_theme(database_url: str) -> tuple[list[int], int]:
    from collab.db import Database
    from collab.models import Theme, Zone

    db = Database(database_url)
    try:
        async with db.session() as session:
            zones = list(await session.scalars(select(Zone.id).order_by(Zone.number)))
            theme = await session.scalar(select(Theme.id).order_by(Theme.position).limit(1))
        assert theme is not None
        return zones, theme
    finally:
        await db.dispose()


async def start_sessions(database_url: str, users: list[int]) -> dict[int, str]:
    """A logged-in session for each of ``users`` (what a login writes); their cookies."""
    from collab.db import Database
    from collab.sessions import do_start

    db = Database(database_url)
    try:
        async with db.transaction() as uow:
            return {
                uid: await do_start(uow, uid, user_agent="bench.notify", ip="127.0.0.1", data={})
                for uid in users
            }
    finally:
        await db.dispose()


# --- one round -------------------------------------------------------------------------


@dataclass
class Bells:
    """When each socket got its bell frame after the request was sent."""

    sent_at: float = 0.0
    first: dict[int, float] = field(default_factory=dict)

    def on_message(self, uid: int) -> Any:
        def seen(payload: bytes, _t: int) -> None:
            if self.sent_at and uid not in self.first and BELL in payload:
                self.first[uid] = time.perf_counter()

        return seen


@dataclass
class Round:
    mode: str  # "on" or "off"
    answer_ms: float
    bells: int = 0
    bell_p50_ms: float = 0.0
    bell_p99_ms: float = 0.0
    bell_max_ms: float = 0.0
    mails: int = 0
    mail_last_s: float = 0.0
    lost: int = 0
    twice: int = 0


def _pct(values: list[float], q: float) -> float:
    return percentile(values, q)


async def post_form(
    client: httpx.AsyncClient, token: str, fields: list[tuple[str, str]]
) -> tuple[float, httpx.Response]:
    boundary = "collab-bench-" + os.urandom(6).hex()
    parts = []
    for name, value in fields:
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
        )
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename=""\r\n'
        "Content-Type: application/octet-stream\r\n\r\n\r\n"
    )
    parts.append(f"--{boundary}--\r\n")
    body = "".join(parts).encode()
    started = time.perf_counter()
    response = await client.post(
        "/consultations/new",
        content=body,
        headers={
            "content-type": f"multipart/form-data; boundary={boundary}",
            "x-csrf-token": token,
        },
    )
    return (time.perf_counter() - started) * 1000, response


async def one_round(
    n: int,
    mode: str,
    client: httpx.AsyncClient,
    token: str,
    zones: list[int],
    theme: int,
    bells: Bells,
    inbox: Inbox,
    users: list[int],
    database_url: str,
) -> Round:
    await set_kind(database_url, users, "never" if mode == "off" else None)
    title = f"Consultazione di prova {n} ({mode})"
    deadline = time.strftime("%Y-%m-%dT%H:%M", time.localtime(time.time() + 30 * 86400))
    fields = [("title", title), ("body", "Chiediamo il parere dei comuni."), ("deadline", deadline)]
    fields += [("zones", str(z)) for z in zones] + [("themes", str(theme))]
    bells.first.clear()
    bells.sent_at = time.perf_counter()
    answer_ms, response = await post_form(client, token, fields)
    if response.status_code != 303:
        raise RuntimeError(
            f"opening the consultation: {response.status_code} {response.text[:300]}"
        )
    result = Round(mode, answer_ms)
    if mode == "off":
        await asyncio.sleep(2.0)  # nothing should come; let the server settle
        return result
    limit = time.perf_counter() + WAIT_BELLS_S
    while len(bells.first) < len(users) and time.perf_counter() < limit:  # noqa: ASYNC110
        await asyncio.sleep(0.02)  # a poll: the sockets' callbacks are plain functions
    latencies = [(t - bells.sent_at) * 1000 for t in bells.first.values()]
    result.bells = len(latencies)
    result.bell_p50_ms = statistics.median(latencies) if latencies else 0.0
    result.bell_p99_ms = _pct(latencies, 0.99)
    result.bell_max_ms = max(latencies, default=0.0)
    limit = time.perf_counter() + WAIT_MAIL_S
    while len({r[1][0] for r in inbox.about(title)}) < len(users):
        if time.perf_counter() > limit:
            break
        await asyncio.sleep(0.1)  # the SMTP server's handler runs in its own thread
    await asyncio.sleep(1.0)  # anything sent twice would come now
    got = inbox.about(title)
    per_person: dict[str, set[str]] = {}
    for _, to, message_id, _ in got:
        per_person.setdefault(to[0], set()).add(message_id)
    result.mails = len(per_person)
    result.lost = len(users) - len(per_person)
    result.twice = len(got) - len(per_person)
    result.mail_last_s = max((r[0] for r in got), default=bells.sent_at) - bells.sent_at
    return result


# --- the run ---------------------------------------------------------------------------


@dataclass
class Report:
    people: int
    sockets: int
    rounds: list[Round]

    def of(self, mode: str) -> list[Round]:
        return [r for r in self.rounds if r.mode == mode]

    def summary(self) -> dict[str, Any]:
        on, off = self.of("on"), self.of("off")
        answer_on = statistics.median(r.answer_ms for r in on)
        answer_off = statistics.median(r.answer_ms for r in off)
        return {
            "people": self.people,
            "sockets": self.sockets,
            "rounds": len(on),
            "bells_all": all(r.bells == self.people for r in on),
            "bell_p50_ms": round(statistics.median(r.bell_p50_ms for r in on), 1),
            "bell_p99_ms": round(statistics.median(r.bell_p99_ms for r in on), 1),
            "bell_p99_worst_ms": round(max(r.bell_p99_ms for r in on), 1),
            "mail_last_s": round(statistics.median(r.mail_last_s for r in on), 2),
            "mail_last_worst_s": round(max(r.mail_last_s for r in on), 2),
            "lost": sum(r.lost for r in on),
            "twice": sum(r.twice for r in on),
            "answer_on_ms": round(answer_on, 1),
            "answer_off_ms": round(answer_off, 1),
            "answer_ratio": round(answer_on / answer_off, 2),
            "ok": all(r.lost == 0 and r.twice == 0 and r.bells == self.people for r in on),
        }


async def run(args: argparse.Namespace, path: Path) -> Report:
    raise_fd_limit()
    inbox = Inbox()
    smtp_port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=smtp_port)
    controller.start()
    port = free_port()
    # SQLite, the embedded default, whatever DATABASE_URL the caller has (CI
    # runs the suite on PostgreSQL): the server, the migration and this
    # process all use this file.
    database_url = f"sqlite+aiosqlite:///{path / 'data' / 'collab.sqlite3'}"
    env = collab_data(
        path / "data",
        DATABASE_URL=database_url,
        SMTP_URL=f"smtp://127.0.0.1:{smtp_port}",
        BASE_URL=f"http://127.0.0.1:{port}",
    )
    users = await populate(database_url, args.comuni)
    cookies = await start_sessions(database_url, users)
    zones, theme = await zones_and_theme(database_url)
    log(f"{len(users)} people in {args.comuni} comuni; starting collab")
    argv = uvicorn_argv("collab.app:create_app", port, factory=True)
    server = Server("collab", argv, port, path, env=env)
    sockets: list[LeanClient] = []
    try:
        server.wait_http("/healthz")
        bells = Bells()
        url = f"ws://127.0.0.1:{port}/ws"
        for uid in users:
            ws = await connect(
                url,
                bells.on_message(uid),
                time.perf_counter_ns,
                headers=[("Cookie", f"collab_session={cookies[uid]}")],
            )
            ws.send_text(json.dumps({"type": "subscribe", "topics": {f"user:{uid}": None}}))
            sockets.append(ws)
        log(f"{len(sockets)} sockets open")
        await asyncio.sleep(3.0)  # every socket set up (WS_SETUP_SLOTS at a time)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
            page = await client.get("/login")
            token = _csrf(page.text)
            response = await client.post(
                "/login", data={"email": STAFF, "password": DEMO_PASSWORD, "csrf_token": token}
            )
            if response.status_code != 303:
                raise RuntimeError(f"staff login failed: {response.status_code}")
            token = _csrf((await client.get("/consultations/new")).text)
            rounds = []
            # Not measured: the first opening fills the server's caches (its
            # SQL statements compiled, its templates loaded) for both modes.
            await one_round(
                -1, "off", client, token, zones, theme, bells, inbox, users, database_url
            )
            for n in range(args.rounds):
                for mode in ("on", "off") if n % 2 == 0 else ("off", "on"):
                    result = await one_round(
                        n, mode, client, token, zones, theme, bells, inbox, users, database_url
                    )
                    log(f"round {n} {mode}: {result}")
                    rounds.append(result)
        return Report(len(users), len(sockets), rounds)
    finally:
        for ws in sockets:
            ws.close()
        server.stop()
        controller.stop()


def _csrf(html: str) -> str:
    match = CSRF.search(html)
    if not match:
        raise RuntimeError("no CSRF token in the page")
    return match.group(1) or match.group(2)


def table(report: Report) -> str:
    s = report.summary()
    rows = [
        ("people notified (sockets open)", f"{s['people']} ({s['sockets']})"),
        ("bells updated, every round", "yes" if s["bells_all"] else "NO"),
        ("request to bell, p50", f"{s['bell_p50_ms']} ms"),
        ("request to bell, p99 (worst round)", f"{s['bell_p99_ms']} ms ({s['bell_p99_worst_ms']})"),
        (
            "request to last mail accepted (worst)",
            f"{s['mail_last_s']} s ({s['mail_last_worst_s']})",
        ),
        ("mail lost / sent twice", f"{s['lost']} / {s['twice']}"),
        ("answer, notifications on / off", f"{s['answer_on_ms']} / {s['answer_off_ms']} ms"),
        ("answer ratio on/off", f"{s['answer_ratio']}x"),
    ]
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"{k.ljust(width)}  {v}" for k, v in rows)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.notify", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--rounds", type=int, default=3, help="rounds of on and off (3)")
    parser.add_argument("--comuni", type=int, default=COMUNI, help="comuni to fill (312)")
    parser.add_argument("--quick", action="store_true", help="1 round, the demo's comuni: tests")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    args = parser.parse_args(argv)
    if args.quick:
        args.rounds, args.comuni = 1, 0
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    command = command_line("bench.notify", argv)
    with work_dir("notify", keep=args.keep) as path:
        report = asyncio.run(run(args, path))
    return print_report(command, table(report), report.summary())


if __name__ == "__main__":
    sys.exit(main())
