"""What the live engine knows of features: topic kinds and event frames, registered.

The engine (event log, hub, ``/ws``) knows no feature. Each feature that has
live pages describes itself in its own ``live.py`` as a :class:`LiveFeature`:

- its **topic kinds** (:class:`TopicKind`): the ``thread`` of ``thread:12``,
  which zones a topic belongs to, who may follow it (the same rules as its
  pages), and, for a kind anyone may follow with a link, how a token opens it
  (:class:`PublicAccess`);
- its **frames** (:class:`Frames`): how its events become HTML, by the first
  word of their type (``meeting`` for ``meeting.floor``), in the hub's four
  steps (prepare once per event, sort sockets into variants, render once per
  variant).

``create_app`` builds one :class:`Registry` from the features' list; the
engine asks it, never the features, so adding a live feature touches its own
package and that list only (docs/architecture.md, "Adding a live feature").
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, Hashable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from starlette.requests import HTTPConnection

from collab.db import Database
from collab.models import User
from collab.realtime.log import LoggedEvent

if TYPE_CHECKING:
    from collab.templating import Templates

__all__ = [
    "Frames",
    "FramesFactory",
    "LiveFeature",
    "PublicAccess",
    "Registry",
    "TopicKind",
    "Viewer",
    "Zones",
]

# The zones a topic belongs to; None stands for the metropolitan boards.
Zones = frozenset[int | None]


class Viewer(Protocol):
    """What frames may know of a socket (``user`` None: an anonymous follower
    of a public topic)."""

    user: User | None
    locale: str

    def moderates(self, zone_id: int | None) -> bool:
        """May this viewer moderate in ``zone_id``? (Asked once per socket per event.)"""


class Frames(Protocol):
    """The renderer of one feature's events (the hub's four steps)."""

    async def prepare(self, item: LoggedEvent) -> Any:
        """Load what the event is about: once per event per process."""

    def basis(self, prepared: Any) -> Hashable:
        """What the variants of a prepared event depend on (see
        :class:`collab.realtime.hub.Renderer`)."""

    def variant(self, prepared: Any, viewer: Any) -> Hashable:
        """The class of a socket: sockets of one class get the same frame."""

    def render(self, prepared: Any, variant: Hashable) -> Any:
        """The frame of one variant (``collab.realtime.frames.frame``)."""


FramesFactory = Callable[["Templates", Database], Frames]


# A kind anyone may follow with a link (``/ws?public=<token>``): which single
# topic a token opens (None: none). Opens are rate limited by the engine.
PublicAccess = Callable[[HTTPConnection, str], Awaitable[str | None]]


@dataclass(frozen=True)
class TopicKind:
    """Topics ``<name>:<id>`` (or ``<name>`` alone when ``has_id`` is False).

    ``zones(db, id)`` gives the topic's zones, or None when there is no such
    thing (the socket is refused as for a topic it may not read); with
    ``fixed_zones`` they never change, and the engine remembers them per
    process. ``may_follow(user, zones)`` applies the feature's read rule;
    ``named(db, user, id)``, when set, lets someone it refuses follow all the
    same (a meeting's chair, its body's members, wherever they are from): a
    query, asked only then. ``public``, when set, lets a link's token open one
    topic of the kind; with ``presence``, the pages of its topics show who
    else is on them.
    """

    name: str
    zones: Callable[[Database, int], Awaitable[Zones | None]]
    may_follow: Callable[[User, Zones], bool]
    has_id: bool = True
    fixed_zones: bool = True
    public: PublicAccess | None = None
    presence: bool = False
    named: Callable[[Database, User, int], Awaitable[bool]] | None = None


@dataclass(frozen=True)
class LiveFeature:
    """What one feature plugs into the engine (its ``live.py`` exports one)."""

    name: str
    topics: tuple[TopicKind, ...] = ()
    # First word of an event type -> how to build the feature's frames.
    frames: Mapping[str, FramesFactory] = field(default_factory=dict)


MAX_ID_DIGITS = 9  # ids are INTEGER columns (see collab.web.IdConvertor)


class Registry:
    """Every topic kind and every event renderer of the app, by name."""

    def __init__(self, features: Iterable[LiveFeature]) -> None:
        self.features = tuple(features)
        self.kinds: dict[str, TopicKind] = {}
        self.frames: dict[str, FramesFactory] = {}
        for feature in self.features:
            for kind in feature.topics:
                if kind.name in self.kinds:
                    raise ValueError(f"topic kind {kind.name!r} registered twice")
                self.kinds[kind.name] = kind
            for prefix, factory in feature.frames.items():
                if prefix in self.frames:
                    raise ValueError(f"frames for {prefix!r} events registered twice")
                self.frames[prefix] = factory

    def parse(self, topic: str) -> tuple[TopicKind, int] | None:
        """The kind of ``topic`` and its id (0 for a kind without ids); None
        when no registered kind has that shape."""
        name, colon, ident = topic.partition(":")
        kind = self.kinds.get(name)
        if kind is None:
            return None
        if not kind.has_id:
            return (kind, 0) if not colon else None
        if not (ident.isascii() and ident.isdigit()) or len(ident) > MAX_ID_DIGITS:
            return None
        return kind, int(ident)

    def public_kinds(self) -> list[TopicKind]:
        return [kind for kind in self.kinds.values() if kind.public is not None]

    def event_prefixes(self) -> Collection[str]:
        return self.frames.keys()
