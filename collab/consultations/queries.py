"""Reading consultations: lists for a user, one consultation with its contributions.

Every loader takes a few queries whatever the number of rows (zones, themes,
versions and files are fetched with ``IN`` for a whole page).
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import ScalarSelect, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased, defaultload

from collab.consultations import rules
from collab.consultations.models import (
    Consultation,
    ConsultationDelegate,
    ConsultationTheme,
    ConsultationZone,
    Contribution,
    ContributionVersion,
    Status,
)
from collab.documents.files import files_of
from collab.documents.models import StoredFile
from collab.forums.queries import Page
from collab.models import AuditLog, Comune, Theme, User, Zone

__all__ = [
    "CONTRIBUTIONS_PER_PAGE",
    "AwaitedComune",
    "ConsultationView",
    "ContributionRow",
    "ContributionView",
    "awaited_comuni",
    "comune_contribution",
    "consultation_zone_ids",
    "contribution_counts",
    "contribution_history",
    "contribution_list_url",
    "contribution_view",
    "contribution_views",
    "contributions_page",
    "load_consultation",
    "own_contributions",
    "readable_consultations",
    "status_counts",
    "themes_of",
    "views_of",
    "zones_of",
]

# Rows of the consultation page's list, in receipt order (a big consultation
# has 300 comuni: the whole list was 150 KB of HTML, rendered on every view).
CONTRIBUTIONS_PER_PAGE = 50


@dataclass
class ContributionView:
    """A contribution with its current version and that version's files."""

    contribution: Contribution
    current: ContributionVersion
    files: list[StoredFile]

    @property
    def receipt(self) -> str:
        return receipt_number(self.contribution)

    @property
    def file_count(self) -> int:
        return len(self.files)


@dataclass
class ContributionRow:
    """A contribution as its row in the consultation's list shows it: the
    current version's text and files are not shown there, only how many files."""

    contribution: Contribution
    file_count: int

    @property
    def receipt(self) -> str:
        return receipt_number(self.contribution)


@dataclass(frozen=True)
class AwaitedComune:
    """A comune a consultation still awaits, as its list shows it."""

    id: int
    istat_code: str
    name: str
    zone_number: int


@dataclass
class ConsultationView:
    consultation: Consultation
    zones: list[Zone]
    themes: list[Theme]
    drafts: list[StoredFile] = field(default_factory=list)
    contributions: list[ContributionView] = field(default_factory=list)
    delegates: list[ConsultationDelegate] = field(default_factory=list)
    contribution_count: int = 0
    # The comuni of the addressed zones that have sent nothing yet (by zone
    # number, then name) and how many comuni those zones have: loaded for the
    # consultation's page (:func:`awaited_comuni`), not for lists.
    awaited: list[AwaitedComune] = field(default_factory=list)
    comune_count: int = 0

    @property
    def zone_ids(self) -> set[int]:
        return {zone.id for zone in self.zones}

    def open_at(self, now: datetime) -> bool:
        return self.consultation.open_at(now)


def receipt_number(contribution: Contribution) -> str:
    """The number on the receipt: ``<consultation>-<number>`` (``12-0003``)."""
    return f"{contribution.consultation_id}-{contribution.number:04d}"


async def consultation_zone_ids(session: AsyncSession, consultation_id: int) -> set[int]:
    rows = await session.scalars(
        select(ConsultationZone.zone_id).where(ConsultationZone.consultation_id == consultation_id)
    )
    return set(rows)


async def zones_of(session: AsyncSession, ids: Collection[int]) -> dict[int, list[Zone]]:
    """Each consultation's addressed zones, by zone number."""
    found: dict[int, list[Zone]] = {i: [] for i in ids}
    rows = await session.execute(
        select(ConsultationZone.consultation_id, Zone)
        .join(Zone, Zone.id == ConsultationZone.zone_id)
        .where(ConsultationZone.consultation_id.in_(ids))
        .order_by(Zone.number)
    )
    for cid, zone in rows:
        found[cid].append(zone)
    return found


async def themes_of(session: AsyncSession, ids: Collection[int]) -> dict[int, list[Theme]]:
    """Each consultation's themes, in the boards' order."""
    found: dict[int, list[Theme]] = {i: [] for i in ids}
    rows = await session.execute(
        select(ConsultationTheme.consultation_id, Theme)
        .join(Theme, Theme.id == ConsultationTheme.theme_id)
        .where(ConsultationTheme.consultation_id.in_(ids))
        .order_by(Theme.position, Theme.id)
    )
    for cid, theme in rows:
        found[cid].append(theme)
    return found


async def contribution_counts(session: AsyncSession, ids: Collection[int]) -> dict[int, int]:
    """How many contributions each consultation has received (absent: none)."""
    if not ids:
        return {}
    rows = await session.execute(
        select(Contribution.consultation_id, func.count())
        .where(Contribution.consultation_id.in_(ids))
        .group_by(Contribution.consultation_id)
    )
    return {cid: count for cid, count in rows}


