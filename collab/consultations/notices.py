"""Who a consultation's news reaches: its opening, its deadline, an answer.

Domain code: no Starlette here. :func:`notify_opened` and
:func:`notify_status` are called by :mod:`collab.consultations.actions` in
the write's transaction; :func:`remind_deadlines` is a
:data:`collab.notifications.mailer.Reminder` the mailer runs about every
minute in every process.

- a consultation that opens notifies every user of the comuni of its zones
  (all roles: they all read it);
- 3 days and again 1 day before the deadline, the mayor (sindaco or
  portavoce) and the named delegate of each comune that has sent nothing are
  reminded. The ref names the deadline, so an extension reminds again; a
  window the consultation was opened inside is skipped (the opening said it);
- a contribution moved through review notifies the users of its comune who
  may read it, once per change (the ref carries the consultation's revision,
  which every write about it bumps).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable
from datetime import datetime, timedelta
from html.parser import HTMLParser

from sqlalchemy import or_, select

from collab.consultations import rules
from collab.consultations.models import (
    Consultation,
    ConsultationDelegate,
    ConsultationZone,
    Contribution,
)
from collab.db import Database, UnitOfWork
from collab.models import Comune, User
from collab.notifications.actions import notify
from collab.notifications.kinds import Kind
from collab.permissions import TABLE, Action, Relation

__all__ = ["REMIND_DAYS", "notify_opened", "notify_status", "remind_deadlines"]

#: The reminders before a deadline, in days, farthest first.
REMIND_DAYS = (3, 1)
# Who speaks for their own comune (sindaco, portavoce): the mayors.
_MAYORS = tuple(
    role for role, where in TABLE[Action.CONTRIBUTE].items() if Relation.OWN_ZONE in where
)
_BLOCKS = frozenset({"p", "br", "li", "h1", "h2", "h3", "h4", "h5", "h6", "tr", "td", "pre"})


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_starttag(self, tag: str, attrs: object) -> None:
        if tag in _BLOCKS:
            self.parts.append(" ")

    def handle_endtag(self, tag: str) -> None:
        self.handle_starttag(tag, None)

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def plain(html: str) -> str:
    """Rendered Markdown as one line of plain text (a notification's excerpt)."""
    reader = _Text()
    reader.feed(html)
    reader.close()
    return " ".join("".join(reader.parts).split())


def _one(zone_ids: Collection[int]) -> int | None:
    """The zone to file a notification under: the consultation's only one."""
    return next(iter(zone_ids)) if len(zone_ids) == 1 else None


async def notify_opened(
    uow: UnitOfWork, actor: User, consultation: Consultation, zone_ids: Collection[int]
) -> list[int]:
    """Tell every user of the comuni of ``zone_ids`` that ``consultation`` opened."""
    people = await uow.session.scalars(
        select(User.id)
        .join(Comune, User.comune_id == Comune.id)
        .where(Comune.zone_id.in_(zone_ids), User.active)
    )
    return await notify(
        uow,
        people,
        Kind.CONSULTATION_OPENED,
        ref=f"consultation:{consultation.id}:opened",
        url=f"/consultations/{consultation.id}",
        title=consultation.title,
        text=plain(consultation.body_html),
        actor_id=actor.id,
        zone_id=_one(zone_ids),
    )


async def notify_status(
    uow: UnitOfWork,
    actor: User,
    consultation: Consultation,
    zone_ids: Collection[int],
    delegates: Iterable[ConsultationDelegate],
    contribution: Contribution,
) -> list[int]:
    """Tell the comune of ``contribution`` that staff moved it (under review, answered)."""
    named = [d.user_id for d in delegates if d.comune_id == contribution.comune_id]
    people = await uow.session.scalars(
        select(User).where(
            or_(User.comune_id == contribution.comune_id, User.id.in_(named)), User.active
        )
    )
    readers = [person.id for person in people if rules.may_read(person, zone_ids)]
    answered = contribution.status.answered
    anchor = f"#contribution-answer-{contribution.id}" if answered else ""
    return await notify(
        uow,
        readers,
        Kind.CONTRIBUTION_ANSWERED,
        # The revision is the consultation's, bumped by this write: one per change.
        ref=f"contribution:{contribution.id}:{contribution.status.value}:{consultation.revision}",
        url=f"/contributions/{contribution.id}{anchor}",
        title=consultation.title,
        text=plain(contribution.answer_html) if answered else "",
        actor_id=actor.id,
        zone_id=_one(zone_ids),
        params={"what": "answered" if answered else "reviewed"},
    )


def _window(consultation: Consultation, now: datetime) -> int | None:
    """The nearest reminder due for ``consultation`` at ``now`` (days), or None."""
    left = consultation.deadline - now
    due = [d for d in REMIND_DAYS if left <= timedelta(days=d)]
    if not due or left <= timedelta(0):
        return None
    days = min(due)
    # Opened inside that window: its opening notice already gave the deadline.
    if consultation.created_at > consultation.deadline - timedelta(days=days):
        return None
    return days


async def remind_deadlines(database: Database, now: datetime) -> int:
    """Remind the mayors and delegates of the comuni that have not sent; how many."""
    horizon = now + timedelta(days=max(REMIND_DAYS))
    made = 0
    async with database.transaction() as uow:
        session = uow.session
        rows = await session.execute(
            select(Consultation, ConsultationZone.zone_id)
            .join(ConsultationZone, ConsultationZone.consultation_id == Consultation.id)
            .where(Consultation.deadline > now, Consultation.deadline <= horizon)
        )
        zones: dict[int, set[int]] = defaultdict(set)
        due: dict[int, tuple[Consultation, int]] = {}
        for consultation, zone_id in rows.unique():
            zones[consultation.id].add(zone_id)
            days = _window(consultation, now)
            if days is not None:
                due[consultation.id] = (consultation, days)
        if not due:
            return 0
        ids = sorted(due)
        contributions = await session.execute(
            select(Contribution.consultation_id, Contribution.comune_id).where(
                Contribution.consultation_id.in_(ids)
            )
        )
        sent = {(cid, comune_id) for cid, comune_id in contributions}
        mayors = (
            select(ConsultationZone.consultation_id, User.id, User.comune_id)
            .join(Comune, Comune.zone_id == ConsultationZone.zone_id)
            .join(User, User.comune_id == Comune.id)
            .where(ConsultationZone.consultation_id.in_(ids), User.active, User.role.in_(_MAYORS))
        )
        named = select(
            ConsultationDelegate.consultation_id,
            ConsultationDelegate.user_id,
            ConsultationDelegate.comune_id,
        ).where(ConsultationDelegate.consultation_id.in_(ids))
        people: dict[int, set[int]] = defaultdict(set)
        for cid, uid, comune_id in await session.execute(mayors.union(named)):
            if (cid, comune_id) not in sent:
                people[cid].add(uid)
        for cid, (consultation, days) in sorted(due.items()):
            stamp = consultation.deadline.strftime("%Y%m%d%H%M")
            made += len(
                await notify(
                    uow,
                    people[cid],
                    Kind.CONSULTATION_DEADLINE,
                    ref=f"consultation:{cid}:deadline:{stamp}:{days}",
                    url=f"/consultations/{cid}#own-contribution",
                    title=consultation.title,
                    zone_id=_one(zones[cid]),
                    params={"days": days},
                )
            )
    return made
