"""Demo data for ``make run``: real comuni, one user per role, a few threads.

Idempotent: a database that already has the demo users is left alone.
Every demo user has the password :data:`DEMO_PASSWORD` (documented in the
README); never run this on a production database.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select

from collab.accounts.actions import do_create_user
from collab.consultations.actions import Opening, do_open, do_submit
from collab.db import Database
from collab.demo_library import load_demo_library
from collab.documents.store import FileStore
from collab.forums import actions
from collab.forums.models import Post, Thread
from collab.importer import import_comuni
from collab.legal.actions import LegalForm, do_save_page
from collab.legal.content import template_text
from collab.legal.models import LegalKind
from collab.meetings.actions import AgendaLine, Convocation, do_convene
from collab.meetings.bodies import BodyForm, MemberLine, do_create_body
from collab.meetings.models import BodyKind, Counting, Majority, Meeting, VotingBody
from collab.models import Theme, User, Zone, utcnow
from collab.templating import ROME

__all__ = ["DEMO_PASSWORD", "DEMO_USERS", "load_demo"]

DEMO_PASSWORD = "collab-demo"  # noqa: S105 - documented in the README, demo only
DEMO_CSV = Path(__file__).parent / "data" / "comuni_demo.csv"

# (email, name, role, ISTAT code or None for CMTo)
DEMO_USERS = [
    ("admin@demo.collab.it", "Amministratore Demo", "admin", None),
    ("staff@demo.collab.it", "Segreteria CMTo", "staff", None),
    ("sindaco.pinerolo@demo.collab.it", "Sindaco di Pinerolo", "sindaco", "001191"),
    ("portavoce.pinerolese@demo.collab.it", "Portavoce ZO 5 (Cumiana)", "portavoce", "001097"),
    ("tecnico.luserna@demo.collab.it", "Tecnico di Luserna San Giovanni", "tecnico", "001139"),
    ("tecnico.ivrea@demo.collab.it", "Tecnico di Ivrea", "tecnico", "001125"),
    ("sindaco.susa@demo.collab.it", "Sindaca di Susa", "sindaco", "001270"),
    # The other mayors of ZO 5 and ZO 6: with Pinerolo, Cumiana's portavoce and
    # Susa, all eight comuni of the demo meeting can check in and vote, so a
    # vote can reach its quorum (a majority: five).
    ("sindaco.luserna@demo.collab.it", "Sindaco di Luserna San Giovanni", "sindaco", "001139"),
    ("sindaco.torrepellice@demo.collab.it", "Sindaca di Torre Pellice", "sindaco", "001275"),
    ("sindaco.avigliana@demo.collab.it", "Sindaco di Avigliana", "sindaco", "001013"),
    ("sindaco.giaveno@demo.collab.it", "Sindaca di Giaveno", "sindaco", "001115"),
    ("sindaco.bussoleno@demo.collab.it", "Sindaco di Bussoleno", "sindaco", "001044"),
]

THREADS = [
    (
        5, "trasporti-mobilita", "sindaco.pinerolo@demo.collab.it",
        "Orari dei bus per la Val Pellice dal nuovo anno",
        "Con il nuovo contratto di servizio cambiano gli orari delle linee per "
        "Torre Pellice. Raccogliamo qui le segnalazioni dei comuni **entro fine mese**.",
        [
            ("tecnico.luserna@demo.collab.it",
             "Da Luserna segnaliamo che la corsa delle 7:10 non coincide più con il treno."),
            ("portavoce.pinerolese@demo.collab.it",
             "Grazie, porto la questione all'assemblea dei sindaci della zona."),
        ],
    ),
    (
        5, "protezione-civile", "portavoce.pinerolese@demo.collab.it",
        "Esercitazione intercomunale di primavera",
        "Proposta di un'esercitazione comune di protezione civile per i comuni della zona.",
        [],
    ),
    (
        6, "turismo", "sindaco.susa@demo.collab.it",
        "Promozione coordinata dei sentieri della Valle",
        "Proponiamo un calendario unico degli eventi estivi sui sentieri.",
        [],
    ),
    (
        None, "psm-mobile-collegata", "staff@demo.collab.it",
        "Piano strategico metropolitano: prime osservazioni sull'asse 3",
        "Apriamo la discussione sull'asse *più mobile, accessibile e collegata*. "
        "Ogni zona può indicare le priorità del proprio territorio.",
        [("tecnico.ivrea@demo.collab.it",
          "Per l'Eporediese la priorità è la linea Chivasso-Ivrea-Aosta.")],
    ),
]  # fmt: skip


async def load_demo(database: Database, store: FileStore | None = None) -> bool:
    """Load the demo data; False when it was already there. With ``store``
    (where the app keeps files), the forms library gets a few documents too."""
    async with database.session() as session:
        if await session.scalar(select(User.id).where(User.email == DEMO_USERS[0][0])):
            return False
    async with database.transaction() as uow:
        report = await import_comuni(uow, DEMO_CSV.read_bytes())
        assert report.ok, report.errors
    async with database.transaction() as uow:
        for email, name, role, istat in DEMO_USERS:
            await do_create_user(
                uow, None, email=email, name=name, role=role, password=DEMO_PASSWORD,
                comune_istat=istat,
            )  # fmt: skip
    for zone_number, theme_slug, author, title, body, replies in THREADS:
        async with database.transaction() as uow:
            s = uow.session
            users = {u.email: u for u in (await s.scalars(select(User))).all()}
            theme = await s.scalar(select(Theme).where(Theme.slug == theme_slug))
            assert theme is not None
            zone_id = None
            if zone_number is not None:
                zone_id = await s.scalar(select(Zone.id).where(Zone.number == zone_number))
            thread = await actions.do_start_thread(uow, users[author], zone_id, theme, title, body)
            for reply_author, text in replies:
                await actions.do_reply(uow, users[reply_author], thread.id, text)
    await _spread_in_time(database)
    await _demo_bodies(database)
    await _demo_meeting(database)
    await _demo_consultation(database)
    await _demo_legal(database)
    if store is not None:
        await load_demo_library(database, store)
    return True


async def public_meetings(database: Database) -> list[tuple[str, str]]:
    """(title, public path) of each meeting anyone may follow without logging in."""
    async with database.session() as session:
        rows = await session.execute(
            select(Meeting.title, Meeting.public_token)
            .where(Meeting.public_token.is_not(None))
            .order_by(Meeting.starts_at, Meeting.id)
        )
        return [(title, f"/m/{token}") for title, token in rows]


async def _demo_consultation(database: Database) -> None:
    """The zones' mandatory opinion on the Piano strategico, open for two weeks,
    with Susa's contribution already in."""
    deadline = (datetime.now(ROME) + timedelta(days=14)).replace(
        hour=18, minute=0, second=0, microsecond=0
    )
    async with database.transaction() as uow:
        s = uow.session
        staff = await s.scalar(select(User).where(User.email == "staff@demo.collab.it"))
        assert staff is not None
        zones = list(await s.scalars(select(Zone.id).where(Zone.number.in_([5, 6]))))
        themes = list(await s.scalars(select(Theme.id).where(Theme.slug.startswith("psm-"))))
        form = Opening(
            title="Parere delle zone sul Piano strategico metropolitano 2027-2029",
            body=(
                "Ai sensi dell'art. 27 dello Statuto, le zone omogenee esprimono un parere "
                "obbligatorio sul **Piano strategico metropolitano**.\n\n"
                "Ogni comune può inviare il proprio contributo entro la scadenza: osservazioni "
                "sugli assi del Piano, proposte di progetti, eventuali delibere allegate."
            ),
            deadline=deadline.astimezone(UTC),
            zone_ids=zones,
            theme_ids=themes,
        )
        consultation = await do_open(uow, staff, form, [])
        # Susa has already answered: staff have a contribution to review.
        susa = await s.scalar(select(User).where(User.email == "sindaco.susa@demo.collab.it"))
        assert susa is not None
        await do_submit(
            uow, susa, consultation.id,
            "Il Comune di Susa condivide gli assi del Piano e chiede che la **mobilità "
            "collegata** includa il nodo di interscambio della stazione di Susa.",
            [],
        )  # fmt: skip


