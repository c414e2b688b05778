"""A live frame on the wire: framed once, the same bytes written to every socket.

The hub renders an event once per view variant and hands the same string to
every socket of that variant (hundreds of them). Sent through ASGI, each
socket would encode it, build a websocket frame around it and join the
pieces again: the same work a thousand times, most of a delivery's cost.
Here the frame is built once (:func:`wire_frame`, cached by text) and
:class:`Wire` writes those bytes straight to each socket's transport.

That is only right when the bytes would have been the same: a server text
frame (RFC 6455: FIN, opcode 1, no mask), no extension negotiated (no
permessage-deflate, whose frames are compressed per connection), the
connection open, and the transport taking data (not paused by flow
control). When any of these does not hold, or the server is not uvicorn's
``websockets`` sans-I/O protocol (the test client, another server), the
frame goes through ASGI's ``send`` as before, and ``send`` does the waiting
and the error handling. Checked per frame, so a socket that starts closing
or fills its buffer falls back at once.
"""

from __future__ import annotations

import functools
import secrets
import struct
from typing import Any

from starlette.types import Send

__all__ = ["Wire", "uvicorn_protocol", "wire_frame"]

_FIN_TEXT = 0x81  # FIN bit + opcode 1 (text)

_Protocol: Any = None
_OPEN: Any = None
try:  # uvicorn's default websocket protocol when ``websockets`` is installed
    from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
    from websockets.protocol import State

    _Protocol, _OPEN = WebSocketsSansIOProtocol, State.OPEN
except ImportError:  # pragma: no cover - another server or version: ASGI send only
    pass


@functools.lru_cache(maxsize=512)
def wire_frame(text: str) -> bytes:
    """``text`` as one unmasked, unfragmented websocket text frame (RFC 6455, 5.2)."""
    data = text.encode()
    size = len(data)
    if size < 126:
        head = bytes((_FIN_TEXT, size))
    elif size < 1 << 16:
        head = struct.pack("!BBH", _FIN_TEXT, 126, size)
    else:
        head = struct.pack("!BBQ", _FIN_TEXT, 127, size)
    return head + data


def uvicorn_protocol(send: Send) -> Any:
    """The uvicorn sans-I/O protocol object whose ``send`` this is, or None
    (the test client, another server or websocket implementation)."""
    protocol = getattr(send, "__self__", None)
    if _Protocol is None or type(protocol) is not _Protocol:
        return None
    return protocol


_PING_HEAD = bytes((0x89, 4))  # FIN bit + opcode 9 (ping), a 4-byte payload, no mask
# What the keep-alive pings use of uvicorn's protocol (0.55): the payload its
# ``handle_pong`` matches, the time it measures from, and its own closing of
# a silent peer. A version without them: no pings from us (tests say so).
KEEPALIVE_ATTRIBUTES = ("pending_ping_payload", "ping_sent_at", "keepalive_timeout")


class Wire:
    """Writes one socket's frames straight to its transport when that gives
    the same bytes as its ASGI ``send`` would (:meth:`write_now`), and pings
    the peer for the heartbeat schedule, in the same write when it can
    (``ping``), to close it when it no longer answers (:meth:`peer_silent`,
    :meth:`drop_peer`)."""

    __slots__ = ("_last_ping", "_pinged", "_protocol")

    def __init__(self, send: Send) -> None:
        protocol = uvicorn_protocol(send)
        # Pings are control frames, never compressed: any uvicorn sans-I/O
        # socket takes them, with or without permessage-deflate.
        pinged = protocol
        if pinged is not None and not all(hasattr(pinged, a) for a in KEEPALIVE_ATTRIBUTES):
            pinged = None  # pragma: no cover - another uvicorn
        self._pinged = pinged
        # Not uvicorn's sans-I/O protocol, or permessage-deflate negotiated
        # (frames compressed per connection): every frame through ``send``.
        if protocol is not None and protocol.conn.extensions:
            protocol = None
        self._protocol = protocol
        self._last_ping: bytes | None = None  # the payload of our last ping

    @property
    def direct(self) -> bool:
        """Whether frames may go straight to the transport (each still checked)."""
        return self._protocol is not None

    def write_now(self, text: str, *, ping: bool = False) -> bool:
        """Write ``text`` to the transport now; False when it must go through ``send``.

        With ``ping``, a ping follows the frame in the same write (one
        segment, no timer of its own).
        """
        protocol = self._protocol
        if (
            protocol is None
            or not protocol.writable.is_set()
            or protocol.disconnected
            or protocol.close_sent
            or protocol.conn.state is not _OPEN
        ):
            return False
        data = wire_frame(text)
        if ping:
            data += self._ping_frame()
        protocol.transport.write(data)
        return True

    def ping(self) -> None:
        """A ping alone, for a beat whose frame went through ``send``: a
        whole control frame between whole frames, as RFC 6455 allows."""
        protocol = self._pinged
        if (
            protocol is not None
            and not protocol.disconnected
            and not protocol.close_sent
            and protocol.conn.state is _OPEN
        ):
            protocol.transport.write(self._ping_frame())

    def _ping_frame(self) -> bytes:
        """The bytes of a ping, noted so that uvicorn's protocol takes its pong
        as the answer to its own ping (its ``handle_pong`` matches the payload
        and clears ``pending_ping_payload``). None in flight already: no new one."""
        protocol = self._pinged
        if protocol is None or protocol.pending_ping_payload is not None:
            return b""
        payload = self._last_ping = secrets.token_bytes(4)
        protocol.pending_ping_payload = payload
        protocol.ping_sent_at = protocol.loop.time()
        return _PING_HEAD + payload

    def peer_silent(self, timeout: float) -> bool:
        """Whether our last ping has waited more than ``timeout`` seconds for
        its pong: then the peer is gone."""
        protocol = self._pinged
        return (
            protocol is not None
            and self._last_ping is not None
            and protocol.pending_ping_payload == self._last_ping
            and protocol.loop.time() - protocol.ping_sent_at > timeout
        )

    def drop_peer(self) -> None:
        """Close a silent peer's connection as uvicorn's own keep-alive does:
        close frame 1011 "keepalive ping timeout", then the transport."""
        if self._pinged is not None:
            self._last_ping = None
            self._pinged.keepalive_timeout()
