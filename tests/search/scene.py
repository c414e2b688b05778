"""Things to search for, written through the features' actions (so indexed as in use)."""

from __future__ import annotations

from sqlalchemy import select

from collab.db import Database
from collab.documents.sniff import PDF, Kind
from collab.documents.store import FileStore
from collab.documents.upload import Upload
from collab.forums import actions as forums
from collab.forums.models import Post, Thread
from collab.models import Theme, User, Zone
from collab.search.engine import Filters, Results
from collab.search.index import engine_for
from collab.search.text import parse_query

__all__ = ["find", "post", "theme_id", "thread", "titles", "upload"]


async def thread(
    db: Database,
    user: User,
    title: str,
    body: str,
    zone: int | None = 5,
    theme: str = "trasporti-mobilita",
) -> Thread:
    """A thread of zone number ``zone`` (None: metropolitan) with its first post."""
    async with db.session() as session:
        found = await forums.get_theme(session, theme)
        zone_id = await session.scalar(select(Zone.id).where(Zone.number == zone))
    async with db.transaction() as uow:
        return await forums.do_start_thread(uow, user, zone_id, found, title, body)


async def post(db: Database, user: User, thread_id: int, body: str) -> Post:
    async with db.transaction() as uow:
        return await forums.do_reply(uow, user, thread_id, body)


async def find(
    db: Database,
    viewer: User | None,
    q: str,
    filters: Filters = Filters(),  # noqa: B008 (frozen, never changed)
    page: int = 1,
    *,
    typing: bool = False,
) -> Results:
    """Search as ``viewer`` (``typing``: the last word is a prefix)."""
    async with db.session() as session:
        query = parse_query(q, prefix=typing)
        return await engine_for(session).search(session, viewer, query, filters, page)


def titles(results: Results) -> list[str]:
    """What each hit is called: its title, or what it belongs to (a post's thread)."""
    return [hit.title or hit.context for hit in results.hits]


async def theme_id(db: Database, slug: str) -> int:
    async with db.session() as session:
        value = await session.scalar(select(Theme.id).where(Theme.slug == slug))
        assert value is not None
        return value


async def upload(files: FileStore, data: bytes, name: str, kind: Kind = PDF) -> Upload:
    """A file that arrived whole in ``files``, as a form's upload brings it."""
    incoming = files.incoming(len(data) + 1)
    await incoming.write(data)
    await incoming.finish()
    return Upload(field="files", name=name, kind=kind, incoming=incoming)
