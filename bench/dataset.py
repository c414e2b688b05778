"""The big dataset: the metropolitan city after a few years of use.

    python -m bench.dataset --data-dir /tmp/big [--database-url URL] [--scale 1.0]

On top of the demo data (``collab migrate`` + ``collab demo``: 41 comuni,
4 threads and 7 posts, a meeting, a consultation with one contribution) it
adds, at scale 1.0:

- comuni up to 312 (the demo's real ones and generated "Comune di prova N"),
  imported through the importer, as an administrator's CSV would be;
- a mayor for every comune that has none (one shared password hash: 312
  argon2 hashes would be a third of the build) and four more staff;
- 2,000 threads through ``do_start_thread``, on every zone's boards and the
  metropolitan ones: 2,004 threads;
- replies up to 100,007 posts, 5,000 of them in one thread: the only part
  written with bulk Core inserts (98,000 replies through ``do_reply`` take
  most of an hour). What ``do_reply`` keeps is kept the same way: each
  thread's ``post_count`` and ``last_activity_at``, and a ``post.created``
  event per reply in the event log on the thread's and the board's topics
  (``collab.realtime.log.append``, so topic sequences stay contiguous). What
  it does not do: no notifications for these replies (nobody follows them
  and the authors are the mayors themselves), no mentions;
- 200 meetings through ``do_convene``, one of them open (live), one closed
  with its verbale published: 201 meetings;
- 5,000 contributions through ``do_submit``: one consultation of all the
  zones with 300, the rest in consultations of 235: 5,001 contributions.

Every action writes its events to the log (the app's sink, without a layer:
no server listens yet); the notifications they announce are expanded to
bells as the server's fan-out would, and the e-mails those bells would owe
are marked as owed none, so that a server started on the dataset does not
spend its first minutes mailing 20,000 people.

Writes ``bench-dataset.json`` in the data directory: the environment to
serve it and the ids a benchmark needs (see ``bench/pages.py``). Prints what
it built and how long each part took. ``--scale 0.05`` builds a
twentieth of it, for a smoke test.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import shlex
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

from sqlalchemy import Table, bindparam, func, insert, select, update

from bench.procs import collab_data

MANIFEST = "bench-dataset.json"
DEMO_COMUNI = 41
DEMO_THREADS, DEMO_POSTS, DEMO_MEETINGS, DEMO_CONTRIBUTIONS = 4, 7, 1, 1
BIG_THREAD_POSTS = 5_000
BIG_CONSULTATION = 300
PER_CONSULTATION = 235
PASSWORD = "collab-demo"  # noqa: S105 - the demo's, documented in the README
CHUNK = 2_000  # replies per bulk transaction

REPLIES = [
    "Concordo con quanto proposto. Da parte nostra **nessuna obiezione**.",
    "Segnalo che il nostro ufficio tecnico ha già inviato la documentazione richiesta.",
    "Per il nostro comune la priorità resta la manutenzione delle strade provinciali:\n\n"
    "- SP 161 tra i due abitati\n- il ponte sul torrente, chiuso da marzo\n\n"
    "Chiediamo che il punto sia discusso alla prossima assemblea.",
    "Grazie per l'aggiornamento. Possiamo avere i dati in formato aperto?",
    "Propongo di coordinare gli orari con i comuni della valle, come fatto l'anno scorso.",
    "Allego il parere della giunta, approvato all'unanimità nella seduta di ieri.",
]


def _bump_statement() -> Any:
    """What ``do_reply`` does to its thread, for many threads at once (Core, executemany)."""
    from collab.forums.models import Thread

    table = cast(Table, Thread.__table__)
    return (
        update(table)
        .where(table.c.id == bindparam("tid"))
        .values(post_count=table.c.post_count + bindparam("n"), last_activity_at=bindparam("at"))
    )


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class _LogOnly:
    """The event sink of the build: the app's durable log, no layer to publish to."""

    async def append(self, session: Any, events: Sequence[Any]) -> Sequence[Any]:
        from collab.realtime import log as event_log

        return await event_log.append(session, events)

    async def publish(self, logged: Sequence[Any]) -> None:
        return None


