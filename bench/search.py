"""Search benchmark: queries as a mayor, ``collab reindex``, and what indexing costs a reply.

    python -m bench.search [--scale 1.0] [--rounds 5] [--replies 200]
    python -m bench.search --database-url postgresql+asyncpg://...   # scripts/pg-tmp.sh

One database per run: SQLite in a fresh DATA_DIR, or the empty database
named by ``--database-url`` (or ``BENCH_DATABASE_URL``; not ``DATABASE_URL``,
which a test run on PostgreSQL points at its server's admin database). It is
migrated and given the demo data, then, at scale 1.0, generated data is
written with bulk Core inserts, past the index:

- 100,000 posts in 2,000 threads over every zone and the metropolitan boards;
- 5,000 contributions (one per comune) to 125 consultations;
- 200 closed meetings, each with its agenda, notes and published verbale;
- 2,000 library documents, each with the text of its file already extracted.

Every text is Italian words drawn with Zipf-like frequencies from topic
vocabularies (transport, schools, waste, budget, ...), so that a common word
is in a good share of the posts and a rare one in a few, as in real use.

Measured:

1. ``collab reindex`` (a subprocess, as an administrator runs it): its time,
   the items it wrote, and the index's size as a share of the database's
   (SQLite: the pages of the index's tables and indexes, from ``dbstat``;
   PostgreSQL: ``pg_total_relation_size`` of the index's tables over
   ``pg_database_size``).
2. One- and two-word searches by a mayor (the permission filter on), first
   page of results with snippets: ``GET /api/v1/search`` against one collab
   worker, after a warm-up round, ``--rounds`` rounds of every query in a
   shuffled order; p50, p99 and max of the time to the whole answer.
3. The reply's answer time with indexing on and off, side by side: two
   workers on the same database, one of them with the index step of
   :meth:`collab.db.Database.transaction` turned off
   (:func:`unindexed_app`); ``--replies`` replies to each, interleaved (on,
   off, off, on, ...), so that the database's growth and the machine's
   noise fall on both alike.

Prints a table, the command, and as its last line one JSON object. Timing
figures are only worth reporting from a quiet machine (docs/performance.md).
``--quick`` is a hundredth of the data and a few rounds, for a smoke test.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import secrets
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import httpx
from sqlalchemy import Table, bindparam, func, insert, select, text, update

from bench.procs import (
    ROOT,
    Server,
    collab_data,
    command_line,
    free_port,
    print_report,
    uvicorn_argv,
    work_dir,
)
from bench.stats import percentile

UNINDEXED = "bench.search:unindexed_app"
CHUNK = 2_000  # rows per bulk insert
SEED = 16

# --- Italian text ----------------------------------------------------------------------

TOPICS: dict[str, str] = {
    "trasporti": "trasporto trasporti autobus corsa corse linea linee fermata fermate treno "
    "treni stazione orario orari navetta pendolari ferrovia binario biglietto abbonamento "
    "ciclabile ciclovia parcheggio viabilità traffico rotonda incrocio strada strade "
    "provinciale marciapiede mobilità sostenibile",
    "scuola": "scuola scuole scolastico scolastica mensa mense scuolabus alunni studenti "
    "insegnanti palestra aula aule asilo nido materna primaria secondaria iscrizioni "
    "refezione calendario compiti laboratorio doposcuola edilizia",
    "ambiente": "rifiuti raccolta differenziata porta organico plastica vetro carta "
    "compostaggio ecocentro discarica sacchi cassonetti riciclo inquinamento aria acqua "
    "depuratore fognatura alluvione frana idrogeologico bosco alberi verde parco",
    "bilancio": "bilancio spesa spese entrate tributi imposta tassa tariffa rendiconto "
    "variazione avanzo disavanzo mutuo finanziamento contributo contributi fondi bando "
    "bandi graduatoria rimborso investimento investimenti patto",
    "sanità": "ospedale ambulatorio medico medici farmacia guardia emergenza ambulanza "
    "vaccinazione prevenzione anziani assistenza domiciliare sociale servizi disabili "
    "consultorio prenotazione",
    "turismo": "turismo turisti sentiero sentieri escursioni rifugio museo ecomuseo valle "
    "valli montagna lago festa sagra mercato prodotti tipici ospitalità accoglienza "
    "promozione eventi",
    "digitale": "sportello digitale telematico pratiche pratica modulo moduli firma "
    "portale piattaforma banda larga fibra connessione software dati aperti protocollo "
    "certificato identità",
    "territorio": "piano regolatore variante urbanistica edilizio permesso suolo consumo "
    "agricolo agricole produttive industriale capannone area aree vincolo paesaggio "
    "catasto esproprio cantiere lavori manutenzione ponte",
}
COMMON = (  # noqa: SIM905 (a hundred quoted words read worse)
    "il la lo i gli le un una di a da in con su per tra fra e o ma che non come anche "
    "più già sono è stato stata hanno ha abbiamo dal della delle del dei al alla nel "
    "nella sul sulla questo questa quello comune comuni zona sindaco giunta consiglio "
    "proposta proposte richiesta incontro riunione assemblea parere progetto progetti "
    "anno mese settimana prossimo prossima scorso scorsa nuovo nuova tutti ogni molto "
    "chiediamo proponiamo segnaliamo ricordiamo necessario importante possibile urgente "
    "cittadini famiglie residenti uffici ufficio tecnico tecnici regione provincia città "
    "metropolitana torino pinerolo ivrea susa chieri carmagnola rivoli ciriè"
).split()
# Some rare words, each in a handful of texts: what a search for one thing finds.
RARE = (  # noqa: SIM905
    "teleriscaldamento sottopasso passerella fotovoltaico geotermia biodigestore "
    "cohousing coworking pedibus bicibus microcredito toponomastica gemellaggio "
    "carsharing elisoccorso defibrillatore"
).split()
ONE_WORD = [
    "trasporto", "scuole", "bilancio", "rifiuti", "ospedale", "sentieri", "sportello",
    "urbanistica", "fermata", "mensa", "alluvione", "tariffa", "ecomuseo", "fibra",
    "mobilita", "teleriscaldamento", "sottopasso", "pedibus", "assemblea", "cantiere",
]  # fmt: skip
TWO_WORDS = [
    "trasporto scolastico", "raccolta differenziata", "piano regolatore", "banda larga",
    "fondi bando", "mensa scolastica", "linea autobus", "consumo suolo", "guardia medica",
    "sentieri valli", "orari treni", "rifiuti organico", "pratiche edilizie",
    "assistenza domiciliare", "parcheggio stazione", "bilancio variazione",
    "ciclovia mobilità", "scuolabus alunni", "teleriscaldamento comune", "ponte lavori",
]  # fmt: skip


class Writer:
    """Zipf-weighted words: a few topics per text, common words between them."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.topics = {name: words.split() for name, words in TOPICS.items()}
        self.names = list(self.topics)

    @staticmethod
    def _zipf(rng: random.Random, words: list[str]) -> str:
        # Rank r drawn with weight 1/r: the first words of a list are the common ones.
        index = min(len(words) - 1, int(len(words) ** rng.random()) - 1)
        return words[index]

    def text(self, words: int, topics: int = 2) -> str:
        rng = self.rng
        chosen = rng.sample(self.names, topics)
        out: list[str] = []
        for n in range(words):
            roll = rng.random()
            if roll < 0.45:
                out.append(self._zipf(rng, COMMON))
            elif roll < 0.998:
                out.append(self._zipf(rng, self.topics[chosen[n % topics]]))
            else:
                out.append(rng.choice(RARE))
        sentences, start = [], 0
        while start < len(out):
            end = start + rng.randint(8, 18)
            sentence = " ".join(out[start:end])
            sentences.append(sentence[:1].upper() + sentence[1:] + ".")
            start = end
        return " ".join(sentences)

    def title(self) -> str:
        topic = self.topics[self.rng.choice(self.names)]
        return " ".join(self._zipf(self.rng, topic) for _ in range(3)).capitalize()


