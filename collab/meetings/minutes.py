"""Closing a meeting and its verbale: drafted from the record, edited, published.

``do_close`` ends the meeting and writes the verbale's first draft
(:func:`collab.meetings.verbale.draft`) from the record (:func:`record_of`);
the chair or the secretary edits it (each edit keeps the previous text as a
revision) and publishes it, after which it is frozen.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from collab.audit import audit
from collab.db import UnitOfWork
from collab.errors import ActionError, Conflict, PermissionDenied
from collab.i18n import N_, translations
from collab.markup import render_markdown
from collab.meetings import notices
from collab.meetings.actions import lock_meeting, require_presiding, require_reader
from collab.meetings.log import log
from collab.meetings.models import (
    Attendance,
    MeetingState,
    Verbale,
    VerbaleRevision,
    VoteMethod,
)
from collab.meetings.room import Room
from collab.meetings.rules import may_take_notes
from collab.meetings.tally import thaw
from collab.meetings.verbale import (
    Attendee,
    Gettext,
    Guest,
    ItemRecord,
    LogEntry,
    Record,
    Speech,
    VoteRecord,
    draft,
)
from collab.models import Role, User, utcnow
from collab.realtime.events import MeetingUpdated, VerbaleChanged

__all__ = [
    "check_editable_verbale",
    "do_close",
    "do_edit_verbale",
    "do_publish_verbale",
    "people_of",
    "record_of",
    "role_text",
]

MAX_VERBALE = 200_000


def _seconds(start: datetime | None, end: datetime | None) -> int:
    if start is None or end is None:
        return 0
    return max(int((end - start).total_seconds()), 0)


SINDACO_OF = N_("Mayor of %(comune)s")
PORTAVOCE_OF = N_("Zone spokesperson, mayor of %(comune)s")
TECNICO_OF = N_("Officer of the Comune of %(comune)s")
CMTO = N_("Città metropolitana di Torino")


def role_text(user: User | None, gettext: Gettext) -> str:
    """What someone is, as the verbale names them: "Sindaco di Pinerolo"."""
    if user is None:
        return ""
    if user.role.is_cmto or user.comune is None:
        return gettext(CMTO)
    texts = {Role.SINDACO: SINDACO_OF, Role.PORTAVOCE: PORTAVOCE_OF}
    return gettext(texts.get(user.role, TECNICO_OF)) % {"comune": user.comune.name}


async def people_of(session: AsyncSession, room: Room) -> dict[int, User]:
    """Who acted in the meeting's log, opened or closed its votes, and its vice chair."""
    ids = {e.actor_id for e in room.log} | {v.vote.opened_by_id for v in room.votes}
    ids |= {v.vote.closed_by_id for v in room.votes} | {room.meeting.vice_chair_id}
    wanted = [i for i in ids if i is not None]
    if not wanted:
        return {}
    return {u.id: u for u in await session.scalars(select(User).where(User.id.in_(wanted)))}


def _left(row: Attendance, closed: datetime | None) -> datetime | None:
    """When ``row`` left, if before the close (closing checks everyone out)."""
    if row.left_at is None or closed is None or row.left_at >= closed:
        return None
    return row.left_at


