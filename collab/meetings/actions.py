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
from collections.abc import Callable, Collection
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from sqlalchemy import delete, select

from collab.audit import audit
from collab.db import UnitOfWork, bump_revision
from collab.errors import ActionError, Conflict, InvalidFields, NotFound, PermissionDenied
from collab.i18n import N_
from collab.meetings import notices
from collab.meetings.models import (
    AgendaItem,
    Meeting,
    MeetingMaterial,
    MeetingState,
    MeetingZone,
)
from collab.meetings.room import Room, load_room
from collab.meetings.rules import may_chair, may_read
from collab.meetings.tally import majority_quorum
from collab.models import Theme, User, utcnow
from collab.permissions import Action, can
from collab.realtime.events import (
    MeetingUpdated,
)

__all__ = [
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
    "require_reader",
]

MAX_ITEMS = 30
MAX_MATERIALS = 30
AGENDA_FILES = N_(
    "An agenda item with documents cannot be taken off the agenda: remove them first."
)


@dataclass(frozen=True)
class AgendaLine:
    title: str
    theme_id: int
    minutes: int = 15


@dataclass(frozen=True)
class Convocation:
    """A convening form's values, as parsed (not yet checked)."""

    title: str
    zone_ids: list[int]
    starts_at: datetime | None
    items: list[AgendaLine]
    description: str = ""
    place: str = ""
    video_url: str = ""
    quorum: int | None = None
    public: bool = False
    materials: list[tuple[str, str]] = field(default_factory=list)  # (title, url)
    secretary_email: str = ""  # who takes the notes and writes the verbale


def _check_url(url: str, field_name: str) -> str:
    url = url.strip()
    if (url and not (url.startswith("https://") or url.startswith("http://"))) or len(url) > 500:
        raise ActionError(N_("The address must start with https:// or http://."), field=field_name)
    if any(c.isspace() for c in url):
        raise ActionError(N_("The address must start with https:// or http://."), field=field_name)
    return url


def _check_title(title: str, field_name: str = "title") -> str:
    title = " ".join(title.split())
    if len(title) < 3:
        raise ActionError(N_("The title must be at least 3 characters long."), field=field_name)
    if len(title) > 200:
        raise ActionError(N_("The title must be at most 200 characters long."), field=field_name)
    return title


async def check_convocation(
    uow: UnitOfWork, user: User, form: Convocation, *, kept_zones: Collection[int] = ()
) -> Convocation:
    """The convocation with clean values, or the error of every field refused:
    :class:`~collab.errors.InvalidFields` (a form shows them all at once), whose
    own message and field are the first's. A zone ``user`` may not convene is
    a 403 at once. Rows are named ``item-<n>`` and ``material-<n>`` (from 0).

    ``kept_zones``: zones an edited meeting convenes already, which its chair
    may keep even when they are not theirs to convene (a joint meeting).
    """
    problems: list[ActionError] = []

    def checked(check: Callable[[], str], fallback: str) -> str:
        try:
            return check()
        except ActionError as error:
            problems.append(error)
            return fallback

    title = checked(lambda: _check_title(form.title), form.title)
    if not form.zone_ids:
        problems.append(ActionError(N_("Choose at least one zone."), field="zones"))
    for zone_id in form.zone_ids:
        if zone_id not in kept_zones and not can(user, Action.CONVENE, zone_id):
            raise PermissionDenied(N_("You may convene meetings of your own zone only."))
    if form.starts_at is None:
        problems.append(
            ActionError(N_("Give the date and time of the meeting."), field="starts_at")
        )
    elif form.starts_at < utcnow() - timedelta(days=1):
        problems.append(ActionError(N_("The meeting cannot start in the past."), field="starts_at"))
    if not form.place.strip() and not form.video_url.strip():
        problems.append(ActionError(N_("Give a place, a video-call link, or both."), field="place"))
    elif len(form.place) > 200:
        problems.append(ActionError(N_("The place is too long."), field="place"))
    video_url = checked(lambda: _check_url(form.video_url, "video_url"), "")
    if len(form.description) > 5000:
        problems.append(ActionError(N_("The description is too long."), field="description"))
    items = await _check_items(uow, form, problems)
    if form.quorum is not None and not 1 <= form.quorum <= 1000:
        problems.append(ActionError(N_("The quorum must be a number of comuni."), field="quorum"))
    materials = []
    for n, (m_title, m_url) in enumerate(form.materials):
        row = f"material-{n}"
        clean_title = checked(lambda: _check_title(m_title, row), m_title)  # noqa: B023
        clean_url = checked(lambda: _check_url(m_url, row), m_url)  # noqa: B023
        if not clean_url:
            problems.append(ActionError(N_("Each material needs an address."), field=row))
        materials.append((clean_title, clean_url))
    secretary_email = form.secretary_email.strip().lower()
    if secretary_email:
        secretary = await uow.session.scalar(select(User).where(User.email == secretary_email))
        if secretary is None or not secretary.active or not may_read(secretary, form.zone_ids):
            problems.append(ActionError(
                N_("The secretary must be a user who can follow the meeting."), field="secretary"
            ))  # fmt: skip
    if problems:
        raise InvalidFields(problems)
    return Convocation(
        title=title, zone_ids=sorted(set(form.zone_ids)), starts_at=form.starts_at, items=items,
        description=form.description.strip(), place=" ".join(form.place.split()),
        video_url=video_url, quorum=form.quorum, public=form.public, materials=materials,
        secretary_email=secretary_email,
    )  # fmt: skip


