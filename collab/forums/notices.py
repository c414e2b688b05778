"""Who a thread's news reaches: replies, and new threads in a followed theme.

Domain code: no Starlette here. Called by :mod:`collab.forums.actions` in the
write's transaction, after the mentions (:func:`collab.forums.mentions.notify_mentions`):
a reply that mentions someone is one notification to them, the mention.

- a reply notifies the thread's author, everyone who replied in it and
  everyone watching it, except who muted it (``notify`` leaves them out);
- a new thread notifies who follows its theme in its zone (or, for a
  metropolitan thread, the theme's metropolitan threads).

Only people who may read the thread now are notified: someone who moved to
another zone since they took part hears nothing more of it.
"""

from __future__ import annotations

from sqlalchemy import (
    BindParameter,
    CompoundSelect,
    Integer,
    Select,
    bindparam,
    func,
    select,
    union,
)

from collab.db import UnitOfWork
from collab.forums.follows import theme_followers
from collab.forums.mentions import plain_text, post_url, readers, readers_among
from collab.forums.models import Post, Thread
from collab.models import User
from collab.notifications.actions import notify
from collab.notifications.kinds import Kind
from collab.notifications.models import FollowLevel, ThreadFollow
from collab.prepared import Prepared

__all__ = ["notify_new_thread", "notify_reply"]


def _took_part_or_watching(*more: Select[int]) -> CompoundSelect[int]:
    """Who wrote a live post in the thread ``:thread_id``, and who watches it
    (and who ``more`` finds): one query, built once (:data:`_TOOK_PART_OR_WATCHING`).

    The authors come from the ``ix_post_thread_author_live`` index one at a
    time (a recursive "loose index scan": the smallest author, then the
    smallest above it, ...): one index seek per person, however long the
    thread, where ``SELECT DISTINCT author_id`` read all its posts.
    """
    thread_id: BindParameter[int] = bindparam("thread_id")
    live = (Post.thread_id == thread_id, Post.deleted_at.is_(None))
    authors = (
        select(func.min(Post.author_id).label("id")).where(*live).cte("authors", recursive=True)
    )
    above = select(func.min(Post.author_id)).where(*live, Post.author_id > authors.c.id)
    authors = authors.union_all(select(above.scalar_subquery()).where(authors.c.id.is_not(None)))
    watching = select(ThreadFollow.user_id).where(
        ThreadFollow.thread_id == thread_id, ThreadFollow.level == FollowLevel.WATCHING
    )
    return union(select(authors.c.id).where(authors.c.id.is_not(None)), watching, *more)


# The participants and watchers alone: a reply runs them inside _AUDIENCE;
# tests/forums/test_reply_cost.py checks that they come from the index.
_TOOK_PART_OR_WATCHING = _took_part_or_watching()


def _audience(metro: bool) -> Select[int]:
    """Who a reply in the thread ``:thread_id`` (of zone ``:zone_id``, started by
    ``:started_by``) may notify: its author, who took part, who watches,
    of them who may read it now. One statement, built once (:data:`_AUDIENCE`)."""
    started_by = select(bindparam("started_by", type_=Integer))
    return readers_among(metro, _took_part_or_watching(started_by))


_AUDIENCE = {metro: Prepared(_audience(metro)) for metro in (False, True)}


async def notify_reply(uow: UnitOfWork, author: User, thread: Thread, post: Post) -> list[int]:
    """Notify the thread's participants and watchers of ``post``; who was."""
    session = uow.session
    params = {"thread_id": thread.id, "zone_id": thread.zone_id, "started_by": thread.author_id}
    # Ids, no ORM objects (collab/prepared.py).
    rows = await _AUDIENCE[thread.zone_id is None].rows(session, params)
    allowed = [uid for (uid,) in rows]
    if not any(uid != author.id for uid in allowed):
        return []
    return await notify(
        uow,
        allowed,
        Kind.REPLY,
        ref=f"post:{post.id}",
        url=await post_url(session, post),
        title=thread.title,
        text=plain_text(post.html),
        actor_id=author.id,
        zone_id=thread.zone_id,
        theme_id=thread.theme_id,
        thread_id=thread.id,
    )


async def notify_new_thread(uow: UnitOfWork, author: User, thread: Thread, post: Post) -> list[int]:
    """Notify who follows the thread's theme where it was started; who was."""
    session = uow.session
    followers = set(await theme_followers(session, thread.theme_id, thread.zone_id))
    followers.discard(author.id)
    if not followers:
        return []
    allowed = [person.id for person in await readers(session, thread.zone_id, followers)]
    return await notify(
        uow,
        allowed,
        Kind.THREAD_NEW,
        ref=f"post:{post.id}",
        url=f"/threads/{thread.id}",
        title=thread.title,
        text=plain_text(post.html),
        actor_id=author.id,
        zone_id=thread.zone_id,
        theme_id=thread.theme_id,
        thread_id=thread.id,
    )
