"""A real SMTP server for the tests: aiosmtpd on a free loopback port, in a
thread of its own, keeping every message it accepts. It can be stopped and
started again on the same port (an outage), and told to refuse recipients
with a temporary (4xx) or permanent (5xx) answer, to RCPT or to DATA."""

from __future__ import annotations

import asyncio
import time
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller

from tests.servers import free_port

__all__ = ["SmtpServer"]


class _Handler:
    def __init__(self, server: SmtpServer) -> None:
        self.server = server

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: Any
    ) -> str:
        answer = self.server.refuse.get(address)
        if answer:
            return answer
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        for address in envelope.rcpt_tos:
            if self.server.refuse_data.get(address):
                return self.server.refuse_data[address]
        self.server.received.append((list(envelope.rcpt_tos), envelope.content))
        return "250 Message accepted for delivery"


class SmtpServer:
    def __init__(self) -> None:
        self.port = free_port()
        self.received: list[tuple[list[str], bytes]] = []
        self.refuse: dict[str, str] = {}  # address -> "450 ..." or "550 ..."
        self.refuse_data: dict[str, str] = {}  # the same, answered to DATA
        self.controller: Controller | None = None

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.controller = Controller(_Handler(self), hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    def messages(self, to: str | None = None) -> list[EmailMessage]:
        found = []
        for recipients, raw in self.received:
            if to is None or to in recipients:
                parsed = message_from_bytes(raw, policy=policy.default)
                assert isinstance(parsed, EmailMessage)
                found.append(parsed)
        return found

    async def wait_for(
        self, count: int, to: str | None = None, within: float = 10
    ) -> list[EmailMessage]:
        """The messages (to ``to``) once there are ``count``; fails after ``within`` s."""
        deadline = time.monotonic() + within
        while len(self.messages(to)) < count:
            assert time.monotonic() < deadline, (
                f"{len(self.messages(to))} of {count} messages arrived within {within}s"
            )
            await asyncio.sleep(0.02)
        return self.messages(to)
