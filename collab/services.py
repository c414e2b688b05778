"""What ``create_app`` builds, as one typed object (Datasette's ``Datasette``).

Every long-lived thing a request or a socket may need lives in
:class:`Services`, created once in :func:`collab.app.create_app` and kept as
``app.state.services``; nothing is added to ``app.state`` on first use.
Handlers reach it with :func:`services` (or the shortcuts in
:mod:`collab.web`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from starlette.requests import HTTPConnection

from collab.ratelimit import SlidingWindow
from collab.slots import UploadSlots

if TYPE_CHECKING:
    from collab.db import Database
    from collab.mail.sender import MailSender
    from collab.models import User
    from collab.notifications.fanout import NotificationFanout
    from collab.notifications.mailer import NotificationMailer
    from collab.realtime.access import TopicAccess
    from collab.realtime.beats import Beats
    from collab.realtime.hub import Hub
    from collab.realtime.layers import ChannelLayer
    from collab.realtime.presence import Presence
    from collab.realtime.registry import Registry
    from collab.search.extractor import TextExtractor
    from collab.settings import Settings
    from collab.templating import Templates

__all__ = ["WS_SETUP_SLOTS", "PageHook", "Services", "services"]

# What a feature adds to every full page of a logged-in user (the bell): the
# context it returns is merged into the page's.
PageHook = Callable[[HTTPConnection, "User"], Awaitable[dict[str, Any]]]

# Sockets set up at once (session, authorization, subscription and replay):
# see collab.realtime.ws.live.
WS_SETUP_SLOTS = 8


@dataclass
class Services:
    """The app's settings, storage, live engine, caches and rate limiters."""

    settings: Settings
    db: Database
    templates: Templates
    layer: ChannelLayer
    registry: Registry
    hub: Hub
    access: TopicAccess  # who may follow which topic, with the topics' zones cached
    presence: Presence
    mail: MailSender  # the outbox's sender in this process; wake() it after queueing
    notices: NotificationMailer  # writes the e-mail notifications owe to the outbox
    fanout: NotificationFanout  # writes out notifications to many people after commit
    beats: Beats  # every socket's heartbeat, from one task (collab.realtime.beats)
    page_hooks: Sequence[PageHook] = ()
    # Reads uploaded files' text for search after commit (collab.search.extractor).
    extractor: TextExtractor | None = None
    # Page loads and socket opens without an account, per client IP.
    public_limiter: SlidingWindow = field(default_factory=SlidingWindow)
    # The uploads streaming in at once, per user and in all (collab.uploads.upload_gate).
    uploads: UploadSlots = field(default_factory=UploadSlots)
    # The sockets being set up at once (WS_SETUP_SLOTS).
    ws_setup: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(WS_SETUP_SLOTS))
    # Presence broadcasts waiting to go out, per topic (coalesced per process).
    presence_pending: dict[str, asyncio.Task[None]] = field(default_factory=dict)
    # The last reading of who is on a topic, per topic: (monotonic time, users).
    presence_recent: dict[str, tuple[float, asyncio.Future[list[list[Any]]]]] = field(
        default_factory=dict
    )


def services(conn: HTTPConnection) -> Services:
    """The app's :class:`Services` (a request's or a websocket's)."""
    value = conn.app.state.services
    assert isinstance(value, Services)
    return value
