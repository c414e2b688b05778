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


class Wire:
    """Writes one socket's frames straight to its transport when that gives
    the same bytes as its ASGI ``send`` would (:meth:`write_now`)."""

    __slots__ = ("_protocol",)

    def __init__(self, send: Send) -> None:
        protocol = uvicorn_protocol(send)
        # Not uvicorn's sans-I/O protocol, or permessage-deflate negotiated
        # (frames compressed per connection): every frame through ``send``.
        if protocol is not None and protocol.conn.extensions:
            protocol = None
        self._protocol = protocol

    @property
    def direct(self) -> bool:
        """Whether frames may go straight to the transport (each still checked)."""
        return self._protocol is not None

    def write_now(self, text: str) -> bool:
        """Write ``text`` to the transport now; False when it must go through ``send``."""
        protocol = self._protocol
        if (
            protocol is None
            or not protocol.writable.is_set()
            or protocol.disconnected
            or protocol.close_sent
            or protocol.conn.state is not _OPEN
        ):
            return False
        protocol.transport.write(wire_frame(text))
        return True
