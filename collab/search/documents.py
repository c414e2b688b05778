"""What the index holds for each thing people write: one :class:`Doc` per item.

A *target* names something that changed (``("post", 12)``); :func:`docs_for`
reads it from the database and returns the items to write, with ``None``
for those to drop (a deleted post, a verbale not yet published). The rules
of who may read what are the features' own (``collab.permissions``,
``collab.meetings.rules.may_read``, ``collab.consultations.rules.may_read``,
``collab.documents.library.may_read``), written into each item as
``public``/``metro``/``zones``.

An item's body takes the text read from its files once the extractor has
it (:func:`collab.search.queue.attached_text`): a post's attachments, a
contribution's current version's files, a consultation's drafts, a
meeting's agenda files (not for a public meeting: its files are for the
members only), a library document's current version.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sqlalchemy import bindparam, inspect, select
from sqlalchemy.ext.asyncio import AsyncSession

from collab.consultations.models import (
    Consultation,
    ConsultationTheme,
    ConsultationZone,
    Contribution,
    ContributionVersion,
)
from collab.documents.models import Document
from collab.forums.models import Post, Thread
from collab.forums.queries import post_position
from collab.meetings.models import AgendaItem, Meeting, MeetingState, MeetingZone, Verbale
from collab.models import Comune
from collab.search.queue import attached_text, document_text
from collab.search.text import html_text
from collab.search.tracking import may_have_files

__all__ = ["KINDS", "TARGETS", "Doc", "Item", "Target", "docs_for"]

# Kinds of items, in the order the filter offers them.
KINDS = ("thread", "post", "consultation", "contribution", "meeting", "verbale", "document")
# Kinds of targets: what changed (a meeting target writes its verbale too).
TARGETS = ("thread", "post", "consultation", "contribution", "meeting", "document")
Target = tuple[str, int]
Item = tuple[str, int]


# What a post's item reads of its thread (:func:`_thread_of`), built once:
# every reply runs it, and building a statement costs as much as running it.
_THREAD_OF = select(Thread.id, Thread.zone_id, Thread.theme_id, Thread.title).where(
    Thread.id == bindparam("id")
)


@dataclass(frozen=True)
class Doc:
    """One row of ``search_item`` and its zones (:class:`collab.search.models.SearchItem`)."""

    kind: str
    object_id: int
    title: str
    body: str
    url: str
    created_at: datetime
    zones: tuple[int, ...] = ()
    zone_id: int | None = None
    theme_id: int | None = None
    comune_id: int | None = None
    author_id: int | None = None
    public: bool = False
    metro: bool = False
    context: str = ""
    public_url: str | None = None


async def _thread(session: AsyncSession, thread_id: int) -> list[tuple[Item, Doc | None]]:
    thread = await session.get(Thread, thread_id)
    if thread is None:
        return [(("thread", thread_id), None)]
    zones = () if thread.zone_id is None else (thread.zone_id,)
    doc = Doc(
        kind="thread", object_id=thread.id, title=thread.title, body="",
        url=f"/threads/{thread.id}", created_at=thread.created_at, zones=zones,
        zone_id=thread.zone_id, theme_id=thread.theme_id, author_id=thread.author_id,
        metro=thread.zone_id is None,
    )  # fmt: skip
    return [(("thread", thread_id), doc)]


class _ThreadOf(Protocol):
    @property
    def id(self) -> int: ...
    @property
    def zone_id(self) -> int | None: ...
    @property
    def theme_id(self) -> int: ...
    @property
    def title(self) -> str: ...


_THREAD_OF_NEEDS = frozenset({"zone_id", "theme_id", "title"})


async def _thread_of(session: AsyncSession, post: Post) -> _ThreadOf | None:
    """What a post's item takes from its thread: the thread the reply gave
    the new post, if it holds these, else one narrow read. A reply counts
    its statements."""
    if "thread" not in inspect(post).unloaded:
        thread = post.thread
        if not (_THREAD_OF_NEEDS & inspect(thread).unloaded):
            return thread
    return (await session.execute(_THREAD_OF, {"id": post.thread_id})).first()


async def _post(session: AsyncSession, post_id: int) -> list[tuple[Item, Doc | None]]:
    post = await session.get(Post, post_id)
    thread = None if post is None else await _thread_of(session, post)
    if post is None or thread is None or post.deleted_at is not None:
        # Deleted by its author or hidden by a moderator: no longer found.
        return [(("post", post_id), None)]
    page = await post_position(session, post)
    zones = () if thread.zone_id is None else (thread.zone_id,)
    files = ""
    if may_have_files(session, ("post", post.id)):
        files = await attached_text(session, "post_id", [post.id])
    body = _joined(html_text(post.html), files)
    doc = Doc(
        kind="post", object_id=post.id, title="", body=body,
        url=f"/threads/{thread.id}?page={page}#post-{post.id}", created_at=post.created_at,
        zones=zones, zone_id=thread.zone_id, theme_id=thread.theme_id,
        author_id=post.author_id, metro=thread.zone_id is None, context=thread.title,
    )  # fmt: skip
    return [(("post", post_id), doc)]


async def _consultation_zones(session: AsyncSession, consultation_id: int) -> tuple[int, ...]:
    rows = await session.scalars(
        select(ConsultationZone.zone_id)
        .where(ConsultationZone.consultation_id == consultation_id)
        .order_by(ConsultationZone.zone_id)
    )
    return tuple(rows)


async def _consultation(
    session: AsyncSession, consultation_id: int
) -> list[tuple[Item, Doc | None]]:
    consultation = await session.get(Consultation, consultation_id)
    if consultation is None:
        return [(("consultation", consultation_id), None)]
    zones = await _consultation_zones(session, consultation_id)
    theme_id = await session.scalar(
        select(ConsultationTheme.theme_id)
        .where(ConsultationTheme.consultation_id == consultation_id)
        .order_by(ConsultationTheme.theme_id)
        .limit(1)
    )
    drafts = await attached_text(session, "consultation_id", [consultation_id])
    doc = Doc(
        kind="consultation", object_id=consultation.id, title=consultation.title,
        body=_joined(html_text(consultation.body_html), drafts),
        url=f"/consultations/{consultation.id}",
        created_at=consultation.created_at, zones=zones, zone_id=zones[0] if zones else None,
        theme_id=theme_id, author_id=consultation.created_by_id,
    )  # fmt: skip
    found: list[tuple[Item, Doc | None]] = [(("consultation", consultation_id), doc)]
    # Its contributions are read by whoever reads it: their zones follow its own.
    ids = await session.scalars(
        select(Contribution.id).where(Contribution.consultation_id == consultation_id)
    )
    for contribution_id in list(ids):
        found.extend(await _contribution(session, contribution_id, consultation, zones, theme_id))
    return found


async def _contribution(
    session: AsyncSession,
    contribution_id: int,
    consultation: Consultation | None = None,
    zones: tuple[int, ...] | None = None,
    theme_id: int | None = None,
) -> list[tuple[Item, Doc | None]]:
    contribution = await session.get(Contribution, contribution_id)
    if contribution is not None and consultation is None:
        consultation = await session.get(Consultation, contribution.consultation_id)
        zones = await _consultation_zones(session, contribution.consultation_id)
        theme_id = await session.scalar(
            select(ConsultationTheme.theme_id)
            .where(ConsultationTheme.consultation_id == contribution.consultation_id)
            .order_by(ConsultationTheme.theme_id)
            .limit(1)
        )
    if contribution is None or consultation is None:
        return [(("contribution", contribution_id), None)]
    version = (
        await session.execute(
            select(ContributionVersion.id, ContributionVersion.body_html).where(
                ContributionVersion.contribution_id == contribution_id,
                ContributionVersion.number == contribution.version,
            )
        )
    ).first()
    comune = await session.get(Comune, contribution.comune_id)
    body = _joined(
        html_text(version.body_html if version else ""),
        html_text(contribution.answer_html),
        await attached_text(session, "contribution_version_id", [version.id] if version else []),
    )
    doc = Doc(
        kind="contribution", object_id=contribution.id,
        title=comune.name if comune is not None else "", body=body,
        url=f"/contributions/{contribution.id}", created_at=contribution.submitted_at,
        zones=zones or (), zone_id=zones[0] if zones else None,
        theme_id=theme_id, comune_id=contribution.comune_id,
        author_id=contribution.submitted_by_id, context=consultation.title,
    )  # fmt: skip
    return [(("contribution", contribution_id), doc)]


async def _meeting(session: AsyncSession, meeting_id: int) -> list[tuple[Item, Doc | None]]:
    meeting = await session.get(Meeting, meeting_id)
    if meeting is None:
        return [(("meeting", meeting_id), None), (("verbale", meeting_id), None)]
    zones = tuple(
        await session.scalars(
            select(MeetingZone.zone_id)
            .where(MeetingZone.meeting_id == meeting_id)
            .order_by(MeetingZone.zone_id)
        )
    )
    items = (
        await session.scalars(
            select(AgendaItem)
            .where(AgendaItem.meeting_id == meeting_id)
            .order_by(AgendaItem.position)
        )
    ).all()
    # Live notes are the secretary's draft while the meeting runs: found once it is closed.
    closed = meeting.state == MeetingState.CHIUSA
    parts = [meeting.description, *(item.title for item in items)]
    if closed:
        parts.extend(item.notes for item in items)
    public = meeting.public_token is not None
    if not public:  # a public meeting's item is found by anyone: its files are not theirs
        parts.append(await attached_text(session, "agenda_item_id", [item.id for item in items]))
    common = {
        "zones": zones, "zone_id": zones[0] if zones else None,
        "theme_id": items[0].theme_id if items else None, "public": public,
    }  # fmt: skip
    found: list[tuple[Item, Doc | None]] = [
        (
            ("meeting", meeting_id),
            Doc(
                kind="meeting", object_id=meeting.id, title=meeting.title,
                body=" ".join(p for p in parts if p), url=f"/meetings/{meeting.id}",
                created_at=meeting.starts_at, author_id=meeting.convened_by_id,
                public_url=f"/m/{meeting.public_token}" if public else None, **common,  # type: ignore[arg-type]
            ),
        )
    ]  # fmt: skip
    verbale = await session.scalar(select(Verbale).where(Verbale.meeting_id == meeting_id))
    if verbale is None or verbale.published_at is None:
        found.append((("verbale", meeting_id), None))
    else:
        found.append(
            (
                ("verbale", meeting_id),
                Doc(
                    kind="verbale", object_id=meeting.id, title="", body=html_text(verbale.html),
                    url=f"/meetings/{meeting.id}/verbale", created_at=verbale.published_at,
                    author_id=verbale.published_by_id, context=meeting.title,
                    public_url=f"/m/{meeting.public_token}/verbale" if public else None,
                    **common,  # type: ignore[arg-type]
                ),
            )
        )  # fmt: skip
    return found


async def _document(session: AsyncSession, document_id: int) -> list[tuple[Item, Doc | None]]:
    document = await session.get(Document, document_id)
    if document is None:
        return [(("document", document_id), None)]
    # The forms library is metropolitan: whoever reads metropolitan threads reads it.
    doc = Doc(
        kind="document", object_id=document.id, title=document.title,
        body=_joined(document.description, await document_text(session, document)),
        url=f"/documents/{document.id}", created_at=document.updated_at,
        theme_id=document.theme_id, author_id=document.created_by_id, metro=True,
    )  # fmt: skip
    return [(("document", document_id), doc)]


def _joined(*parts: str) -> str:
    return " ".join(part for part in parts if part)


_BUILDERS = {
    "thread": _thread,
    "post": _post,
    "consultation": _consultation,
    "contribution": _contribution,
    "meeting": _meeting,
    "document": _document,
}


async def docs_for(session: AsyncSession, target: Target) -> list[tuple[Item, Doc | None]]:
    """The items of ``target`` as they are now in ``session``: a doc to write, or None to drop."""
    kind, object_id = target
    return await _BUILDERS[kind](session, object_id)
