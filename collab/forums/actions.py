"""Forum writes: ``check_*`` validates, ``do_*`` changes data and records events.

Every function takes the unit of work and the acting user, checks the
permission table for the thread's zone, and raises an
:class:`collab.errors.ActionError` subclass, changing nothing, on bad input.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import cast

from sqlalchemy import Table, bindparam, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value

from collab.audit import audit
from collab.db import UnitOfWork
from collab.documents.files import keep
from collab.documents.upload import FILES_PER_FORM, Upload, check_count
from collab.errors import ActionError, Conflict, NotFound, PermissionDenied
from collab.forums import mentions, notices
from collab.forums.models import Post, PostRevision, Thread
from collab.i18n import N_
from collab.models import Theme, User, utcnow
from collab.permissions import Action, can
from collab.prepared import Entity, Prepared
from collab.realtime.events import (
    PostCreated,
    PostDeleted,
    PostEdited,
    ThreadCreated,
    ThreadUpdated,
)
from collab.search.tracking import note_created

__all__ = [
    "check_body",
    "check_reply",
    "check_start",
    "check_title",
    "do_delete_own_post",
    "do_edit_post",
    "do_hide_post",
    "do_reply",
    "do_restore_post",
    "do_set_closed",
    "do_set_pinned",
    "do_start_thread",
    "get_own_post",
    "get_post",
    "get_readable_thread",
]

MAX_BODY = 20_000
MAX_REASON = 500
MAX_FILES = FILES_PER_FORM["post"]  # attachments of one post
THEME_RETIRED = N_("This theme is no longer in use.")
# The thread a reply is written to: its own columns only (no zone, theme and
# author joined in), one prepared statement, the Thread built from its row
# (collab/prepared.py): a reply reads it in its transaction, and a multipart
# one before its body too.
_THREAD = Entity(Thread)
_THREAD_TO_WRITE = Prepared(select(*_THREAD.columns).where(Thread.id == bindparam("id")))


def check_title(title: str) -> str:
    title = " ".join(title.split())
    if len(title) < 3:
        raise ActionError(N_("The title must be at least 3 characters long."), field="title")
    if len(title) > 200:
        raise ActionError(N_("The title must be at most 200 characters long."), field="title")
    return title


def check_body(source: str) -> str:
    source = source.replace("\r\n", "\n").strip()
    if not source:
        raise ActionError(N_("The message is empty."), field="body")
    if len(source) > MAX_BODY:
        raise ActionError(
            N_("The message is too long (at most %(max)d characters)."), field="body", max=MAX_BODY
        )
    return source


def check_reason(reason: str) -> str:
    reason = reason.strip()
    if not reason:
        raise ActionError(N_("Say why the message is hidden."), field="reason")
    if len(reason) > MAX_REASON:
        raise ActionError(N_("The reason is too long."), field="reason")
    return reason


# A reply's UPDATE of its thread, built once (building costs as much as running it).
_REPLIED = Prepared(
    update(Thread)
    .where(Thread.id == bindparam("thread_id"))
    .values(post_count=Thread.post_count + 1, last_activity_at=bindparam("at"))
)


_POSTS = cast(Table, Post.__table__)
_INSERT_POST = Prepared(insert(_POSTS).returning(_POSTS.c.id))


async def _insert_post(
    uow: UnitOfWork, thread: Thread, author_id: int, source: str, html: str, now: datetime
) -> Post:
    """A reply's row, by one INSERT on the connection: no unit-of-work flush
    (a third of the reply's ORM time). The :class:`Post` joins the session
    as if loaded, its thread set; the search index is told of it."""
    values = {"thread_id": thread.id, "author_id": author_id, "source": source, "html": html}
    post_id = await _INSERT_POST.scalar(uow.session, {**values, "created_at": now})
    post = Post(
        id=post_id, **values, created_at=now,
        edited_at=None, deleted_at=None, deleted_by_id=None, delete_reason=None,
    )  # fmt: skip
    make_transient_to_detached(post)
    uow.session.add(post)
    set_committed_value(post, "thread", thread)
    note_created(uow.session, "post", post_id)
    return post


def _bump(thread: Thread, delta: int) -> None:
    # An SQL expression, not a Python read-modify-write: concurrent replies
    # must not lose counts. The attribute is expired after flush; callers
    # that need the value reload the thread.
    thread.post_count = Thread.post_count + delta


def _require(user: User, action: Action, zone_id: int | None) -> None:
    if not can(user, action, zone_id):
        raise PermissionDenied(N_("You are not allowed to do this here."))


def _readable(user: User, thread: Thread | None) -> Thread:
    if thread is None:
        raise NotFound(N_("This thread does not exist."))
    _require(user, Action.READ, thread.zone_id)
    return thread


async def get_readable_thread(session: AsyncSession, user: User, thread_id: int) -> Thread:
    return _readable(user, await session.get(Thread, thread_id))


async def get_post(session: AsyncSession, user: User, post_id: int) -> tuple[Post, Thread]:
    """A post the user may read, with its thread."""
    post = await session.get(Post, post_id)
    if post is None:
        raise NotFound(N_("This message does not exist."))
    thread = await get_readable_thread(session, user, post.thread_id)
    return post, thread


def _check_open(user: User, thread: Thread) -> None:
    if thread.closed and not can(user, Action.MODERATE, thread.zone_id):
        raise Conflict(N_("This thread is closed: no more replies or edits."))


async def _attach(uow: UnitOfWork, user: User, post: Post, uploads: Sequence[Upload]) -> None:
    """Keep ``uploads`` as the files of ``post`` (flushed: it has its id)."""
    check_count(len(uploads), MAX_FILES)
    for upload in uploads:
        await keep(uow.session, upload, user, post_id=post.id)


def check_start(user: User, zone_id: int | None, theme: Theme) -> None:
    """Whether ``user`` may start a thread there now; the route asks before
    the body (and its files) is read, :func:`do_start_thread` again."""
    _require(user, Action.POST, zone_id)
    if not theme.active:
        raise ActionError(THEME_RETIRED)


async def check_reply(session: AsyncSession, user: User, thread_id: int) -> Thread:
    """Whether ``user`` may reply to the thread now (read, post, not closed);
    asked before the body is read, and by :func:`do_reply` again.

    The thread comes without its relationships (its zone, theme and author
    are not loaded: touching one fails rather than querying).
    """
    rows = await _THREAD_TO_WRITE.rows(session, {"id": thread_id})
    thread = _readable(user, _THREAD.attach(session, rows[0]) if rows else None)
    _require(user, Action.POST, thread.zone_id)
    _check_open(user, thread)
    return thread


async def do_start_thread(
    uow: UnitOfWork,
    user: User,
    zone_id: int | None,
    theme: Theme,
    title: str,
    source: str,
    uploads: Sequence[Upload] = (),
    *,
    mention_limit: int = mentions.DEFAULT_LIMIT,
) -> Thread:
    _require(user, Action.POST, zone_id)
    title = check_title(title)
    source = check_body(source)
    if not theme.active:
        raise ActionError(THEME_RETIRED)
    rendered = await mentions.render_post(uow.session, zone_id, source)
    now = utcnow()
    thread = Thread(
        zone_id=zone_id,
        theme_id=theme.id,
        title=title,
        author_id=user.id,
        created_at=now,
        last_activity_at=now,
        post_count=1,
        pinned=False,
        closed=False,
    )
    uow.session.add(thread)
    await uow.session.flush()
    post = Post(
        thread_id=thread.id, author_id=user.id, source=source, html=rendered.html,
        created_at=now,
    )  # fmt: skip
    uow.session.add(post)
    await uow.session.flush()
    await _attach(uow, user, post, uploads)
    await mentions.notify_mentions(uow, user, thread, post, rendered.linked, limit=mention_limit)
    await notices.notify_new_thread(uow, user, thread, post)
    uow.record(ThreadCreated(zone_id=zone_id, thread_id=thread.id, theme_id=theme.id))
    return thread


async def do_reply(
    uow: UnitOfWork,
    user: User,
    thread_id: int,
    source: str,
    uploads: Sequence[Upload] = (),
    *,
    mention_limit: int = mentions.DEFAULT_LIMIT,
) -> Post:
    thread = await check_reply(uow.session, user, thread_id)
    source = check_body(source)
    rendered = await mentions.render_post(uow.session, thread.zone_id, source)
    now = utcnow()
    post = await _insert_post(uow, thread, user.id, source, rendered.html, now)
    await _attach(uow, user, post, uploads)
    # Mentions before replies: one notification per person and post (same ref).
    await mentions.notify_mentions(uow, user, thread, post, rendered.linked, limit=mention_limit)
    await notices.notify_reply(uow, user, thread, post)
    # The thread's row last (UnitOfWork.last): on PostgreSQL its UPDATE locks
    # the row until the commit, and every other reply to the thread waits for
    # that lock. Taken there, it is held for the event log's statement and
    # the commit, not for the whole reply.
    uow.last(_REPLIED, {"thread_id": thread.id, "at": now})
    uow.session.expire(thread, ["post_count", "last_activity_at"])
    uow.record(PostCreated(zone_id=thread.zone_id, thread_id=thread.id, post_id=post.id))
    return post


async def get_own_post(session: AsyncSession, user: User, post_id: int) -> tuple[Post, Thread]:
    """The user's own live post that they may still edit or delete, with its thread."""
    post, thread = await get_post(session, user, post_id)
    if post.author_id != user.id:
        raise PermissionDenied(N_("You can only change your own messages."))
    _require(user, Action.EDIT_OWN, thread.zone_id)
    if post.deleted:
        raise Conflict(N_("This message has been deleted."))
    _check_open(user, thread)
    return post, thread


async def _own_live_post(uow: UnitOfWork, user: User, post_id: int) -> tuple[Post, Thread]:
    return await get_own_post(uow.session, user, post_id)


async def do_edit_post(
    uow: UnitOfWork,
    user: User,
    post_id: int,
    source: str,
    *,
    mention_limit: int = mentions.DEFAULT_LIMIT,
) -> Post:
    """Replace a post's text; the previous version goes into its history.
    People it mentions for the first time are notified."""
    post, thread = await _own_live_post(uow, user, post_id)
    source = check_body(source)
    if source == post.source:
        return post
    rendered = await mentions.render_post(uow.session, thread.zone_id, source)
    before = mentions.linked_people(post.html)
    uow.session.add(
        PostRevision(
            post_id=post.id,
            source=post.source,
            html=post.html,
            edited_by_id=post.author_id,
            created_at=post.edited_at or post.created_at,
        )
    )
    post.source = source
    post.html = rendered.html
    post.edited_at = utcnow()
    audit(uow.session, user, "post.edited", post)
    await mentions.notify_mentions(
        uow, user, thread, post, rendered.linked, limit=mention_limit, already=before
    )
    uow.record(PostEdited(zone_id=thread.zone_id, thread_id=thread.id, post_id=post.id))
    return post


def _soft_delete(post: Post, thread: Thread, by: User, reason: str | None) -> None:
    post.deleted_at = utcnow()
    # The id only: ``by`` comes from another session (the request's user), and
    # attaching it here clashes with the same user already loaded as an author.
    post.deleted_by_id = by.id
    post.delete_reason = reason
    _bump(thread, -1)


async def do_delete_own_post(uow: UnitOfWork, user: User, post_id: int) -> Post:
    post, thread = await _own_live_post(uow, user, post_id)
    _soft_delete(post, thread, user, None)
    audit(uow.session, user, "post.deleted", post)
    uow.record(PostDeleted(zone_id=thread.zone_id, thread_id=thread.id, post_id=post.id))
    return post


async def do_hide_post(uow: UnitOfWork, user: User, post_id: int, reason: str) -> Post:
    """Moderation: hide someone's post, saying why. The text is kept for moderators."""
    post, thread = await get_post(uow.session, user, post_id)
    _require(user, Action.MODERATE, thread.zone_id)
    reason = check_reason(reason)
    if post.deleted:
        raise Conflict(N_("This message has already been removed."))
    _soft_delete(post, thread, user, reason)
    audit(uow.session, user, "post.hidden", post, reason=reason)
    uow.record(PostDeleted(zone_id=thread.zone_id, thread_id=thread.id, post_id=post.id))
    return post


async def do_restore_post(uow: UnitOfWork, user: User, post_id: int) -> Post:
    post, thread = await get_post(uow.session, user, post_id)
    _require(user, Action.MODERATE, thread.zone_id)
    if not post.deleted:
        raise Conflict(N_("This message is not hidden."))
    post.deleted_at = None
    post.deleted_by_id = None
    post.deleted_by = None
    post.delete_reason = None
    _bump(thread, +1)
    audit(uow.session, user, "post.restored", post)
    uow.record(
        PostDeleted(zone_id=thread.zone_id, thread_id=thread.id, post_id=post.id, restored=True)
    )
    return post


async def _moderated_thread(uow: UnitOfWork, user: User, thread_id: int) -> Thread:
    thread = await get_readable_thread(uow.session, user, thread_id)
    _require(user, Action.MODERATE, thread.zone_id)
    return thread


def _thread_updated(uow: UnitOfWork, thread: Thread) -> None:
    uow.record(
        ThreadUpdated(
            zone_id=thread.zone_id, thread_id=thread.id, pinned=thread.pinned, closed=thread.closed
        )
    )


async def do_set_pinned(uow: UnitOfWork, user: User, thread_id: int, pinned: bool) -> Thread:
    thread = await _moderated_thread(uow, user, thread_id)
    if thread.pinned != pinned:
        thread.pinned = pinned
        audit(uow.session, user, "thread.pinned" if pinned else "thread.unpinned", thread)
        _thread_updated(uow, thread)
    return thread


async def do_set_closed(uow: UnitOfWork, user: User, thread_id: int, closed: bool) -> Thread:
    thread = await _moderated_thread(uow, user, thread_id)
    if thread.closed != closed:
        thread.closed = closed
        audit(uow.session, user, "thread.closed" if closed else "thread.reopened", thread)
        _thread_updated(uow, thread)
    return thread


async def get_theme(session: AsyncSession, slug: str) -> Theme:
    # A NUL (``%00`` in the URL) is no slug, and PostgreSQL would refuse it (a 500).
    if "\x00" in slug:
        raise NotFound(N_("This theme does not exist."))
    theme = await session.scalar(select(Theme).where(Theme.slug == slug))
    if theme is None:
        raise NotFound(N_("This theme does not exist."))
    return theme