async def _check_items(
    uow: UnitOfWork, form: Convocation, problems: list[ActionError]
) -> list[AgendaLine]:
    """The agenda's clean lines; what is wrong goes to ``problems``, one per row."""
    if not form.items:
        problems.append(ActionError(N_("The agenda needs at least one item."), field="items"))
    if len(form.items) > MAX_ITEMS or len(form.materials) > MAX_MATERIALS:
        problems.append(ActionError(N_("Too many agenda items or materials."), field="items"))
        return []
    themes = {
        t.id: t
        for t in await uow.session.scalars(
            select(Theme).where(Theme.id.in_([i.theme_id for i in form.items]))
        )
    }
    items = []
    for n, line in enumerate(form.items):
        row = f"item-{n}"
        theme = themes.get(line.theme_id)
        try:
            if theme is None or not theme.active:
                raise ActionError(N_("Each agenda item needs a theme in use."), field=row)
            if not 1 <= line.minutes <= 480:
                raise ActionError(N_("An agenda item lasts from 1 to 480 minutes."), field=row)
            items.append(AgendaLine(_check_title(line.title, row), line.theme_id, line.minutes))
        except ActionError as error:
            problems.append(error)
    return items


async def do_convene(uow: UnitOfWork, user: User, form: Convocation) -> Meeting:
    """Convene a meeting; its convener chairs it. Every member of its zones sees it."""
    clean = await check_convocation(uow, user, form)
    assert clean.starts_at is not None
    meeting = Meeting(
        title=clean.title, description=clean.description, place=clean.place,
        video_url=clean.video_url, starts_at=clean.starts_at, state=MeetingState.CONVOCATA,
        convened_by_id=user.id, chair_id=user.id, quorum=clean.quorum,
        public_token=secrets.token_urlsafe(16) if clean.public else None, revision=0,
    )  # fmt: skip
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
    """Change a convened meeting: details, date, zones and agenda (not once opened).

    The lock bumps the revision once: the SEQUENCE calendars compare. The
    quorum, the public link, the secretary and the materials stay as they are.
    """
    room = await lock_meeting(uow, meeting_id)
    require_chair(user, room)
    require_state(room, MeetingState.CONVOCATA)
    meeting, before = room.meeting, room.zone_ids
    wanted = replace(form, quorum=meeting.quorum, materials=[], secretary_email="")
    clean = await check_convocation(uow, user, wanted, kept_zones=before)
    assert clean.starts_at is not None
    if any(not can(user, Action.CONVENE, z) for z in before - set(clean.zone_ids)):
        raise PermissionDenied(N_("You may convene meetings of your own zone only."))
    meeting.title, meeting.description = clean.title, clean.description
    meeting.place, meeting.video_url = clean.place, clean.video_url
    meeting.starts_at = clean.starts_at
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
    if not may_read(user, room.zone_ids):
        raise NotFound(N_("This meeting does not exist."))


def require_chair(user: User, room: Room) -> None:
    require_reader(user, room)
    if not may_chair(user, room.meeting, room.zone_ids):
        raise PermissionDenied(N_("Only the chair of the meeting can do this."))


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
    """Open the meeting: it goes in corso on its first item; the quorum is fixed now."""
    room = await lock_meeting(uow, meeting_id)
    require_chair(user, room)
    require_state(room, MeetingState.CONVOCATA)
    now = utcnow()
    meeting = room.meeting
    meeting.state = MeetingState.IN_CORSO
    meeting.opened_at = now
    meeting.chair_id = user.id
    if meeting.quorum is None:
        meeting.quorum = majority_quorum(len(room.comuni))
    if room.items:
        room.items[0].opened_at = now
    audit(uow.session, user, "meeting.opened", meeting)
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
    require_chair(user, room)
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
