"""Meeting writes: convene, open, cancel, move through the agenda, the public link.

Every ``do_*`` takes the unit of work and the acting user. It first takes the
meeting's lock (:func:`lock_meeting`: an UPDATE of the meeting's row, which
PostgreSQL holds as a row lock and SQLite as its write lock until commit), so
two chairs acting at once are serialized and each sees the other's result;
only then does it check permissions and state, and raise an
:class:`collab.errors.ActionError`, changing nothing, on bad input. Votes are
in :mod:`collab.meetings.voting`, the verbale in :mod:`collab.meetings.minutes`,
attendance in :mod:`collab.meetings.attendance`, the floor and the live notes
in :mod:`collab.meetings.floor`; all of them share :func:`lock_meeting`.
"""

from __future__ import annotations

import secrets
from dataclasses import replace

from sqlalchemy import delete, select

from collab.audit import audit
from collab.db import UnitOfWork, bump_revision
from collab.errors import ActionError, Conflict, NotFound, PermissionDenied
from collab.i18n import N_
from collab.meetings import notices
from collab.meetings.convocation import (
    MAX_ITEMS,
    MAX_MATERIALS,
    AgendaLine,
    Convocation,
    check_convocation,
    user_by_email,
)
from collab.meetings.log import log
from collab.meetings.models import (
    AgendaItem,
    Meeting,
    MeetingMaterial,
    MeetingState,
    MeetingZone,
    SessionType,
)
from collab.meetings.room import Room, load_room
from collab.meetings.rules import may_chair, may_preside, may_read
from collab.meetings.tally import majority_quorum
from collab.models import User, utcnow
from collab.permissions import Action, can
from collab.realtime.events import (
    MeetingUpdated,
)

__all__ = [
    "MAX_ITEMS",
    "MAX_MATERIALS",
    "AgendaLine",
    "Convocation",
    "check_convocation",
    "do_cancel",
    "do_convene",
    "do_edit",
    "do_open",
    "do_set_item",
    "do_set_public",
    "get_readable_room",
    "lock_meeting",
    "notify_updated",
    "require_chair",
    "require_presiding",
    "require_reader",
]

AGENDA_FILES = N_(
    "An agenda item with documents cannot be taken off the agenda: remove them first."
)


async def _set_heading(uow: UnitOfWork, user: User, meeting: Meeting, clean: Convocation) -> None:
    """The session's heading: body, chair (the convener unless named), vice chair,
    session number, type and call, and the notice."""
    meeting.body_id = clean.body_id
    chair = await user_by_email(uow, clean.chair_email) if clean.chair_email else user
    vice = await user_by_email(uow, clean.vice_chair_email) if clean.vice_chair_email else None
    meeting.chair_id = chair.id if chair else user.id
    meeting.vice_chair_id = vice.id if vice else None
    meeting.session_number = clean.session_number
    meeting.session_type = SessionType(clean.session_type)
    meeting.call = clean.call
    meeting.notice_date = clean.notice_date
    meeting.notice_protocol = clean.notice_protocol


async def do_convene(uow: UnitOfWork, user: User, form: Convocation) -> Meeting:
    """Convene a meeting; its convener chairs it unless the form names the chair.
    Every member of its zones sees it."""
    clean = await check_convocation(uow, user, form)
    assert clean.starts_at is not None
    meeting = Meeting(
        title=clean.title, description=clean.description, place=clean.place,
        video_url=clean.video_url, starts_at=clean.starts_at, state=MeetingState.CONVOCATA,
        convened_by_id=user.id, chair_id=user.id, quorum=clean.quorum,
        public_token=secrets.token_urlsafe(16) if clean.public else None, revision=0,
    )  # fmt: skip
    await _set_heading(uow, user, meeting, clean)
    if clean.secretary_email:
        meeting.secretary_id = await uow.session.scalar(
            select(User.id).where(User.email == clean.secretary_email)
        )
    uow.session.add(meeting)
    await uow.session.flush()
    for zone_id in clean.zone_ids:
        uow.session.add(MeetingZone(meeting_id=meeting.id, zone_id=zone_id))
    for position, line in enumerate(clean.items, start=1):
        uow.session.add(
            AgendaItem(
                meeting_id=meeting.id,
                position=position,
                title=line.title,
                theme_id=line.theme_id,
                minutes=line.minutes,
                notes="",
            )
        )
    for title, url in clean.materials:
        uow.session.add(
            MeetingMaterial(meeting_id=meeting.id, title=title, url=url, added_by_id=user.id)
        )
    await uow.session.flush()
    audit(uow.session, user, "meeting.convened", meeting, zones=clean.zone_ids)
    await notices.convened(uow, user, meeting, clean.zone_ids)
    return meeting


