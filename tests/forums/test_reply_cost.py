"""What a reply costs the database, and whom it notifies.

A reply runs a fixed number of SQL statements, however long the thread and
however many people it notifies (up to the inline limit): the participants
come from an index one person at a time, the notification checks are one
query, every topic's sequence one upsert. The budget below is what the path
needs now; a change that adds a statement to every reply has to raise it
here, on purpose.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select, text
from sqlalchemy.dialects import sqlite

from collab.db import Database
from collab.forums import actions, follows, notices
from collab.forums.models import Thread
from collab.notifications.kinds import Kind
from collab.notifications.models import (
    FollowLevel,
    MailState,
    Mode,
    Notification,
    NotificationSetting,
)
from tests.conftest import World
from tests.forums.support import Login, location, reply, start
from tests.helpers import statements

#: Statements of one reply over HTTP (``POST /threads/{id}/reply``, a
#: url-encoded form: no files, so no check before the body is read) that
#: notifies three people: the session read; the thread read in the
#: transaction; the post's INSERT and the thread's UPDATE; who took part or
#: watches and may read it (one statement); the post's page; the
#: notifications, for who wants them (one INSERT ... SELECT); the topics'
#: upsert; the event log's INSERT; for the search index, in the same
#: transaction, the post's item: one upsert, whose row SQLite's triggers
#: copy into FTS5 (migration 0022) as PostgreSQL's generated column does
#: (collab/search/: the thread is the one the reply loaded). PostgreSQL
#: makes one less: its event log is one statement.
BUDGET = 10


async def reply_notifications(db: Database, post_id: int) -> dict[int, MailState]:
    async with db.session() as session:
        rows = await session.execute(
            select(Notification.user_id, Notification.mail_state).where(
                Notification.ref == f"post:{post_id}", Notification.kind == Kind.REPLY.value
            )
        )
        return {uid: state for uid, state in rows}


async def thread_of(db: Database, world: World, posts: int) -> Thread:
    """A zone 5 thread by the mayor with ``posts`` posts (the technician and the
    spokesperson take turns), watched by staff."""
    thread = await start(db, world["sindaco5"], f"Discussione di {posts}")
    for n in range(posts - 1):
        await reply(db, world["tecnico5" if n % 2 else "portavoce5"], thread.id, f"Numero {n}.")
    async with db.transaction() as uow:
        await follows.do_set_level(uow, world["staff"].id, thread.id, FollowLevel.WATCHING)
    return thread


async def test_a_reply_runs_the_same_few_statements_however_long_the_thread(
    login_as: Login, db: Database, world: World
) -> None:
    short, long = await thread_of(db, world, 3), await thread_of(db, world, 60)
    tech = await login_as("tecnico5")
    await tech.post(f"/threads/{short.id}/reply", {"body": "Per scaldare."})  # compiles

    counts = []
    for thread in (short, long):
        with statements(db) as seen:
            target = location(await tech.post(f"/threads/{thread.id}/reply", {"body": "Ecco."}))
        post_id = int(target.rsplit("-", 1)[1])
        # Its notifications were written in those statements: the mayor, the
        # spokesperson (took part) and staff (watching); not the technician.
        notified = await reply_notifications(db, post_id)
        assert set(notified) == {world[k].id for k in ("sindaco5", "portavoce5", "staff")}
        counts.append(len(seen))
        assert len(seen) <= BUDGET, "\n".join(seen)
        # Every topic's next sequence number in one statement.
        assert len([sql for sql in seen if "topic_seq" in sql]) == 1, seen
        assert not [sql for sql in seen if "DISTINCT" in sql.upper()], seen
    assert counts[0] == counts[1], counts


async def test_a_reply_notifies_who_took_part_or_watches_and_may_read(
    db: Database, world: World
) -> None:
    mayor, tech, spokes = world["sindaco5"], world["tecnico5"], world["portavoce5"]
    staff, admin, outsider = world["staff"], world["admin"], world["tecnico9"]
    thread = await start(db, mayor)
    await reply(db, tech, thread.id, "Prima risposta.")
    gone = await reply(db, spokes, thread.id, "Ci ripenso.")
    await reply(db, admin, thread.id, "Da amministratore.")
    async with db.transaction() as uow:
        await actions.do_delete_own_post(uow, spokes, gone.id)  # no longer took part
        await follows.do_set_level(uow, staff.id, thread.id, FollowLevel.WATCHING)
        await follows.do_set_level(uow, admin.id, thread.id, FollowLevel.MUTED)
        # Watching a thread of a zone one may not read (moved since): nothing.
        await follows.do_set_level(uow, outsider.id, thread.id, FollowLevel.WATCHING)
        uow.session.add(NotificationSetting(user_id=staff.id, kind="reply", mode=Mode.IMMEDIATELY))

    post = await reply(db, tech, thread.id, "Seconda risposta.")

    # The mayor started it (the default: digest); staff watches and wants mail at once.
    assert await reply_notifications(db, post.id) == {
        mayor.id: MailState.DIGEST,
        staff.id: MailState.PENDING,
    }


@pytest.mark.parametrize("deleted", [False, True])
async def test_the_participants_come_from_the_index(
    db: Database, world: World, deleted: bool
) -> None:
    """One index seek per person (SQLite's plan names the partial index), and
    the same people a DISTINCT over the live posts finds."""
    thread = await start(db, world["sindaco5"])
    for key in ("tecnico5", "portavoce5", "tecnico5", "admin"):
        await reply(db, world[key], thread.id, "Sì.")
    if deleted:
        async with db.transaction() as uow:
            await uow.session.execute(
                text("UPDATE post SET deleted_at = created_at WHERE author_id = :a"),
                {"a": world["admin"].id},
            )
    stmt = notices._TOOK_PART_OR_WATCHING.params(thread_id=thread.id)
    async with db.session() as session:
        found = set(await session.scalars(stmt))
        plain = set(
            await session.scalars(
                text(
                    "SELECT DISTINCT author_id FROM post"
                    " WHERE thread_id = :t AND deleted_at IS NULL"
                ),
                {"t": thread.id},
            )
        )
        assert found == plain
        assert (world["admin"].id in found) is not deleted
        if db.engine.dialect.name == "sqlite":
            literal = stmt.compile(dialect=sqlite.dialect(), compile_kwargs={"literal_binds": True})
            rows = await session.execute(text(f"EXPLAIN QUERY PLAN {literal}"))
            plan = " ".join(str(row[-1]) for row in rows)
            assert "ix_post_thread_author_live (thread_id=? AND author_id>?)" in plan, plan
