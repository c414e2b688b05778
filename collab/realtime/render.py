"""The hub's renderer: each event to its feature's frames, once per event and variant.

:class:`FragmentRenderer` looks an event's type up in the registry by its
first word (``post.created`` -> ``post``) and hands the four steps (prepare,
basis, variant, render) to the :class:`~collab.realtime.registry.Frames` the
feature registered for it. Features build their frames with
:mod:`collab.realtime.frames`, so every frame has the same wire format.
"""

from __future__ import annotations

import logging
from collections.abc import Hashable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from collab.db import Database
from collab.realtime.frames import frame
from collab.realtime.log import LoggedEvent
from collab.realtime.registry import Frames, FramesFactory, Registry

if TYPE_CHECKING:
    from collab.templating import Templates

__all__ = ["Delegated", "FragmentRenderer", "event_prefix"]

logger = logging.getLogger(__name__)


def event_prefix(event_type: str) -> str:
    """The word of an event type that names its feature's frames."""
    return event_type.split(".", 1)[0]


@dataclass(frozen=True)
class Delegated:
    """An event prepared by the frames of its feature (None: no feature knows it)."""

    frames: Frames | None
    prepared: Any


class FragmentRenderer:
    def __init__(self, registry: Registry, templates: Templates, database: Database) -> None:
        built: dict[FramesFactory, Frames] = {}
        self.by_prefix: dict[str, Frames] = {}
        for prefix, factory in registry.frames.items():
            if factory not in built:  # one instance per feature's frames
                built[factory] = factory(templates, database)
            self.by_prefix[prefix] = built[factory]

    async def prepare(self, item: LoggedEvent) -> Delegated:
        frames = self.by_prefix.get(event_prefix(str(item.event.get("type", ""))))
        if frames is None:
            # A docs test keeps every event type registered; an event from a
            # newer release during a rolling upgrade still moves the page's seq.
            logger.warning("no frames for event %s#%d", item.topic, item.seq)
            return Delegated(None, item)
        return Delegated(frames, await frames.prepare(item))

    def basis(self, prepared: Delegated) -> Hashable:
        if prepared.frames is None:
            return None
        return prepared.frames.basis(prepared.prepared)

    def variant(self, prepared: Delegated, subscriber: Any) -> Hashable:
        if prepared.frames is None:
            return None
        return prepared.frames.variant(prepared.prepared, subscriber)

    def render(self, prepared: Delegated, variant: Hashable) -> Any:
        if prepared.frames is None:
            return frame(prepared.prepared, "", [])
        return prepared.frames.render(prepared.prepared, variant)
