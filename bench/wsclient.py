"""A lean websocket client for the load generator: an ``asyncio.Protocol``, nothing else.

The load generator shares this 2-core machine with the servers it measures, so
every microsecond it spends per frame is taken from them. The ``websockets``
client is correct and complete, but costs several times more per frame (a
task wake-up, a queue and an assembler per message). This client does only
what receiving needs: the RFC 6455 handshake, frame parsing (text, binary,
continuation, ping, close), permessage-deflate (RFC 7692) decompression, and
masked client frames for the few things it sends. ``--client websockets``
runs the same benchmark with the library client, to cross-check.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import struct
import zlib
from collections.abc import Callable, Sequence
from typing import cast

__all__ = ["HandshakeError", "LeanClient", "connect"]

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
DEFLATE_TAIL = b"\x00\x00\xff\xff"

try:
    from websockets.speedups import apply_mask as _apply_mask
except ImportError:  # pragma: no cover - websockets is a uvicorn[standard] dependency

    def _apply_mask(data: bytes, mask: bytes) -> bytes:
        return bytes(b ^ mask[i % 4] for i, b in enumerate(data))


class HandshakeError(Exception):
    pass


def _frame(opcode: int, payload: bytes) -> bytes:
    """A masked, final client frame."""
    mask = os.urandom(4)
    length = len(payload)
    if length < 126:
        header = struct.pack("!BB", 0x80 | opcode, 0x80 | length)
    elif length < 1 << 16:
        header = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, length)
    else:
        header = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, length)
    return header + mask + _apply_mask(payload, mask)


class LeanClient(asyncio.Protocol):
    """One websocket. ``on_message(payload, t_ns)`` gets each complete data message."""

    def __init__(
        self,
        request: bytes,
        key: str,
        on_message: Callable[[bytes, int], None],
        clock: Callable[[], int],
    ) -> None:
        self.request = request
        self.accept = base64.b64encode(hashlib.sha1(key.encode() + GUID).digest()).decode()  # noqa: S324 - RFC 6455
        self.on_message = on_message
        self.clock = clock
        self.transport: asyncio.Transport | None = None
        self.opened: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.closed: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self.buffer = bytearray()
        self.upgraded = False
        self.inflater: zlib._Decompress | None = None
        self.reset_inflater = False
        self.parts: list[bytes] = []
        self.compressed = False
        self.close_code = 1006

    # -- asyncio.Protocol ----------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        self.transport.write(self.request)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.opened.done():
            self.opened.set_exception(exc or HandshakeError("connection closed during handshake"))
        if not self.closed.done():
            self.closed.set_result(self.close_code)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if not self.upgraded:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(self.buffer[:end]).decode("latin-1")
            del self.buffer[: end + 4]
            try:
                self._handshake(head)
            except HandshakeError as exc:
                self.opened.set_exception(exc)
                assert self.transport is not None
                self.transport.close()
                return
            self.upgraded = True
            self.opened.set_result(None)
        self._parse(self.clock())

    # -- protocol ------------------------------------------------------------------

    def _handshake(self, head: str) -> None:
        status, *lines = head.split("\r\n")
        if " 101 " not in f"{status} ":
            raise HandshakeError(f"handshake refused: {status}")
        headers: dict[str, str] = {}
        for line in lines:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        if headers.get("sec-websocket-accept") != self.accept:
            raise HandshakeError("bad Sec-WebSocket-Accept")
        extensions = headers.get("sec-websocket-extensions", "")
        if "permessage-deflate" in extensions:
            # A 15-bit window decodes whatever window the server compresses with.
            self.inflater = zlib.decompressobj(-15)
            self.reset_inflater = "server_no_context_takeover" in extensions

    def _parse(self, t: int) -> None:
        buf = self.buffer
        size = len(buf)
        at = 0
        while size - at >= 2:
            b0, b1 = buf[at], buf[at + 1]
            length = b1 & 0x7F
            header = 2
            if length == 126:
                if size - at < 4:
                    break
                length = (buf[at + 2] << 8) | buf[at + 3]
                header = 4
            elif length == 127:
                if size - at < 10:
                    break
                length = int.from_bytes(buf[at + 2 : at + 10], "big")
                header = 10
            if b1 & 0x80:
                header += 4  # servers must not mask; tolerate it anyway
            end = at + header + length
            if end > size:
                break
            payload = bytes(buf[at + header : end])
            if b1 & 0x80:
                payload = _apply_mask(payload, bytes(buf[at + header - 4 : at + header]))
            at = end
            opcode = b0 & 0x0F
            if opcode in (1, 2):
                self.parts = [payload]
                self.compressed = bool(b0 & 0x40)
            elif opcode == 0:
                self.parts.append(payload)
            else:
                self._control(opcode, payload)
                continue
            if b0 & 0x80:
                data = self.parts[0] if len(self.parts) == 1 else b"".join(self.parts)
                self.parts = []
                if self.compressed and self.inflater is not None:
                    data = self.inflater.decompress(data + DEFLATE_TAIL)
                    if self.reset_inflater:
                        self.inflater = zlib.decompressobj(-15)
                self.on_message(data, t)
        if at:
            del buf[:at]

    def _control(self, opcode: int, payload: bytes) -> None:
        assert self.transport is not None
        if opcode == 9:  # ping
            self.transport.write(_frame(10, payload))
        elif opcode == 8:  # close
            self.close_code = int.from_bytes(payload[:2], "big") if len(payload) >= 2 else 1005
            if not self.transport.is_closing():
                self.transport.write(_frame(8, payload[:2]))
                self.transport.close()

    # -- API -----------------------------------------------------------------------

    def send_text(self, text: str) -> None:
        assert self.transport is not None
        self.transport.write(_frame(1, text.encode()))

    def close(self, code: int = 1000) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.close_code = code
            self.transport.write(_frame(8, code.to_bytes(2, "big")))
            self.transport.close()


async def connect(
    url: str,
    on_message: Callable[[bytes, int], None],
    clock: Callable[[], int],
    *,
    headers: Sequence[tuple[str, str]] = (),
    compression: str | None = None,
    open_timeout: float = 60.0,
) -> LeanClient:
    """Open ``ws://host:port/path``; returns once the handshake succeeded."""
    if not url.startswith("ws://"):
        raise ValueError("only ws:// URLs")
    hostport, _, path = url[5:].partition("/")
    host, _, port = hostport.rpartition(":")
    key = base64.b64encode(os.urandom(16)).decode()
    lines = [
        f"GET /{path} HTTP/1.1",
        f"Host: {hostport}",
        "Upgrade: websocket",
        "Connection: Upgrade",
        f"Sec-WebSocket-Key: {key}",
        "Sec-WebSocket-Version: 13",
    ]
    if compression == "deflate":
        lines.append("Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits")
    lines += [f"{name}: {value}" for name, value in headers]
    request = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    loop = asyncio.get_running_loop()
    _, client = await asyncio.wait_for(
        loop.create_connection(
            lambda: LeanClient(request, key, on_message, clock), host, int(port)
        ),
        open_timeout,
    )
    await asyncio.wait_for(asyncio.shield(client.opened), open_timeout)
    return client
