"""The bell, live: frames of ``notification.*`` events on a user's own topic.

Every logged-in page follows its user's topic (``user:N``, see
:mod:`collab.realtime.sessions`), so a notification, or one read on another
tab or device, updates the bell of every open page of that person, on every
worker. ``prepare`` reads the unread count (and the new notification, for
what a screen reader announces) once per event per process, when the frame
is rendered: a frame always carries the count as it is then, so frames that
arrive out of step, or twice after a reconnect, leave the right number.

    <template data-topic="user:5" data-seq="9" data-announce="..."></template>
    <template data-op="replace" data-target="#notif-bell" data-id="notif-bell">...</template>
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from collab.db import Database
from collab.i18n import N_, translations
from collab.notifications.kinds import describe
from collab.notifications.models import Notification
from collab.notifications.queries import unread_count
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
    notification: Notification | None


class BellFrames:
    def __init__(self, templates: Templates, database: Database) -> None:
        self.templates = templates
        self.db = database

    async def prepare(self, item: LoggedEvent) -> BellPrepared:
        user_id = int(item.event["user_id"])
        notification_id = item.event.get("notification_id")
        async with self.db.session() as session:
            unread = await unread_count(session, user_id)
            notification = None
            if isinstance(notification_id, int):
                notification = await session.scalar(
                    select(Notification).where(
                        Notification.id == notification_id, Notification.read_at.is_(None)
                    )
                )
        return BellPrepared(item, unread, notification)

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
        notification = prepared.notification
        if notification is not None:
            actor = notification.actor.name if notification.actor is not None else None
            text = describe(
                notification.kind, notification.title, actor, notification.params, gettext
            )
            announce = gettext(NEW_NOTIFICATION) % {"text": text}
        bell = self.templates.render(
            "notifications/_bell.html", locale, {"unread": prepared.unread, "user": True}
        )
        return frame(prepared.item, announce, [op("replace", "#notif-bell", "notif-bell", bell)])


feature = LiveFeature(name="notifications", frames={"notification": BellFrames})
