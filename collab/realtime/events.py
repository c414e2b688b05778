"""Events are data: what changed, as ids and plain fields, JSON-safe.

Actions record them on the unit of work (:meth:`collab.db.UnitOfWork.record`);
they leave the process only after the transaction commits. HTML is never part
of an event: the receiving side renders it, once per event and view variant.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, ClassVar

__all__ = [
    "EVENT_TYPES",
    "AttendanceChanged",
    "ConsultationEvent",
    "ConsultationOpened",
    "ConsultationUpdated",
    "ContributionAnswered",
    "ContributionSubmitted",
    "ContributionUpdated",
    "DocumentAdded",
    "DocumentEvent",
    "DocumentVersioned",
    "Event",
    "FloorChanged",
    "MeetingEvent",
    "MeetingUpdated",
    "NotesChanged",
    "NotificationsChanged",
    "PostCreated",
    "PostDeleted",
    "PostEdited",
    "ThreadCreated",
    "ThreadEvent",
    "ThreadUpdated",
    "UserChanged",
    "VerbaleChanged",
    "VoteChanged",
    "board_topic",
    "consultation_topic",
    "event_from_dict",
    "library_topic",
    "meeting_topic",
    "thread_topic",
    "user_topic",
]


@dataclass(frozen=True)
class Event:
    """Base class. ``type`` names the event on the wire; ``zone_id`` None = metropolitan."""

    type: ClassVar[str] = "event"
    zone_id: int | None

    def to_dict(self) -> dict[str, Any]:
        # A shallow copy: fields are ids and plain values (a tuple of ids at
        # most), which dataclasses.asdict copied deeply on every write.
        return {"type": self.type, **{name: getattr(self, name) for name in _names(type(self))}}

    @property
    def topics(self) -> tuple[str, ...]:
        """The topics whose logs this event is appended to (see :func:`board_topic`)."""
        return (board_topic(self.zone_id),)


_NAMES: dict[type, tuple[str, ...]] = {}


def _names(cls: type[Event]) -> tuple[str, ...]:
    names = _NAMES.get(cls)
    if names is None:
        names = _NAMES[cls] = tuple(f.name for f in fields(cls))
    return names


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


def consultation_topic(consultation_id: int) -> str:
    """A consultation's page (``consultation:N``): its contributions as they arrive."""
    return f"consultation:{consultation_id}"


def library_topic(theme_id: int) -> str:
    """A theme's forms library (``library:N``): its documents and their versions."""
    return f"library:{theme_id}"


@dataclass(frozen=True)
class ConsultationEvent(Event):
    """An event of one consultation: it goes to the consultation's topic and to
    the board of every zone it addresses (``zone_ids``). ``zone_id`` is None."""

    consultation_id: int
    zone_ids: tuple[int, ...]

    def __post_init__(self) -> None:
        # From JSON the zones come back as a list: keep the event hashable.
        object.__setattr__(self, "zone_ids", tuple(self.zone_ids))

    @property
    def topics(self) -> tuple[str, ...]:
        zones = tuple(board_topic(zone_id) for zone_id in sorted(self.zone_ids))
        return (consultation_topic(self.consultation_id), *zones)


@dataclass(frozen=True)
class ConsultationOpened(ConsultationEvent):
    """Staff opened a consultation."""

    type: ClassVar[str] = "consultation.opened"


@dataclass(frozen=True)
class ConsultationUpdated(ConsultationEvent):
    """The consultation's deadline was extended, or its text or drafts changed."""

    type: ClassVar[str] = "consultation.updated"


@dataclass(frozen=True)
class ContributionSubmitted(ConsultationEvent):
    """A comune submitted its contribution (version 1)."""

    type: ClassVar[str] = "contribution.submitted"
    contribution_id: int


@dataclass(frozen=True)
class ContributionUpdated(ConsultationEvent):
    """A comune edited its contribution (a new version)."""

    type: ClassVar[str] = "contribution.updated"
    contribution_id: int
    version: int


@dataclass(frozen=True)
class ContributionAnswered(ConsultationEvent):
    """Staff moved a contribution through review or answered it (``status``)."""

    type: ClassVar[str] = "contribution.answered"
    contribution_id: int
    status: str


@dataclass(frozen=True)
class DocumentEvent(Event):
    """An event of a theme's forms library. ``zone_id`` is None (the library is metropolitan)."""

    theme_id: int
    document_id: int

    @property
    def topics(self) -> tuple[str, ...]:
        return (library_topic(self.theme_id),)


@dataclass(frozen=True)
class DocumentAdded(DocumentEvent):
    """A document was added to the library (its version 1)."""

    type: ClassVar[str] = "document.added"


@dataclass(frozen=True)
class DocumentVersioned(DocumentEvent):
    """A new version of a library document was uploaded; the older ones stay."""

    type: ClassVar[str] = "document.versioned"
    version: int


def user_topic(user_id: int) -> str:
    """A user's own topic: the engine follows it for each of their open pages."""
    return f"user:{user_id}"


@dataclass(frozen=True)
class UserChanged(Event):
    """A user's role, comune, zone, password or active flag changed: their
    open pages check again, at once, that the session is valid and what they
    may still follow. ``zone_id`` is None."""

    type: ClassVar[str] = "user.changed"
    user_id: int

    @property
    def topics(self) -> tuple[str, ...]:
        return (user_topic(self.user_id),)


@dataclass(frozen=True)
class NotificationsChanged(Event):
    """A user's notifications changed: ``notification_id`` is a new one, or
    None when some were read (on another tab or device). Their open pages
    update the bell. ``zone_id`` is None."""

    type: ClassVar[str] = "notification.changed"
    user_id: int
    notification_id: int | None = None

    @property
    def topics(self) -> tuple[str, ...]:
        return (user_topic(self.user_id),)


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
        ConsultationOpened,
        ConsultationUpdated,
        ContributionSubmitted,
        ContributionUpdated,
        ContributionAnswered,
        DocumentAdded,
        DocumentVersioned,
        UserChanged,
        NotificationsChanged,
    )
}


def event_from_dict(data: dict[str, Any]) -> Event:
    """The event of :meth:`Event.to_dict` (as stored in the log and sent on the layer)."""
    fields = dict(data)
    cls = EVENT_TYPES[fields.pop("type")]
    return cls(**fields)
