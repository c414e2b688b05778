"""Events are data: what changed, as ids and plain fields, JSON-safe.

Actions record them on the unit of work (:meth:`collab.db.UnitOfWork.record`);
they leave the process only after the transaction commits. HTML is never part
of an event: the receiving side renders it, once per event and view variant.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, ClassVar

__all__ = [
    "Event",
    "PostCreated",
    "PostDeleted",
    "PostEdited",
    "ThreadCreated",
    "ThreadUpdated",
]


@dataclass(frozen=True)
class Event:
    """Base class. ``type`` names the event on the wire; ``zone_id`` None = metropolitan."""

    type: ClassVar[str] = "event"
    zone_id: int | None

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.type, **asdict(self)}


@dataclass(frozen=True)
class ThreadCreated(Event):
    """A thread was started (with its first post) on a board."""

    type: ClassVar[str] = "thread.created"
    thread_id: int
    theme_id: int


@dataclass(frozen=True)
class ThreadUpdated(Event):
    """A thread was pinned, unpinned, closed or reopened."""

    type: ClassVar[str] = "thread.updated"
    thread_id: int
    pinned: bool
    closed: bool


@dataclass(frozen=True)
class PostCreated(Event):
    """A reply was added to a thread."""

    type: ClassVar[str] = "post.created"
    thread_id: int
    post_id: int


@dataclass(frozen=True)
class PostEdited(Event):
    """A post's text changed; the previous text is in its history."""

    type: ClassVar[str] = "post.edited"
    thread_id: int
    post_id: int


@dataclass(frozen=True)
class PostDeleted(Event):
    """A post was deleted by its author or hidden (or restored) by a moderator."""

    type: ClassVar[str] = "post.deleted"
    thread_id: int
    post_id: int
    restored: bool = False
