"""Notify people, mark notifications read, change what one wants.

Domain code: no Starlette here. :func:`notify` is what every feature calls,
in the transaction of the change that causes the notifications: the rows
and their ``notification.changed`` events commit with it or not at all, and
the e-mail they owe is written to the outbox later by the mailer
(:mod:`collab.notifications.mailer`).

A notification to more than :data:`INLINE_RECIPIENTS` people (a consultation
for 312 comuni: 600) is one :class:`~collab.notifications.models.NotificationBatch`
row in the transaction instead: it commits with the change or not at all, and
the fan-out (:mod:`collab.notifications.fanout`) writes the rows and events
right after commit, so such a write answers as fast as one that notifies
nobody.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, ClassVar, cast

from sqlalchemy import Table, bindparam, case, delete, func, insert, literal, select, update

from collab.db import UnitOfWork
from collab.errors import ActionError, NotFound
from collab.i18n import N_
from collab.models import User, utcnow
from collab.notifications.kinds import KINDS, Kind
from collab.notifications.models import (
    FollowLevel,
    MailState,
    Mode,
    Notification,
    NotificationBatch,
    NotificationSetting,
    ThreadFollow,
)
from collab.prepared import Prepared
from collab.realtime.events import NotificationsChanged

__all__ = [
    "INLINE_RECIPIENTS",
    "TITLE_CHARS",
    "BatchQueued",
    "MailOwed",
    "do_mark_all_read",
    "do_mark_read",
    "do_prune",
    "do_set_modes",
    "notify",
]

TITLE_CHARS = 300
EXCERPT_CHARS = 400
CHUNK = 500  # ids per IN (...): well under SQLite's and PostgreSQL's limits
#: Up to this many people, the rows are written in the change's transaction;
#: more, and one batch row is (see the module's docstring).
INLINE_RECIPIENTS = 50


@dataclass(frozen=True)
class BatchQueued:
    """Recorded on the unit of work with a batch: after commit, the database's
    hook wakes this process's fan-out. It has no topic, so it is not logged
    or published (only :class:`~collab.realtime.events.Event` s are)."""

    topics: ClassVar[tuple[str, ...]] = ()


@dataclass(frozen=True)
class MailOwed:
    """Recorded on the unit of work when a notification it wrote owes an
    e-mail at once: after commit, the hook wakes this process's mailer (a
    write that notified only the bell or the digest does not). Like
    :class:`BatchQueued`, not logged or published."""

    type: ClassVar[str] = "notification.mail_owed"
    topics: ClassVar[tuple[str, ...]] = ()


_MAIL_STATE = {
    Mode.IMMEDIATELY: MailState.PENDING,
    Mode.DIGEST: MailState.DIGEST,
    Mode.APP: MailState.NONE,
}


_TABLE = cast(Table, Notification.__table__)


def _chunks(ids: list[int]) -> Iterable[list[int]]:
    for start in range(0, len(ids), CHUNK):
        yield ids[start : start + CHUNK]


def excerpt(text: str) -> str:
    """A few lines of plain text, cut at a word."""
    flat = " ".join(text.split())
    if len(flat) <= EXCERPT_CHARS:
        return flat
    return flat[:EXCERPT_CHARS].rsplit(" ", 1)[0] + "…"


async def notify(
    uow: UnitOfWork,
    recipients: Iterable[int],
    kind: Kind,
    *,
    ref: str,
    url: str,
    title: str,
    text: str = "",
    actor_id: int | None = None,
    zone_id: int | None = None,
    theme_id: int | None = None,
    thread_id: int | None = None,
    params: Mapping[str, Any] | None = None,
) -> list[int]:
    """Notify ``recipients`` of one thing (``ref``, unique per person); the
    ids notified now (none when the notification went to a batch).

    Left out: the actor, inactive accounts, who turned ``kind`` off, who
    muted ``thread_id``, and who already has a notification for ``ref`` (a
    reply that mentions someone notifies them once, as a mention: notify
    mentions first).
    """
    wanted = set(recipients)
    if actor_id is not None:
        wanted.discard(actor_id)
    if not wanted:
        return []
    title = title[:TITLE_CHARS]
    # Once one notification of this write waits in a batch, the rest wait too:
    # the fan-out writes batches in order, so "mentions first" still holds.
    if len(wanted) > INLINE_RECIPIENTS or any(isinstance(e, BatchQueued) for e in uow.events):
        uow.session.add(
            NotificationBatch(
                kind=kind.value, ref=ref[:80], url=url[:500], title=title, text=text,
                params=dict(params or {}), recipients=sorted(wanted), actor_id=actor_id,
                zone_id=zone_id, theme_id=theme_id, thread_id=thread_id, created_at=utcnow(),
            )
        )  # fmt: skip
        uow.record(BatchQueued())
        return []
    return await write_notifications(
        uow, wanted, kind, ref=ref, url=url, title=title, text=text, actor_id=actor_id,
        zone_id=zone_id, theme_id=theme_id, thread_id=thread_id, params=params,
    )  # fmt: skip


def _insert_wanted(muting: bool) -> Any:
    """Of ``:ids``, write a notification for each person who may get it, in
    one ``INSERT ... SELECT ... RETURNING`` (the new ids with their people):
    active accounts, without one for ``:ref`` already, who (``muting``) did
    not mute ``:thread_id``, and whose mode for ``:kind`` (their choice, or
    ``:default_mode``) is not "never"; the mode gives the e-mail it owes.

    The fields every row shares are bound once, not per row. Built once for
    each ``muting`` (:data:`_INSERT_WANTED`): a statement built per call
    costs as much again as running it.
    """
    table = _TABLE
    chosen = func.coalesce(
        select(NotificationSetting.mode)
        .where(
            NotificationSetting.user_id == User.id,
            NotificationSetting.kind == bindparam("kind"),
        )
        .scalar_subquery(),
        bindparam("default_mode", type_=NotificationSetting.__table__.c.mode.type),
    )
    # CASE chosen WHEN ...: the person's mode is looked up once, not per branch.
    mail_state = case(
        {mode: literal(state, table.c.mail_state.type) for mode, state in _MAIL_STATE.items()},
        value=chosen,
        else_=literal(MailState.NONE, table.c.mail_state.type),
    )
    already = select(Notification.id).where(
        Notification.user_id == User.id, Notification.ref == bindparam("ref")
    )
    shared = (
        "kind",
        "ref",
        "url",
        "title",
        "excerpt",
        "params",
        "actor_id",
        "zone_id",
        "theme_id",
        "created_at",
    )
    rows = select(
        User.id,
        *(bindparam(name, type_=table.c[name].type) for name in shared),
        mail_state,
    ).where(
        User.id.in_(bindparam("ids", expanding=True)),
        User.active,
        chosen != Mode.NEVER,
        ~already.exists(),
    )
    if muting:
        muted = select(ThreadFollow.user_id).where(
            ThreadFollow.user_id == User.id,
            ThreadFollow.thread_id == bindparam("thread_id"),
            ThreadFollow.level == FollowLevel.MUTED,
        )
        rows = rows.where(~muted.exists())
    columns = ["user_id", *shared, "mail_state"]
    returning = (table.c.id, table.c.user_id, table.c.mail_state)
    return insert(table).from_select(columns, rows).returning(*returning)


_INSERT_WANTED = {muting: Prepared(_insert_wanted(muting)) for muting in (False, True)}


async def write_notifications(
    uow: UnitOfWork,
    wanted: set[int],
    kind: Kind,
    *,
    ref: str,
    url: str,
    title: str,
    text: str,
    actor_id: int | None,
    zone_id: int | None,
    theme_id: int | None,
    thread_id: int | None,
    params: Mapping[str, Any] | None,
) -> list[int]:
    """Write one notification per person of ``wanted`` who wants it, and its
    event; the ids notified (what :func:`notify` and the fan-out share)."""
    shared = {
        "kind": kind.value,
        "ref": ref[:80],
        "url": url[:500],
        "title": title[:TITLE_CHARS],
        "excerpt": excerpt(text),
        "params": dict(params or {}),
        "actor_id": actor_id,
        "zone_id": zone_id,
        "theme_id": theme_id,
        "created_at": utcnow(),
        "default_mode": KINDS[kind].default,
        "thread_id": thread_id,
    }
    # Ids back, no ORM objects or bookkeeping (collab/prepared.py).
    notified: list[tuple[int, int]] = []
    mail_owed = False
    for chunk in _chunks(sorted(wanted)):
        rows = await _INSERT_WANTED[thread_id is not None].rows(
            uow.session, {**shared, "ids": chunk}
        )
        for nid, uid, state in rows:
            notified.append((int(nid), int(uid)))
            mail_owed = mail_owed or state == MailState.PENDING
    notified.sort(key=lambda row: row[1])
    if mail_owed:
        uow.record(MailOwed())
    for notification_id, uid in notified:
        uow.record(NotificationsChanged(zone_id=None, user_id=uid, notification_id=notification_id))
    return [uid for _, uid in notified]


async def do_mark_read(uow: UnitOfWork, user: User, notification_id: int) -> Notification:
    """Mark one of ``user``'s notifications read (again: no change)."""
    notification = await uow.session.get(Notification, notification_id)
    if notification is None or notification.user_id != user.id:
        raise NotFound(N_("This notification does not exist."))
    if notification.read_at is None:
        notification.read_at = utcnow()
        # Read before the digest: the digest need not tell it again.
        if notification.mail_state is MailState.DIGEST:
            notification.mail_state = MailState.NONE
        uow.record(NotificationsChanged(zone_id=None, user_id=user.id))
    return notification


