"""Rendering events for the websocket: once per event and view variant.

:class:`FragmentRenderer` is the hub's renderer. ``prepare`` loads what an
event is about (one query per event per process), ``variant`` puts each socket
in a class (locale, moderator or not, author of the post or not), and
``render`` turns the event into one text frame per class with the same partial
templates the pages use. A frame is an envelope followed by operations:

    <template data-topic="thread:12" data-seq="46" data-announce="..."></template>
    <template data-op="append" data-target="#posts" data-id="post-80">...</template>

``static/js/live.js`` applies the operations (idempotently: an element whose
id is already in the page is replaced, not added again).

Meeting topics (``meeting:N``) are handed to
:class:`collab.realtime.meeting_frames.MeetingFrames`, which renders the room's
regions by the viewer's mode instead. Other features' events are handed, by
the first word of their type (``contribution.submitted`` -> ``contribution``),
to the :class:`Frames` registered for it in ``FragmentRenderer.by_kind``.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any, Protocol

from markupsafe import escape
from sqlalchemy.ext.asyncio import AsyncSession

from collab.db import Database
from collab.documents.models import StoredFile
from collab.forums import queries
from collab.forums.boards import Board, theme_list_key
from collab.i18n import translations
from collab.models import Post, Thread, User
from collab.permissions import Action
from collab.realtime.consultation_frames import ConsultationFrames
from collab.realtime.frames import frame, op
from collab.realtime.library_frames import LibraryFrames
from collab.realtime.log import LoggedEvent
from collab.realtime.meeting_frames import MeetingFrames, MeetingPrepared
from collab.templating import Templates

__all__ = ["Delegated", "FragmentRenderer", "Frames", "Viewer", "heartbeat_frame", "reset_frame"]

HEARTBEAT = '<template data-heartbeat=""></template>'


class Viewer(Protocol):
    """What the renderer needs to know of a socket.

    ``user`` is None for an anonymous follower of a public meeting (such a
    socket subscribes to that meeting's topic only).
    """

    user: User | None
    locale: str

    def moderates(self, zone_id: int | None) -> bool:
        """May this viewer moderate in ``zone_id``? (Asked once per socket per event.)"""


class Frames(Protocol):
    """The renderer of one feature's events (the same four steps as the hub's)."""

    async def prepare(self, item: LoggedEvent) -> Any: ...

    def basis(self, prepared: Any) -> Hashable: ...

    def variant(self, prepared: Any, subscriber: Any) -> Hashable: ...

    def render(self, prepared: Any, variant: Hashable) -> str: ...


@dataclass(frozen=True)
class Delegated:
    """An event prepared by the :class:`Frames` of its feature."""

    frames: Frames
    prepared: Any


@dataclass(frozen=True)
class Prepared:
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


def heartbeat_frame() -> str:
    return HEARTBEAT


def reset_frame(topic: str) -> str:
    """Tells the page that what it missed is older than the log: reload."""
    return f'<template data-reset="{escape(topic)}"></template>'


class FragmentRenderer:
    def __init__(self, templates: Templates, database: Database) -> None:
        self.templates = templates
        self.db = database
        self.meetings = MeetingFrames(templates, database)
        self.by_kind: dict[str, Frames] = {}
        self.by_kind["document"] = LibraryFrames(templates, database)
        consultations = ConsultationFrames(templates, database)
        self.by_kind["consultation"] = self.by_kind["contribution"] = consultations

    async def prepare(self, item: LoggedEvent) -> Prepared | MeetingPrepared | Delegated:
        if item.topic.startswith("meeting:"):
            return await self.meetings.prepare(item)
        frames = self.by_kind.get(str(item.event.get("type", "")).split(".", 1)[0])
        if frames is not None:
            return Delegated(frames, await frames.prepare(item))
        event = item.event
        async with self.db.session() as session:
            thread = await session.get(Thread, event.get("thread_id"))
            if thread is None:
                return Prepared(item, "none")
            if item.topic.startswith("thread:"):
                if "post_id" in event:
                    post = await session.get(Post, event["post_id"])
                    if post is None:
                        return Prepared(item, "none", thread)
                    files = (await queries.post_files(session, [post]))[post.id]
                    return Prepared(item, "post", thread, post, files=tuple(files))
                return Prepared(item, "status", thread)
            return Prepared(
                item, "board", thread,
                summary=await _theme_summary(session, thread),
                zone_summary=await queries.zone_summary(session, thread.zone_id),
            )  # fmt: skip

    def basis(self, prepared: Prepared | MeetingPrepared | Delegated) -> Hashable:
        if isinstance(prepared, Delegated):
            return prepared.frames.basis(prepared.prepared)
        if isinstance(prepared, MeetingPrepared):
            return self.meetings.basis(prepared)
        if prepared.kind != "post" or prepared.post is None or prepared.thread is None:
            return prepared.kind
        return (prepared.thread.zone_id, prepared.post.author_id)

    def variant(
        self, prepared: Prepared | MeetingPrepared | Delegated, subscriber: Any
    ) -> Hashable:
        if isinstance(prepared, Delegated):
            return prepared.frames.variant(prepared.prepared, subscriber)
        if isinstance(prepared, MeetingPrepared):
            return self.meetings.variant(prepared, subscriber)
        viewer: Viewer = subscriber
        if prepared.kind != "post" or prepared.post is None or prepared.thread is None:
            return (viewer.locale,)
        moderator = viewer.moderates(prepared.thread.zone_id)
        author = viewer.user is not None and viewer.user.id == prepared.post.author_id
        return (viewer.locale, moderator, author)

    def render(self, prepared: Prepared | MeetingPrepared | Delegated, variant: Hashable) -> str:
        if isinstance(prepared, Delegated):
            return prepared.frames.render(prepared.prepared, variant)
        if isinstance(prepared, MeetingPrepared):
            return self.meetings.render(prepared, variant)
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

    def _board_ops(self, locale: str, prepared: Prepared) -> list[str]:
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
