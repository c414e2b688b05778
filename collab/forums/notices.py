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

from sqlalchemy import select

from collab.db import UnitOfWork
from collab.forums.follows import follow_levels, theme_followers
from collab.forums.mentions import plain_text, post_url, readers
from collab.forums.models import Post, Thread
from collab.models import User
from collab.notifications.actions import notify
from collab.notifications.kinds import Kind
from collab.notifications.models import FollowLevel

__all__ = ["notify_new_thread", "notify_reply"]


async def notify_reply(uow: UnitOfWork, author: User, thread: Thread, post: Post) -> list[int]:
    """Notify the thread's participants and watchers of ``post``; who was."""
    session = uow.session
    took_part = set(
        await session.scalars(
            select(Post.author_id)
            .where(Post.thread_id == thread.id, Post.deleted_at.is_(None))
            .distinct()
        )
    )
    took_part.add(thread.author_id)
    levels = await follow_levels(session, thread.id)
    watching = {uid for uid, level in levels.items() if level is FollowLevel.WATCHING}
    candidates = (took_part | watching) - {author.id}
    if not candidates:
        return []
    allowed = [person.id for person in await readers(session, thread.zone_id, candidates)]
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
