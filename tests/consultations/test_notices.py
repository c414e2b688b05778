"""A consultation's notifications: it opens, its deadline nears, an answer comes.

Who is told and who is not (another zone, another comune, an inactive
account, the actor, who turned the kind off), that each thing is told once,
and the e-mail one of them becomes.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

from sqlalchemy import select, update
from starlette.applications import Starlette

from collab.accounts.actions import do_create_user
from collab.consultations import actions, notices
from collab.consultations.models import Consultation, Contribution
from collab.db import Database
from collab.models import User, Zone, utcnow
from collab.notifications.kinds import Kind
from collab.notifications.models import Mode, Notification, NotificationSetting
from collab.services import Services
from tests.conftest import World
from tests.conftest import email as email_of
from tests.consultations.scene import open_consultation
from tests.helpers import PASSWORD

PINEROLO, CUMIANA = "001191", "001097"


async def _person(
    db: Database, key: str, role: str = "tecnico", istat: str | None = PINEROLO
) -> User:
    async with db.transaction() as uow:
        return await do_create_user(
            uow, None, email=email_of(key), name=key.title(), role=role, password=PASSWORD,
            comune_istat=istat,
        )  # fmt: skip


async def _deactivate(db: Database, user: User) -> None:
    async with db.transaction() as uow:
        await uow.session.execute(update(User).where(User.id == user.id).values(active=False))


async def _never(db: Database, user: User, kind: Kind) -> None:
    async with db.transaction() as uow:
        uow.session.add(NotificationSetting(user_id=user.id, kind=kind.value, mode=Mode.NEVER))


async def _rows(db: Database, kind: Kind) -> list[Notification]:
    async with db.session() as session:
        found = await session.scalars(
            select(Notification).where(Notification.kind == kind.value).order_by(Notification.id)
        )
        return list(found)


def _who(rows: list[Notification], world: World) -> set[str]:
    names = {user.id: key for key, user in world.users.items()}
    return {names.get(row.user_id, str(row.user_id)) for row in rows}


async def _zone_id(db: Database, number: int) -> int:
    async with db.session() as session:
        found = await session.scalar(select(Zone.id).where(Zone.number == number))
    assert found is not None
    return found


async def _submit(db: Database, user: User, consultation_id: int) -> Contribution:
    async with db.transaction() as uow:
        return await actions.do_submit(uow, user, consultation_id, "Parere favorevole.", [])


async def _status(db: Database, staff: User, contribution_id: int, status: str) -> None:
    answer = "Accolto: si veda la delibera." if status != "under_review" else ""
    async with db.transaction() as uow:
        await actions.do_set_status(uow, staff, contribution_id, status, answer)


async def _deadline(db: Database, consultation_id: int) -> datetime:
    async with db.session() as session:
        found = await session.get(Consultation, consultation_id)
    assert found is not None
    return found.deadline


# -- opening --------------------------------------------------------------------------


async def test_an_opened_consultation_notifies_every_user_of_its_zones(
    db: Database, world: World
) -> None:
    gone = await _person(db, "gone5")
    await _deactivate(db, gone)
    await _never(db, world["portavoce5"], Kind.CONSULTATION_OPENED)
    consultation = await open_consultation(db, world["staff"])
    rows = await _rows(db, Kind.CONSULTATION_OPENED)
    # All roles of zone 5's comuni; not zone 9, not CMTo (the actor, the admin),
    # not the inactive account, not who turned the kind off.
    assert _who(rows, world) == {"sindaco5", "tecnico5"}
    zone5 = await _zone_id(db, 5)
    for row in rows:
        assert row.ref == f"consultation:{consultation.id}:opened"
        assert row.url == f"/consultations/{consultation.id}"
        assert row.title == "Parere sul Piano strategico"
        assert row.excerpt == "La zona esprima il parere obbligatorio sul PSM 2027-2029."
        assert (row.actor_id, row.zone_id) == (world["staff"].id, zone5)


async def test_a_consultation_of_two_zones_is_filed_under_none(db: Database, world: World) -> None:
    await open_consultation(db, world["staff"], zones=(5, 9))
    rows = await _rows(db, Kind.CONSULTATION_OPENED)
    assert _who(rows, world) == {
        "sindaco5", "tecnico5", "portavoce5", "sindaco9", "tecnico9", "portavoce9"
    }  # fmt: skip
    assert {row.zone_id for row in rows} == {None}


async def test_the_opening_mail_is_italian_with_the_link_and_unsubscribe(
    app: Starlette, db: Database, world: World
) -> None:
    services: Services = app.state.services
    consultation = await open_consultation(db, world["staff"])
    # The app's own mailer and sender (woken by the commit) write it to DATA_DIR/mail.
    message = await _mail_to(services.settings.mail_dir, email_of("sindaco5"))
    assert (
        message["Subject"] == "Nuova consultazione per il tuo comune: Parere sul Piano strategico"
    )
    link = f"{services.settings.base_url}/consultations/{consultation.id}"
    plain = message.get_body(("plain",))
    assert plain is not None and link in plain.get_content()
    assert "/unsubscribe/" in message["List-Unsubscribe"]
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def _inbox(directory: Path) -> list[EmailMessage]:
    found = []
    for path in sorted(directory.glob("*.eml")):
        parsed = message_from_bytes(path.read_bytes(), policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        found.append(parsed)
    return found


async def _mail_to(directory: Path, address: str, within: float = 10) -> EmailMessage:
    for _ in range(int(within / 0.1)):
        for message in await asyncio.to_thread(_inbox, directory):
            if message["To"] == address:
                return message
        await asyncio.sleep(0.1)
    raise AssertionError(f"no message to {address} within {within}s")


# -- the deadline ---------------------------------------------------------------------


async def test_mayors_and_delegates_of_comuni_that_have_not_sent_are_reminded(
    db: Database, world: World
) -> None:
    staff = world["staff"]
    consultation = await open_consultation(db, staff, days=10)
    deadline = await _deadline(db, consultation.id)
    # Pinerolo sends; Cumiana's portavoce (a mayor) names a delegate who has not.
    await _submit(db, world["sindaco5"], consultation.id)
    delegate = await _person(db, "delegato", istat=CUMIANA)
    async with db.transaction() as uow:
        await actions.do_name_delegate(uow, world["portavoce5"], consultation.id, delegate.email)
    # A week away: nothing yet.
    assert await notices.remind_deadlines(db, deadline - timedelta(days=7)) == 0
    at = deadline - timedelta(days=2, hours=12)
    assert await notices.remind_deadlines(db, at) == 2
    assert await notices.remind_deadlines(db, at + timedelta(minutes=1)) == 0  # once
    rows = await _rows(db, Kind.CONSULTATION_DEADLINE)
    # Not Pinerolo (it sent), not a tecnico, not zone 9.
    assert {row.user_id for row in rows} == {world["portavoce5"].id, delegate.id}
    stamp = deadline.strftime("%Y%m%d%H%M")
    assert {row.ref for row in rows} == {f"consultation:{consultation.id}:deadline:{stamp}:3"}
    assert {row.params["days"] for row in rows} == {3}
    assert {row.url for row in rows} == {f"/consultations/{consultation.id}#own-contribution"}
    assert {row.actor_id for row in rows} == {None}
    # A day away: once more, with the other sentence.
    assert await notices.remind_deadlines(db, deadline - timedelta(hours=20)) == 2
    assert await notices.remind_deadlines(db, deadline - timedelta(hours=19)) == 0
    last = (await _rows(db, Kind.CONSULTATION_DEADLINE))[2:]
    assert {row.params["days"] for row in last} == {1}
    assert {row.ref for row in last} == {f"consultation:{consultation.id}:deadline:{stamp}:1"}
    # Past the deadline: nothing.
    assert await notices.remind_deadlines(db, deadline + timedelta(minutes=1)) == 0


async def test_an_extended_deadline_reminds_again(db: Database, world: World) -> None:
    staff = world["staff"]
    consultation = await open_consultation(db, staff, days=10)
    first = await _deadline(db, consultation.id)
    await _never(db, world["sindaco5"], Kind.CONSULTATION_DEADLINE)
    assert await notices.remind_deadlines(db, first - timedelta(hours=12)) == 1
    async with db.transaction() as uow:
        await actions.do_extend(uow, staff, consultation.id, first + timedelta(days=5))
    later = await _deadline(db, consultation.id)
    assert await notices.remind_deadlines(db, later - timedelta(days=2)) == 1
    assert await notices.remind_deadlines(db, later - timedelta(hours=12)) == 1
    rows = await _rows(db, Kind.CONSULTATION_DEADLINE)
    # Only the portavoce: the sindaco turned the kind off.
    assert _who(rows, world) == {"portavoce5"}
    assert [row.params["days"] for row in rows] == [1, 3, 1]


async def test_a_consultation_opened_within_three_days_skips_that_reminder(
    db: Database, world: World
) -> None:
    consultation = await open_consultation(db, world["staff"], days=2)
    deadline = await _deadline(db, consultation.id)
    assert await notices.remind_deadlines(db, utcnow() + timedelta(minutes=1)) == 0
    assert await notices.remind_deadlines(db, deadline - timedelta(hours=6)) == 2
    rows = await _rows(db, Kind.CONSULTATION_DEADLINE)
    assert _who(rows, world) == {"sindaco5", "portavoce5"}
    assert {row.params["days"] for row in rows} == {1}


async def test_the_reminder_is_registered_with_the_app() -> None:
    from collab.features import REMINDERS

    assert notices.remind_deadlines in REMINDERS


# -- review and answer ----------------------------------------------------------------


async def test_a_review_and_an_answer_notify_the_comune_once_per_change(
    db: Database, world: World
) -> None:
    staff, mayor = world["staff"], world["sindaco5"]
    colleague = await _person(db, "collega")  # a tecnico of Pinerolo
    gone = await _person(db, "gone5")
    await _deactivate(db, gone)
    consultation = await open_consultation(db, staff, zones=(5, 9))
    async with db.transaction() as uow:
        await actions.do_name_delegate(uow, mayor, consultation.id, colleague.email)
    contribution = await _submit(db, colleague, consultation.id)  # the delegate sends
    await _status(db, staff, contribution.id, "under_review")
    rows = await _rows(db, Kind.CONTRIBUTION_ANSWERED)
    # Pinerolo's people only: not Luserna (tecnico5), Cumiana (portavoce5) or zone 9.
    assert {row.user_id for row in rows} == {mayor.id, colleague.id}
    assert {row.params["what"] for row in rows} == {"reviewed"}
    assert {row.url for row in rows} == {f"/contributions/{contribution.id}"}
    assert {(row.actor_id, row.zone_id) for row in rows} == {(staff.id, None)}
    await _status(db, staff, contribution.id, "accepted")
    answered = (await _rows(db, Kind.CONTRIBUTION_ANSWERED))[2:]
    assert {row.user_id for row in answered} == {mayor.id, colleague.id}
    assert {row.params["what"] for row in answered} == {"answered"}
    assert {row.url for row in answered} == {
        f"/contributions/{contribution.id}#contribution-answer-{contribution.id}"
    }
    assert {row.excerpt for row in answered} == {"Accolto: si veda la delibera."}
    # The same answer given again after a reopening is another change: told again.
    await _status(db, staff, contribution.id, "under_review")
    await _status(db, staff, contribution.id, "accepted")
    rows = await _rows(db, Kind.CONTRIBUTION_ANSWERED)
    assert len(rows) == 8 and len({(row.user_id, row.ref) for row in rows}) == 8