async def do_edit(uow: UnitOfWork, user: User, meeting_id: int, form: Convocation) -> Room:
    """Change a convened meeting: details, date, zones, agenda and the session's
    heading (not once opened).

    The lock bumps the revision once: the SEQUENCE calendars compare. The
    quorum, the public link, the secretary and the materials stay as they are
    (a meeting given a body takes the body's quorum).
    """
    room = await lock_meeting(uow, meeting_id)
    require_chair(user, room)
    require_state(room, MeetingState.CONVOCATA)
    meeting, before = room.meeting, room.zone_ids
    quorum = meeting.quorum if form.body_id is None else None
    wanted = replace(form, quorum=quorum, materials=[], secretary_email="")
    clean = await check_convocation(uow, user, wanted, kept_zones=before, kept_body=meeting.body_id)
    assert clean.starts_at is not None
    if any(not can(user, Action.CONVENE, z) for z in before - set(clean.zone_ids)):
        raise PermissionDenied(N_("You may convene meetings of your own zone only."))
    meeting.title, meeting.description = clean.title, clean.description
    meeting.place, meeting.video_url = clean.place, clean.video_url
    meeting.starts_at, meeting.quorum = clean.starts_at, quorum
    await _set_heading(uow, user, meeting, clean)
    await _set_zones(uow, meeting_id, before, set(clean.zone_ids))
    await _set_agenda(uow, room, clean.items)
    audit(uow.session, user, "meeting.edited", meeting, zones=clean.zone_ids)
    fresh = await load_room(uow.session, meeting_id)
    assert fresh is not None
    notify_updated(uow, fresh)
    # Zones taken away were told of the meeting before: they hear of the change.
    await notices.changed(uow, user, meeting, before | set(clean.zone_ids))
    return fresh


async def _set_zones(uow: UnitOfWork, meeting_id: int, before: set[int], after: set[int]) -> None:
    if before - after:
        await uow.session.execute(
            delete(MeetingZone).where(
                MeetingZone.meeting_id == meeting_id, MeetingZone.zone_id.in_(before - after)
            )
        )
    uow.session.add_all(MeetingZone(meeting_id=meeting_id, zone_id=z) for z in after - before)


async def _set_agenda(uow: UnitOfWork, room: Room, lines: list[AgendaLine]) -> None:
    """The agenda becomes ``lines``: an item keeps its row (its documents and
    notes) when its title stays, otherwise rows are reused in order."""
    unused = list(room.items)
    rows: list[AgendaItem | None] = []
    for line in lines:
        same = next((item for item in unused if item.title == line.title), None)
        if same is not None:
            unused.remove(same)
        rows.append(same)
    for n, row in enumerate(rows):
        if row is None and unused:
            rows[n] = unused.pop(0)
    for item in unused:
        if room.item_files(item.id):
            raise ActionError(AGENDA_FILES, field="items")
    # Positions are unique per meeting: park the kept rows out of the way first.
    for n, row in enumerate(r for r in rows if r is not None):
        row.position = -1 - n
    for material in room.materials:
        if material.item_id in {item.id for item in unused}:
            material.item_id = None  # still the meeting's
    for item in unused:
        await uow.session.delete(item)
    await uow.session.flush()
    for position, (line, row) in enumerate(zip(lines, rows, strict=True), start=1):
        if row is None:
            row = AgendaItem(meeting_id=room.meeting.id, notes="")
            uow.session.add(row)
        row.position, row.title = position, line.title
        row.theme_id, row.minutes = line.theme_id, line.minutes
    await uow.session.flush()


async def lock_meeting(uow: UnitOfWork, meeting_id: int) -> Room:
    """Take the meeting's lock (bump its revision) and load its room afresh."""
    if not await bump_revision(uow.session, Meeting, meeting_id):
        raise NotFound(N_("This meeting does not exist."))
    room = await load_room(uow.session, meeting_id)
    assert room is not None
    return room


async def get_readable_room(uow_or_session: object, user: User | None, meeting_id: int) -> Room:
    """The room of a meeting ``user`` may follow; 404 otherwise, as if there
    were none: its existence, title and state are not revealed (as for
    consultations)."""
    session = getattr(uow_or_session, "session", uow_or_session)
    room = await load_room(session, meeting_id)  # type: ignore[arg-type]
    if room is None:
        raise NotFound(N_("This meeting does not exist."))
    require_reader(user, room)
    return room


def require_reader(user: User | None, room: Room) -> None:
    """Refuse who may not follow the meeting as if it did not exist (404),
    before any other check: nothing about it (its state, who chairs it) may
    tell them more than a meeting id that was never used."""
    if may_read(user, room.zone_ids):
        return
    # The body's members, the chair and the vice chair follow it wherever they are from.
    named = (room.meeting.chair_id, room.meeting.vice_chair_id)
    if user is not None and user.active and (room.member_of(user) or user.id in named):
        return
    raise NotFound(N_("This meeting does not exist."))


