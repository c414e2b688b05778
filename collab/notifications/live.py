"""The bell, live: frames of ``notification.*`` events on a user's own topic.

Every logged-in page follows its user's topic (``user:N``, see
:mod:`collab.realtime.sessions`), so a notification, or one read on another
tab or device, updates the bell of every open page of that person, on every
worker. ``prepare`` reads the unread count (and the new notification, for
what a screen reader announces) once per event per process, when the frame
is rendered (one query): a frame always carries the count as it is then, so
frames that arrive out of step, or twice after a reconnect, leave the right
number.

    <template data-topic="user:5" data-seq="9" data-announce="..."></template>
    <template data-op="replace" data-target="#notif-bell" data-id="notif-bell">...</template>
"""

from __future__ import annotations

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


@dataclass(frozen=True)
class BellPrepared:
    item: LoggedEvent
    unread: int
    # The new notification's kind, title, params and actor's name (None: a read).
    notification: tuple[str, str, dict[str, Any], str | None] | None


class BellFrames:
    def __init__(self, templates: Templates, database: Database) -> None:
        self.templates = templates
        self.db = database

    async def prepare(self, item: LoggedEvent) -> BellPrepared:
        """One query: the unread count and, for a new notification still
        unread, what the announcement says of it (a notification to 600
        people is 600 of these in a row)."""
        user_id = int(item.event["user_id"])
        notification_id = item.event.get("notification_id")
        unread = (
            select(func.count())
            .select_from(Notification)
            .where(Notification.user_id == user_id, Notification.read_at.is_(None))
            .scalar_subquery()
        )
        async with self.db.session() as session:
            if not isinstance(notification_id, int):
                return BellPrepared(item, int(await session.scalar(select(unread)) or 0), None)
            row = (
                await session.execute(
                    select(
                        unread,
                        Notification.kind,
                        Notification.title,
                        Notification.params,
                        User.name,
                        Notification.read_at,
                    )
                    .select_from(Notification)
                    .outerjoin(User, User.id == Notification.actor_id)
                    .where(Notification.id == notification_id)
                )
            ).first()
            if row is None:  # pruned meanwhile
                return BellPrepared(item, int(await session.scalar(select(unread)) or 0), None)
        count, kind, title, params, actor, read_at = row
        about = None if read_at is not None else (kind, title, dict(params or {}), actor)
        return BellPrepared(item, int(count or 0), about)

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
        bell = self.templates.render(
            "notifications/_bell.html", locale, {"unread": prepared.unread, "user": True}
        )
        return frame(prepared.item, announce, [op("replace", "#notif-bell", "notif-bell", bell)])


feature = LiveFeature(name="notifications", frames={"notification": BellFrames})