async def _demo_legal(database: Database) -> None:
    """The legal pages saved once, by the system, with collab's template texts:
    a demo shows them as an administration finds them, placeholders highlighted."""
    for kind in LegalKind:
        form = LegalForm(body_it=template_text(kind, "it"), body_en=template_text(kind, "en"))
        async with database.transaction() as uow:
            await do_save_page(uow, None, kind, form)


# The bodies that meet: the mayors of ZO 5 and ZO 6, deciding by a double
# majority (comuni and population), and a commission of named people.
ASSEMBLY = "Assemblea dei sindaci delle zone 5 e 6"
COMMISSION = "Commissione consiliare Mobilità e trasporti"
COMMISSION_MEMBERS = [
    ("portavoce.pinerolese@demo.collab.it", "Consigliere delegato alla mobilità, presidente"),
    ("sindaco.susa@demo.collab.it", "Consigliera metropolitana"),
    ("sindaco.pinerolo@demo.collab.it", "Consigliere metropolitano"),
    ("tecnico.ivrea@demo.collab.it", "Dirigente del servizio Trasporti"),
]


async def _demo_bodies(database: Database) -> None:
    async with database.transaction() as uow:
        zones = list(await uow.session.scalars(select(Zone.id).where(Zone.number.in_([5, 6]))))
        await do_create_body(uow, None, BodyForm(
            name=ASSEMBLY, kind=BodyKind.COMUNI.value, zone_ids=zones,
            counting=Counting.ABSTAINERS_VOTE.value, majority=Majority.DOUBLE.value,
        ))  # fmt: skip
        await do_create_body(uow, None, BodyForm(
            name=COMMISSION, kind=BodyKind.PEOPLE.value,
            members=[MemberLine(email, title) for email, title in COMMISSION_MEMBERS],
            majority=Majority.SIMPLE.value, show_theme=True,
        ))  # fmt: skip


