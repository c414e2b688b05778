"""The channel layer: the one shipped by ``channels`` or ``channels_redis``.

Chosen by settings: no ``REDIS_URL`` means ``InMemoryChannelLayer`` (one
process, the embedded default); with it, ``channels_redis``'s layer. We wrap
nothing: callers get the layer object itself.
"""

from __future__ import annotations

import asyncio
from typing import Any

from collab.settings import Settings

__all__ = ["close_layer", "make_layer", "ping_layer"]


def make_layer(settings: Settings) -> Any:
    if settings.redis_url:
        from channels_redis.pubsub import RedisPubSubChannelLayer

        return RedisPubSubChannelLayer(hosts=[settings.redis_url], prefix="collab")
    from channels.layers import InMemoryChannelLayer

    return InMemoryChannelLayer(capacity=1000)


async def ping_layer(layer: Any, timeout: float = 2.0) -> None:
    """Send a message to a fresh channel of ours and read it back."""
    channel = await layer.new_channel("ready.")
    await asyncio.wait_for(layer.send(channel, {"type": "ping"}), timeout)
    message = await asyncio.wait_for(layer.receive(channel), timeout)
    if message.get("type") != "ping":
        raise RuntimeError("channel layer returned an unexpected message")


async def close_layer(layer: Any) -> None:
    """Release the layer's connections (both shipped layers do it in ``flush``)."""
    await layer.flush()
