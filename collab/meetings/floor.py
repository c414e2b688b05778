"""Meeting writes: the floor (hands raised, given, ended) and the live notes.

Like every meeting write (see :mod:`collab.meetings.actions`), each ``do_*``
first takes the meeting's lock, then checks permissions and only then state:
who may not follow the meeting learns nothing of it (not even that it is in
progress) beyond what the room page would tell them.
"""

from __future__ import annotations

from collab.db import UnitOfWork
from collab.errors import ActionError, Conflict, PermissionDenied
from collab.i18n import N_
from collab.meetings.actions import lock_meeting, require_presiding, require_reader, require_state
from collab.meetings.attendance import require_follower
from collab.meetings.models import AgendaItem, FloorRequest, MeetingState
from collab.meetings.room import Room
from collab.meetings.rules import may_take_notes
from collab.models import User, utcnow
from collab.realtime.events import FloorChanged, NotesChanged

__all__ = [
    "MAX_NOTES",
    "do_end_floor",
    "do_grant_floor",
    "do_raise_hand",
    "do_save_notes",
    "do_withdraw_hand",
]

MAX_NOTES = 50_000  # characters of an agenda item's live notes


async def do_raise_hand(uow: UnitOfWork, user: User, meeting_id: int) -> FloorRequest:
    room = await lock_meeting(uow, meeting_id)
    require_follower(user, room)
    require_state(room, MeetingState.IN_CORSO)
    if any(r.user_id == user.id for r in room.queue):
        raise Conflict(N_("You have already asked for the floor."))
    if room.speaker is not None and room.speaker.user_id == user.id:
        raise Conflict(N_("You have the floor already."))
    request = FloorRequest(
        meeting_id=meeting_id, user_id=user.id, comune_id=user.comune_id, requested_at=utcnow(),
        withdrawn=False,
    )  # fmt: skip
    uow.session.add(request)
    await uow.session.flush()
    uow.record(FloorChanged(zone_id=None, meeting_id=meeting_id))
    return request


async def do_withdraw_hand(uow: UnitOfWork, user: User, meeting_id: int) -> Room:
    room = await lock_meeting(uow, meeting_id)
    require_follower(user, room)
    require_state(room, MeetingState.IN_CORSO)
    mine = next((r for r in room.queue if r.user_id == user.id), None)
    if mine is None:
        raise Conflict(N_("You have not asked for the floor."))
    mine.withdrawn = True
    uow.record(FloorChanged(zone_id=None, meeting_id=meeting_id))
    return room


async def do_grant_floor(uow: UnitOfWork, user: User, meeting_id: int, request_id: int) -> Room:
    """Give the floor to a request in the queue; whoever spoke before stops."""
    room = await lock_meeting(uow, meeting_id)
    require_presiding(user, room)
    require_state(room, MeetingState.IN_CORSO)
    request = next((r for r in room.queue if r.id == request_id), None)
    if request is None:
        raise Conflict(N_("This request for the floor is no longer in the queue."))
    now = utcnow()
    if room.speaker is not None:
        room.speaker.ended_at = now
    current = room.current_item
    request.granted_at = now
    request.item_id = current.id if current else None
    uow.record(FloorChanged(zone_id=None, meeting_id=meeting_id))
    return room


async def do_end_floor(uow: UnitOfWork, user: User, meeting_id: int) -> Room:
    """End the current speech: who presides, or the speaker themselves."""
    room = await lock_meeting(uow, meeting_id)
    require_follower(user, room)
    require_state(room, MeetingState.IN_CORSO)
    speaker = room.speaker
    if speaker is None:
        raise Conflict(N_("Nobody has the floor."))
    if speaker.user_id != user.id:
        require_presiding(user, room)
    speaker.ended_at = utcnow()
    uow.record(FloorChanged(zone_id=None, meeting_id=meeting_id))
    return room


# -- notes ------------------------------------------------------------------------------


async def do_save_notes(
    uow: UnitOfWork, user: User, meeting_id: int, item_id: int, text: str
) -> AgendaItem:
    """The secretary's live notes of an agenda item (Markdown)."""
    room = await lock_meeting(uow, meeting_id)
    require_reader(user, room)
    if not may_take_notes(user, room.meeting, room.zone_ids):
        raise PermissionDenied(N_("Only the chair or the secretary can do this."))
    require_state(room, MeetingState.IN_CORSO)
    item = next((i for i in room.items if i.id == item_id), None)
    if item is None:
        raise ActionError(N_("This item is not on the agenda of this meeting."), field="item")
    text = text.replace("\r\n", "\n").strip()
    if len(text) > MAX_NOTES:
        raise ActionError(N_("The notes are too long."), field="notes")
    if text != item.notes:
        item.notes = text
        uow.record(NotesChanged(zone_id=None, meeting_id=meeting_id, item_id=item.id))
    return item
