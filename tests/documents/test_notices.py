"""A new form or a new version in a theme's library notifies who follows that library."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from sqlalchemy import select, update

from collab.db import Database
from collab.documents.models import StoredFile
from collab.forums.follows import do_follow_theme
from collab.models import Theme, User, Zone
from collab.notifications.kinds import Kind
from collab.notifications.models import MailState, Mode, Notification, NotificationSetting
from tests.conftest import World
from tests.documents.test_library import PDF_2, THEME, add, document_id, upload
from tests.helpers import Client

Login = Callable[[str], Awaitable[Client]]


async def _theme(db: Database, slug: str = THEME) -> int:
    async with db.session() as session:
        found = await session.scalar(select(Theme.id).where(Theme.slug == slug))
    assert found is not None
    return found


async def _follow(db: Database, user: User, theme_id: int, zone_id: int | None = None) -> None:
    async with db.transaction() as uow:
        await do_follow_theme(uow, user.id, theme_id, zone_id, True)


async def _rows(db: Database) -> list[Notification]:
    async with db.session() as session:
        found = await session.scalars(
            select(Notification)
            .where(Notification.kind == Kind.DOCUMENT_VERSION.value)
            .order_by(Notification.id)
        )
        return list(found)


def _who(rows: list[Notification], world: World) -> set[str]:
    names = {user.id: key for key, user in world.users.items()}
    return {names[row.user_id] for row in rows}


async def test_a_new_form_and_its_new_version_notify_the_library_followers(
    login_as: Login, db: Database, world: World
) -> None:
    theme_id = await _theme(db)
    other_theme = await _theme(db, "scuola")
    async with db.session() as session:
        zone5 = await session.scalar(select(Zone.id).where(Zone.number == 5))
    # The library is metropolitan: a follower of any zone hears of it.
    for key in ("sindaco5", "tecnico9", "admin", "tecnico5", "portavoce9", "staff"):
        await _follow(db, world[key], theme_id)
    await _follow(db, world["sindaco9"], other_theme)  # another theme's library
    await _follow(db, world["portavoce5"], theme_id, zone5)  # the zone's threads, not the library
    async with db.transaction() as uow:
        uow.session.add(
            NotificationSetting(
                user_id=world["portavoce9"].id, kind=Kind.DOCUMENT_VERSION.value, mode=Mode.NEVER
            )
        )
        await uow.session.execute(
            update(User).where(User.id == world["staff"].id).values(active=False)
        )
    author = await login_as("tecnico5")
    doc_id = document_id(await add(author, description="Per le richieste di navetta"))
    rows = await _rows(db)
    # Not the author, not who turned the kind off, not an inactive account.
    assert _who(rows, world) == {"sindaco5", "tecnico9", "admin"}
    for row in rows:
        assert row.ref == f"document:{doc_id}:v1"
        assert (row.url, row.title) == (f"/documents/{doc_id}", "Modulo navetta")
        assert (row.params, row.excerpt) == ({"what": "added"}, "Per le richieste di navetta")
        assert (row.theme_id, row.zone_id, row.actor_id) == (theme_id, None, world["tecnico5"].id)
        assert row.mail_state is MailState.DIGEST  # the library goes to the daily digest

    response = await upload(author, f"/documents/{doc_id}/versions", PDF_2, note="Nuove date")
    assert response.status_code == 303, response.text
    async with db.session() as session:
        second = await session.scalar(
            select(StoredFile.id).where(StoredFile.document_id == doc_id, StoredFile.version == 2)
        )
    rows = (await _rows(db))[3:]
    assert _who(rows, world) == {"sindaco5", "tecnico9", "admin"}
    for row in rows:
        assert row.ref == f"document:{doc_id}:v2"
        assert row.url == f"/documents/{doc_id}#file-{second}"
        assert (row.params, row.excerpt) == ({}, "Nuove date")


async def test_nobody_following_means_no_notification(login_as: Login, db: Database) -> None:
    author = await login_as("tecnico5")
    document_id(await add(author))
    assert await _rows(db) == []
