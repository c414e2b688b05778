"""Who hears of a new form, or a new version of one, in a theme's library.

Domain code: no Starlette here. Called by :mod:`collab.documents.library` in
the write's transaction: the people who follow the theme's library (a
:class:`collab.notifications.models.ThemeFollow` with no zone, the same row
that follows the theme's metropolitan threads) and may read the library now
are notified once per version (``document:<id>:v<version>``).
"""

from __future__ import annotations

from sqlalchemy import select

from collab.db import UnitOfWork
from collab.documents.models import Document, StoredFile
from collab.forums.follows import theme_followers
from collab.models import User
from collab.notifications.actions import notify
from collab.notifications.kinds import Kind
from collab.permissions import TABLE, Action, Relation

__all__ = ["notify_version"]

CHUNK = 500  # ids per IN (...)
# Who may read the library (``can(user, READ, None)`` for an active user).
_READERS = tuple(role for role, where in TABLE[Action.READ].items() if Relation.METRO in where)


async def notify_version(
    uow: UnitOfWork, actor: User, document: Document, stored: StoredFile
) -> list[int]:
    """Tell the library's followers of ``document``'s version ``stored`` (1: a new form)."""
    session = uow.session
    followers = await theme_followers(session, document.theme_id, None)
    readers: list[int] = []
    for start in range(0, len(followers), CHUNK):
        chunk = followers[start : start + CHUNK]
        readers += await session.scalars(
            select(User.id).where(User.id.in_(chunk), User.active, User.role.in_(_READERS))
        )
    version = stored.version or document.version
    added = version == 1
    return await notify(
        uow,
        readers,
        Kind.DOCUMENT_VERSION,
        ref=f"document:{document.id}:v{version}",
        url=f"/documents/{document.id}" + ("" if added else f"#file-{stored.id}"),
        title=document.title,
        text=document.description if added else stored.note,
        actor_id=actor.id,
        theme_id=document.theme_id,
        params={"what": "added"} if added else {},
    )