# The assembly of ZO 5 and ZO 6 tomorrow at 10:00 (Turin), convened and chaired by staff.
MEETING_AGENDA = [
    ("Parere sul Piano strategico metropolitano", "psm-mobile-collegata", 40),
    ("Orari del trasporto pubblico locale", "trasporti-mobilita", 20),
    ("Esercitazione di protezione civile", "protezione-civile", 15),
]


async def _demo_meeting(database: Database) -> None:
    tomorrow = (datetime.now(ROME) + timedelta(days=1)).replace(
        hour=10, minute=0, second=0, microsecond=0
    )
    async with database.transaction() as uow:
        s = uow.session
        staff = await s.scalar(select(User).where(User.email == "staff@demo.collab.it"))
        assert staff is not None
        themes = {t.slug: t.id for t in await s.scalars(select(Theme))}
        zones = list(await s.scalars(select(Zone.id).where(Zone.number.in_([5, 6]))))
        body = await s.scalar(select(VotingBody.id).where(VotingBody.name == ASSEMBLY))
        form = Convocation(
            title="Giornata di sintesi del Pinerolese e delle Valli di Susa e Sangone",
            zone_ids=zones,
            starts_at=tomorrow.astimezone(UTC),
            items=[
                AgendaLine(title, themes[slug], minutes) for title, slug, minutes in MEETING_AGENDA
            ],
            description="Incontro pluritematico delle due zone: parere sul PSM e servizi.",
            place="Sala consiliare, Pinerolo",
            video_url="https://videoconferenza.example.org/zo5-zo6",
            public=True,
            materials=[("Bozza del Piano strategico", "https://www.cittametropolitana.torino.it/")],
            body_id=body,
            # Staff chair it (the demo's scripts and tests drive it as staff), the
            # portavoce of ZO 5 presides while they are away.
            vice_chair_email="portavoce.pinerolese@demo.collab.it",
            session_number=3,
            notice_date=datetime.now(ROME).date(),
            notice_protocol="18342/2026",
        )
        await do_convene(uow, staff, form)


async def _spread_in_time(database: Database) -> None:
    # Demo activity looks more natural spread over the last days.
    async with database.transaction() as uow:
        threads = (await uow.session.scalars(select(Thread).order_by(Thread.id))).all()
        now = utcnow()
        for i, thread in enumerate(threads):
            start = now - timedelta(days=len(threads) - i, hours=3)
            thread.created_at = start
            posts = (
                await uow.session.scalars(
                    select(Post).where(Post.thread_id == thread.id).order_by(Post.id)
                )
            ).all()
            for j, post in enumerate(posts):
                post.created_at = start + timedelta(hours=2 * j)
            thread.last_activity_at = posts[-1].created_at if posts else start
