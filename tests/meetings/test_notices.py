"""Meetings' notifications: who hears of a convocation, a change, a cancellation,
a vote, a verbale and a meeting within the hour, and who does not; the edit of
a convened meeting; the invitation (ICS) in the e-mail.

ZO 5 of the demo data has Pinerolo (``sindaco5``), Luserna San Giovanni
(``tecnico5``, and a sindaco made here), Cumiana (``portavoce5``) and Torre
Pellice, whose sindaco made here is deactivated.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import parseaddr
from typing import Any
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select, update
from starlette.applications import Starlette

from collab.db import Database
from collab.errors import PermissionDenied
from collab.features import MAIL_ATTACHMENTS, REMINDERS
from collab.mail.sender import MailSender
from collab.mail.transport import SmtpTransport
from collab.meetings import actions, attendance, minutes, notices, voting
from collab.meetings.actions import AgendaLine, Convocation
from collab.meetings.models import AgendaItem, Meeting
from collab.models import AuditLog, User, utcnow
from collab.notifications.kinds import Kind
from collab.notifications.mailer import NotificationMailer
from collab.notifications.models import Mode, Notification, NotificationSetting
from collab.realtime.events import MeetingUpdated
from collab.templating import ROME
from tests.conftest import World, email
from tests.helpers import Client, capture_events, italian, parse, snapshot
from tests.meetings.scene import convene, zone_ids
from tests.meetings.test_actions import (
    CUMIANA,
    LUSERNA,
    PINEROLO,
    TORRE_PELLICE,
    add_sindaco,
    check_in,
    room_of,
)
from tests.smtp import SmtpServer

Login = Callable[[str], Awaitable[Client]]
SENDER = "Collab CMTo <avvisi@collab.example.it>"
PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n%%EOF\n"


@pytest.fixture
async def zone5(db: Database, world: World) -> dict[str, User]:
    """The world's ZO 5 users, a second sindaco, a deactivated one, and tecnico5
    who wants no news of convocations."""
    luserna = await add_sindaco(db, "luserna", LUSERNA)
    torre = await add_sindaco(db, "torre", TORRE_PELLICE)
    async with db.transaction() as uow:
        await uow.session.execute(update(User).where(User.id == torre.id).values(active=False))
        uow.session.add(
            NotificationSetting(
                user_id=world["tecnico5"].id, kind=Kind.MEETING_CONVENED.value, mode=Mode.NEVER
            )
        )
    keys = ("sindaco5", "tecnico5", "portavoce5")
    return {**{k: world[k] for k in keys}, "luserna": luserna, "torre": torre}


async def _notified(db: Database, ref: str) -> set[int]:
    async with db.session() as session:
        return set(
            await session.scalars(select(Notification.user_id).where(Notification.ref == ref))
        )


def _ids(world: World, *keys: str, extra: dict[str, User] | None = None) -> set[int]:
    users = {**world.users, **(extra or {})}
    return {users[k].id for k in keys}


async def _write(db: Database, write: Callable[..., Awaitable[Any]], *args: Any) -> Any:
    async with db.transaction() as uow:
        return await write(uow, *args)


# --- who hears of what ----------------------------------------------------------------


async def test_a_convocation_reaches_the_zones_users_only(
    db: Database, world: World, zone5: dict[str, User]
) -> None:
    meeting = await convene(db, world["staff"], (5,))
    ref = f"meeting:{meeting.id}:convened"
    # tecnico5 chose never; torre is inactive; staff acted; ZO 9 is another zone.
    assert await _notified(db, ref) == _ids(world, "sindaco5", "portavoce5", "luserna", extra=zone5)
    async with db.session() as session:
        row = await session.scalar(select(Notification).where(Notification.ref == ref).limit(1))
    assert row is not None
    assert (row.kind, row.url, row.title) == (
        "meeting_convened",
        f"/meetings/{meeting.id}",
        meeting.title,
    )
    assert row.zone_id == (await zone_ids(db, 5))[0]
    local = meeting.starts_at.astimezone(ROME).strftime("%d/%m/%Y %H:%M")
    assert row.params == {"meeting_id": meeting.id, "starts": local}
    assert row.excerpt == f"{local} · {meeting.place}"  # when and where, at a glance
    # Told again (a retry, a second process): nobody hears twice.
    async with db.transaction() as uow:
        assert await notices.convened(uow, world["staff"], meeting, await zone_ids(db, 5)) == []
    assert len(await _notified(db, ref)) == 3


async def test_a_cancellation_reaches_the_invited_but_not_its_author(
    db: Database, world: World, zone5: dict[str, User]
) -> None:
    meeting = await convene(db, world["staff"], (5,))
    await _write(db, actions.do_cancel, world["portavoce5"], meeting.id)
    assert await _notified(db, f"meeting:{meeting.id}:cancelled") == _ids(
        world, "sindaco5", "tecnico5", "luserna", extra=zone5
    )


async def test_a_vote_reaches_who_is_checked_in_now(
    db: Database, world: World, zone5: dict[str, User]
) -> None:
    meeting = await convene(db, world["staff"], (5,))
    await _write(db, actions.do_open, world["portavoce5"], meeting.id)
    await check_in(db, world["sindaco5"], meeting.id, PINEROLO)
    await check_in(db, world["portavoce5"], meeting.id, CUMIANA)
    await check_in(db, zone5["luserna"], meeting.id, LUSERNA)
    await _write(db, attendance.do_check_out, zone5["luserna"], meeting.id)
    vote = await _write(db, voting.do_open_vote, world["portavoce5"], meeting.id, "Parere sul PSM")
    # Not the chair who opened it, not Luserna who left, not who never came.
    assert await _notified(db, f"vote:{vote.id}:opened") == {world["sindaco5"].id}
    await _write(db, voting.do_close_vote, world["portavoce5"], meeting.id, vote.id)
    await _write(db, minutes.do_close, world["portavoce5"], meeting.id)
    await _write(db, minutes.do_publish_verbale, world["staff"], meeting.id)
    # The verbale: everyone who attended at any time.
    assert await _notified(db, f"meeting:{meeting.id}:verbale") == _ids(
        world, "sindaco5", "portavoce5", "luserna", extra=zone5
    )


async def test_the_reminder_tells_once_per_start_time(
    db: Database, world: World, zone5: dict[str, User]
) -> None:
    assert notices.remind_soon in REMINDERS
    now = utcnow()
    soon = await convene(db, world["staff"], (5,), title="Tra mezz'ora")
    later = await convene(db, world["staff"], (9,), title="Tra tre ore")
    gone = await convene(db, world["staff"], (9,), title="Annullata")
    async with db.transaction() as uow:
        for meeting, minutes_ahead in ((soon, 30), (later, 180), (gone, 20)):
            await uow.session.execute(
                update(Meeting)
                .where(Meeting.id == meeting.id)
                .values(starts_at=now + timedelta(minutes=minutes_ahead))
            )
    await _write(db, actions.do_cancel, world["staff"], gone.id)
    invited5 = _ids(world, "sindaco5", "tecnico5", "portavoce5", "luserna", extra=zone5)
    assert await notices.remind_soon(db, now) == len(invited5)
    assert await notices.remind_soon(db, now + timedelta(minutes=1)) == 0
    async with db.session() as session:
        refs = set(
            await session.scalars(
                select(Notification.ref).where(Notification.kind == Kind.MEETING_SOON.value)
            )
        )
        moved = await session.get(Meeting, soon.id)
    assert moved is not None
    assert refs == {notices.soon_ref(moved)}
    assert await _notified(db, notices.soon_ref(moved)) == invited5
    # Moved by a quarter of an hour: the invited are reminded of the new time.
    form = await _convocation(db, soon.id, starts_at=now + timedelta(minutes=45))
    await _write(db, actions.do_edit, world["staff"], soon.id, form)
    assert await notices.remind_soon(db, now + timedelta(minutes=2)) == len(invited5)
    # Another write (the public link) bumps the revision but reminds no one.
    await _write(db, actions.do_set_public, world["staff"], soon.id, True)
    assert await notices.remind_soon(db, now + timedelta(minutes=3)) == 0


# --- the edit, as an action -------------------------------------------------------------


async def _convocation(db: Database, meeting_id: int, **changes: Any) -> Convocation:
    room = await room_of(db, meeting_id)
    form = Convocation(
        title=room.meeting.title, zone_ids=sorted(room.zone_ids),
        starts_at=room.meeting.starts_at,
        items=[AgendaLine(i.title, i.theme_id, i.minutes) for i in room.items],
        description=room.meeting.description, place=room.meeting.place,
        video_url=room.meeting.video_url,
    )  # fmt: skip
    return replace(form, **changes)


async def test_an_edit_moves_the_meeting_and_tells_old_and_new_zones(
    db: Database, world: World, zone5: dict[str, User]
) -> None:
    meeting = await convene(db, world["staff"], (5,))
    before = await room_of(db, meeting.id)
    first = before.items[0]
    theme = first.theme_id
    starts = (utcnow() + timedelta(days=3)).replace(microsecond=0)
    form = await _convocation(
        db, meeting.id, title="Giornata di sintesi, nuova data", zone_ids=await zone_ids(db, 9),
        starts_at=starts, place="Sala Dorata, Ivrea",
        items=[AgendaLine("Nuovo punto", theme, 10), AgendaLine(first.title, theme, 45)],
    )  # fmt: skip
    async with capture_events(db) as events:
        await _write(db, actions.do_edit, world["staff"], meeting.id, form)
    room = await room_of(db, meeting.id)
    assert room.meeting.revision == before.meeting.revision + 1
    assert (room.meeting.title, room.meeting.place) == (form.title, "Sala Dorata, Ivrea")
    assert room.meeting.starts_at == starts
    assert [z.number for z in room.zones] == [9]
    assert [(i.position, i.title, i.minutes) for i in room.items] == [
        (1, "Nuovo punto", 10),
        (2, first.title, 45),
    ]
    assert room.items[1].id == first.id  # kept: its documents and notes with it
    assert [e for e in events if isinstance(e, MeetingUpdated)] == [
        MeetingUpdated(zone_id=None, meeting_id=meeting.id, state="convocata", item_id=None)
    ]
    async with db.session() as session:
        logged = await session.scalar(
            select(AuditLog).where(AuditLog.action == "meeting.edited").limit(1)
        )
    assert logged is not None
    ref = f"meeting:{meeting.id}:changed:{room.meeting.revision}"
    assert await _notified(db, ref) == _ids(
        world, "sindaco5", "tecnico5", "portavoce5", "luserna", "sindaco9", "tecnico9",
        "portavoce9", extra=zone5,
    )  # fmt: skip
    # A second edit is another change: told again, under its own revision.
    await _write(db, actions.do_edit, world["staff"], meeting.id, replace(form, place="Ivrea"))
    again = f"meeting:{meeting.id}:changed:{room.meeting.revision + 1}"
    assert await _notified(db, again) == _ids(world, "sindaco9", "tecnico9", "portavoce9")


async def test_a_portavoce_keeps_a_joint_meetings_other_zone_but_cannot_drop_it(
    db: Database, world: World
) -> None:
    meeting = await convene(db, world["staff"], (5, 9))
    chair = world["portavoce5"]
    kept = await _convocation(db, meeting.id, place="Cumiana")
    await _write(db, actions.do_edit, chair, meeting.id, kept)
    dropped = await _convocation(db, meeting.id, zone_ids=await zone_ids(db, 5))
    before = await snapshot(db)
    with pytest.raises(PermissionDenied):
        await _write(db, actions.do_edit, chair, meeting.id, dropped)
    assert await snapshot(db) == before


# --- the edit, as pages -----------------------------------------------------------------


BAD_DATE = "Give the date and time as day, month, year, hours and minutes."


def _local(moment: datetime) -> str:
    return moment.astimezone(ROME).strftime("%Y-%m-%dT%H:%M")


async def _edit_data(db: Database, meeting_id: int, **changes: Any) -> dict[str, Any]:
    room = await room_of(db, meeting_id)
    data: dict[str, Any] = {
        "title": room.meeting.title,
        "description": room.meeting.description,
        "zones": [str(z) for z in sorted(room.zone_ids)],
        "starts_at": _local(room.meeting.starts_at),
        "place": room.meeting.place,
        "video_url": room.meeting.video_url,
    }
    for n, item in enumerate(room.items):
        data |= {f"item-{n}-title": item.title, f"item-{n}-theme": str(item.theme_id),
                 f"item-{n}-minutes": str(item.minutes)}  # fmt: skip
    data.update(changes)
    return data


async def _post(client: Client, meeting_id: int, data: dict[str, Any]) -> Any:
    token = await client.csrf()
    return await client.http.post(
        f"/meetings/{meeting_id}/edit", data={"csrf_token": token, **data}
    )


async def test_the_chair_edits_from_the_room(login_as: Login, db: Database, world: World) -> None:
    meeting = await convene(db, world["staff"], (5,))
    chair = await login_as("portavoce5")
    room = parse(await chair.get(f"/meetings/{meeting.id}"))
    link = room.select_one('[data-testid="edit-meeting"]')
    assert link is not None and link["href"] == f"/meetings/{meeting.id}/edit"
    page = await chair.get(f"/meetings/{meeting.id}/edit")
    assert page.status_code == 200
    heading = parse(page).h1
    assert heading is not None and heading.get_text(strip=True) == italian("Edit the meeting")
    form = parse(page).select_one('form[data-testid="edit-form"]')
    assert form is not None and form["action"] == f"/meetings/{meeting.id}/edit"
    title = form.select_one('input[name="title"]')
    assert title is not None and title["value"] == meeting.title
    assert form.select_one('input[name="quorum"]') is None  # not changed by an edit
    data = await _edit_data(db, meeting.id, title="Assemblea dei sindaci ZO 5", place="Pinerolo")
    response = await _post(chair, meeting.id, data)
    assert response.status_code == 303
    assert response.headers["location"] == f"/meetings/{meeting.id}"
    async with db.session() as session:
        edited = await session.get(Meeting, meeting.id)
    assert edited is not None
    assert (edited.title, edited.place) == ("Assemblea dei sindaci ZO 5", "Pinerolo")
    assert edited.starts_at == meeting.starts_at.replace(second=0, microsecond=0)
    # Whoever may not chair sees no link.
    mayor = parse(await (await login_as("sindaco5")).get(f"/meetings/{meeting.id}"))
    assert mayor.select_one('[data-testid="edit-meeting"]') is None


@pytest.mark.parametrize(("key", "status"), [("sindaco5", 403), ("tecnico5", 403),
                                             ("portavoce9", 404), ("admin", 403)])  # fmt: skip
async def test_who_may_not_chair_may_not_edit(
    login_as: Login, db: Database, world: World, key: str, status: int
) -> None:
    meeting = await convene(db, world["staff"], (5,))
    client = await login_as(key)
    assert (await client.get(f"/meetings/{meeting.id}/edit")).status_code == status
    data = await _edit_data(db, meeting.id, title="Presa di mano")
    before = await snapshot(db)
    assert (await _post(client, meeting.id, data)).status_code == status
    assert await snapshot(db) == before


async def test_anonymous_is_sent_to_login(
    new_client: Callable[[], Client], db: Database, world: World
) -> None:
    meeting = await convene(db, world["staff"], (5,))
    client = new_client()
    response = await client.get(f"/meetings/{meeting.id}/edit", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login")
    before = await snapshot(db)
    token = await client.csrf()
    posted = await client.http.post(
        f"/meetings/{meeting.id}/edit", data={"csrf_token": token, "title": "Anonima"}
    )
    assert posted.status_code in (303, 401, 403)
    assert await snapshot(db) == before


@pytest.mark.parametrize("state", ["opened", "cancelled"])
async def test_a_meeting_no_longer_convened_cannot_be_edited(
    login_as: Login, db: Database, world: World, state: str
) -> None:
    meeting = await convene(db, world["staff"], (5,))
    write = actions.do_open if state == "opened" else actions.do_cancel
    await _write(db, write, world["portavoce5"], meeting.id)
    chair = await login_as("portavoce5")
    page = await chair.get(f"/meetings/{meeting.id}/edit")
    assert page.status_code == 409
    message = (
        "The meeting is in progress." if state == "opened" else "The meeting has been cancelled."
    )
    assert italian(message) in parse(page).get_text()
    data = await _edit_data(db, meeting.id, title="Troppo tardi")
    before = await snapshot(db)
    assert (await _post(chair, meeting.id, data)).status_code == 409
    assert await snapshot(db) == before


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"starts_at": "31/12/2030 10:00"}, BAD_DATE),
        ({"starts_at": "2030-02-30T10:00"}, BAD_DATE),
        ({"starts_at": ""}, "Give the date and time of the meeting."),
        ({"starts_at": "2001-01-01T10:00"}, "The meeting cannot start in the past."),
        ({"title": "x"}, "The title must be at least 3 characters long."),
        ({"zones": []}, "Choose at least one zone."),
        ({"place": "", "video_url": ""}, "Give a place, a video-call link, or both."),
        ({f"item-{n}-title": "" for n in range(3)}, "The agenda needs at least one item."),
    ],
)  # fmt: skip
async def test_bad_input_is_refused_with_its_message(
    login_as: Login, db: Database, world: World, changes: dict[str, Any], message: str
) -> None:
    meeting = await convene(db, world["staff"], (5,))
    chair = await login_as("portavoce5")
    before = await snapshot(db)
    response = await _post(chair, meeting.id, await _edit_data(db, meeting.id, **changes))
    assert response.status_code == 422
    assert italian(message) in parse(response).get_text()
    assert parse(response).select_one('form[data-testid="edit-form"]') is not None
    assert await snapshot(db) == before


async def test_items_taken_off_the_agenda_go(db: Database, world: World) -> None:
    meeting = await convene(db, world["staff"], (5,), items=2)
    room = await room_of(db, meeting.id)
    form = await _convocation(
        db, meeting.id, items=[AgendaLine("Solo questo", room.items[0].theme_id, 10)]
    )
    await _write(db, actions.do_edit, world["staff"], meeting.id, form)
    async with db.session() as session:
        titles = list(
            await session.scalars(
                select(AgendaItem.title).where(AgendaItem.meeting_id == meeting.id)
            )
        )
    assert titles == ["Solo questo"]


async def test_an_item_with_documents_stays_on_the_agenda(
    login_as: Login, db: Database, world: World
) -> None:
    meeting = await convene(db, world["staff"], (5,), items=2)
    room = await room_of(db, meeting.id)
    chair = await login_as("portavoce5")
    token = await chair.csrf()
    attached = await chair.http.post(
        f"/meetings/{meeting.id}/items/{room.items[1].id}/files",
        data={"csrf_token": token},
        files=[("files", ("parere.pdf", PDF, "application/pdf"))],
    )
    assert attached.status_code == 303
    data = await _edit_data(db, meeting.id, **{"item-1-title": ""})
    before = await snapshot(db)
    response = await _post(chair, meeting.id, data)
    assert response.status_code == 422
    assert italian(actions.AGENDA_FILES) in parse(response).get_text()
    assert await snapshot(db) == before


# --- the invitation in the e-mail -------------------------------------------------------


def _calendar(message: EmailMessage) -> tuple[str, dict[str, str], list[str]]:
    """The attached calendar: its content type, its properties (last wins) and raw lines."""
    parts = [p for p in message.iter_attachments() if p.get_content_type() == "text/calendar"]
    assert len(parts) == 1, [p.get_content_type() for p in message.iter_attachments()]
    part = parts[0]
    raw = part.get_payload(decode=True)
    assert isinstance(raw, bytes)
    text = raw.decode()
    assert "\r\n" in text and "\n" not in text.replace("\r\n", "")
    lines = text.replace("\r\n ", "").split("\r\n")
    props: dict[str, str] = {}
    for line in lines:
        if ":" in line:
            name, _, value = line.partition(":")
            props[name.split(";")[0]] = value
    ctype = f"{part.get_content_type()}; method={part.get_param('method')}"
    ctype += f"; charset={part.get_content_charset()}"
    return ctype, props | {"filename": part.get_filename() or ""}, lines


async def _mail(app: Starlette, db: Database, smtp: SmtpServer) -> None:
    services = app.state.services
    sender = MailSender(db, SmtpTransport(smtp.url, SENDER), max_attempts=3)
    settings = services.settings
    attachments = {kind: make(settings) for kind, make in MAIL_ATTACHMENTS.items()}
    mailer = NotificationMailer(db, services.templates, settings, sender, attachments)
    while await mailer.send_pending():
        pass
    await sender.send_due()


async def test_the_invitation_follows_the_meeting(
    app: Starlette, db: Database, world: World, smtp_server: SmtpServer
) -> None:
    meeting = await convene(db, world["staff"], (5,))
    await _mail(app, db, smtp_server)
    (invite,) = await smtp_server.wait_for(1, to=email("sindaco5"))
    ctype, props, lines = _calendar(invite)
    assert ctype == "text/calendar; method=REQUEST; charset=utf-8"
    host = urlsplit(app.state.services.settings.base_url).hostname
    assert props["METHOD"] == "REQUEST" and props["filename"] == "invito.ics"
    assert props["UID"] == f"meeting-{meeting.id}@{host}"
    assert props["STATUS"] == "CONFIRMED"
    first = int(props["SEQUENCE"])
    organizer = next(line for line in lines if line.startswith("ORGANIZER;"))
    assert organizer.endswith(f":mailto:{parseaddr(app.state.services.settings.mail_from)[1]}")
    attendee = next(line for line in lines if line.startswith("ATTENDEE;"))
    assert attendee.endswith(f":mailto:{email('sindaco5')}")
    # An edit: the same UID, a higher SEQUENCE.
    form = await _convocation(db, meeting.id, place="Sala Dorata, Pinerolo")
    await _write(db, actions.do_edit, world["staff"], meeting.id, form)
    await _mail(app, db, smtp_server)
    _, changed, _ = _calendar((await smtp_server.wait_for(2, to=email("sindaco5")))[1])
    assert changed["METHOD"] == "REQUEST" and changed["UID"] == props["UID"]
    assert int(changed["SEQUENCE"]) == first + 1
    assert changed["LOCATION"] == "Sala Dorata\\, Pinerolo"
    # A cancellation: METHOD:CANCEL, STATUS:CANCELLED, a higher SEQUENCE still.
    await _write(db, actions.do_cancel, world["staff"], meeting.id)
    await _mail(app, db, smtp_server)
    ctype, cancel, _ = _calendar((await smtp_server.wait_for(3, to=email("sindaco5")))[2])
    assert ctype == "text/calendar; method=CANCEL; charset=utf-8"
    assert (cancel["METHOD"], cancel["STATUS"]) == ("CANCEL", "CANCELLED")
    assert cancel["UID"] == props["UID"] and int(cancel["SEQUENCE"]) > first + 1
    # The reminder and the vote carry no calendar.
    assert Kind.MEETING_SOON not in MAIL_ATTACHMENTS and Kind.VOTE_OPENED not in MAIL_ATTACHMENTS
