"""``collab reindex`` in batches: many items read with a few queries, written in a few statements.

:func:`collab.search.documents.docs_for` reads one target at a time, the
right shape for a write (a reply indexes its post) and the wrong one for a
rebuild: 100,000 posts would be 300,000 queries. Each reader here reads a
batch of one kind (500 posts with their threads' zone, theme and title in
one query; a batch of meetings with their zones, agenda items and verbali in
four) and builds the same :class:`~collab.search.documents.Doc` as
``docs_for`` would, field for field (``tests/search/test_bulk.py`` compares
the two on every kind). A kind without a reader here is rebuilt target by
target through ``docs_for`` (:func:`collab.search.index.reindex`).

A post's page in its thread (its URL) is the number of posts before it in
the thread, as :func:`collab.forums.queries.post_position` counts them:
the posts are read in ``(thread_id, id)`` order, so the count carries from
one batch to the next instead of costing a query per post.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, func, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from collab.consultations.models import (
    Consultation,
    ConsultationTheme,
    ConsultationZone,
    Contribution,
    ContributionVersion,
)
from collab.forums.models import Post, Thread
from collab.forums.queries import POSTS_PER_PAGE
from collab.meetings.models import AgendaItem, Meeting, MeetingState, MeetingZone, Verbale
from collab.models import Comune
from collab.search.documents import Doc
from collab.search.text import html_text

__all__ = ["READERS", "Batch", "Reader"]

# Rows of the batch's main table per read (and per transaction of the rebuild).
POSTS = 500
THREADS = 500
# A consultation brings up to ~300 contributions, a meeting its agenda.
CONSULTATIONS = 20
MEETINGS = 200


@dataclass(frozen=True)
class Batch:
    """The docs of one read, how many targets it covered, and where the next one starts
    (``None``: this kind is done)."""

    docs: list[Doc]
    targets: int
    cursor: Any


Reader = Callable[[AsyncSession, Any], Awaitable[Batch]]


async def _threads(session: AsyncSession, cursor: Any) -> Batch:
    last = cursor or 0
    rows = (
        await session.execute(
            select(
                Thread.id, Thread.title, Thread.created_at, Thread.zone_id, Thread.theme_id,
                Thread.author_id,
            ).where(Thread.id > last).order_by(Thread.id).limit(THREADS)
        )
    ).all()  # fmt: skip
    docs = [
        Doc(
            kind="thread", object_id=tid, title=title, body="", url=f"/threads/{tid}",
            created_at=created_at, zones=() if zone_id is None else (zone_id,),
            zone_id=zone_id, theme_id=theme_id, author_id=author_id, metro=zone_id is None,
        )
        for tid, title, created_at, zone_id, theme_id, author_id in rows
    ]  # fmt: skip
    return Batch(docs, len(rows), rows[-1][0] if len(rows) == THREADS else None)


async def _posts(session: AsyncSession, cursor: Any) -> Batch:
    """Posts in ``(thread_id, id)`` order; ``cursor``: the last one's thread,
    id, and how many posts of that thread came before it and it."""
    last_thread, last_post, seen = cursor or (0, 0, 0)
    rows = (
        await session.execute(
            select(
                Post.id, Post.thread_id, Post.html, Post.deleted_at, Post.created_at,
                Post.author_id, Thread.zone_id, Thread.theme_id, Thread.title,
            )
            .join(Thread, Thread.id == Post.thread_id)
            .where(tuple_(Post.thread_id, Post.id) > tuple_(last_thread, last_post))
            .order_by(Post.thread_id, Post.id)
            .limit(POSTS)
        )
    ).all()  # fmt: skip
    docs = []
    for post_id, thread_id, markup, deleted_at, created_at, author_id, zone, theme, title in rows:
        # Deleted and hidden posts are not found, but keep their place in the thread.
        before = seen if thread_id == last_thread else 0
        last_thread, seen = thread_id, before + 1
        if deleted_at is not None:
            continue
        page = before // POSTS_PER_PAGE + 1
        docs.append(Doc(
            kind="post", object_id=post_id, title="", body=html_text(markup),
            url=f"/threads/{thread_id}?page={page}#post-{post_id}", created_at=created_at,
            zones=() if zone is None else (zone,), zone_id=zone, theme_id=theme,
            author_id=author_id, metro=zone is None, context=title,
        ))  # fmt: skip
    more = len(rows) == POSTS
    return Batch(docs, len(rows), (last_thread, rows[-1][0], seen) if more else None)


async def _consultations(session: AsyncSession, cursor: Any) -> Batch:
    last = cursor or 0
    rows = (
        await session.execute(
            select(
                Consultation.id, Consultation.title, Consultation.body_html,
                Consultation.created_at, Consultation.created_by_id,
            ).where(Consultation.id > last).order_by(Consultation.id).limit(CONSULTATIONS)
        )
    ).all()  # fmt: skip
    if not rows:
        return Batch([], 0, None)
    ids = [row[0] for row in rows]
    zones: dict[int, tuple[int, ...]] = {}
    for cid, zone_id in await session.execute(
        select(ConsultationZone.consultation_id, ConsultationZone.zone_id)
        .where(ConsultationZone.consultation_id.in_(ids))
        .order_by(ConsultationZone.consultation_id, ConsultationZone.zone_id)
    ):
        zones[cid] = (*zones.get(cid, ()), zone_id)
    themes: dict[int, int] = {
        cid: theme_id
        for cid, theme_id in await session.execute(
            select(ConsultationTheme.consultation_id, func.min(ConsultationTheme.theme_id))
            .where(ConsultationTheme.consultation_id.in_(ids))
            .group_by(ConsultationTheme.consultation_id)
        )
    }
    docs = []
    titles = {}
    for cid, title, body_html, created_at, author_id in rows:
        own = zones.get(cid, ())
        titles[cid] = title
        docs.append(Doc(
            kind="consultation", object_id=cid, title=title, body=html_text(body_html),
            url=f"/consultations/{cid}", created_at=created_at, zones=own,
            zone_id=own[0] if own else None, theme_id=themes.get(cid), author_id=author_id,
        ))  # fmt: skip
    contributions = await session.execute(
        select(
            Contribution.id, Contribution.consultation_id, Contribution.comune_id,
            Contribution.answer_html, Contribution.submitted_at, Contribution.submitted_by_id,
            ContributionVersion.body_html, Comune.name,
        )
        .outerjoin(ContributionVersion, and_(
            ContributionVersion.contribution_id == Contribution.id,
            ContributionVersion.number == Contribution.version,
        ))
        .outerjoin(Comune, Comune.id == Contribution.comune_id)
        .where(Contribution.consultation_id.in_(ids))
        .order_by(Contribution.id)
    )  # fmt: skip
    for row in contributions:
        contribution_id, cid, comune_id, answer_html, submitted_at, by, text, comune = row
        own = zones.get(cid, ())
        body = " ".join(part for part in (html_text(text or ""), html_text(answer_html)) if part)
        docs.append(Doc(
            kind="contribution", object_id=contribution_id, title=comune or "", body=body,
            url=f"/contributions/{contribution_id}", created_at=submitted_at, zones=own,
            zone_id=own[0] if own else None, theme_id=themes.get(cid), comune_id=comune_id,
            author_id=by, context=titles[cid],
        ))  # fmt: skip
    return Batch(docs, len(rows), ids[-1] if len(rows) == CONSULTATIONS else None)


async def _meetings(session: AsyncSession, cursor: Any) -> Batch:
    last = cursor or 0
    rows = (
        await session.execute(
            select(
                Meeting.id, Meeting.title, Meeting.description, Meeting.state,
                Meeting.public_token, Meeting.starts_at, Meeting.convened_by_id,
            ).where(Meeting.id > last).order_by(Meeting.id).limit(MEETINGS)
        )
    ).all()  # fmt: skip
    if not rows:
        return Batch([], 0, None)
    ids = [row[0] for row in rows]
    zones: dict[int, tuple[int, ...]] = {}
    for mid, zone_id in await session.execute(
        select(MeetingZone.meeting_id, MeetingZone.zone_id)
        .where(MeetingZone.meeting_id.in_(ids))
        .order_by(MeetingZone.meeting_id, MeetingZone.zone_id)
    ):
        zones[mid] = (*zones.get(mid, ()), zone_id)
    agendas: dict[int, list[tuple[str, str, int]]] = {}
    for mid, title, notes, theme_id in await session.execute(
        select(AgendaItem.meeting_id, AgendaItem.title, AgendaItem.notes, AgendaItem.theme_id)
        .where(AgendaItem.meeting_id.in_(ids))
        .order_by(AgendaItem.meeting_id, AgendaItem.position)
    ):
        agendas.setdefault(mid, []).append((title, notes, theme_id))
    verbali = {
        mid: (html, published_at, published_by)
        for mid, html, published_at, published_by in await session.execute(
            select(
                Verbale.meeting_id, Verbale.html, Verbale.published_at, Verbale.published_by_id
            ).where(Verbale.meeting_id.in_(ids), Verbale.published_at.is_not(None))
        )
    }
    docs = []
    for mid, title, description, state, token, starts_at, convened_by in rows:
        own, items = zones.get(mid, ()), agendas.get(mid, [])
        # As docs_for: live notes only once the meeting is closed.
        parts = [description, *(item[0] for item in items)]
        if state == MeetingState.CHIUSA:
            parts.extend(item[1] for item in items)
        public = token is not None
        common: dict[str, Any] = {
            "zones": own, "zone_id": own[0] if own else None,
            "theme_id": items[0][2] if items else None, "public": public,
        }  # fmt: skip
        docs.append(Doc(
            kind="meeting", object_id=mid, title=title, body=" ".join(p for p in parts if p),
            url=f"/meetings/{mid}", created_at=starts_at, author_id=convened_by,
            public_url=f"/m/{token}" if public else None, **common,
        ))  # fmt: skip
        if mid in verbali:
            html, published_at, published_by = verbali[mid]
            assert published_at is not None  # only published ones were read
            docs.append(Doc(
                kind="verbale", object_id=mid, title="", body=html_text(html),
                url=f"/meetings/{mid}/verbale", created_at=published_at,
                author_id=published_by, context=title,
                public_url=f"/m/{token}/verbale" if public else None, **common,
            ))  # fmt: skip
    return Batch(docs, len(rows), ids[-1] if len(rows) == MEETINGS else None)


# Target kind -> its batch reader; a kind missing here is rebuilt through docs_for.
READERS: dict[str, Reader] = {
    "thread": _threads,
    "post": _posts,
    "consultation": _consultations,
    "meeting": _meetings,
}
