"""After commit: publish each logged event once, to its topic's group on the layer.

Every worker process that has listeners on a topic holds exactly one layer
channel in that topic's group (see :mod:`collab.realtime.hub`), so one
``group_send`` reaches each such process once, never once per socket.

A write's first :data:`INLINE` events are sent before its request answers
(the author's other pages see the change at once); the rest of a large
write (a consultation that notifies 600 people: 600 ``notification.changed``
events on their own topics) is sent by a task, so the answer does not wait
for the fan-out. Order within a topic is kept (one task sends them in
order), and a topic's listeners put events in seq order anyway, from the
log if one arrives early (:mod:`collab.realtime.hub`). :meth:`drain` waits
for those tasks at shutdown.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from collab.realtime import log
from collab.realtime.events import Event
from collab.realtime.layers import ChannelLayer
from collab.realtime.log import LoggedEvent

__all__ = ["INLINE", "Publisher", "group_name"]

logger = logging.getLogger(__name__)
INLINE = 16  # events a request waits to see sent; more go in the background


def group_name(topic: str) -> str:
    """The layer group of a topic (layer names allow only ``[a-zA-Z0-9-_.]``)."""
    return "collab." + topic.replace(":", ".")


class Publisher:
    """The event sink of :class:`collab.db.Database`: durable log, then the layer."""

    def __init__(self, layer: ChannelLayer) -> None:
        self.layer = layer
        self._pending: set[asyncio.Task[None]] = set()

    async def append(self, session: AsyncSession, events: Sequence[Event]) -> list[LoggedEvent]:
        return await log.append(session, events)

    async def publish(self, logged: Sequence[LoggedEvent]) -> None:
        await self._send(logged[:INLINE])
        if len(logged) > INLINE:
            task = asyncio.create_task(self._send_later(logged[INLINE:]), name="publish")
            self._pending.add(task)
            task.add_done_callback(self._pending.discard)

    async def _send(self, logged: Sequence[LoggedEvent]) -> None:
        for item in logged:
            await self.layer.group_send(group_name(item.topic), item.to_message())

    async def _send_later(self, logged: Sequence[LoggedEvent]) -> None:
        try:
            await self._send(logged)
        except Exception:
            # Committed and logged: listeners catch up from the log.
            logger.exception("publishing %d events failed", len(logged))

    async def drain(self) -> None:
        """Wait for the events still being sent (at shutdown, before the layer closes)."""
        while self._pending:
            await asyncio.gather(*self._pending, return_exceptions=True)