def require_chair(user: User, room: Room) -> None:
    """Manage the meeting: edit, cancel, its public link, its documents."""
    require_reader(user, room)
    if not may_chair(user, room.meeting, room.zone_ids):
        raise PermissionDenied(N_("Only the chair of the meeting can do this."))


def require_presiding(user: User, room: Room) -> None:
    """Preside (:func:`collab.meetings.rules.may_preside`): open and close the
    meeting, move the agenda, open and close votes."""
    if room.meeting.body_id is None:  # no designated chair: as before
        require_chair(user, room)
        return
    require_reader(user, room)
    if not may_preside(user, room.meeting, room.zone_ids, room.chair_present):
        raise PermissionDenied(
            N_("Only the chair of the meeting, or the vice chair while the chair is absent, "
               "can do this.")
        )  # fmt: skip


def require_state(room: Room, *states: MeetingState) -> None:
    if room.meeting.state in states:
        return
    if room.meeting.state == MeetingState.CONVOCATA:
        raise Conflict(N_("The meeting has not started yet."))
    if room.meeting.state == MeetingState.IN_CORSO:
        raise Conflict(N_("The meeting is in progress."))
    if room.meeting.state == MeetingState.CHIUSA:
        raise Conflict(N_("The meeting is closed."))
    raise Conflict(N_("The meeting has been cancelled."))


def notify_updated(uow: UnitOfWork, room: Room) -> None:
    """Record that the room changed (state, current item, agenda or materials)."""
    current = room.current_item
    uow.record(
        MeetingUpdated(
            zone_id=None,
            meeting_id=room.meeting.id,
            state=room.meeting.state.value,
            item_id=current.id if current else None,
        )
    )


async def do_open(uow: UnitOfWork, user: User, meeting_id: int) -> Room:
    """Open the meeting: it goes in corso on its first item; the quorum is fixed now.

    A meeting without a body is chaired by whoever opens it, with the quorum
    set at convening (or a majority of the comuni); a body's meeting by its
    designated chair (or vice chair), with the body's quorum. Either way the
    opening's count (members, present, required, held) is kept in
    ``Meeting.opening`` and the meeting's log.
    """
    room = await lock_meeting(uow, meeting_id)
    require_presiding(user, room)
    require_state(room, MeetingState.CONVOCATA)
    now = utcnow()
    meeting = room.meeting
    meeting.state = MeetingState.IN_CORSO
    meeting.opened_at = now
    if meeting.body_id is None:
        meeting.chair_id = user.id
        if meeting.quorum is None:
            meeting.quorum = majority_quorum(len(room.comuni))
    present = len(room.present_member_ids)
    meeting.opening = {"members": len(room.member_names), "present": present,
                       "required": room.quorum, "held": present >= room.quorum}  # fmt: skip
    if room.items:
        room.items[0].opened_at = now
    audit(uow.session, user, "meeting.opened", meeting)
    log(uow, meeting_id, user, "opened", at=now, **meeting.opening)
    notify_updated(uow, room)
    return room


async def do_cancel(uow: UnitOfWork, user: User, meeting_id: int) -> Room:
    room = await lock_meeting(uow, meeting_id)
    require_chair(user, room)
    require_state(room, MeetingState.CONVOCATA)
    room.meeting.state = MeetingState.ANNULLATA
    audit(uow.session, user, "meeting.cancelled", room.meeting)
    notify_updated(uow, room)
    await notices.cancelled(uow, user, room.meeting, room.zone_ids)
    return room


async def do_set_item(uow: UnitOfWork, user: User, meeting_id: int, item_id: int) -> Room:
    """Move to agenda item ``item_id`` (of this meeting): it becomes the current one."""
    room = await lock_meeting(uow, meeting_id)
    require_presiding(user, room)
    require_state(room, MeetingState.IN_CORSO)
    target = next((i for i in room.items if i.id == item_id), None)
    if target is None:
        raise ActionError(N_("This item is not on the agenda of this meeting."), field="item")
    current = room.current_item
    if current is target:
        return room
    now = utcnow()
    if current is not None:
        current.closed_at = now
    if target.opened_at is None:
        target.opened_at = now
    target.closed_at = None
    log(uow, meeting_id, user, "item", at=now, item_id=target.id, title=target.title)
    notify_updated(uow, room)
    return room


async def do_set_public(uow: UnitOfWork, user: User, meeting_id: int, public: bool) -> Room:
    """Give the meeting a public follow-along link, or take it away."""
    room = await lock_meeting(uow, meeting_id)
    require_chair(user, room)
    meeting = room.meeting
    if public and meeting.public_token is None:
        meeting.public_token = secrets.token_urlsafe(16)
    elif not public:
        meeting.public_token = None
    audit(uow.session, user, "meeting.public" if public else "meeting.private", meeting)
    notify_updated(uow, room)
    return room
