"""Where a message goes: an SMTP server (``SMTP_URL``), or a folder of
``.eml`` files when none is configured (the embedded default).

``SMTP_URL``: ``smtp://[user:password@]host[:port]`` (plain, then STARTTLS
when the server offers it), ``smtp+starttls://...`` (STARTTLS required),
``smtps://...`` (TLS from the first byte, port 465 by default).
"""

from __future__ import annotations

import asyncio
from email.utils import parseaddr
from pathlib import Path
from typing import Protocol
from urllib.parse import unquote, urlsplit

import aiosmtplib

__all__ = [
    "FileTransport",
    "PermanentFailure",
    "SmtpTransport",
    "TemporaryFailure",
    "Transport",
    "make_transport",
]

SMTP_TIMEOUT = 30.0


class TemporaryFailure(Exception):
    """Try again later: the server is away, busy, or said 4xx."""


class PermanentFailure(Exception):
    """Do not try again: the server refused the message or its recipient (5xx).

    ``address``: the refusal is about the recipient's address (5xx to RCPT or
    after DATA), so no more notices should go there until it changes; False
    when the server refused us (our sender address, say), not them.
    """

    def __init__(self, message: str, *, address: bool = True) -> None:
        super().__init__(message)
        self.address = address


class Transport(Protocol):
    async def send(self, recipient: str, message_id: str, raw: bytes) -> None: ...


class FileTransport:
    """Writes each message to ``directory/<id>.eml`` (the demo's inbox)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    async def send(self, recipient: str, message_id: str, raw: bytes) -> None:
        name = message_id.strip("<>").replace("/", "_") + ".eml"
        await asyncio.to_thread(self._write, self.directory / name, raw)

    @staticmethod
    def _write(path: Path, raw: bytes) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".part")
        partial.write_bytes(raw)
        partial.replace(path)  # whole or absent


class SmtpTransport:
    def __init__(self, url: str, sender: str) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtp+starttls", "smtps") or not parts.hostname:
            raise ValueError(f"SMTP_URL must be smtp://, smtp+starttls:// or smtps://, got {url!r}")
        self.hostname = parts.hostname
        self.use_tls = parts.scheme == "smtps"
        self.port = parts.port or (465 if self.use_tls else 587 if parts.scheme != "smtp" else 25)
        # None: STARTTLS if the server offers it; True: required; False: never.
        self.start_tls: bool | None = True if parts.scheme == "smtp+starttls" else None
        if self.use_tls:
            self.start_tls = False
        self.username = unquote(parts.username) if parts.username else None
        self.password = unquote(parts.password) if parts.password else None
        self.sender = parseaddr(sender)[1]  # the envelope wants the bare address

    async def send(self, recipient: str, message_id: str, raw: bytes) -> None:
        try:
            await aiosmtplib.send(
                raw,
                sender=self.sender,
                recipients=[recipient],
                hostname=self.hostname,
                port=self.port,
                use_tls=self.use_tls,
                start_tls=self.start_tls,
                username=self.username,
                password=self.password,
                timeout=SMTP_TIMEOUT,
            )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            codes = [error.code for error in exc.recipients]
            if all(500 <= code < 600 for code in codes):
                raise PermanentFailure(str(exc)) from exc
            raise TemporaryFailure(str(exc)) from exc
        except aiosmtplib.SMTPResponseException as exc:
            if 500 <= exc.code < 600 and exc.code not in (530, 535):
                # 530/535: our credentials, not the message; fix and it goes.
                # Refused after DATA: the recipient's mailbox said no for good.
                address = isinstance(exc, aiosmtplib.SMTPDataError)
                raise PermanentFailure(f"{exc.code} {exc.message}", address=address) from exc
            raise TemporaryFailure(f"{exc.code} {exc.message}") from exc
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            raise TemporaryFailure(f"{type(exc).__name__}: {exc}") from exc


def make_transport(smtp_url: str, sender: str, mail_dir: Path) -> Transport:
    return SmtpTransport(smtp_url, sender) if smtp_url else FileTransport(mail_dir)
