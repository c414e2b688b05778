"""The bell, live: frames of ``notification.*`` events on a user's own topic.

Every logged-in page follows its user's topic (``user:N``, see
:mod:`collab.realtime.sessions`), so a notification, or one read on another
tab or device, updates the bell of every open page of that person, on every
worker. ``prepare`` reads the unread count (and the new notification, for
what a screen reader announces) once per event per process, when the frame
is rendered: a frame always carries the count as it is then, so frames that
arrive out of step, or twice after a reconnect, leave the right number.

A notification to 600 people is 600 events on 600 topics, prepared at the
same time (each topic drains on its own): the prepares that wait together
share one read (:class:`_Reads`), so a burst costs a few queries, not one
per person.

    <template data-topic="user:5" data-seq="9" data-announce="..."></template>
    <template data-op="replace" data-target="#notif-bell" data-id="notif-bell">...</template>
"""

from __future__ import annotations

import asyncio
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select

from collab.db import Database
from collab.i18n import N_, translations
from collab.models import User
from collab.notifications.kinds import describe
from collab.notifications.models import Notification
from collab.realtime.frames import frame, op
from collab.realtime.log import LoggedEvent
from collab.realtime.registry import LiveFeature
from collab.templating import Templates

__all__ = ["BellFrames", "feature"]

NEW_NOTIFICATION = N_("New notification: %(text)s")
BELLS_KEPT = 256  # rendered bells kept, per (language, count)


_About = tuple[str, str, dict[str, Any], str | None]  # kind, title, params, actor's name


@dataclass(frozen=True)
class BellPrepared:
    item: LoggedEvent
    unread: int
    # The new notification's kind, title, params and actor's name (None: a read).
    notification: _About | None


class _Reads:
    """Unread counts and new notifications, read for many prepares at once.

    A prepare adds what it needs and waits; one task reads for everyone who
    is waiting, then again for those who came meanwhile (at most ``CHUNK``
    people per query).
    """

    CHUNK = 500

    def __init__(self, database: Database) -> None:
        self.db = database
        self._waiting: list[tuple[int, int | None, asyncio.Future[tuple[int, _About | None]]]] = []
        self._reader: asyncio.Task[None] | None = None

    async def read(self, user_id: int, notification_id: int | None) -> tuple[int, _About | None]:
        future: asyncio.Future[tuple[int, _About | None]] = (
            asyncio.get_running_loop().create_future()
        )
        self._waiting.append((user_id, notification_id, future))
        if self._reader is None or self._reader.done():
            self._reader = asyncio.create_task(self._read_all(), name="bell-reads")
        return await future

    async def _read_all(self) -> None:
        while self._waiting:
            batch = self._waiting[: self.CHUNK]
            del self._waiting[: self.CHUNK]
            try:
                counts, abouts = await self._query(
                    {uid for uid, _, _ in batch}, {nid for _, nid, _ in batch if nid is not None}
                )
            except Exception as error:  # each prepare fails (the hub retries it)
                for _, _, future in batch:
                    if not future.done():
                        future.set_exception(error)
                continue
            for uid, nid, future in batch:
                if not future.done():  # not cancelled meanwhile
                    future.set_result(
                        (counts.get(uid, 0), abouts.get(nid) if nid is not None else None)
                    )

    async def _query(
        self, user_ids: set[int], notification_ids: set[int]
    ) -> tuple[dict[int, int], dict[int, _About | None]]:
        async with self.db.session() as session:
            rows = await session.execute(
                select(Notification.user_id, func.count())
                .where(Notification.user_id.in_(user_ids), Notification.read_at.is_(None))
                .group_by(Notification.user_id)
            )
            counts = {int(uid): int(count) for uid, count in rows}
            abouts: dict[int, _About | None] = {}
            if notification_ids:
                found = await session.execute(
                    select(
                        Notification.id,
                        Notification.kind,
                        Notification.title,
                        Notification.params,
                        User.name,
                        Notification.read_at,
                    )
                    .select_from(Notification)
                    .outerjoin(User, User.id == Notification.actor_id)
                    .where(Notification.id.in_(notification_ids))
                )
                for nid, kind, title, params, actor, read_at in found:
                    # Read already (on another tab): nothing new to announce.
                    abouts[int(nid)] = (
                        None if read_at is not None else (kind, title, dict(params or {}), actor)
                    )
        return counts, abouts


class BellFrames:
    def __init__(self, templates: Templates, database: Database) -> None:
        self.templates = templates
        self.reads = _Reads(database)
        self._bells: dict[tuple[str, int], str] = {}

    async def prepare(self, item: LoggedEvent) -> BellPrepared:
        """The unread count and, for a new notification still unread, what
        the announcement says of it (None once pruned or read)."""
        notification_id = item.event.get("notification_id")
        unread, about = await self.reads.read(
            int(item.event["user_id"]),
            notification_id if isinstance(notification_id, int) else None,
        )
        return BellPrepared(item, unread, about)

    def basis(self, prepared: BellPrepared) -> Hashable:
        return "bell"

    def variant(self, prepared: BellPrepared, viewer: Any) -> Hashable:
        locale: str = viewer.locale
        return (locale,)

    def render(self, prepared: BellPrepared, variant: Hashable) -> str:
        assert isinstance(variant, tuple)
        (locale,) = variant
        gettext = translations(locale).gettext
        announce = ""
        if prepared.notification is not None:
            kind, title, params, actor = prepared.notification
            text = describe(kind, title, actor, params, gettext)
            announce = gettext(NEW_NOTIFICATION) % {"text": text}
        return frame(
            prepared.item,
            announce,
            [op("replace", "#notif-bell", "notif-bell", self.bell(locale, prepared.unread))],
        )

    def bell(self, locale: str, unread: int) -> str:
        """The bell with ``unread`` in ``locale``: rendered once per count and
        language (600 people told the same thing mostly share a count)."""
        key = (locale, unread)
        html = self._bells.get(key)
        if html is None:
            if len(self._bells) >= BELLS_KEPT:
                self._bells.clear()
            html = self._bells[key] = self.templates.render(
                "notifications/_bell.html", locale, {"unread": unread, "user": True}
            )
        return html


feature = LiveFeature(name="notifications", frames={"notification": BellFrames})