async def do_mark_all_read(uow: UnitOfWork, user: User) -> int:
    """Mark every unread notification of ``user`` read; how many were."""
    now = utcnow()
    unread = (Notification.user_id == user.id) & Notification.read_at.is_(None)
    await uow.session.execute(
        update(Notification)
        .where(unread, Notification.mail_state == MailState.DIGEST)
        .values(mail_state=MailState.NONE)
    )
    result = await uow.session.execute(update(Notification).where(unread).values(read_at=now))
    count = int(getattr(result, "rowcount", 0) or 0)
    if count:
        uow.record(NotificationsChanged(zone_id=None, user_id=user.id))
    return count


BAD_MODE = ActionError(N_("Choose how to be told of each kind of notification."))


async def do_set_modes(uow: UnitOfWork, user: User, choices: Mapping[str, str]) -> None:
    """Store ``user``'s mode per kind (every kind must be given, with a known mode)."""
    parsed: dict[Kind, Mode] = {}
    for kind in Kind:
        try:
            parsed[kind] = Mode(choices.get(kind.value, ""))
        except ValueError:
            raise BAD_MODE from None
    session = uow.session
    await session.execute(delete(NotificationSetting).where(NotificationSetting.user_id == user.id))
    session.add_all(
        NotificationSetting(user_id=user.id, kind=kind.value, mode=mode)
        for kind, mode in parsed.items()
        if mode is not KINDS[kind].default
    )


