"""The consumers of the Channels tutorial's chat, one room, plus an HTTP way in.

``ChatConsumer`` is the tutorial's ``AsyncWebsocketConsumer``: it joins the
room's group on connect, ``group_send``s what a client sends, and its
``chat_message`` handler sends every group message to its socket as
``{"message": ...}`` JSON. ``BroadcastConsumer`` lets the benchmark post a
message over HTTP (``POST /broadcast``), like a form post to a Django view
that calls ``group_send``. (The tutorial's ``AuthMiddlewareStack`` is left
out: no database here, and it would only add work on connect.)
"""

from __future__ import annotations

import json
from typing import Any

from channels.generic.http import AsyncHttpConsumer
from channels.generic.websocket import AsyncWebsocketConsumer

ROOM_GROUP = "chat_bench"


class ChatConsumer(AsyncWebsocketConsumer):  # type: ignore[misc]
    async def connect(self) -> None:
        await self.channel_layer.group_add(ROOM_GROUP, self.channel_name)
        await self.accept()

    async def disconnect(self, close_code: int) -> None:
        await self.channel_layer.group_discard(ROOM_GROUP, self.channel_name)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        try:
            message = json.loads(text_data or "")["message"]
        except (ValueError, TypeError, KeyError):
            return  # not a chat message (e.g. collab's subscribe message)
        await self.channel_layer.group_send(
            ROOM_GROUP, {"type": "chat.message", "message": message}
        )

    async def chat_message(self, event: dict[str, Any]) -> None:
        await self.send(text_data=json.dumps({"message": event["message"]}))


class BroadcastConsumer(AsyncHttpConsumer):  # type: ignore[misc]
    async def handle(self, body: bytes) -> None:
        if self.scope["method"] == "POST":
            await self.channel_layer.group_send(
                ROOM_GROUP, {"type": "chat.message", "message": body.decode()}
            )
        await self.send_response(200, b"ok", headers=[(b"Content-Type", b"text/plain")])
