"""The ASGI application: a Channels ``ProtocolTypeRouter``, as in the tutorial."""

from __future__ import annotations

from bench.baselines.channels_chat.settings import configure

configure()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.urls import path  # noqa: E402

from bench.baselines.channels_chat.consumers import (  # noqa: E402
    BroadcastConsumer,
    ChatConsumer,
)

application = ProtocolTypeRouter(
    {
        "http": URLRouter(
            [
                path("broadcast", BroadcastConsumer.as_asgi()),
                path("health", BroadcastConsumer.as_asgi()),
            ]
        ),
        "websocket": URLRouter([path("ws", ChatConsumer.as_asgi())]),
    }
)
