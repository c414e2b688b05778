"""After commit: publish each logged event once, to its topic's group on the layer.

Every worker process that has listeners on a topic holds exactly one layer
channel in that topic's group (see :mod:`collab.realtime.hub`), so one
``group_send`` reaches each such process once, never once per socket.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from collab.realtime import log
from collab.realtime.events import Event
from collab.realtime.layers import ChannelLayer
from collab.realtime.log import LoggedEvent

__all__ = ["Publisher", "group_name"]


def group_name(topic: str) -> str:
    """The layer group of a topic (layer names allow only ``[a-zA-Z0-9-_.]``)."""
    return "collab." + topic.replace(":", ".")


class Publisher:
    """The event sink of :class:`collab.db.Database`: durable log, then the layer."""

    def __init__(self, layer: ChannelLayer) -> None:
        self.layer = layer

    async def append(self, session: AsyncSession, events: Sequence[Event]) -> list[LoggedEvent]:
        return await log.append(session, events)

    async def publish(self, logged: Sequence[LoggedEvent]) -> None:
        for item in logged:
            await self.layer.group_send(group_name(item.topic), item.to_message())
