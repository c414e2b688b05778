"""Closing a meeting and its verbale: drafted from the record, edited, published.

``do_close`` ends the meeting and writes the verbale's first draft
(:func:`collab.meetings.verbale.draft`) from the record (:func:`record_of`);
the chair or the secretary edits it (each edit keeps the previous text as a
revision) and publishes it, after which it is frozen.
"""

from __future__ import annotations

from collab.audit import audit
from collab.db import UnitOfWork
from collab.errors import ActionError, Conflict, PermissionDenied
from collab.i18n import N_
from collab.markup import render_markdown
from collab.meetings import notices
from collab.meetings.actions import lock_meeting, require_chair, require_reader
from collab.meetings.models import MeetingState, Verbale, VerbaleRevision
from collab.meetings.room import Room
from collab.meetings.rules import may_take_notes
from collab.meetings.tally import thaw
from collab.meetings.verbale import ItemRecord, Record, Speech, VoteRecord, draft
from collab.models import User, utcnow
from collab.realtime.events import MeetingUpdated, VerbaleChanged

__all__ = [
    "check_editable_verbale",
    "do_close",
    "do_edit_verbale",
    "do_publish_verbale",
    "record_of",
]

MAX_VERBALE = 200_000


def _seconds(start: object, end: object) -> int:
    from datetime import datetime

    assert isinstance(start, datetime) and isinstance(end, datetime)
    return max(int((end - start).total_seconds()), 0)


def record_of(room: Room) -> Record:
    """The plain record of a closed meeting, as the verbale's draft needs it."""
    meeting = room.meeting
    assert meeting.opened_at is not None and meeting.closed_at is not None
    present_ever = [a for a in room.attendance if a.comune is not None]
    here = {a.comune_id for a in present_ever}
    items = []
    for item in room.items:
        speeches = [
            Speech(r.user.name, r.comune.name if r.comune else None,
                   _seconds(r.granted_at, r.ended_at))
            for r in room.speeches if r.item_id == item.id
        ]  # fmt: skip
        votes = [
            VoteRecord(v.vote.motion, thaw(v.vote.result), v.vote.point)
            for v in room.closed_votes
            if v.vote.item_id == item.id and v.vote.result is not None
        ]
        items.append(ItemRecord(item.title, item.theme.name, item.notes, speeches, votes))
    return Record(
        title=meeting.title,
        zones=room.zone_names,
        opened_at=meeting.opened_at,
        closed_at=meeting.closed_at,
        chair=meeting.chair.name if meeting.chair else "",
        secretary=meeting.secretary.name if meeting.secretary else "",
        place=meeting.place,
        video_url=meeting.video_url,
        present=sorted(
            ((a.comune.name, a.user.name) for a in present_ever if a.comune is not None),
        ),
        absent=[c.name for c in room.comuni if c.id not in here],
        guests=[a.user.name for a in room.attendance if a.comune_id is None],
        quorum=room.quorum,
        items=items,
        materials=[f"{m.title} — {m.url}" for m in room.materials],
    )


async def do_close(uow: UnitOfWork, user: User, meeting_id: int, locale: str = "it") -> Room:
    """Close the meeting (no vote may be open) and draft its verbale."""
    room = await lock_meeting(uow, meeting_id)
    require_chair(user, room)
    if room.meeting.state != MeetingState.IN_CORSO:
        raise Conflict(N_("Only a meeting in progress can be closed."))
    if room.open_vote is not None:
        raise Conflict(N_("A vote is still open: close it first."))
    now = utcnow()
    meeting = room.meeting
    meeting.state = MeetingState.CHIUSA
    meeting.closed_at = now
    current = room.current_item
    if current is not None:
        current.closed_at = now
    if room.speaker is not None:
        room.speaker.ended_at = now
    for request in room.queue:
        request.withdrawn = True
    for row in room.attendance:
        if row.left_at is None:
            row.left_at = now
    source = draft(record_of(room), locale)
    verbale = Verbale(meeting_id=meeting.id, source=source, html=render_markdown(source),
                      updated_at=now)  # fmt: skip
    uow.session.add(verbale)
    audit(uow.session, user, "meeting.closed", meeting)
    uow.record(MeetingUpdated(zone_id=None, meeting_id=meeting.id, state=meeting.state.value))
    uow.record(VerbaleChanged(zone_id=None, meeting_id=meeting.id, published=False))
    return room


def check_editable_verbale(user: User, room: Room) -> Verbale:
    """The room's verbale, when ``user`` may still change or publish it."""
    require_reader(user, room)
    if not may_take_notes(user, room.meeting, room.zone_ids):
        raise PermissionDenied(N_("Only the chair or the secretary can do this."))
    if room.verbale is None:
        raise Conflict(N_("The verbale is written when the meeting closes."))
    if room.verbale.published_at is not None:
        raise Conflict(N_("The verbale is published: it can no longer be changed."))
    return room.verbale


async def do_edit_verbale(uow: UnitOfWork, user: User, meeting_id: int, source: str) -> Verbale:
    room = await lock_meeting(uow, meeting_id)
    verbale = check_editable_verbale(user, room)
    source = source.replace("\r\n", "\n").strip()
    if not source:
        raise ActionError(N_("The verbale is empty."), field="source")
    if len(source) > MAX_VERBALE:
        raise ActionError(N_("The verbale is too long."), field="source")
    if source + "\n" == verbale.source or source == verbale.source:
        return verbale
    uow.session.add(VerbaleRevision(verbale_id=verbale.id, source=verbale.source,
                                    edited_by_id=user.id))  # fmt: skip
    verbale.source = source + "\n"
    verbale.html = render_markdown(source)
    verbale.updated_at = utcnow()
    audit(uow.session, user, "verbale.edited", verbale)
    uow.record(VerbaleChanged(zone_id=None, meeting_id=meeting_id, published=False))
    return verbale


async def do_publish_verbale(uow: UnitOfWork, user: User, meeting_id: int) -> Verbale:
    room = await lock_meeting(uow, meeting_id)
    verbale = check_editable_verbale(user, room)
    verbale.published_at = utcnow()
    verbale.published_by_id = user.id
    audit(uow.session, user, "verbale.published", verbale)
    uow.record(VerbaleChanged(zone_id=None, meeting_id=meeting_id, published=True))
    await notices.verbale_published(uow, user, room.meeting, room.zone_ids)
    return verbale
