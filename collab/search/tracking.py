"""What a transaction changed that the index must follow, and the step that follows it.

Two sources, so that neither an action's event nor an ORM change is missed:

- an ``after_flush`` listener on every :class:`~sqlalchemy.orm.Session`
  notes the searchable rows added, deleted, or changed in a column the
  index reads (:data:`WATCHED`), as *targets* in ``session.info``;
- the events the write recorded (``uow.events``) name their thread, post,
  consultation, contribution or meeting too (a bulk ``UPDATE`` flushes no
  object).

A stored file added or removed counts for its owner (:func:`_file_owner`),
and a new one's content is queued for its text to be read after commit
(:func:`collab.search.queue.enqueue`); the commit then carries a
:class:`TextQueued` mark so that this process's extractor looks at once.

:func:`index_before_commit` runs in :meth:`collab.db.Database.transaction`
after the action and before the commit: the index changes with the write,
or neither does. This module imports no feature (``collab.db`` imports it):
rows are told apart by table name, and the indexer is loaded on first use.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from sqlalchemy import event, inspect
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session, UOWTransaction

__all__ = [
    "WATCHED",
    "TextQueued",
    "index_before_commit",
    "may_have_files",
    "note_created",
    "targets_of_events",
]

_KEY = "collab.search.targets"
_BLOBS = "collab.search.blobs"
# Targets created in this transaction, and those given files in it: a new
# post without a file has none to read (a reply skips that query).
_NEW = "collab.search.new"
_WITH_FILES = "collab.search.with_files"
# Table -> (target kind, attribute holding its id, columns the index reads;
# empty: any change, or the row's coming and going, counts).
WATCHED: dict[str, tuple[str, str, frozenset[str]]] = {
    "thread": ("thread", "id", frozenset({"title", "zone_id", "theme_id"})),
    "post": ("post", "id", frozenset({"html", "deleted_at"})),
    "consultation": ("consultation", "id", frozenset({"title", "body_html"})),
    "consultation_zone": ("consultation", "consultation_id", frozenset()),
    "consultation_theme": ("consultation", "consultation_id", frozenset()),
    "contribution": ("contribution", "id", frozenset({"version", "answer_html", "comune_id"})),
    "contribution_version": ("contribution", "contribution_id", frozenset()),
    "meeting": (
        "meeting",
        "id",
        frozenset({"title", "description", "state", "public_token", "starts_at"}),
    ),
    "meeting_zone": ("meeting", "meeting_id", frozenset()),
    "agenda_item": ("meeting", "meeting_id", frozenset({"title", "notes", "theme_id"})),
    "verbale": ("meeting", "meeting_id", frozenset({"html", "published_at"})),
    "document": ("document", "id", frozenset({"title", "description", "version", "theme_id"})),
}
# A stored file's owner column -> the target it counts for (a contribution's
# version and an agenda item are resolved to theirs by collab.search.index).
_FILE_OWNERS = (
    ("post_id", "post"),
    ("consultation_id", "consultation"),
    ("document_id", "document"),
    ("contribution_version_id", "contribution_version"),
    ("agenda_item_id", "agenda_item"),
)
# Event type -> (target kind, field naming it).
_EVENT_TARGETS = {
    "thread.created": ("thread", "thread_id"),
    "thread.updated": ("thread", "thread_id"),
    "post.created": ("post", "post_id"),
    "post.edited": ("post", "post_id"),
    "post.deleted": ("post", "post_id"),
    "consultation.opened": ("consultation", "consultation_id"),
    "consultation.updated": ("consultation", "consultation_id"),
    "contribution.submitted": ("contribution", "contribution_id"),
    "contribution.updated": ("contribution", "contribution_id"),
    "contribution.answered": ("contribution", "contribution_id"),
    "meeting.updated": ("meeting", "meeting_id"),
    "meeting.notes": ("meeting", "meeting_id"),
    "meeting.verbale": ("meeting", "meeting_id"),
    "document.added": ("document", "document_id"),
    "document.versioned": ("document", "document_id"),
}
# Index order within a transaction: threads before their posts.
ORDER = {
    "thread": 0, "post": 1, "consultation": 2, "contribution": 3, "contribution_version": 3,
    "meeting": 4, "agenda_item": 4, "document": 5,
}  # fmt: skip


@dataclass(frozen=True)
class TextQueued:
    """Recorded on a commit that queued file contents: after it, the database's
    hook wakes this process's extractor. It has no topic, so it is neither
    logged nor published."""

    type: ClassVar[str] = "search.text_queued"
    topics: ClassVar[tuple[str, ...]] = ()


def _changed(obj: Any, columns: frozenset[str]) -> bool:
    state = inspect(obj)
    return any(state.attrs[name].history.has_changes() for name in columns)


@event.listens_for(Session, "after_flush")
def _note_targets(session: Session, _flush: UOWTransaction) -> None:
    # After the flush new rows have their ids; the changes' history is still there.
    found: set[tuple[str, int]] | None = None
    for objects, new in ((session.new, True), (session.dirty, False), (session.deleted, True)):
        for obj in objects:
            table = getattr(obj, "__tablename__", "")
            if table == "stored_file" and new:
                _note_file(session, obj, obj in session.new)
                continue
            watched = WATCHED.get(table)
            if watched is None:
                continue
            kind, id_attr, columns = watched
            if not new and columns and not _changed(obj, columns):
                continue
            object_id = getattr(obj, id_attr, None)
            if object_id is not None:
                if found is None:
                    found = session.info.setdefault(_KEY, set())
                found.add((kind, object_id))
                if obj in session.new and id_attr == "id":
                    session.info.setdefault(_NEW, set()).add((kind, object_id))


def _file_owner(stored: Any) -> tuple[str, int] | None:
    for column, kind in _FILE_OWNERS:
        owner = getattr(stored, column, None)
        if owner is not None:
            return kind, owner
    return None


def _note_file(session: Session, stored: Any, added: bool) -> None:
    owner = _file_owner(stored)
    if owner is not None:
        session.info.setdefault(_KEY, set()).add(owner)
        session.info.setdefault(_WITH_FILES, set()).add(owner)
    if added:
        session.info.setdefault(_BLOBS, set()).add(stored.sha256)


def note_created(session: AsyncSession, kind: str, object_id: int) -> None:
    """A row of a watched table written without the ORM's flush (a reply's
    post): indexed before commit, and known to have no file yet, like a new
    object that a flush wrote."""
    info = session.sync_session.info
    info.setdefault(_KEY, set()).add((kind, object_id))
    info.setdefault(_NEW, set()).add((kind, object_id))


def may_have_files(session: AsyncSession, target: tuple[str, int]) -> bool:
    """False when ``target`` was created in this transaction and given no file."""
    info = session.sync_session.info
    return target not in info.get(_NEW, ()) or target in info.get(_WITH_FILES, ())


def targets_of_events(events: Sequence[Any]) -> set[tuple[str, int]]:
    """The targets the recorded ``events`` name."""
    found: set[tuple[str, int]] = set()
    for recorded in events:
        target = _EVENT_TARGETS.get(getattr(recorded, "type", ""))
        if target is not None:
            found.add((target[0], getattr(recorded, target[1])))
    return found


async def index_before_commit(session: AsyncSession, events: list[Any]) -> None:
    """Bring the index up to date with what this transaction wrote (see the module doc).

    ``events`` is the unit of work's own list: a :class:`TextQueued` mark
    is added to it when file contents were queued.
    """
    if not (events or session.info.get(_KEY) or session.new or session.dirty or session.deleted):
        return  # a read, or a write of nothing searchable already seen as such
    await session.flush()
    blobs = session.info.pop(_BLOBS, set())
    if blobs:
        from collab.search.queue import enqueue

        await enqueue(session, blobs)
        events.append(TextQueued())
    targets = session.info.pop(_KEY, set()) | targets_of_events(events)
    if not targets:
        return
    from collab.search.index import refresh  # the features' models: loaded by now

    # Sorted: the same order on every run, threads before their posts.
    await refresh(session, sorted(targets, key=lambda t: (ORDER[t[0]], t[1])))
    for key in (_KEY, _NEW, _WITH_FILES):
        session.info.pop(key, None)


@event.listens_for(Session, "after_soft_rollback")
def _forget_targets(session: Session, _previous: Any) -> None:
    # What was rolled back is not to be indexed (a unit of work may roll back and go on).
    for key in (_KEY, _BLOBS, _NEW, _WITH_FILES):
        session.info.pop(key, None)
