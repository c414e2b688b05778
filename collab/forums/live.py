"""The boards, live: topic kinds ``metro``, ``zone:N``, ``thread:N`` and the
frames of ``thread.*`` and ``post.*`` events (see :mod:`collab.realtime.registry`).

``ForumFrames.prepare`` loads what an event is about (one query per event per
process), ``variant`` puts each socket in a class (locale, moderator or not,
author of the post or not), and ``render`` turns the event into one text
frame per class with the same partial templates the pages use:

    <template data-topic="thread:12" data-seq="46" data-announce="..."></template>
    <template data-op="append" data-target="#posts" data-id="post-80">...</template>

``static/js/live.js`` applies the operations (idempotently: an element whose
id is already in the page is replaced, not added again).
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from collab.db import Database
from collab.documents.models import StoredFile
from collab.forums import queries
from collab.forums.boards import Board, theme_list_key
from collab.forums.models import Post, Thread
from collab.i18n import translations
from collab.models import User
from collab.permissions import Action, can
from collab.realtime.frames import frame, op
from collab.realtime.log import LoggedEvent
from collab.realtime.registry import LiveFeature, TopicKind, Viewer, Zones
from collab.templating import Templates

__all__ = ["ForumFrames", "ForumPrepared", "feature"]


@dataclass(frozen=True)
class ForumPrepared:
    item: LoggedEvent
    kind: str  # "post", "status", "board" or "none"
    thread: Thread | None = None
    post: Post | None = None
    summary: queries.BoardSummary | None = None  # of the thread's theme in its zone
    zone_summary: queries.BoardSummary | None = None  # of the thread's zone
    files: tuple[StoredFile, ...] = ()  # the post's attachments


class _Stub:
    """The viewer of a variant, for templates that ask ``user.id == author``."""

    def __init__(self, user_id: int) -> None:
        self.id = user_id


class ForumFrames:
    def __init__(self, templates: Templates, database: Database) -> None:
        self.templates = templates
        self.db = database

    async def prepare(self, item: LoggedEvent) -> ForumPrepared:
        event = item.event
        async with self.db.session() as session:
            thread = await session.get(Thread, event.get("thread_id"))
            if thread is None:
                return ForumPrepared(item, "none")
            if item.topic.startswith("thread:"):
                if "post_id" in event:
                    post = await session.get(Post, event["post_id"])
                    if post is None:
                        return ForumPrepared(item, "none", thread)
                    files = (await queries.post_files(session, [post]))[post.id]
                    return ForumPrepared(item, "post", thread, post, files=tuple(files))
                return ForumPrepared(item, "status", thread)
            return ForumPrepared(
                item, "board", thread,
                summary=await _theme_summary(session, thread),
                zone_summary=await queries.zone_summary(session, thread.zone_id),
            )  # fmt: skip

    def basis(self, prepared: ForumPrepared) -> Hashable:
        if prepared.kind != "post" or prepared.post is None or prepared.thread is None:
            return prepared.kind
        return (prepared.thread.zone_id, prepared.post.author_id)

    def variant(self, prepared: ForumPrepared, viewer: Viewer) -> Hashable:
        if prepared.kind != "post" or prepared.post is None or prepared.thread is None:
            return (viewer.locale,)
        moderator = viewer.moderates(prepared.thread.zone_id)
        author = viewer.user is not None and viewer.user.id == prepared.post.author_id
        return (viewer.locale, moderator, author)

    def render(self, prepared: ForumPrepared, variant: Hashable) -> str:
        assert isinstance(variant, tuple)
        locale = variant[0]
        item = prepared.item
        announce = ""
        ops: list[str] = []
        gettext = translations(locale).gettext
        if prepared.kind == "post" and prepared.post and prepared.thread:
            _, moderator, author = variant
            html = self._post(
                locale, prepared.post, prepared.thread, moderator, author, prepared.files
            )
            element_id = f"post-{prepared.post.id}"
            if item.event["type"] == "post.created":
                ops.append(op("append", "#posts", element_id, html))
                if not author:  # nobody needs to hear of their own reply
                    announce = gettext("New message from %(name)s") % {
                        "name": prepared.post.author.name
                    }
            else:
                ops.append(op("replace", f"#{element_id}", element_id, html))
        elif prepared.kind == "status" and prepared.thread:
            html = self._render(
                "forums/_thread_status.html", locale, thread=prepared.thread,
                board=Board(prepared.thread.zone),
            )  # fmt: skip
            ops.append(op("replace", "#thread-status", "thread-status", html))
        elif prepared.kind == "board" and prepared.thread:
            ops += self._board_ops(locale, prepared)
            if item.event["type"] == "thread.created":
                announce = gettext("New thread: %(title)s") % {"title": prepared.thread.title}
        return frame(item, announce, ops)

    def _board_ops(self, locale: str, prepared: ForumPrepared) -> list[str]:
        """A thread changed: its row in every list that shows it, its theme's
        row on the zone page, its zone's summary on the home page."""
        thread = prepared.thread
        assert thread is not None
        topic = prepared.item.topic
        row = self._render("forums/_thread_row.html", locale, thread=thread)
        # The zone page's recent threads and the theme's list: live.js puts the
        # row in its place in whichever the page has (or updates it in place).
        theme_list = theme_list_key(topic, thread.theme_id)
        lists = f'[data-thread-list="{topic}"],[data-thread-list="{theme_list}"]'
        theme_row = self._render(
            "forums/_theme_row.html", locale, theme=thread.theme, s=prepared.summary,
            board=Board(thread.zone),
        )  # fmt: skip
        zone_key = "metro" if thread.zone_id is None else str(thread.zone_id)
        summary = self._render(
            "forums/_zone_summary.html", locale, zone_id=thread.zone_id,
            summary=prepared.zone_summary,
        )  # fmt: skip
        return [
            op("place", lists, f"thread-{thread.id}", row),
            op(
                "replace",
                f"#theme-row-{thread.theme_id}",
                f"theme-row-{thread.theme_id}",
                theme_row,
            ),
            op("replace", f"#zone-summary-{zone_key}", f"zone-summary-{zone_key}", summary),
        ]

    def _post(
        self,
        locale: str,
        post: Post,
        thread: Thread,
        moderator: bool,
        author: bool,
        files: tuple[StoredFile, ...] = (),
    ) -> str:
        def allowed(action: str, zone_id: int | None = None) -> bool:
            if action == Action.MODERATE:
                return moderator
            return author  # edit_own: the author's own controls

        return self._render(
            "forums/_post.html", locale, post=post, thread=thread,
            user=_Stub(post.author_id if author else 0), can=allowed,
            post_files={post.id: list(files)},
        )  # fmt: skip

    def _render(self, template: str, locale: str, **context: Any) -> str:
        # Fragments pushed to many sessions carry no CSRF token of their own:
        # htmx sends the page's token in a header with every request.
        base: dict[str, Any] = {
            "csrf_token": "",
            "htmx": True,
            "user": None,
            "can": lambda *a: False,
        }
        return self.templates.render(template, locale, {**base, **context})


async def _theme_summary(session: AsyncSession, thread: Thread) -> queries.BoardSummary | None:
    _, summaries = await queries.board_summaries(session, thread.zone_id)
    return summaries.get(thread.theme_id)


def _may_read(user: User, zones: Zones) -> bool:
    return all(can(user, Action.READ, zone_id) for zone_id in zones)


async def _metro_zones(db: Database, ident: int) -> Zones:
    return frozenset({None})


async def _zone_zones(db: Database, ident: int) -> Zones:
    return frozenset({ident})


async def _thread_zones(db: Database, ident: int) -> Zones | None:
    """A thread never changes zone: the engine remembers the answer."""
    async with db.session() as session:
        thread = await session.get(Thread, ident)
    return None if thread is None else frozenset({thread.zone_id})


feature = LiveFeature(
    name="forums",
    topics=(
        TopicKind("metro", _metro_zones, _may_read, has_id=False),
        TopicKind("zone", _zone_zones, _may_read),
        TopicKind("thread", _thread_zones, _may_read, presence=True),
    ),
    frames={"thread": ForumFrames, "post": ForumFrames},
)
