"""The data the page-by-page browser tests visit: one of each state a page has.

Built through the domain actions, directly in the live server's database (the
server renders pages from the database, and its hub catches up with the event
log), so it does not depend on what other browser modules did to the demo
data. Every object is new; names and numbers of the demo are only read.

The texts are realistic and include what breaks narrow layouts: a protocol
code with no space in it, a long URL, a file name without breaks.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Coroutine
from dataclasses import asdict, dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import select

from collab.accounts.email_change import do_request_email_change
from collab.accounts.reset import do_request_reset
from collab.consultations import actions as consultations
from collab.db import Database
from collab.demo import ASSEMBLY, DEMO_PASSWORD
from collab.demo_library import one_page_pdf
from collab.documents.models import Document
from collab.documents.sniff import PDF
from collab.documents.store import FileStore
from collab.documents.upload import Upload
from collab.forums import actions as forums
from collab.mail.compose import Draft
from collab.mail.outbox import queue
from collab.meetings import actions as meetings
from collab.meetings import attachments, attendance, floor, minutes, voting
from collab.meetings.actions import AgendaLine, Convocation
from collab.meetings.models import Meeting, VotingBody
from collab.meetings.room import load_room
from collab.models import Comune, Theme, User, Zone, utcnow
from collab.notifications.kinds import Kind
from collab.notifications.unsubscribe import token_for

__all__ = ["ROLES", "Scene", "build_scene", "run_async", "start_thread"]

T = TypeVar("T")

# The roles the page tests visit as, and the demo account of each (None: no
# account). All comune roles are in ZO 5 (Pinerolese), so each reads the
# scene's zone pages, meetings and consultations.
# The live server's secret (tests/browser/conftest.py): signed links are made with it.
SECRET_KEY = "b" * 48

ROLES: dict[str, str | None] = {
    "anonymous": None,
    "sindaco": "sindaco.pinerolo@demo.collab.it",
    "tecnico": "tecnico.luserna@demo.collab.it",
    "portavoce": "portavoce.pinerolese@demo.collab.it",
    "staff": "staff@demo.collab.it",
    "admin": "admin@demo.collab.it",
}

ZONE = 5
THEME = "trasporti-mobilita"
METRO_THEME = "psm-mobile-collegata"
# What people paste: a protocol code and an address without a single space.
PROTOCOL = "CMTO_2026_ZO5_TPL-ValPellice_Prot.0001234_allegatoB"
LONG_URL = (
    "https://www.cittametropolitana.torino.it/cms/trasporti/"
    "orari-linee-extraurbane-val-pellice-2027-documento-completo.pdf"
)
PINEROLO, CUMIANA = "001191", "001097"


@dataclass(frozen=True)
class Scene:
    """Ids, slugs and tokens of the scene's objects, named as the page list uses them."""

    zone: int
    theme: str
    metro_theme: str
    thread: int  # 12 posts: one edited, one hidden by the portavoce, one deleted
    own_post: int  # the sindaco's, still editable
    edited_post: int
    meeting_convened: int
    meeting_live: int  # in progress: floor, queue, notes, an open and a closed vote
    meeting_draft: int  # closed, the verbale still a draft
    meeting_published: int  # closed, verbale published
    live_vote: int  # the live meeting's open vote
    live_token: str
    published_token: str
    consultation: int  # contributions answered and under review
    consultation_open: int  # nobody has answered yet: the send form
    contribution: int  # two versions, partly accepted
    document: int
    library_theme: str
    user: int
    theme_id: int
    comune: int
    reset_token: str  # a password reset link, unused
    unsubscribe_token: str  # the sindaco's one-click unsubscribe from replies
    email_token: str  # the tecnico's link confirming a new e-mail address
    mail: int  # a message in the outbox
    body: int  # the demo's assembly of ZO 5 and 6 (a voting body of comuni)

    def values(self) -> dict[str, Any]:
        return asdict(self)