async def views_of(
    session: AsyncSession, found: Sequence[Consultation], *, counted: bool = True
) -> list[ConsultationView]:
    """The consultations with their zones, themes and (``counted``) how many
    contributions each has; uncounted, ``contribution_count`` is left 0."""
    ids = [c.id for c in found]
    zones, themes = await zones_of(session, ids), await themes_of(session, ids)
    counts = await contribution_counts(session, ids) if counted else {}
    return [
        ConsultationView(c, zones[c.id], themes[c.id], contribution_count=counts.get(c.id, 0))
        for c in found
    ]


async def own_contributions(
    session: AsyncSession, user: User, views: Sequence[ConsultationView]
) -> dict[int, Contribution | None]:
    """For each consultation ``user`` sends a contribution to (as sindaco,
    portavoce or delegate), the comune's contribution, None when not sent yet."""
    ids = [v.consultation.id for v in views]
    if not ids:
        return {}
    delegations = list(
        await session.scalars(
            select(ConsultationDelegate).where(
                ConsultationDelegate.consultation_id.in_(ids),
                ConsultationDelegate.user_id == user.id,
            )
        )
    )
    comuni = {
        v.consultation.id: comune
        for v in views
        if (
            comune := rules.contributing_comune(
                user, v.zone_ids, [d for d in delegations if d.consultation_id == v.consultation.id]
            )
        )
        is not None
    }
    if not comuni:
        return {}
    sent = await session.scalars(
        select(Contribution).where(
            Contribution.consultation_id.in_(comuni),
            Contribution.comune_id.in_(set(comuni.values())),
        )
    )
    found = {c.consultation_id: c for c in sent if comuni.get(c.consultation_id) == c.comune_id}
    return {cid: found.get(cid) for cid in comuni}


async def readable_consultations(
    session: AsyncSession, user: User, zone_id: int | None = None, limit: int = 200
) -> list[ConsultationView]:
    """The consultations ``user`` may read, soonest deadline first among the open ones.

    With ``zone_id``, only those addressed to that zone (a zone's board).
    """
    query = select(Consultation).order_by(Consultation.deadline.desc()).limit(limit)
    if zone_id is not None:
        query = query.join(
            ConsultationZone, ConsultationZone.consultation_id == Consultation.id
        ).where(ConsultationZone.zone_id == zone_id)
    elif not user.role.is_cmto:
        query = query.join(
            ConsultationZone, ConsultationZone.consultation_id == Consultation.id
        ).where(ConsultationZone.zone_id == (user.zone_id or 0))
    views = await views_of(session, list((await session.scalars(query)).unique()))
    return [v for v in views if rules.may_read(user, v.zone_ids)]


async def contribution_views(
    session: AsyncSession, contributions: Sequence[Contribution]
) -> list[ContributionView]:
    """Each contribution with its current version and files (two queries)."""
    if not contributions:
        return []
    versions = {
        v.contribution_id: v
        for v in await session.scalars(
            select(ContributionVersion)
            .join(
                Contribution,
                (Contribution.id == ContributionVersion.contribution_id)
                & (Contribution.version == ContributionVersion.number),
            )
            .where(Contribution.id.in_([c.id for c in contributions]))
        )
    }
    files = await files_of(session, "contribution_version_id", [v.id for v in versions.values()])
    return [ContributionView(c, versions[c.id], files[versions[c.id].id]) for c in contributions]


async def awaited_comuni(session: AsyncSession, view: ConsultationView) -> None:
    """Fill ``view.awaited`` and ``view.comune_count``: one query, which gives
    the count on every awaited row; a second for the count when none is awaited.

    Columns, not entities: a consultation just opened awaits every comune of
    its zones (312 for all of them), and building as many ORM objects with
    their zones cost as much as the rest of its page."""
    zone_ids = view.zone_ids
    sent = select(Contribution.comune_id).where(
        Contribution.consultation_id == view.consultation.id
    )
    every = aliased(Comune)  # not the outer query's comune: no correlation
    count = select(func.count(every.id)).where(every.zone_id.in_(zone_ids))
    rows = (
        await session.execute(
            select(Comune.id, Comune.istat_code, Comune.name, Zone.number, count.scalar_subquery())
            .join(Zone, Zone.id == Comune.zone_id)
            .where(Comune.zone_id.in_(zone_ids), Comune.id.not_in(sent))
            .order_by(Zone.number, Comune.name)
        )
    ).all()
    view.awaited = [AwaitedComune(*row[:4]) for row in rows]
    view.comune_count = rows[0][4] if rows else (await session.scalar(count) or 0)