def html(text: str) -> str:
    return f"<p>{text}</p>"


# --- the data --------------------------------------------------------------------------


@dataclass
class Sizes:
    posts: int
    threads: int
    contributions: int
    meetings: int
    documents: int

    @classmethod
    def at(cls, scale: float) -> Sizes:
        def n(full: int, least: int) -> int:
            return max(least, round(full * scale))

        return cls(n(100_000, 200), n(2_000, 20), n(5_000, 40), n(200, 3), n(2_000, 10))


async def _insert(session: Any, model: Any, rows: list[dict[str, Any]]) -> list[int]:
    """Insert ``rows`` in chunks; their ids, in order."""
    ids: list[int] = []
    for start in range(0, len(rows), CHUNK):
        result = await session.execute(
            insert(model).returning(model.id, sort_by_parameter_order=True),
            rows[start : start + CHUNK],
        )
        ids.extend(result.scalars())
    return ids


async def generate(database_url: str, sizes: Sizes) -> dict[str, Any]:
    """Write the generated data (past the index); the ids the measures need."""
    from collab.consultations.models import (
        Consultation,
        ConsultationTheme,
        ConsultationZone,
        Contribution,
        ContributionVersion,
        Status,
    )
    from collab.db import Database
    from collab.documents.models import Blob, Document, StoredFile
    from collab.forums.models import Post, Thread
    from collab.meetings.models import AgendaItem, Meeting, MeetingState, MeetingZone, Verbale
    from collab.models import Comune, Role, Theme, User, Zone
    from collab.search.models import FileText

    rng = random.Random(SEED)
    writer = Writer(rng)
    now = datetime.now(UTC)
    db = Database(database_url)  # Core inserts: no events, nothing to log
    try:
        async with db.session() as s:
            zones = list(await s.scalars(select(Zone.id).order_by(Zone.number)))
            themes = list(await s.scalars(select(Theme.id).where(Theme.active).order_by(Theme.id)))
            comuni = list(await s.scalars(select(Comune.id).order_by(Comune.id)))
            staff = await s.scalar(select(User.id).where(User.role == Role.STAFF).limit(1))
            mayor = (
                await s.execute(
                    select(User.id, Comune.zone_id)
                    .join(Comune, Comune.id == User.comune_id)
                    .where(User.role == Role.SINDACO, User.active)
                    .order_by(User.id)
                    .limit(1)
                )
            ).one()
        assert staff is not None
        authors = [staff, mayor[0]]
        started = time.perf_counter()
        async with db.transaction() as uow:
            s = uow.session
            thread_rows = []
            for i in range(sizes.threads):
                zone = None if i % 10 == 9 else zones[i % len(zones)]
                thread_rows.append({
                    "zone_id": zone, "theme_id": themes[i % len(themes)],
                    "title": writer.title(), "author_id": authors[i % 2],
                    "created_at": now - timedelta(days=400 - i * 100 / sizes.threads),
                    "last_activity_at": now,
                })  # fmt: skip
            threads = await _insert(s, Thread, thread_rows)
        first = now - timedelta(days=300)
        step = timedelta(days=299) / sizes.posts
        counts: dict[int, int] = {}
        for start in range(0, sizes.posts, CHUNK):
            rows = []
            for k in range(start, min(sizes.posts, start + CHUNK)):
                # Every thread gets its first post, the rest go anywhere.
                thread = threads[k] if k < len(threads) else rng.choice(threads)
                counts[thread] = counts.get(thread, 0) + 1
                body = writer.text(rng.randint(15, 70))
                rows.append({
                    "thread_id": thread, "author_id": authors[k % 2], "source": body,
                    "html": html(body), "created_at": first + step * k,
                })  # fmt: skip
            async with db.transaction() as uow:
                await _insert(uow.session, Post, rows)
            log(f"  {min(sizes.posts, start + CHUNK):,} of {sizes.posts:,} posts")
        table = cast(Table, Thread.__table__)
        bump = update(table).where(table.c.id == bindparam("tid")).values(post_count=bindparam("n"))
        async with db.transaction() as uow:
            await (await uow.session.connection()).execute(
                bump, [{"tid": t, "n": n} for t, n in counts.items()]
            )
        # Consultations: each comune answers each of them once.
        per = min(len(comuni), 40)
        consultations = -(-sizes.contributions // per)
        async with db.transaction() as uow:
            s = uow.session
            opened = await _insert(s, Consultation, [
                {"title": f"Parere dei comuni: {writer.title()}",
                 "body_source": (b := writer.text(80, 3)), "body_html": html(b),
                 "deadline": now + timedelta(days=30), "created_by_id": staff,
                 "created_at": now - timedelta(days=200 - n)}
                for n in range(consultations)
            ])  # fmt: skip
            await s.execute(insert(ConsultationZone), [
                {"consultation_id": c, "zone_id": zones[n % len(zones)]}
                for n, c in enumerate(opened)
            ])  # fmt: skip
            await s.execute(insert(ConsultationTheme), [
                {"consultation_id": c, "theme_id": themes[n % len(themes)]}
                for n, c in enumerate(opened)
            ])  # fmt: skip
            made = 0
            rows = []
            for n, consultation in enumerate(opened):
                for k in range(min(per, sizes.contributions - made)):
                    rows.append({
                        "consultation_id": consultation, "comune_id": comuni[k], "number": k + 1,
                        "status": Status.RECEIVED, "version": 1, "submitted_by_id": mayor[0],
                        "submitted_at": now - timedelta(days=199 - n),
                    })  # fmt: skip
                made += min(per, sizes.contributions - made)
            contributions = await _insert(s, Contribution, rows)
            versions = []
            for contribution in contributions:
                body = writer.text(rng.randint(40, 200), 3)
                versions.append({
                    "contribution_id": contribution, "number": 1, "body_source": body,
                    "body_html": html(body), "created_by_id": mayor[0],
                })  # fmt: skip
            await _insert(s, ContributionVersion, versions)
        # Meetings, closed, each with its published verbale.
        async with db.transaction() as uow:
            s = uow.session
            meetings = await _insert(s, Meeting, [
                {"title": f"Assemblea dei sindaci n. {n + 1}",
                 "description": writer.text(30), "starts_at": now - timedelta(days=n + 1),
                 "state": MeetingState.CHIUSA, "convened_by_id": staff,
                 "public_token": secrets.token_urlsafe(16) if n % 2 == 0 else None}
                for n in range(sizes.meetings)
            ])  # fmt: skip
            await s.execute(insert(MeetingZone), [
                {"meeting_id": m, "zone_id": zones[n % len(zones)]}
                for n, m in enumerate(meetings)
            ])  # fmt: skip
            await s.execute(insert(AgendaItem), [
                {"meeting_id": m, "position": p, "title": writer.title(),
                 "theme_id": themes[(n + p) % len(themes)], "notes": writer.text(60)}
                for n, m in enumerate(meetings) for p in range(4)
            ])  # fmt: skip
            await s.execute(insert(Verbale), [
                {"meeting_id": m, "source": (v := writer.text(400, 3)), "html": html(v),
                 "published_at": now - timedelta(days=n), "published_by_id": staff}
                for n, m in enumerate(meetings)
            ])  # fmt: skip
        # Library documents, each with its file's text read already.
        async with db.transaction() as uow:
            s = uow.session
            documents = await _insert(s, Document, [
                {"theme_id": themes[n % len(themes)], "title": f"Modulo: {writer.title()}",
                 "description": writer.text(20), "version": 1, "created_by_id": staff}
                for n in range(sizes.documents)
            ])  # fmt: skip
            shas = [f"{SEED:02d}{n:062d}" for n in range(len(documents))]
            await s.execute(insert(Blob), [
                {"sha256": sha, "size": 50_000, "content_type": "application/pdf"} for sha in shas
            ])  # fmt: skip
            await s.execute(insert(StoredFile), [
                {"sha256": sha, "name": f"modulo-{d}.pdf", "content_type": "application/pdf",
                 "size": 50_000, "uploaded_by_id": staff, "document_id": d, "version": 1}
                for sha, d in zip(shas, documents, strict=True)
            ])  # fmt: skip
            await s.execute(insert(FileText), [
                {"sha256": sha, "state": "done", "attempts": 1, "due_at": now,
                 "text": writer.text(rng.randint(300, 1500), 3), "updated_at": now}
                for sha in shas
            ])  # fmt: skip
        log(f"data written in {time.perf_counter() - started:.1f} s")
        own_thread = next(
            t for t, row in zip(threads, thread_rows, strict=True) if row["zone_id"] == mayor[1]
        )
        return {"mayor": mayor[0], "thread": own_thread}
    finally:
        await db.dispose()


# --- the measures ----------------------------------------------------------------------


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def unindexed_app() -> Any:
    """collab's app with the index step of every transaction turned off: the
    reply path without search, to compare with (uvicorn ``--factory``)."""
    import collab.db
    from collab.app import create_app

    async def no_index(session: Any, events: Any) -> None:
        return None

    setattr(collab.db, "index_before_commit", no_index)  # noqa: B010 (a module's global)
    return create_app()


def _pct(values: list[float], q: float) -> float:
    return round(percentile(values, q), 1)


def timing(values: list[float]) -> dict[str, Any]:
    return {
        "n": len(values),
        "p50_ms": round(statistics.median(values), 1) if values else 0.0,
        "p99_ms": _pct(values, 0.99),
        "max_ms": round(max(values), 1) if values else 0.0,
    }


async def index_size(database_url: str) -> dict[str, Any]:
    """The index's items, its bytes and the database's."""
    from collab.db import Database
    from collab.search.models import SearchItem

    db = Database(database_url)
    try:
        async with db.session() as s:
            items = int(await s.scalar(select(func.count()).select_from(SearchItem)) or 0)
            if database_url.startswith("sqlite"):
                page = int(await s.scalar(text("PRAGMA page_size")) or 0)
                total = page * int(await s.scalar(text("PRAGMA page_count")) or 0)
                # dbstat names each table and index; the index's are search_*.
                index = int(
                    await s.scalar(text("SELECT SUM(pgsize) FROM dbstat WHERE name LIKE 'search%'"))
                    or 0
                )
                index += int(
                    await s.scalar(
                        text(
                            "SELECT SUM(pgsize) FROM dbstat WHERE name IN (SELECT name FROM "
                            "sqlite_master WHERE type = 'index' AND tbl_name LIKE 'search%') "
                            "AND name NOT LIKE 'search%'"
                        )
                    )
                    or 0
                )
            else:
                total = int(await s.scalar(text("SELECT pg_database_size(current_database())")))
                index = int(
                    await s.scalar(
                        text(
                            "SELECT pg_total_relation_size('search_item') "
                            "+ pg_total_relation_size('search_item_zone')"
                        )
                    )
                )
        return {"items": items, "index_bytes": index, "database_bytes": total,
                "index_share": round(index / total, 3) if total else 0.0}  # fmt: skip
    finally:
        await db.dispose()


def reindex(env: dict[str, str]) -> float:
    """``collab reindex`` as an administrator runs it; its seconds."""
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "collab", "reindex"],
        env={**os.environ, **env}, cwd=ROOT, check=True, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    return round(time.perf_counter() - started, 1)