def record_of(room: Room, people: Mapping[int, User] | None = None, locale: str = "it") -> Record:
    """The plain record of a closed meeting, as the verbale's draft needs it.

    ``people``: user id -> user (:func:`people_of`): who acted, for the
    chair's actions and who opened and closed each vote, and the vice chair.
    """
    people = people or {}
    names = {user_id: user.name for user_id, user in people.items()}
    gettext = translations(locale).gettext
    meeting, body = room.meeting, room.body
    assert meeting.opened_at is not None and meeting.closed_at is not None
    closed = meeting.closed_at
    zone_names = {zone.id: f"ZO {zone.number} {zone.name}" for zone in room.zones}
    titles: dict[int, str] = {}  # user id -> title in a body of people
    if room.by_people:
        by_user = {m.user_id: m for m in room.people}
        titles = {m.user_id: m.title for m in room.people}
        rows = {a.user_id: a for a in room.attendance if a.comune_id is None}
        present = [
            Attendee(m.user.name, title=m.title, left_at=_left(rows[m.user_id], closed))
            for m in room.people
            if m.user_id in rows
        ]
        absent = [m.user.name for m in room.people if m.user_id not in rows]
        others = [a for a in room.attendance if a.comune_id is None and a.user_id not in by_user]
    else:
        members = {c.id for c in room.comuni}
        by_comune = {a.comune_id: a for a in room.attendance if a.comune_id in members}
        present = [
            Attendee(c.name, who=by_comune[c.id].user.name,
                     left_at=_left(by_comune[c.id], closed))
            for c in room.comuni
            if c.id in by_comune
        ]  # fmt: skip
        absent = [c.name for c in room.comuni if c.id not in by_comune]
        others = [a for a in room.attendance if a.comune_id not in members]
    guests = [
        Guest(
            a.user.name,
            role_text(a.user, gettext),
            zone_names.get(a.user.zone_id, "") if a.user.zone_id is not None else "",
        )
        for a in others
    ]

    def title_of(user: User | None) -> str:
        if user is None:
            return ""
        return titles.get(user.id) or role_text(user, gettext)

    items = []
    for item in room.items:
        speeches = [
            Speech(r.user.name, r.comune.name if r.comune else None,
                   _seconds(r.granted_at, r.ended_at), r.granted_at)
            for r in room.speeches if r.item_id == item.id
        ]  # fmt: skip
        votes = [
            VoteRecord(
                v.vote.motion, thaw(v.vote.result), v.vote.point, text=v.vote.text,
                method=VoteMethod.SECRET if v.vote.secret else v.vote.method,
                opened_at=v.vote.opened_at, closed_at=v.vote.closed_at,
                without_quorum=v.vote.without_quorum,
                opened_by=names.get(v.vote.opened_by_id or 0, ""),
                closed_by=names.get(v.vote.closed_by_id or 0, ""),
            )
            for v in room.closed_votes
            if v.vote.item_id == item.id and v.vote.result is not None
        ]  # fmt: skip
        items.append(ItemRecord(item.title, item.theme.name, item.notes, speeches, votes))
    opening = meeting.opening or {}
    motions = {v.vote.id: v.vote.motion for v in room.votes}  # "vote_closed" names only the id
    vice = people.get(meeting.vice_chair_id) if meeting.vice_chair_id is not None else None
    return Record(
        title=meeting.title,
        zones=room.zone_names,
        opened_at=meeting.opened_at,
        closed_at=closed,
        chair=meeting.chair.name if meeting.chair else "",
        chair_title=title_of(meeting.chair),
        vice_chair=vice.name if vice is not None else "",
        vice_chair_title=title_of(vice),
        secretary=meeting.secretary.name if meeting.secretary else "",
        secretary_title=title_of(meeting.secretary),
        place=meeting.place,
        video_url=meeting.video_url,
        present=present,
        absent=absent,
        guests=guests,
        quorum=int(opening.get("required") or room.quorum),
        opening_present=opening.get("present"),
        items=items,
        materials=[f"{m.title} — {m.url}" for m in room.materials],
        body=body.name if body is not None else "",
        by_people=room.by_people,
        show_theme=body.show_theme if body is not None else False,
        session_number=meeting.session_number,
        session_type=meeting.session_type,
        call=meeting.call,
        notice_date=meeting.notice_date,
        notice_protocol=meeting.notice_protocol,
        log=[
            LogEntry(
                e.at,
                names.get(e.actor_id or 0, ""),
                e.action,
                {"motion": motions.get(int(e.detail.get("vote_id") or 0), ""), **(e.detail or {})},
            )
            for e in room.log
        ],
    )


async def do_close(uow: UnitOfWork, user: User, meeting_id: int, locale: str = "it") -> Room:
    """Close the meeting (no vote may be open) and draft its verbale."""
    room = await lock_meeting(uow, meeting_id)
    require_presiding(user, room)
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
    # The close is a chair action the verbale states: logged before it is drafted.
    room.log.append(log(uow, meeting.id, user, "closed", at=now))
    # Everyone was checked out at the close just above: the record reads them so.
    record = record_of(room, await people_of(uow.session, room), locale)
    source = draft(record, locale, room.body.verbale_template if room.body else "")
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