def _comuni_csv(target: int) -> bytes:
    lines = ["codice_istat,nome,zona"]
    lines += [f"9{n:05d},Comune di prova {n},{n % 11 + 1}" for n in range(target - DEMO_COMUNI)]
    return ("\n".join(lines) + "\n").encode()


class Builder:
    def __init__(self, database: Any, scale: float, seed: int = 15) -> None:
        self.db = database
        self.scale = scale
        self.rng = random.Random(seed)
        self.timings: dict[str, float] = {}
        self.ids: dict[str, Any] = {}

    def n(self, full: int, minimum: int = 1) -> int:
        return max(minimum, round(full * self.scale))

    async def timed(self, name: str, step: Any) -> None:
        started = time.perf_counter()
        await step()
        self.timings[name] = round(time.perf_counter() - started, 1)
        log(f"{name}: {self.timings[name]} s")

    # --- people and places ----------------------------------------------------------

    async def comuni(self) -> None:
        from collab.importer import import_comuni

        async with self.db.transaction() as uow:
            report = await import_comuni(uow, _comuni_csv(self.n(312, DEMO_COMUNI + 2)))
            assert report.ok, report.errors

    async def people(self) -> None:
        from collab.accounts.actions import do_create_user
        from collab.accounts.passwords import hash_password
        from collab.models import Comune, Role, User, utcnow

        async with self.db.transaction() as uow:
            for n in range(4):
                await do_create_user(
                    uow, None, email=f"staff{n}@bench.collab.it", name=f"Segreteria {n}",
                    role="staff", password=PASSWORD,
                )  # fmt: skip
        secret = await hash_password(PASSWORD)
        async with self.db.transaction() as uow:
            s = uow.session
            comuni = list(await s.execute(select(Comune.id, Comune.name).order_by(Comune.id)))
            have = set(await s.scalars(select(User.comune_id).where(User.role == Role.SINDACO)))
            rows = [
                {
                    "email": f"sindaco.{cid}@bench.collab.it",
                    "name": f"Sindaco di {name}",
                    "password_hash": secret,
                    "role": Role.SINDACO,
                    "comune_id": cid,
                    "active": True,
                    "session_epoch": 0,
                    "created_at": utcnow(),
                    "locale": "it",
                }
                for cid, name in comuni
                if cid not in have
            ]
            if rows:
                await s.execute(insert(User), rows)

    async def load_people(self) -> None:
        from collab.models import Comune, Role, Theme, User, Zone

        async with self.db.session() as s:
            self.zones = {z.id: z.number for z in await s.scalars(select(Zone))}
            self.themes = list(await s.scalars(select(Theme).order_by(Theme.position)))
            mayors = list(
                await s.execute(
                    select(User.id, User.email, Comune.id, Comune.zone_id)
                    .join(Comune, User.comune_id == Comune.id)
                    .where(User.role == Role.SINDACO, User.active)
                    .order_by(User.id)
                )
            )
            self.staff = list(
                await s.scalars(select(User).where(User.role == Role.STAFF).order_by(User.id))
            )
        self.mayors = [(uid, email, cid, zid) for uid, email, cid, zid in mayors]
        self.by_zone: dict[int, list[int]] = {}
        for uid, _, _, zid in self.mayors:
            self.by_zone.setdefault(zid, []).append(uid)

    # --- threads and posts ----------------------------------------------------------

    async def threads(self) -> None:
        from collab.forums.actions import do_start_thread
        from collab.models import User

        total = self.n(2_000)
        zone_ids = sorted(self.by_zone)
        board_themes = [t for t in self.themes if not t.slug.startswith("psm-") and t.active]
        metro_themes = [t for t in self.themes if t.slug.startswith("psm-") and t.active]
        done = 0
        while done < total:
            async with self.db.transaction() as uow:
                s = uow.session
                for i in range(done, min(total, done + 100)):
                    if i % 10 == 9 and metro_themes:  # one in ten on the metropolitan boards
                        author = await s.get(User, self.staff[i % len(self.staff)].id)
                        zone_id, theme = None, metro_themes[i % len(metro_themes)]
                    else:
                        zone_id = zone_ids[i % len(zone_ids)]
                        mayors = self.by_zone[zone_id]
                        author = await s.get(User, mayors[(i // len(zone_ids)) % len(mayors)])
                        theme = board_themes[(i // 3) % len(board_themes)]
                    assert author is not None
                    await do_start_thread(
                        uow, author, zone_id, await s.merge(theme), f"Discussione {i + 1}",
                        f"Apriamo la discussione numero {i + 1}. " + REPLIES[i % len(REPLIES)],
                    )  # fmt: skip
            done = min(total, done + 100)

    async def posts(self) -> None:
        """The replies, in bulk: the Core inserts, counters and events ``do_reply`` makes."""
        from collab.forums.models import Post, Thread
        from collab.markup import render_markdown
        from collab.realtime.events import PostCreated

        bump = _bump_statement()

        async with self.db.session() as s:
            have = int(await s.scalar(select(func.count(Post.id))) or 0)
            threads = list(await s.execute(select(Thread.id, Thread.zone_id).order_by(Thread.id)))
        replies = max(0, self.n(100_007) - have)
        big_thread = threads[DEMO_THREADS][0]  # the first one built here
        big = min(replies, max(60, round(BIG_THREAD_POSTS * self.scale)) - 1)
        others = threads[DEMO_THREADS + 1 :]
        zone_of = dict(threads)
        # Every reply goes to a thread; the big one gets its share spread along.
        targets = [big_thread] * big + [self.rng.choice(others)[0] for _ in range(replies - big)]
        self.rng.shuffle(targets)
        html = [(text, render_markdown(text)) for text in REPLIES]
        now = datetime.now(UTC)
        # Threads began 400 to 300 days ago, the replies come after, up to an hour ago.
        await self._spread_threads(now)
        first = now - timedelta(days=300)
        step = (timedelta(days=300) - timedelta(hours=1)) / max(1, len(targets))
        for start in range(0, len(targets), CHUNK):
            rows = []
            for k in range(start, min(len(targets), start + CHUNK)):
                thread_id = targets[k]
                zone_id = zone_of[thread_id]
                mayors = self.by_zone.get(zone_id) if zone_id else None
                author = self.rng.choice(mayors) if mayors else self.rng.choice(self.mayors)[0]
                source, rendered = html[k % len(html)]
                rows.append({
                    "thread_id": thread_id, "author_id": author, "source": source,
                    "html": rendered, "created_at": first + step * k,
                })  # fmt: skip
            async with self.db.transaction() as uow:
                s = uow.session
                result = await s.execute(
                    insert(Post).returning(Post.id, sort_by_parameter_order=True), rows
                )
                post_ids = list(result.scalars())
                last: dict[int, tuple[int, datetime]] = {}
                for row in rows:
                    thread_id = row["thread_id"]
                    count, _ = last.get(thread_id, (0, row["created_at"]))
                    last[thread_id] = (count + 1, row["created_at"])
                await (await s.connection()).execute(
                    bump, [{"tid": t, "n": n, "at": at} for t, (n, at) in last.items()]
                )
                for row, post_id in zip(rows, post_ids, strict=True):
                    tid = row["thread_id"]
                    uow.record(PostCreated(zone_id=zone_of[tid], thread_id=tid, post_id=post_id))
            log(f"  {min(len(targets), start + CHUNK)} of {len(targets)} replies")
        self.ids["big_thread"] = big_thread
        self.ids["big_thread_posts"] = big + 1

    async def _spread_threads(self, now: datetime) -> None:
        from collab.forums.models import Post, Thread

        async with self.db.transaction() as uow:
            s = uow.session
            threads = list(await s.scalars(select(Thread.id).order_by(Thread.id)))
            span = timedelta(days=100) / max(1, len(threads))
            for i, thread_id in enumerate(threads):
                at = now - timedelta(days=400) + span * i
                await s.execute(
                    update(Thread)
                    .where(Thread.id == thread_id)
                    .values(created_at=at, last_activity_at=at)
                )
                await s.execute(
                    update(Post).where(Post.thread_id == thread_id).values(created_at=at)
                )

    # --- meetings and consultations -------------------------------------------------

    async def meetings(self) -> None:
        from collab.meetings import actions, minutes
        from collab.meetings.actions import AgendaLine, Convocation

        staff = self.staff[0]
        zone_ids = sorted(self.zones)
        made: list[int] = []
        start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
        for i in range(self.n(200, 3)):
            # The first three (live, verbale published, convened) are the first zone's,
            # whose mayor bench.pages logs in as; the others go round the zones.
            first = (i - 3) % len(zone_ids) if i >= 3 else 0
            zones = [zone_ids[first]]
            if i % 3 == 0:  # a third of them joint meetings of two zones
                zones.append(zone_ids[(first + 1) % len(zone_ids)])
            form = Convocation(
                title=f"Assemblea dei sindaci n. {i + 1}", zone_ids=zones,
                starts_at=start + timedelta(hours=2 + 24 * i),
                items=[AgendaLine(f"Punto {n + 1}: {t.name}", t.id, 20)
                       for n, t in enumerate(self.themes[i % 5 : i % 5 + 3])],
                description="Ordine del giorno della zona.", place="Sala consiliare",
                public=i % 2 == 0,
            )  # fmt: skip
            async with self.db.transaction() as uow:
                made.append((await actions.do_convene(uow, staff, form)).id)
        live, published = made[0], made[1]
        for meeting_id in (live, published):
            async with self.db.transaction() as uow:
                await actions.do_open(uow, staff, meeting_id)
        async with self.db.transaction() as uow:
            await minutes.do_close(uow, staff, published)
        async with self.db.transaction() as uow:
            await minutes.do_publish_verbale(uow, staff, published)
        self.ids.update(meeting_convened=made[2], meeting_live=live, meeting_published=published)

    async def consultations(self) -> None:
        from collab.consultations.actions import Opening, do_open, do_submit
        from collab.models import User

        total = self.n(5_000, 2)
        big = min(total, self.n(BIG_CONSULTATION, 2))
        sizes = [big]
        rest = total - big
        while rest > 0:
            sizes.append(min(rest, max(1, round(PER_CONSULTATION * self.scale))))
            rest -= sizes[-1]
        mayors = list(self.mayors)
        opened: list[int] = []
        for n, size in enumerate(sizes):
            async with self.db.transaction() as uow:
                form = Opening(
                    title=f"Parere dei comuni n. {n + 1}",
                    body="Ogni comune invia il proprio parere entro la scadenza.",
                    deadline=datetime.now(UTC) + timedelta(days=30 + n),
                    zone_ids=sorted(self.zones),
                    theme_ids=[self.themes[n % len(self.themes)].id],
                )
                consultation = await do_open(uow, self.staff[0], form, [])
                opened.append(consultation.id)
            self.rng.shuffle(mayors)
            chosen = [uid for uid, _, _, _ in mayors[:size]]
            for at in range(0, len(chosen), 50):  # 50 a transaction: fewer fsyncs
                async with self.db.transaction() as uow:
                    for uid in chosen[at : at + 50]:
                        user = await uow.session.get(User, uid)
                        assert user is not None
                        await do_submit(
                            uow, user, consultation.id,
                            f"Il comune esprime parere favorevole, con le osservazioni seguenti. "
                            f"{REPLIES[uid % len(REPLIES)]}", [],
                        )  # fmt: skip
            log(f"  consultation {n + 1} of {len(sizes)}: {size} contributions")
        self.ids["big_consultation"] = opened[0]
        self.ids["big_consultation_contributions"] = big

    async def settle(self) -> None:
        """Bells for what was announced, as the server's fan-out would; no e-mail owed."""
        from collab.notifications.fanout import NotificationFanout
        from collab.notifications.models import MailState, Notification

        fanout = NotificationFanout(self.db)
        while await fanout.expand_next():
            pass
        async with self.db.transaction() as uow:
            await uow.session.execute(
                update(Notification)
                .where(Notification.mail_state != MailState.NONE)
                .values(mail_state=MailState.NONE)
            )

    async def counts(self) -> dict[str, int]:
        from collab.consultations.models import Contribution
        from collab.forums.models import Post, Thread
        from collab.meetings.models import Meeting
        from collab.models import Comune, EventLog, User
        from collab.notifications.models import Notification

        tables = {
            "comuni": Comune, "users": User, "threads": Thread, "posts": Post,
            "meetings": Meeting, "contributions": Contribution,
            "notifications": Notification, "events": EventLog,
        }  # fmt: skip
        async with self.db.session() as s:
            return {
                name: int(await s.scalar(select(func.count()).select_from(model)) or 0)
                for name, model in tables.items()
            }


async def build(database_url: str, scale: float) -> tuple[dict[str, Any], dict[str, float]]:
    from collab.db import Database

    database = Database(database_url, sink=_LogOnly())
    builder = Builder(database, scale)
    try:
        await builder.timed("comuni", builder.comuni)
        await builder.timed("people", builder.people)
        await builder.load_people()
        await builder.timed("threads", builder.threads)
        await builder.timed("posts", builder.posts)
        await builder.timed("meetings", builder.meetings)
        await builder.timed("consultations", builder.consultations)
        await builder.timed("notifications", builder.settle)
        ids = dict(builder.ids)
        ids["counts"] = await builder.counts()
        mayor = next(m for m in builder.mayors if m[3] == _zone_of_thread_owner(builder))
        ids.update(
            mayor=mayor[0], mayor_email=mayor[1], staff=builder.staff[0].id,
            staff_email=builder.staff[0].email, zone=builder.zones[mayor[3]],
        )  # fmt: skip
        return ids, builder.timings
    finally:
        await database.dispose()


def _zone_of_thread_owner(builder: Builder) -> int:
    # The mayors of the first zone start its threads: theirs is the zone measured.
    return sorted(builder.by_zone)[0]


def make(data_dir: Path, database_url: str | None, scale: float) -> dict[str, Any]:
    """Build the dataset in ``data_dir`` (new); its manifest, also written there."""
    started = time.perf_counter()
    # Named even for the default: a DATABASE_URL in the caller's environment
    # (a test run on PostgreSQL) must not receive the schema meant for this one.
    url = database_url or f"sqlite+aiosqlite:///{data_dir / 'collab.sqlite3'}"
    env = collab_data(data_dir, DATABASE_URL=url)
    log(f"schema and demo data: {time.perf_counter() - started:.1f} s")
    ids, timings = asyncio.run(build(url, scale))
    manifest = {
        "scale": scale, "env": env, "ids": ids, "timings": timings,
        "seconds": round(time.perf_counter() - started, 1),
    }  # fmt: skip
    (data_dir / MANIFEST).write_text(json.dumps(manifest, indent=1, default=str))
    return manifest


def load(data_dir: Path) -> dict[str, Any]:
    """The manifest of a dataset built by :func:`make`."""
    manifest: dict[str, Any] = json.loads((data_dir / MANIFEST).read_text())
    return manifest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.dataset", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--data-dir", type=Path, required=True, help="a new directory")
    parser.add_argument("--database-url", default="", help="an empty database (SQLite's default)")
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of the full size")
    parser.add_argument("--quick", action="store_true", help="--scale 0.05: tests")
    args = parser.parse_args(argv)
    if args.quick:
        args.scale = 0.05
    command = "python -m bench.dataset " + shlex.join(sys.argv[1:] if argv is None else argv)
    manifest = make(args.data_dir, args.database_url or None, args.scale)
    print(f"command: {command.strip()}")
    for name, count in manifest["ids"]["counts"].items():
        print(f"{name:>14}  {count:,}")
    print(f"built in {manifest['seconds']} s: {manifest['timings']}")
    print(json.dumps({"counts": manifest["ids"]["counts"], "seconds": manifest["seconds"]}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