async def session_for(database_url: str, user_id: int) -> tuple[str, str]:
    """A logged-in session of ``user_id`` (cookie, CSRF token), written as a login writes it."""
    from collab.db import Database
    from collab.sessions import do_start
    from collab.web import CSRF_SESSION_KEY

    db = Database(database_url)
    try:
        csrf = secrets.token_urlsafe(32)
        async with db.transaction() as uow:
            cookie = await do_start(
                uow, user_id, user_agent="bench.search", ip="127.0.0.1",
                data={CSRF_SESSION_KEY: csrf},
            )  # fmt: skip
        return cookie, csrf
    finally:
        await db.dispose()


@dataclass
class Searches:
    times: dict[str, list[float]] = field(default_factory=lambda: {"one": [], "two": []})
    found: dict[str, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)


async def search_rounds(base: str, cookie: str, rounds: int) -> Searches:
    queries = [("one", q) for q in ONE_WORD] + [("two", q) for q in TWO_WORDS]
    out = Searches()
    rng = random.Random(SEED)
    async with httpx.AsyncClient(
        base_url=base, timeout=60, cookies={"collab_session": cookie}
    ) as client:
        for round_ in range(rounds + 1):  # the first is the warm-up
            rng.shuffle(queries)
            for kind, q in queries:
                started = time.perf_counter()
                response = await client.get("/api/v1/search", params={"q": q})
                elapsed = (time.perf_counter() - started) * 1000
                if response.status_code != 200:
                    out.errors.append(f"{q}: HTTP {response.status_code}")
                    continue
                out.found[q] = response.json()["total"]
                if round_:
                    out.times[kind].append(elapsed)
    return out


