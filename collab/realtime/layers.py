"""The channel layer: the one shipped by ``channels`` or ``channels_redis``.

Chosen by settings: no ``REDIS_URL`` means ``InMemoryChannelLayer`` (one
process, the embedded default; :class:`MemoryLayer` only sweeps it less
often); with it, ``channels_redis``'s layer. Callers get the layer object
itself.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, Protocol

from channels.layers import InMemoryChannelLayer

from collab.settings import Settings

__all__ = ["ChannelLayer", "MemoryLayer", "close_layer", "make_layer", "ping_layer"]

SWEEP_EVERY = 1.0  # seconds between two sweeps of the in-memory layer


class ChannelLayer(Protocol):
    """The methods of ``channels.layers.BaseChannelLayer`` the engine uses.

    Messages are JSON-safe dicts with a ``type``. Both shipped layers may
    also have ``group_expiry`` (seconds a group member is kept), which the
    hub reads to join its groups again in time.
    """

    async def new_channel(self, prefix: str = ...) -> str: ...

    async def send(self, channel: str, message: dict[str, Any]) -> None: ...

    async def receive(self, channel: str) -> dict[str, Any]: ...

    async def group_add(self, group: str, channel: str) -> None: ...

    async def group_discard(self, group: str, channel: str) -> None: ...

    async def group_send(self, group: str, message: dict[str, Any]) -> None: ...

    async def flush(self) -> None: ...


def make_layer(settings: Settings) -> ChannelLayer:
    if settings.redis_url:
        from channels_redis.pubsub import RedisPubSubChannelLayer

        layer: ChannelLayer = RedisPubSubChannelLayer(hosts=[settings.redis_url], prefix="collab")
        return layer
    memory: ChannelLayer = MemoryLayer(capacity=1000)
    return memory


class MemoryLayer(InMemoryChannelLayer):  # type: ignore[misc]
    """``channels``' in-memory layer, sweeping for expired messages and group
    memberships at most once per :data:`SWEEP_EVERY` seconds.

    The shipped layer sweeps every channel and every group on each ``send``,
    ``group_send`` and ``receive``: with a group per topic, a notification to
    600 people (600 ``user:N`` topics, one event each) cost 600 x 3 sweeps of
    600 groups, over a second of CPU before a single bell was rendered.
    Messages expire after a minute and memberships after a day, so sweeping
    once a second changes nothing a listener can see.
    """

    def _clean_expired(self) -> None:
        now = time.monotonic()
        if now - getattr(self, "_swept_at", -SWEEP_EVERY) < SWEEP_EVERY:
            return
        self._swept_at = now
        super()._clean_expired()

    async def group_send(self, group: str, message: dict[str, Any]) -> None:
        # A group nobody in this process listens to (the layer is this
        # process's alone): nothing to send. The shipped method built an
        # ``as_completed`` over no tasks, an asyncio.Queue included, for each
        # of a write's topics (a reply's are its thread's, its zone's and one
        # per person it notifies).
        if not self.groups.get(group):
            assert isinstance(message, dict), "Message is not a dict"
            self.require_valid_group_name(group)
            return
        await super().group_send(group, message)


async def ping_layer(layer: ChannelLayer, redis_url: str = "", wait: float = 2.0) -> None:
    """Raise unless the layer can carry a message now.

    In memory: a round trip through a fresh channel (the layer drops the
    channel once it is empty). Redis: a PING, since a round trip would leave a
    subscription behind on every probe.
    """
    if redis_url:
        from redis.asyncio import from_url

        client = from_url(redis_url, socket_connect_timeout=wait, socket_timeout=wait)
        try:
            await client.ping()
        finally:
            await client.aclose()
        return
    channel = await layer.new_channel("ready.")
    await asyncio.wait_for(layer.send(channel, {"type": "ping"}), wait)
    message = await asyncio.wait_for(layer.receive(channel), wait)
    if message.get("type") != "ping":
        raise RuntimeError("channel layer returned an unexpected message")


async def close_layer(layer: ChannelLayer) -> None:
    """Release the layer's connections (both shipped layers do it in ``flush``)."""
    await layer.flush()
