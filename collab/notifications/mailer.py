"""The e-mail notifications owe: each one at once, or the daily digest.

A notification is written with the change that causes it, its
``mail_state`` saying what e-mail it owes (:mod:`collab.notifications.models`).
One task per process (:class:`NotificationMailer`, started in the app's
lifespan) turns those into outbox messages (:mod:`collab.mail.outbox`) in
batches: the message rows and the new states commit together, so a
notification's e-mail is queued once and never lost, whichever process dies
when. On PostgreSQL the batch is taken ``FOR UPDATE SKIP LOCKED``, so workers
share the work; SQLite serializes writers (the supported single-host setup).

- ``pending``: one message each, in the person's language, with the link to
  the exact place, why it was sent and a one-click unsubscribe; a kind may
  attach a file (a convocation's ICS, :data:`AttachmentMaker`).
- ``digest``: at ``DIGEST_TIME`` (Europe/Rome), one message per person with
  what came before that time and is still unread, grouped by zone and
  theme; nothing left unread, nothing sent.

The mail sender (:mod:`collab.mail.sender`) then delivers the outbox.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import lazyload

from collab.cancelling import checkpoint
from collab.db import Database
from collab.i18n import N_, translations
from collab.mail.bounces import deliverable
from collab.mail.compose import Attachment, Draft
from collab.mail.outbox import queue
from collab.mail.sender import MailSender
from collab.models import User, utcnow
from collab.notifications.kinds import KINDS, Kind, describe
from collab.notifications.models import MailState, Notification
from collab.notifications.queries import Place, place_names
from collab.notifications.unsubscribe import token_for
from collab.settings import Settings
from collab.templating import ROME, Templates
from collab.worker import Worker

__all__ = [
    "AttachmentMaker",
    "NotificationMailer",
    "Reminder",
    "digest_cutoff",
]

logger = logging.getLogger(__name__)

BATCH = 100  # notifications (or digest recipients) per transaction
POLL = 5.0  # seconds between looks when nothing wakes us
# Woken by a commit, wait this long: the bells of a notification to hundreds
# are rendered first, and a burst of writes is mailed in one pass.
SETTLE = 1.0
DIGEST_CHECK = 60.0  # seconds between looks for a digest that is due
SUBJECT_CHARS = 150
YIELD_EVERY = 5  # messages composed between two turns of the event loop

DIGEST_SUBJECT = N_("collab: %(count)s new notifications")
DIGEST_SUBJECT_ONE = N_("collab: 1 new notification")
METROPOLITAN = N_("Metropolitan")
DIGEST_REASON = N_(
    "You receive this summary once a day because you chose the daily digest for some kinds "
    "of notification."
)

# What a kind attaches to its message (a convocation's ICS): given the
# session, the notification and the recipient, a file or None.
AttachmentMaker = Callable[[AsyncSession, Notification, User], Awaitable[Attachment | None]]

# A feature's notifications that come with time rather than with a write
# (a meeting within the hour, a deadline in 3 days): run about every minute
# in every process with the time; it notifies in its own transactions and
# says how many. Refs make it idempotent: a second process, or the next
# minute, finds the notifications already there (``notify`` skips them).
Reminder = Callable[[Database, datetime], Awaitable[int]]


def digest_cutoff(now: datetime, digest_time: str) -> datetime:
    """The last ``digest_time`` (Europe/Rome) at or before ``now``, in UTC:
    a digest carries what came before it; what came after waits a day."""
    hours, minutes = (int(part) for part in digest_time.split(":"))
    local = now.astimezone(ROME)
    at = datetime.combine(local.date(), time(hours, minutes), tzinfo=ROME)
    if at > local:
        at = datetime.combine(local.date() - timedelta(days=1), time(hours, minutes), tzinfo=ROME)
    return at.astimezone(now.tzinfo)


@dataclass(frozen=True)
class _Line:
    text: str
    excerpt: str
    link: str
    when: datetime


class NotificationMailer(Worker):
    """One per process: writes owed e-mail to the outbox and wakes the sender."""

    name = "notification-mailer"

    def __init__(
        self,
        database: Database,
        templates: Templates,
        settings: Settings,
        sender: MailSender,
        attachments: Mapping[Kind, AttachmentMaker] | None = None,
        reminders: Sequence[Reminder] = (),
        *,
        poll: float = POLL,
    ) -> None:
        super().__init__(poll, settle=SETTLE)
        self.database = database
        self.templates = templates
        self.settings = settings
        self.sender = sender
        self.attachments = dict(attachments or {})
        self.reminders = tuple(reminders)
        self._timed_at = -DIGEST_CHECK  # the first pass looks at once

    async def run_pass(self) -> None:
        while not self.stopping and await self.send_pending():
            checkpoint()
        loop = asyncio.get_running_loop()
        if not self.stopping and loop.time() - self._timed_at >= DIGEST_CHECK:
            self._timed_at = loop.time()
            await self.remind()
            await self.send_digests()

    async def remind(self, now: datetime | None = None) -> int:
        """Run every feature's reminders once; how many notifications they made."""
        made = 0
        for reminder in self.reminders:
            try:
                made += await reminder(self.database, now or utcnow())
            except asyncio.CancelledError:
                raise
            except Exception:
                # Two processes may notify the same thing at once: one of
                # them fails on the unique ref, and the next pass finds it done.
                logger.warning("reminder %s failed; trying again later", reminder, exc_info=True)
        if made:
            self.wake()
        return made

    # -- one message per notification -------------------------------------------

    async def send_pending(self) -> int:
        """Queue the messages of one batch of ``pending`` notifications; how many."""
        async with self.database.transaction() as uow:
            session = uow.session
            query = (
                select(Notification)
                .options(lazyload(Notification.actor))
                .where(Notification.mail_state == MailState.PENDING)
                .order_by(Notification.id)
                .limit(BATCH)
            )
            if not self.settings.sqlite:
                query = query.with_for_update(skip_locked=True)
            batch = (await session.scalars(query)).all()
            if not batch:
                return 0
            users = await _users(session, {n.user_id for n in batch} | _actors(batch))
            queued = 0
            for done, notification in enumerate(batch):
                if done % YIELD_EVERY == 0:
                    # Composing a message is pure Python (~1-2 ms): let the
                    # loop serve pages and sockets between a few of them.
                    await asyncio.sleep(0)
                user = users.get(notification.user_id)
                if user is None or not deliverable(user):
                    notification.mail_state = MailState.NONE
                    continue
                draft = await self._single(session, notification, user, users)
                queue(session, draft, sender=self.settings.mail_from, base_url=self.base_url)
                notification.mail_state = MailState.QUEUED
                queued += 1
        if queued:
            self.sender.wake()
        return len(batch)

    @property
    def base_url(self) -> str:
        return self.settings.base_url

    async def _single(
        self, session: AsyncSession, notification: Notification, user: User, users: dict[int, User]
    ) -> Draft:
        locale = user.locale or "it"
        gettext = translations(locale).gettext
        actor = users.get(notification.actor_id) if notification.actor_id else None
        kind = Kind(notification.kind)
        sentence = describe(
            kind, notification.title, actor.name if actor else None, notification.params, gettext
        )
        unsubscribe = self._unsubscribe_url(user.id, kind)
        context = {
            "subject": sentence,
            "name": user.name,
            "sentence": sentence,
            "excerpt": notification.excerpt,
            "link": self.base_url + notification.url,
            "reason": gettext(KINDS[kind].reason),
            "settings_link": f"{self.base_url}/account/notifications",
            "unsubscribe_link": unsubscribe,
            "locale": locale,
        }
        maker = self.attachments.get(kind)
        attachment = await maker(session, notification, user) if maker is not None else None
        return Draft(
            to=user.email,
            subject=_subject(sentence),
            text=self.templates.render("mail/notification.txt", locale, context),
            html=self.templates.render("mail/notification.html", locale, context),
            kind=kind.value,
            attachments=(attachment,) if attachment is not None else (),
            unsubscribe_url=unsubscribe,
        )

    def _unsubscribe_url(self, user_id: int, kind: Kind) -> str:
        return f"{self.base_url}/unsubscribe/{token_for(self.settings.secret_key, user_id, kind)}"

    # -- the daily digest ---------------------------------------------------------

    async def send_digests(self, now: datetime | None = None) -> int:
        """Send every digest that is due; how many messages were queued."""
        cutoff = digest_cutoff(now or utcnow(), self.settings.digest_time)
        sent = 0
        while True:
            checkpoint()
            done, queued = await self._digest_batch(cutoff)
            sent += queued
            if queued:
                self.sender.wake()
            if not done or self.stopping:
                return sent

    async def _digest_batch(self, cutoff: datetime) -> tuple[int, int]:
        """One batch of recipients: (how many were looked at, messages queued)."""
        due = (Notification.mail_state == MailState.DIGEST) & (Notification.created_at < cutoff)
        async with self.database.transaction() as uow:
            session = uow.session
            recipients = list(
                await session.scalars(
                    select(Notification.user_id).where(due).distinct().limit(BATCH)
                )
            )
            if not recipients:
                return 0, 0
            query = (
                select(Notification)
                .options(lazyload(Notification.actor))
                .where(due, Notification.user_id.in_(recipients))
                .order_by(Notification.user_id, Notification.created_at)
            )
            if not self.settings.sqlite:
                query = query.with_for_update(skip_locked=True)
            rows = (await session.scalars(query)).all()
            users = await _users(session, set(recipients) | _actors(rows))
            # Canonical (Italian) names: a digest groups by them.
            places = await place_names(session, rows, "it")
            by_user: dict[int, list[Notification]] = defaultdict(list)
            for notification in rows:
                by_user[notification.user_id].append(notification)
            queued = 0
            for uid, notifications in by_user.items():
                user = users.get(uid)
                unread = [n for n in notifications if n.read_at is None]
                ok = user is not None and deliverable(user) and bool(unread)
                for notification in notifications:
                    notification.mail_state = MailState.QUEUED if ok else MailState.NONE
                if ok:
                    assert user is not None
                    draft = self._digest(user, unread, users, places)
                    queue(session, draft, sender=self.settings.mail_from, base_url=self.base_url)
                    queued += 1
        return len(recipients), queued

    def _digest(
        self,
        user: User,
        notifications: Sequence[Notification],
        users: dict[int, User],
        places: dict[Place, str],
    ) -> Draft:
        locale = user.locale or "it"
        trans = translations(locale)
        groups: dict[str, list[_Line]] = defaultdict(list)
        for n in notifications:
            actor = users.get(n.actor_id) if n.actor_id else None
            text = describe(n.kind, n.title, actor.name if actor else None, n.params, trans.gettext)
            place = places.get((n.zone_id, n.theme_id), "") or trans.gettext(METROPOLITAN)
            groups[place].append(_Line(text, n.excerpt, self.base_url + n.url, n.created_at))
        count = len(notifications)
        subject = (
            trans.gettext(DIGEST_SUBJECT_ONE)
            if count == 1
            else trans.gettext(DIGEST_SUBJECT) % {"count": count}
        )
        context: dict[str, Any] = {
            "subject": subject,
            "name": user.name,
            "groups": sorted(groups.items()),
            "count": count,
            "reason": trans.gettext(DIGEST_REASON),
            "settings_link": f"{self.base_url}/account/notifications",
            "locale": locale,
        }
        return Draft(
            to=user.email,
            subject=subject,
            text=self.templates.render("mail/digest.txt", locale, context),
            html=self.templates.render("mail/digest.html", locale, context),
            kind="digest",
        )


def _subject(sentence: str) -> str:
    flat = " ".join(sentence.split())
    return flat if len(flat) <= SUBJECT_CHARS else flat[: SUBJECT_CHARS - 1] + "…"


def _actors(rows: Sequence[Notification]) -> set[int]:
    return {n.actor_id for n in rows if n.actor_id is not None}


async def _users(session: AsyncSession, ids: set[int]) -> dict[int, User]:
    if not ids:
        return {}
    users = await session.scalars(select(User).where(User.id.in_(ids)))
    return {user.id: user for user in users}