async def reply_rounds(
    bases: dict[str, str], cookie: str, csrf: str, thread: int, replies: int
) -> tuple[dict[str, list[float]], list[str]]:
    times: dict[str, list[float]] = {name: [] for name in bases}
    errors: list[str] = []
    rng = random.Random(SEED)
    writer = Writer(rng)
    clients = {
        name: httpx.AsyncClient(base_url=base, timeout=60, cookies={"collab_session": cookie})
        for name, base in bases.items()
    }
    try:
        order = list(bases)
        for n in range(replies + 2):  # two warm-up replies to each
            for name in order if n % 2 == 0 else reversed(order):
                started = time.perf_counter()
                response = await clients[name].post(
                    f"/threads/{thread}/reply",
                    data={"body": writer.text(rng.randint(15, 70))},
                    headers={"x-csrf-token": csrf},
                )
                elapsed = (time.perf_counter() - started) * 1000
                if response.status_code != 303:
                    errors.append(f"{name}: HTTP {response.status_code}")
                elif n >= 2:
                    times[name].append(elapsed)
    finally:
        for client in clients.values():
            await client.aclose()
    return times, errors


def run(args: argparse.Namespace, path: Path) -> dict[str, Any]:
    sizes = Sizes.at(args.scale)
    url = args.database_url or f"sqlite+aiosqlite:///{path / 'data' / 'collab.sqlite3'}"
    database = "sqlite" if url.startswith("sqlite") else "postgresql"
    env = collab_data(path / "data", DATABASE_URL=url)
    ids = asyncio.run(generate(url, sizes))
    log("collab reindex ...")
    seconds = reindex(env)
    size = asyncio.run(index_size(url))
    log(f"reindex: {seconds} s, {size['items']:,} items")
    cookie, csrf = asyncio.run(session_for(url, ids["mayor"]))
    servers: dict[str, Server] = {}
    try:
        for name, app in (("indexed", "collab.app:create_app"), ("unindexed", UNINDEXED)):
            port = free_port()
            servers[name] = Server(name, uvicorn_argv(app, port, factory=True), port, path,
                                   env=env, cwd=ROOT)  # fmt: skip
        for server in servers.values():
            server.wait_http("/healthz")
        bases = {name: f"http://127.0.0.1:{s.port}" for name, s in servers.items()}
        log("searches ...")
        searches = asyncio.run(search_rounds(bases["indexed"], cookie, args.rounds))
        log("replies ...")
        replies, reply_errors = asyncio.run(
            reply_rounds(bases, cookie, csrf, ids["thread"], args.replies)
        )
    except Exception:
        for server in servers.values():
            log(server.log_tail())
        raise
    finally:
        for server in servers.values():
            server.stop()
    on, off = timing(replies["indexed"]), timing(replies["unindexed"])
    overhead = round(100 * (on["p50_ms"] / off["p50_ms"] - 1), 1) if off["p50_ms"] else 0.0
    errors = searches.errors + reply_errors
    return {
        "database": database, "scale": args.scale, "sizes": vars(sizes),
        "reindex_s": seconds, **size,
        "search": {"one_word": timing(searches.times["one"]),
                   "two_words": timing(searches.times["two"]),
                   "found": searches.found},
        "reply": {"indexed": on, "unindexed": off, "overhead_p50_pct": overhead},
        "errors": errors,
        "ok": not errors and size["items"] > 0 and any(searches.found.values()),
    }  # fmt: skip


