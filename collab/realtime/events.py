"""Events are data: what changed, as ids and plain fields, JSON-safe.

Actions record them on the unit of work (:meth:`collab.db.UnitOfWork.record`);
they leave the process only after the transaction commits. HTML is never part
of an event: the receiving side renders it, once per event and view variant.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, ClassVar

__all__ = [
    "EVENT_TYPES",
    "AttendanceChanged",
    "Event",
    "FloorChanged",
    "MeetingEvent",
    "MeetingUpdated",
    "NotesChanged",
    "PostCreated",
    "PostDeleted",
    "PostEdited",
    "ThreadCreated",
    "ThreadEvent",
    "ThreadUpdated",
    "VerbaleChanged",
    "VoteChanged",
    "board_topic",
    "event_from_dict",
    "meeting_topic",
    "thread_topic",
]


@dataclass(frozen=True)
class Event:
    """Base class. ``type`` names the event on the wire; ``zone_id`` None = metropolitan."""

    type: ClassVar[str] = "event"
    zone_id: int | None

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.type, **asdict(self)}

    @property
    def topics(self) -> tuple[str, ...]:
        """The topics whose logs this event is appended to (see :func:`board_topic`)."""
        return (board_topic(self.zone_id),)


def board_topic(zone_id: int | None) -> str:
    """A zone's board (``zone:N``), or the metropolitan board (``metro``)."""
    return "metro" if zone_id is None else f"zone:{zone_id}"


def thread_topic(thread_id: int) -> str:
    return f"thread:{thread_id}"


@dataclass(frozen=True)
class ThreadEvent(Event):
    """An event about one thread: it goes to the thread's topic and its board's."""

    thread_id: int

    @property
    def topics(self) -> tuple[str, ...]:
        return (thread_topic(self.thread_id), board_topic(self.zone_id))


@dataclass(frozen=True)
class ThreadCreated(Event):
    """A thread was started (with its first post) on a board."""

    type: ClassVar[str] = "thread.created"
    thread_id: int
    theme_id: int


@dataclass(frozen=True)
class ThreadUpdated(ThreadEvent):
    """A thread was pinned, unpinned, closed or reopened."""

    type: ClassVar[str] = "thread.updated"
    pinned: bool
    closed: bool


@dataclass(frozen=True)
class PostCreated(ThreadEvent):
    """A reply was added to a thread."""

    type: ClassVar[str] = "post.created"
    post_id: int


@dataclass(frozen=True)
class PostEdited(ThreadEvent):
    """A post's text changed; the previous text is in its history."""

    type: ClassVar[str] = "post.edited"
    post_id: int


@dataclass(frozen=True)
class PostDeleted(ThreadEvent):
    """A post was deleted by its author or hidden (or restored) by a moderator."""

    type: ClassVar[str] = "post.deleted"
    post_id: int
    restored: bool = False


def meeting_topic(meeting_id: int) -> str:
    """A meeting's room (``meeting:N``): everything its live page shows."""
    return f"meeting:{meeting_id}"


@dataclass(frozen=True)
class MeetingEvent(Event):
    """An event of one meeting's room. ``zone_id`` is None: a meeting may
    convene several zones, and its events go to its own topic only."""

    meeting_id: int

    @property
    def topics(self) -> tuple[str, ...]:
        return (meeting_topic(self.meeting_id),)


@dataclass(frozen=True)
class MeetingUpdated(MeetingEvent):
    """The meeting's state, current agenda item, details or materials changed."""

    type: ClassVar[str] = "meeting.updated"
    state: str
    item_id: int | None = None  # the current item, if any


@dataclass(frozen=True)
class AttendanceChanged(MeetingEvent):
    """Someone checked a comune (or themselves) in, or left."""

    type: ClassVar[str] = "meeting.attendance"


@dataclass(frozen=True)
class FloorChanged(MeetingEvent):
    """A hand was raised or withdrawn, or the floor was given or ended."""

    type: ClassVar[str] = "meeting.floor"


@dataclass(frozen=True)
class NotesChanged(MeetingEvent):
    """The secretary saved the live notes of an agenda item."""

    type: ClassVar[str] = "meeting.notes"
    item_id: int


@dataclass(frozen=True)
class VoteChanged(MeetingEvent):
    """A vote was opened, a ballot cast (``comune_id``), or the vote closed."""

    type: ClassVar[str] = "meeting.vote"
    vote_id: int
    comune_id: int | None = None


@dataclass(frozen=True)
class VerbaleChanged(MeetingEvent):
    """The verbale was drafted, edited or published."""

    type: ClassVar[str] = "meeting.verbale"
    published: bool


EVENT_TYPES: dict[str, type[Event]] = {
    cls.type: cls
    for cls in (
        ThreadCreated,
        ThreadUpdated,
        PostCreated,
        PostEdited,
        PostDeleted,
        MeetingUpdated,
        AttendanceChanged,
        FloorChanged,
        NotesChanged,
        VoteChanged,
        VerbaleChanged,
    )
}


def event_from_dict(data: dict[str, Any]) -> Event:
    """The event of :meth:`Event.to_dict` (as stored in the log and sent on the layer)."""
    fields = dict(data)
    cls = EVENT_TYPES[fields.pop("type")]
    return cls(**fields)