async def do_unsubscribe(uow: UnitOfWork, user_id: int, kind: Kind) -> bool:
    """Stop e-mail of ``kind`` to ``user_id`` (one-click unsubscribe): the
    bell keeps it. False when there is no such user."""
    session = uow.session
    if await session.get(User, user_id) is None:
        return False
    setting = await session.get(NotificationSetting, (user_id, kind.value))
    if setting is None:
        session.add(NotificationSetting(user_id=user_id, kind=kind.value, mode=Mode.APP))
    elif setting.mode in (Mode.IMMEDIATELY, Mode.DIGEST):
        setting.mode = Mode.APP
    # What is already waiting for a message of that kind is not sent either.
    await session.execute(
        update(Notification)
        .where(
            Notification.user_id == user_id,
            Notification.kind == kind.value,
            Notification.mail_state.in_((MailState.PENDING, MailState.DIGEST)),
        )
        .values(mail_state=MailState.NONE)
    )
    return True


async def do_prune(uow: UnitOfWork, keep_days: int, now: datetime | None = None) -> int:
    """Delete read notifications older than ``keep_days``; how many went.
    Unread ones stay until read, whatever their age."""
    cutoff = (now or utcnow()) - timedelta(days=keep_days)
    result = await uow.session.execute(
        delete(Notification).where(
            Notification.read_at.is_not(None), Notification.created_at < cutoff
        )
    )
    return int(getattr(result, "rowcount", 0) or 0)