def run_async(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` to the end in a fresh event loop on another thread.

    While Playwright's sync API is active its event loop counts as running in
    the test's thread, where ``asyncio.run`` would refuse to start.
    """
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()


def build_scene(database_url: str, data_dir: Path) -> Scene:
    """Create the scene in the live server's database and files."""
    return run_async(_build(database_url, FileStore(data_dir / "files")))


async def _build(url: str, store: FileStore) -> Scene:
    db = Database(url)
    try:
        users = await _users(db)
        thread, own_post, edited_post = await _thread(db, users, store)
        meeting_ids = await _meetings(db, users, store)
        consultation, consultation_open, contribution = await _consultations(db, users, store)
        reset_token, mail = await _mail(db, users)
        async with db.session() as s:
            document = await s.scalar(select(Document).order_by(Document.id).limit(1))
            assert document is not None, "the demo library has documents"
            library_theme = await s.get(Theme, document.theme_id)
            theme = await s.scalar(select(Theme).where(Theme.slug == THEME))
            comune = await s.scalar(select(Comune.id).where(Comune.istat_code == PINEROLO))
            assert library_theme and theme and comune
            live = await s.get(Meeting, meeting_ids["live"])
            published = await s.get(Meeting, meeting_ids["published"])
            assert live and live.public_token and published and published.public_token
            body = await s.scalar(select(VotingBody.id).where(VotingBody.name == ASSEMBLY))
            assert body is not None, "the demo has its assembly"
            return Scene(
                zone=ZONE, theme=THEME, metro_theme=METRO_THEME,
                thread=thread, own_post=own_post, edited_post=edited_post,
                meeting_convened=meeting_ids["convened"], meeting_live=meeting_ids["live"],
                meeting_draft=meeting_ids["draft"], meeting_published=meeting_ids["published"],
                live_vote=meeting_ids["live_vote"],
                live_token=live.public_token, published_token=published.public_token,
                consultation=consultation, consultation_open=consultation_open,
                contribution=contribution, document=document.id,
                library_theme=library_theme.slug, user=users["sindaco"].id,
                theme_id=theme.id, comune=comune, reset_token=reset_token, mail=mail,
                unsubscribe_token=token_for(SECRET_KEY, users["sindaco"].id, Kind.REPLY),
                email_token=await _email_change(db, users), body=body,
            )  # fmt: skip
    finally:
        await db.dispose()


async def _mail(db: Database, users: dict[str, User]) -> tuple[str, int]:
    """A password reset asked for the tecnico: its link, and its message in the outbox."""
    async with db.transaction() as uow:
        asked = await do_request_reset(uow, users["tecnico"].email, "192.0.2.10")
        assert asked is not None
        link = f"http://127.0.0.1/password/reset/{asked.token}"
        draft = Draft(
            to=users["tecnico"].email,
            subject="Scegli una nuova password per collab",
            text=f"Apri questo link entro un'ora: {link}",
            html=f'<p><a href="{link}">{LONG_URL}</a></p>',
            kind="password_reset",
        )
        mail = queue(uow.session, draft, sender="collab <noreply@localhost>", base_url=LONG_URL)
        await uow.session.flush()
        return asked.token, mail.id


async def _email_change(db: Database, users: dict[str, User]) -> str:
    """The tecnico asked to change address: the confirmation link's token."""
    async with db.transaction() as uow:
        tecnico = await uow.session.get(User, users["tecnico"].id)
        assert tecnico is not None
        asked = await do_request_email_change(
            uow, tecnico, "nuovo.indirizzo@comune.example.it", DEMO_PASSWORD
        )
        return asked.token


async def _users(db: Database) -> dict[str, User]:
    async with db.session() as s:
        found = {u.email: u for u in await s.scalars(select(User))}
    return {role: found[email] for role, email in ROLES.items() if email}


async def _pdf(store: FileStore, name: str, title: str) -> Upload:
    data = one_page_pdf(title, ["Documento di prova per le pagine accessibili."])
    incoming = store.incoming(len(data) + 1)
    await incoming.write(data)
    await incoming.finish()
    return Upload(field="files", name=name, kind=PDF, incoming=incoming)


async def start_thread(
    db: Database, author: User, title: str, replies: list[tuple[User, str]]
) -> tuple[int, list[int]]:
    """A thread of the scene's zone and theme with ``replies``; its id and its posts' ids."""
    async with db.transaction() as uow:
        s = uow.session
        theme = await s.scalar(select(Theme).where(Theme.slug == THEME))
        zone_id = await s.scalar(select(Zone.id).where(Zone.number == ZONE))
        assert theme is not None and zone_id is not None
        thread = await forums.do_start_thread(
            uow, author, zone_id, theme, title,
            f"Apriamo la raccolta delle segnalazioni sugli orari. Il documento: {LONG_URL}",
        )  # fmt: skip
        thread_id = thread.id
    post_ids = []
    for user, text in replies:
        async with db.transaction() as uow:
            post_ids.append((await forums.do_reply(uow, user, thread_id, text)).id)
    return thread_id, post_ids


async def _thread(db: Database, users: dict[str, User], store: FileStore) -> tuple[int, int, int]:
    mayor, tech, chair, staff = (
        users["sindaco"],
        users["tecnico"],
        users["portavoce"],
        users["staff"],
    )
    speakers = [tech, chair, staff, mayor]
    replies = [
        (speakers[n % 4], f"Segnalazione n. {n + 1}: la corsa delle {7 + n}:10 non coincide.")
        for n in range(10)
    ]
    thread_id, posts = await start_thread(db, mayor, f"Orari dei bus, rif. {PROTOCOL}", replies)
    async with db.transaction() as uow:  # the 12th post carries a file
        attached = await forums.do_reply(
            uow, mayor, thread_id, "Allego la tabella degli orari.",
            [await _pdf(store, "tabella_orari_linee_extraurbane_valpellice_2027.pdf", "Orari")],
        )  # fmt: skip
    edited = posts[0]  # the tecnico's
    async with db.transaction() as uow:
        await forums.do_edit_post(uow, tech, edited, "Segnalazione n. 1, corretta: 7:12.")
    async with db.transaction() as uow:
        await forums.do_hide_post(uow, chair, posts[3], "Dati personali nel testo")
    async with db.transaction() as uow:
        await forums.do_delete_own_post(uow, tech, posts[4])
    return thread_id, attached.id, edited


async def _convene(db: Database, staff: User, title: str, public: bool) -> int:
    async with db.session() as s:
        themes = list(await s.scalars(select(Theme).order_by(Theme.position).limit(3)))
        zone_id = await s.scalar(select(Zone.id).where(Zone.number == ZONE))
    assert zone_id is not None
    form = Convocation(
        title=title, zone_ids=[zone_id], starts_at=utcnow() + timedelta(hours=2),
        items=[AgendaLine(f"Punto {n + 1}: {t.name}", t.id, 20) for n, t in enumerate(themes)],
        description="Incontro pluritematico della zona.", place="Sala consiliare, Pinerolo",
        video_url="https://videoconferenza.example.org/zo5", public=public,
        materials=[("Bozza del parere", LONG_URL)],
    )  # fmt: skip
    async with db.transaction() as uow:
        return (await meetings.do_convene(uow, staff, form)).id


async def _meetings(db: Database, users: dict[str, User], store: FileStore) -> dict[str, int]:
    staff, chair, mayor, tech = (
        users["staff"],
        users["portavoce"],
        users["sindaco"],
        users["tecnico"],
    )
    async with db.session() as s:
        comuni = {c.istat_code: c.id for c in await s.scalars(select(Comune))}
    ids = {
        "convened": await _convene(db, staff, "Tavolo tecnico dei trasporti", False),
        "live": await _convene(db, staff, f"Assemblea dei sindaci, {PROTOCOL}", True),
        "draft": await _convene(db, staff, "Assemblea di ottobre", False),
        "published": await _convene(db, staff, "Assemblea di settembre", True),
    }
    for key in ("live", "draft", "published"):
        async with db.transaction() as uow:
            await meetings.do_open(uow, chair, ids[key])
    live = ids["live"]
    async with db.session() as s:
        room = await load_room(s, live)
    assert room is not None and room.current_item is not None
    item = room.current_item.id
    report = await _pdf(store, "relazione_tecnica_trasporto_pubblico_locale_2027.pdf", "Relazione")
    async with db.transaction() as uow:
        await attendance.do_check_in(uow, mayor, live, comuni[PINEROLO])
    async with db.transaction() as uow:
        await attendance.do_check_in(uow, chair, live, comuni[CUMIANA])
    async with db.transaction() as uow:
        await attachments.do_attach(uow, staff, live, item, [report])
    async with db.transaction() as uow:
        await floor.do_save_notes(uow, staff, live, item, f"Discusso. Vedi {LONG_URL}")
    async with db.transaction() as uow:
        await voting.do_open_vote(uow, chair, live, "Rinvio del punto alla prossima seduta")
    async with db.session() as s:
        room = await load_room(s, live)
    assert room is not None and room.votes
    first_vote = room.votes[0].vote.id
    async with db.transaction() as uow:  # 2 comuni of 4 present: no quorum
        await voting.do_cast_ballot(uow, mayor, live, first_vote, "favorevole")
    async with db.transaction() as uow:
        await voting.do_close_vote(uow, chair, live, first_vote)
    async with db.transaction() as uow:
        second = await voting.do_open_vote(
            uow, chair, live, "Parere favorevole sul Piano strategico"
        )
    ids["live_vote"] = second.id
    async with db.transaction() as uow:
        request = await floor.do_raise_hand(uow, mayor, live)
    async with db.transaction() as uow:
        await floor.do_grant_floor(uow, chair, live, request.id)
    async with db.transaction() as uow:
        await floor.do_raise_hand(uow, tech, live)
    for key in ("draft", "published"):
        async with db.transaction() as uow:
            await minutes.do_close(uow, chair, ids[key])
    async with db.transaction() as uow:
        await minutes.do_publish_verbale(uow, chair, ids["published"])
    return ids


async def _consultations(
    db: Database, users: dict[str, User], store: FileStore
) -> tuple[int, int, int]:
    staff, mayor, chair = users["staff"], users["sindaco"], users["portavoce"]
    async with db.session() as s:
        zone_id = await s.scalar(select(Zone.id).where(Zone.number == ZONE))
        theme_id = await s.scalar(select(Theme.id).where(Theme.slug == METRO_THEME))
    assert zone_id is not None and theme_id is not None

    async def open_one(title: str) -> int:
        form = consultations.Opening(
            title=title,
            body="La zona esprima il parere obbligatorio sul Piano strategico 2027-2029.",
            deadline=utcnow() + timedelta(days=10), zone_ids=[zone_id], theme_ids=[theme_id],
        )  # fmt: skip
        async with db.transaction() as uow:
            return (await consultations.do_open(uow, staff, form, [])).id

    answered = await open_one(f"Parere sul Piano strategico, {PROTOCOL}")
    waiting = await open_one("Parere sul Piano territoriale")
    text = "Il Comune di Pinerolo chiede il nodo di interscambio"
    resolution = await _pdf(store, "delibera_giunta_pinerolo_parere_psm_2027.pdf", "Delibera")
    async with db.transaction() as uow:
        mine = await consultations.do_submit(
            uow, mayor, answered, f"{text}. {LONG_URL}", [resolution]
        )
    async with db.transaction() as uow:
        await consultations.do_edit(uow, mayor, mine.id, f"{text} ferroviario.", [], [])
    async with db.transaction() as uow:
        theirs = await consultations.do_submit(
            uow, chair, answered, "Cumiana condivide il Piano.", []
        )
    for contribution, status, answer in (
        (mine.id, "under_review", ""),
        (mine.id, "partly_accepted", "Il nodo di interscambio entra nel Piano; la data no."),
        (theirs.id, "under_review", ""),
    ):
        async with db.transaction() as uow:
            await consultations.do_set_status(uow, staff, contribution, status, answer)
    return answered, waiting, mine.id
