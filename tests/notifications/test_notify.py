"""notify(): who is told, in the write's transaction; marking read; settings."""

from __future__ import annotations

import pytest
from sqlalchemy import select, update

from collab.db import Database
from collab.errors import NotFound
from collab.models import User
from collab.notifications import actions
from collab.notifications.kinds import KINDS, Kind
from collab.notifications.models import (
    FollowLevel,
    MailState,
    Mode,
    Notification,
    NotificationSetting,
    ThreadFollow,
)
from collab.realtime.events import NotificationsChanged
from tests.conftest import World
from tests.helpers import capture_events


async def _notify(db: Database, recipients: list[int], **extra: object) -> list[int]:
    fields: dict[str, object] = {"ref": "test:1", "url": "/meetings/1", "title": "Assemblea"}
    fields.update(extra)
    kind = fields.pop("kind", Kind.MEETING_CONVENED)
    async with db.transaction() as uow:
        return await actions.notify(uow, recipients, kind, **fields)  # type: ignore[arg-type]


async def _rows(db: Database) -> list[Notification]:
    async with db.session() as session:
        return list(await session.scalars(select(Notification).order_by(Notification.id)))


async def test_notify_writes_rows_and_events_for_the_recipients(db: Database, world: World) -> None:
    mayor, tech = world["sindaco5"], world["tecnico5"]
    async with capture_events(db) as events:
        notified = await _notify(
            db, [mayor.id, tech.id], actor_id=world["staff"].id, text="Ordine  del\ngiorno"
        )
    assert sorted(notified) == sorted([mayor.id, tech.id])
    rows = await _rows(db)
    assert {r.user_id for r in rows} == {mayor.id, tech.id}
    assert all(r.read_at is None and r.excerpt == "Ordine del giorno" for r in rows)
    # Convocations are e-mailed at once by default.
    assert {r.mail_state for r in rows} == {MailState.PENDING}
    changed = [e for e in events if isinstance(e, NotificationsChanged)]
    assert sorted((e.user_id, e.notification_id) for e in changed) == sorted(
        (r.user_id, r.id) for r in rows
    )
    # They owe an e-mail at once: the commit wakes the mailer.
    assert [e for e in events if e not in changed] == [actions.MailOwed()]


async def test_notifications_for_the_bell_or_the_digest_do_not_wake_the_mailer(
    db: Database, world: World
) -> None:
    mayor = world["sindaco5"]
    async with capture_events(db) as events:
        await _notify(db, [mayor.id], kind=Kind.REPLY)  # the digest, by default
    assert [r.mail_state for r in await _rows(db)] == [MailState.DIGEST]
    assert events and all(isinstance(e, NotificationsChanged) for e in events)


async def test_notify_leaves_out_actor_inactive_never_and_repeats(
    db: Database, world: World
) -> None:
    staff, mayor, tech, other = (world[k] for k in ("staff", "sindaco5", "tecnico5", "sindaco9"))
    async with db.transaction() as uow:
        await uow.session.execute(update(User).where(User.id == tech.id).values(active=False))
        uow.session.add(
            NotificationSetting(user_id=other.id, kind=Kind.MEETING_CONVENED.value, mode=Mode.NEVER)
        )
    notified = await _notify(db, [staff.id, mayor.id, tech.id, other.id], actor_id=staff.id)
    assert notified == [mayor.id]
    # The same thing again notifies no one (one per person and ref).
    assert await _notify(db, [mayor.id], actor_id=staff.id) == []
    assert len(await _rows(db)) == 1


async def test_modes_decide_what_mail_is_owed(db: Database, world: World) -> None:
    a, b, c = world["sindaco5"], world["tecnico5"], world["portavoce5"]
    async with db.transaction() as uow:
        uow.session.add(NotificationSetting(user_id=b.id, kind="reply", mode=Mode.IMMEDIATELY))
        uow.session.add(NotificationSetting(user_id=c.id, kind="reply", mode=Mode.APP))
    assert KINDS[Kind.REPLY].default is Mode.DIGEST
    await _notify(db, [a.id, b.id, c.id], kind=Kind.REPLY)
    states = {r.user_id: r.mail_state for r in await _rows(db)}
    assert states == {a.id: MailState.DIGEST, b.id: MailState.PENDING, c.id: MailState.NONE}


