"""Meeting writes: who is present (comuni checked in, members of a body of
people, guests) and delegates; each arrival, departure and return is in the
meeting's log (:mod:`collab.meetings.log`) with its time.

Like every meeting write (see :mod:`collab.meetings.actions`), each ``do_*``
first takes the meeting's lock, then checks permissions and only then state
(who may not follow the meeting is refused as by the room page).
"""

from __future__ import annotations

from sqlalchemy import select

from collab.audit import audit
from collab.db import UnitOfWork
from collab.errors import ActionError, Conflict, PermissionDenied
from collab.i18n import N_
from collab.meetings.actions import lock_meeting, require_reader, require_state
from collab.meetings.log import log
from collab.meetings.models import Attendance, MeetingDelegate, MeetingState
from collab.meetings.room import Room
from collab.meetings.rules import voting_comune
from collab.models import Comune, User, utcnow
from collab.permissions import Action, can
from collab.realtime.events import AttendanceChanged

__all__ = [
    "do_check_in",
    "do_check_out",
    "do_join_as_guest",
    "do_name_delegate",
    "require_follower",
]


def require_follower(user: User, room: Room) -> None:
    """Refuse who may not follow the meeting, with the room page's own answer
    (404, :func:`collab.meetings.actions.require_reader`): first, before any
    check of state that would tell them something about it."""
    require_reader(user, room)


async def do_check_in(uow: UnitOfWork, user: User, meeting_id: int, comune_id: int) -> Room:
    """Check a comune in: by its sindaco (or portavoce) or the delegate it named."""
    room = await lock_meeting(uow, meeting_id)
    require_follower(user, room)
    require_state(room, MeetingState.CONVOCATA, MeetingState.IN_CORSO)
    if comune_id not in {c.id for c in room.comuni}:
        raise ActionError(N_("This comune does not belong to the convened zones."), field="comune")
    if voting_comune(user, room.zone_ids, room.delegates) != comune_id:
        raise PermissionDenied(N_("Only the sindaco of the comune or its delegate can do this."))
    row = next((a for a in room.attendance if a.comune_id == comune_id), None)
    mine = next((a for a in room.attendance if a.user_id == user.id), None)
    if row is not None and row.left_at is None:
        raise Conflict(N_("This comune is already checked in."))
    if mine is not None and mine is not row:
        raise Conflict(N_("You are already registered at this meeting."))
    now = utcnow()
    if row is None:
        uow.session.add(
            Attendance(
                meeting_id=meeting_id,
                comune_id=comune_id,
                user_id=user.id,
                voting=True,
                checked_in_at=now,
            )
        )
    else:
        row.left_at = None
        row.user_id = user.id
    name = next(c.name for c in room.comuni if c.id == comune_id)
    log(uow, meeting_id, user, "check_in" if row is None else "back", at=now, comune=name,
        user=user.name, guest=False)  # fmt: skip
    uow.record(AttendanceChanged(zone_id=None, meeting_id=meeting_id))
    return room


async def do_join_as_guest(uow: UnitOfWork, user: User, meeting_id: int) -> Room:
    """Be recorded as present in person: a member of a body of people (who then
    votes), or anyone else without a vote (CMTo staff, a guest portavoce...)."""
    room = await lock_meeting(uow, meeting_id)
    require_follower(user, room)
    require_state(room, MeetingState.CONVOCATA, MeetingState.IN_CORSO)
    mine = next((a for a in room.attendance if a.user_id == user.id), None)
    if mine is not None and mine.left_at is None:
        raise Conflict(N_("You are already registered at this meeting."))
    if mine is not None and mine.comune_id is not None:
        raise Conflict(N_("You are already registered at this meeting."))
    member = room.member_of(user)
    now = utcnow()
    if mine is None:
        uow.session.add(Attendance(meeting_id=meeting_id, user_id=user.id,
                                   voting=member is not None, checked_in_at=now))  # fmt: skip
    else:
        mine.left_at = None
    log(uow, meeting_id, user, "check_in" if mine is None else "back", at=now,
        **_who(user, member is not None))  # fmt: skip
    uow.record(AttendanceChanged(zone_id=None, meeting_id=meeting_id))
    return room


def _who(user: User, member: bool) -> dict[str, object]:
    """A person's log detail: a member of the body, or a guest."""
    if member:
        return {"member": user.name, "user": user.name, "guest": False}
    return {"user": user.name, "guest": True}


async def do_check_out(uow: UnitOfWork, user: User, meeting_id: int) -> Room:
    """Leave: the comune (or guest) the user checked in is no longer present."""
    room = await lock_meeting(uow, meeting_id)
    require_follower(user, room)
    require_state(room, MeetingState.CONVOCATA, MeetingState.IN_CORSO)
    comune_id = voting_comune(user, room.zone_ids, room.delegates)
    mine = [a for a in room.attendance if a.left_at is None]
    row = next((a for a in mine if a.user_id == user.id), None) or next(
        (a for a in mine if comune_id is not None and a.comune_id == comune_id), None
    )
    if row is None:
        raise Conflict(N_("You are not checked in."))
    row.left_at = utcnow()
    if row.comune is not None:
        detail: dict[str, object] = {"comune": row.comune.name, "user": user.name, "guest": False}
    else:
        detail = _who(user, room.member_of(user) is not None)
    log(uow, meeting_id, user, "left", at=row.left_at, **detail)
    uow.record(AttendanceChanged(zone_id=None, meeting_id=meeting_id))
    return room


async def do_name_delegate(
    uow: UnitOfWork, user: User, meeting_id: int, email: str
) -> MeetingDelegate:
    """The sindaco names who checks in and votes for the comune at this meeting."""
    room = await lock_meeting(uow, meeting_id)
    require_follower(user, room)
    require_state(room, MeetingState.CONVOCATA, MeetingState.IN_CORSO)
    if (
        user.comune_id is None
        or not can(user, Action.VOTE, user.zone_id)
        or (user.zone_id not in room.zone_ids)
    ):
        raise PermissionDenied(N_("Only the sindaco of the comune or its delegate can do this."))
    email = email.strip().lower()
    person = await uow.session.scalar(select(User).where(User.email == email))
    if person is None or not person.active or person.comune_id != user.comune_id:
        raise ActionError(N_("The delegate must be a user of your comune."), field="email")
    if person.id == user.id:
        raise ActionError(N_("The delegate must be someone else."), field="email")
    existing = room.delegate_of(user.comune_id)
    if existing is not None:
        existing.user_id = person.id
        existing.named_by_id = user.id
        delegate = existing
    else:
        delegate = MeetingDelegate(
            meeting_id=meeting_id, comune_id=user.comune_id, user_id=person.id,
            named_by_id=user.id,
        )  # fmt: skip
        uow.session.add(delegate)
    comune = await uow.session.get_one(Comune, user.comune_id)
    audit(uow.session, user, "meeting.delegate", room.meeting, comune=comune.name, delegate=email)
    uow.record(AttendanceChanged(zone_id=None, meeting_id=meeting_id))
    return delegate
