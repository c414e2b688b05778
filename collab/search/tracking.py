"""What a transaction changed that the index must follow, and the step that follows it.

Two sources, so that neither an action's event nor an ORM change is missed:

- an ``after_flush`` listener on every :class:`~sqlalchemy.orm.Session`
  notes the searchable rows added, deleted, or changed in a column the
  index reads (:data:`WATCHED`), as *targets* in ``session.info``;
- the events the write recorded (``uow.events``) name their thread, post,
  consultation, contribution or meeting too (a bulk ``UPDATE`` flushes no
  object).

:func:`index_before_commit` runs in :meth:`collab.db.Database.transaction`
after the action and before the commit: the index changes with the write,
or neither does. This module imports no feature (``collab.db`` imports it):
rows are told apart by table name, and the indexer is loaded on first use.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import event, inspect
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session, UOWTransaction

__all__ = ["WATCHED", "index_before_commit", "targets_of_events"]

_KEY = "collab.search.targets"
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
}
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
}


def _changed(obj: Any, columns: frozenset[str]) -> bool:
    state = inspect(obj)
    return any(state.attrs[name].history.has_changes() for name in columns)


@event.listens_for(Session, "after_flush")
def _note_targets(session: Session, _flush: UOWTransaction) -> None:
    # After the flush new rows have their ids; the changes' history is still there.
    found: set[tuple[str, int]] | None = None
    for objects, new in ((session.new, True), (session.dirty, False), (session.deleted, True)):
        for obj in objects:
            watched = WATCHED.get(getattr(obj, "__tablename__", ""))
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


def targets_of_events(events: Sequence[Any]) -> set[tuple[str, int]]:
    """The targets the recorded ``events`` name."""
    found: set[tuple[str, int]] = set()
    for recorded in events:
        target = _EVENT_TARGETS.get(getattr(recorded, "type", ""))
        if target is not None:
            found.add((target[0], getattr(recorded, target[1])))
    return found


async def index_before_commit(session: AsyncSession, events: Sequence[Any]) -> None:
    """Bring the index up to date with what this transaction wrote (see the module doc)."""
    if not (events or session.info.get(_KEY) or session.new or session.dirty or session.deleted):
        return  # a read, or a write of nothing searchable already seen as such
    await session.flush()
    targets = session.info.pop(_KEY, set()) | targets_of_events(events)
    if not targets:
        return
    from collab.search.index import refresh  # the features' models: loaded by now

    # Sorted: the same order on every run, threads before their posts.
    order = {"thread": 0, "post": 1, "consultation": 2, "contribution": 3, "meeting": 4}
    await refresh(session, sorted(targets, key=lambda t: (order[t[0]], t[1])))
    session.info.pop(_KEY, None)


@event.listens_for(Session, "after_soft_rollback")
def _forget_targets(session: Session, _previous: Any) -> None:
    # What was rolled back is not to be indexed (a unit of work may roll back and go on).
    session.info.pop(_KEY, None)