async def test_a_muted_thread_notifies_nothing(db: Database, world: World) -> None:
    from collab.forums import actions as forum_actions
    from collab.models import Theme, Zone

    mayor, tech = world["sindaco5"], world["tecnico5"]
    async with db.session() as session:
        zone_id = await session.scalar(select(Zone.id).where(Zone.number == 5))
        theme = await session.scalar(select(Theme).where(Theme.slug == "trasporti-mobilita"))
    assert theme is not None
    async with db.transaction() as uow:
        thread = await forum_actions.do_start_thread(uow, mayor, zone_id, theme, "Navetta", "Testo")
    async with db.transaction() as uow:
        uow.session.add(ThreadFollow(user_id=tech.id, thread_id=thread.id, level=FollowLevel.MUTED))
    notified = await _notify(db, [mayor.id, tech.id], kind=Kind.REPLY, thread_id=thread.id)
    assert notified == [mayor.id]


async def test_a_rolled_back_write_notifies_no_one(db: Database, world: World) -> None:
    async with capture_events(db) as events:
        with pytest.raises(RuntimeError):
            async with db.transaction() as uow:
                await actions.notify(
                    uow, [world["sindaco5"].id], Kind.MENTION, ref="x", url="/", title="t"
                )
                raise RuntimeError("the change failed")
    assert events == []
    assert await _rows(db) == []


async def test_mark_read_one_and_all(db: Database, world: World) -> None:
    mayor, tech = world["sindaco5"], world["tecnico5"]
    for n in range(3):
        await _notify(db, [mayor.id, tech.id], ref=f"t:{n}", kind=Kind.REPLY)
    rows = [r for r in await _rows(db) if r.user_id == mayor.id]
    async with capture_events(db) as events, db.transaction() as uow:
        await actions.do_mark_read(uow, mayor, rows[0].id)
    assert [(e.user_id, e.notification_id) for e in events] == [(mayor.id, None)]
    # Read before the digest: the digest need not carry it.
    async with db.session() as session:
        first = await session.get(Notification, rows[0].id)
        assert first is not None and first.read_at is not None
        assert first.mail_state is MailState.NONE
    # Someone else's notification is none of theirs.
    with pytest.raises(NotFound):
        async with db.transaction() as uow:
            await actions.do_mark_read(uow, tech, rows[1].id)
    async with db.transaction() as uow:
        assert await actions.do_mark_all_read(uow, mayor) == 2
    async with db.transaction() as uow:
        assert await actions.do_mark_all_read(uow, mayor) == 0
    unread = [r for r in await _rows(db) if r.read_at is None]
    assert {r.user_id for r in unread} == {tech.id}


async def test_set_modes_needs_every_kind_with_a_known_mode(db: Database, world: World) -> None:
    mayor = world["sindaco5"]
    choices = {kind.value: KINDS[kind].default.value for kind in Kind}
    choices[Kind.REPLY.value] = Mode.NEVER.value
    async with db.transaction() as uow:
        await actions.do_set_modes(uow, mayor, choices)
    async with db.session() as session:
        rows = (
            await session.execute(select(NotificationSetting.kind, NotificationSetting.mode))
        ).all()
    # Only what differs from the defaults is stored.
    assert rows == [("reply", Mode.NEVER)]
    for bad in (
        {**choices, "reply": "sometimes"},
        {k: v for k, v in choices.items() if k != "mention"},
    ):
        with pytest.raises(actions.ActionError):
            async with db.transaction() as uow:
                await actions.do_set_modes(uow, mayor, bad)
    async with db.session() as session:
        assert len((await session.execute(select(NotificationSetting.kind))).all()) == 1


async def test_prune_keeps_unread_and_recent(db: Database, world: World) -> None:
    from datetime import timedelta

    from collab.models import utcnow

    mayor = world["sindaco5"]
    for n in range(3):
        await _notify(db, [mayor.id], ref=f"p:{n}")
    rows = await _rows(db)
    old = utcnow() - timedelta(days=100)
    async with db.transaction() as uow:
        # 0: old and read (goes), 1: old and unread (stays), 2: recent and read (stays)
        await uow.session.execute(
            update(Notification)
            .where(Notification.id == rows[0].id)
            .values(created_at=old, read_at=old)
        )
        await uow.session.execute(
            update(Notification).where(Notification.id == rows[1].id).values(created_at=old)
        )
        await uow.session.execute(
            update(Notification).where(Notification.id == rows[2].id).values(read_at=utcnow())
        )
    async with db.transaction() as uow:
        assert await actions.do_prune(uow, keep_days=90) == 1
    assert [r.id for r in await _rows(db)] == [rows[1].id, rows[2].id]