async def load_consultation(
    session: AsyncSession,
    consultation_id: int,
    *,
    contributions: bool = True,
    counted: bool = True,
) -> ConsultationView | None:
    """One consultation with its zones, themes, drafts, delegates, contributions
    and the comuni it still awaits; ``contributions=False`` leaves
    ``view.contributions`` empty (pages read one page of them instead:
    :func:`contributions_page`); ``counted=False`` leaves
    ``view.contribution_count`` 0 (the page sums :func:`status_counts`)."""
    consultation = await session.get(Consultation, consultation_id)
    if consultation is None:
        return None
    (view,) = await views_of(session, [consultation], counted=counted)
    drafts = await files_of(session, "consultation_id", [consultation.id])
    view.drafts = drafts[consultation.id]
    view.delegates = list(
        await session.scalars(
            select(ConsultationDelegate).where(
                ConsultationDelegate.consultation_id == consultation.id
            )
        )
    )
    if contributions:
        found = await session.scalars(
            select(Contribution)
            .where(Contribution.consultation_id == consultation.id)
            .order_by(Contribution.number)
        )
        view.contributions = await contribution_views(session, list(found))
    await awaited_comuni(session, view)
    return view


async def status_counts(session: AsyncSession, consultation_id: int) -> dict[Status, int]:
    """How many contributions of the consultation are in each state (every state a key)."""
    counts = dict.fromkeys(Status, 0)
    rows = await session.execute(
        select(Contribution.status, func.count())
        .where(Contribution.consultation_id == consultation_id)
        .group_by(Contribution.status)
    )
    counts.update({status: count for status, count in rows})
    return counts


def _current_files() -> ScalarSelect[int]:
    """How many files the contribution's current version has (a correlated subquery)."""
    return (
        select(func.count(StoredFile.id))
        .join(ContributionVersion, ContributionVersion.id == StoredFile.contribution_version_id)
        .where(
            ContributionVersion.contribution_id == Contribution.id,
            ContributionVersion.number == Contribution.version,
        )
        .scalar_subquery()
    )


async def contributions_page(
    session: AsyncSession,
    consultation_id: int,
    status: Status | None,
    number: int,
    counts: Mapping[Status, int],
) -> Page[ContributionRow]:
    """One page of the consultation's contributions in receipt order, those in
    ``status`` only when given; a number past the end gives the last page.

    One query: ``counts`` (:func:`status_counts`) give the number of pages,
    and each row's file count is a subquery on the current version."""
    total = counts[status] if status is not None else sum(counts.values())
    pages = max(1, math.ceil(total / CONTRIBUTIONS_PER_PAGE))
    number = min(max(1, number), pages)
    stmt = (
        select(Contribution, _current_files())
        # The row shows the comune's name: its zone (joined by default) is not read.
        .options(defaultload(Contribution.comune).raiseload(Comune.zone))
        .where(Contribution.consultation_id == consultation_id)
        .order_by(Contribution.number)
        .limit(CONTRIBUTIONS_PER_PAGE)
        .offset((number - 1) * CONTRIBUTIONS_PER_PAGE)
    )
    if status is not None:
        stmt = stmt.where(Contribution.status == status)
    items = [ContributionRow(c, n) for c, n in await session.execute(stmt)]
    return Page(items=items, number=number, pages=pages, total=total)


async def contribution_list_url(session: AsyncSession, contribution: Contribution) -> str:
    """The row of ``contribution`` in its consultation's (unfiltered) list, on its page."""
    before = await session.scalar(
        select(func.count()).where(
            Contribution.consultation_id == contribution.consultation_id,
            Contribution.number < contribution.number,
        )
    )
    number = (before or 0) // CONTRIBUTIONS_PER_PAGE + 1
    query = f"?page={number}" if number > 1 else ""
    return f"/consultations/{contribution.consultation_id}{query}#contribution-{contribution.id}"


async def comune_contribution(
    session: AsyncSession, consultation_id: int, comune_id: int
) -> ContributionRow | None:
    """The contribution ``comune_id`` sent to the consultation, if any, as its
    row (one query: the page shows its receipt and state, not its text)."""
    found = (
        await session.execute(
            select(Contribution, _current_files()).where(
                Contribution.consultation_id == consultation_id,
                Contribution.comune_id == comune_id,
            )
        )
    ).first()
    return None if found is None else ContributionRow(found[0], found[1])


async def contribution_view(session: AsyncSession, contribution_id: int) -> ContributionView | None:
    contribution = await session.get(Contribution, contribution_id)
    if contribution is None:
        return None
    (view,) = await contribution_views(session, [contribution])
    return view


async def contribution_history(
    session: AsyncSession, contribution: Contribution
) -> tuple[list[ContributionVersion], list[AuditLog]]:
    """Every version (newest first) and the audit trail of the contribution."""
    versions = await session.scalars(
        select(ContributionVersion)
        .where(ContributionVersion.contribution_id == contribution.id)
        .order_by(ContributionVersion.number.desc())
    )
    trail = await session.scalars(
        select(AuditLog)
        .where(AuditLog.object_type == "contribution", AuditLog.object_id == str(contribution.id))
        .order_by(AuditLog.id)
    )
    return list(versions), list(trail)