def table(report: dict[str, Any]) -> str:
    sizes = report["sizes"]
    lines = [
        f"database {report['database']}: {sizes['posts']:,} posts, {sizes['contributions']:,} "
        f"contributions, {sizes['meetings']:,} verbali, {sizes['documents']:,} documents",
        f"collab reindex: {report['reindex_s']} s, {report['items']:,} items; index "
        f"{report['index_bytes'] / 1e6:.1f} MB of {report['database_bytes'] / 1e6:.1f} MB "
        f"({100 * report['index_share']:.1f}%)",
        "",
        f"{'as a mayor, first page':<26} {'n':>5} {'p50 ms':>7} {'p99 ms':>7} {'max ms':>7}",
    ]
    rows = [
        ("search, one word", report["search"]["one_word"]),
        ("search, two words", report["search"]["two_words"]),
        ("reply, indexing on", report["reply"]["indexed"]),
        ("reply, indexing off", report["reply"]["unindexed"]),
    ]
    for name, t in rows:
        lines.append(f"{name:<26} {t['n']:>5} {t['p50_ms']:>7} {t['p99_ms']:>7} {t['max_ms']:>7}")
    lines.append(f"indexing adds {report['reply']['overhead_p50_pct']}% to a reply's p50")
    found = report["search"]["found"]
    lines.append("results: " + ", ".join(f"{q} {n:,}" for q, n in sorted(found.items())))
    if report["errors"]:
        lines.append("errors: " + "; ".join(report["errors"][:10]))
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.search", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of the full data")
    parser.add_argument("--rounds", type=int, default=5, help="rounds of every query (5)")
    parser.add_argument("--replies", type=int, default=200, help="replies to each worker (200)")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("BENCH_DATABASE_URL", ""),
        help="an empty database instead of SQLite in DATA_DIR (or BENCH_DATABASE_URL)",
    )
    parser.add_argument("--quick", action="store_true", help="1%% of the data, 2 rounds: tests")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    args = parser.parse_args(argv)
    if args.quick:
        args.scale, args.rounds, args.replies = 0.01, 2, 10
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    command = command_line("bench.search", argv)
    with work_dir("search", keep=args.keep) as path:
        report = run(args, path)
    return print_report(command, table(report), report)


if __name__ == "__main__":
    sys.exit(main())
