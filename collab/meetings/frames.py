"""Frames of a meeting's room (topics ``meeting:N``), once per event and view variant.

:class:`MeetingFrames` renders ``meeting.*`` events (registered by
:mod:`collab.meetings.live`). ``prepare`` loads the room once per event per
process (:func:`collab.meetings.room.load_room`); ``variant`` sorts sockets by locale
and :class:`collab.meetings.room_views.Variant` (mode, voting comune, sindaco
or not), so a zone's hundred followers cost a handful of renders; ``render``
replaces the regions the event touches, with the partials the page includes:

    <template data-topic="meeting:3" data-seq="12" data-announce="..."></template>
    <template data-op="replace" data-target="#room-floor" data-id="room-floor">...</template>
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any

from collab.db import Database
from collab.i18n import N_, translations
from collab.meetings.models import MeetingState
from collab.meetings.room import Room, load_room
from collab.meetings.room_views import REGIONS, RoomView, Variant, region_context, variant_of
from collab.realtime.frames import frame, op
from collab.realtime.log import LoggedEvent
from collab.templating import Templates

__all__ = ["REGIONS_BY_EVENT", "MeetingFrames", "MeetingPrepared"]

# The regions each event type changes (the others stay as the page has them).
REGIONS_BY_EVENT: dict[str, tuple[str, ...]] = {
    "meeting.updated": REGIONS,  # state or item: every control may change
    "meeting.attendance": ("attendance", "controls", "vote"),  # presence gates the ballot
    "meeting.floor": ("floor",),
    "meeting.notes": ("notes",),
    "meeting.vote": ("vote",),
    "meeting.verbale": ("verbale",),
}

FLOOR_TO = N_("The floor goes to %(name)s")
VOTE_OPENED = N_("Vote opened: %(motion)s")
VOTE_CLOSED = N_("Vote closed: %(motion)s")
MEETING_OPENED = N_("The meeting is open")
ITEM_NOW = N_("Now under discussion: %(title)s")

MAX_REMEMBERED = 1000  # meetings whose last state this process remembers


@dataclass(frozen=True)
class MeetingPrepared:
    item: LoggedEvent
    room: Room | None
    regions: tuple[str, ...]
    announce: tuple[str, dict[str, str]] | None = None  # msgid and its values


@dataclass
class _Seen:
    """What the last live event of a meeting showed: to announce only changes."""

    seq: int
    state: str
    item_id: int | None
    speaker_id: int | None


class MeetingFrames:
    def __init__(self, templates: Templates, database: Database) -> None:
        self.templates = templates
        self.db = database
        self._seen: dict[str, _Seen] = {}

    async def prepare(self, item: LoggedEvent) -> MeetingPrepared:
        meeting_id = item.event.get("meeting_id")
        if not isinstance(meeting_id, int):
            return MeetingPrepared(item, None, ())
        async with self.db.session() as session:
            room = await load_room(session, meeting_id)
        if room is None:
            return MeetingPrepared(item, None, ())
        regions = REGIONS_BY_EVENT.get(str(item.event.get("type")), ())
        return MeetingPrepared(item, room, regions, self._announce(item, room))

    def _announce(self, item: LoggedEvent, room: Room) -> tuple[str, dict[str, str]] | None:
        """What to say aloud; only for a newer event than this process saw (not replays)."""
        current = room.current_item
        speaker = room.speaker
        now = _Seen(
            item.seq, room.meeting.state.value, current.id if current else None,
            speaker.id if speaker else None,
        )  # fmt: skip
        before = self._seen.get(item.topic)
        if before is not None and item.seq <= before.seq:
            return None
        if len(self._seen) >= MAX_REMEMBERED:
            self._seen.clear()
        self._seen[item.topic] = now
        kind = item.event.get("type")
        if kind == "meeting.floor" and speaker is not None:
            if before is None or before.speaker_id != speaker.id:
                return FLOOR_TO, {"name": speaker.user.name}
        elif kind == "meeting.vote" and item.event.get("comune_id") is None:
            view = next((v for v in room.votes if v.vote.id == item.event.get("vote_id")), None)
            if view is not None:
                return (VOTE_OPENED if view.is_open else VOTE_CLOSED), {"motion": view.vote.motion}
        elif kind == "meeting.updated" and room.meeting.state == MeetingState.IN_CORSO:
            first_time = all(i.closed_at is None for i in room.items)
            if (before is None and first_time) or (before and before.state == "convocata"):
                return MEETING_OPENED, {}
            # The first event this process sees of the meeting cannot tell a
            # move from a detail: it names the item (a harmless repeat at worst).
            if current is not None and (before is None or before.item_id != current.id):
                return ITEM_NOW, {"title": current.title}
        return None

    def basis(self, prepared: MeetingPrepared) -> Hashable:
        room = prepared.room
        if room is None:
            return "none"
        delegates = tuple(sorted((d.comune_id, d.user_id) for d in room.delegates))
        return ("meeting", room.meeting.secretary_id, delegates)

    def variant(self, prepared: MeetingPrepared, subscriber: Any) -> Hashable:
        locale: str = subscriber.locale
        if prepared.room is None:
            return (locale, Variant("public"))
        return (locale, variant_of(subscriber.user, prepared.room))

    def render(self, prepared: MeetingPrepared, variant: Hashable) -> str:
        assert isinstance(variant, tuple)
        locale, kind = variant
        item = prepared.item
        gettext = translations(locale).gettext
        announce = ""
        if prepared.announce is not None:
            msgid, values = prepared.announce
            announce = gettext(msgid) % values if values else gettext(msgid)
        ops: list[str] = []
        room = prepared.room
        if room is not None:
            token = room.meeting.public_token if kind.mode == "public" else None
            view = RoomView(room, kind, me=None, token=token)
            # No CSRF token in a pushed fragment: htmx sends the page's in a header.
            context = {**region_context(view, locale), "csrf_token": ""}
            for name in prepared.regions:
                html = self.templates.render(f"meetings/_room_{name}.html", locale, context)
                ops.append(op("replace", f"#room-{name}", f"room-{name}", html))
        return frame(item, announce, ops)
