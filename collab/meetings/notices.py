"""Who hears of a meeting, and when: the notifications meetings send.

Each ``*`` function below is called with one line from its action, in the
action's transaction (:func:`collab.notifications.actions.notify` skips the
actor, inactive accounts and whoever turned the kind off). Refs make every
notice once per person: the convocation, each edit (by revision), the
cancellation, each vote, the verbale; the reminder once per start time, so a
meeting moved within the hour reminds again. Domain code: no Starlette here.

- convened, changed, cancelled: the *invited*, every user of a comune of the
  convened zones (all roles), and those a body's meeting names (:func:`named`:
  the body's members, its chair and vice chair); a change or cancellation
  also reaches the zones a change took away, who had been told before;
- a vote opened: who is checked in now (attendance not left);
- the verbale published: who attended at any time;
- within the hour (:func:`remind_soon`, a ``Reminder``): the invited of each
  meeting still convened that starts in the next 60 minutes.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from collab.db import Database, UnitOfWork
from collab.meetings.models import (
    Attendance,
    BodyMember,
    Meeting,
    MeetingState,
    MeetingZone,
    Vote,
)
from collab.models import Comune, User
from collab.notifications.actions import notify
from collab.notifications.kinds import Kind

__all__ = [
    "SOON",
    "cancelled",
    "changed",
    "convened",
    "invited",
    "named",
    "remind_soon",
    "soon_ref",
    "verbale_published",
    "vote_opened",
]

SOON = timedelta(minutes=60)
ROME = ZoneInfo("Europe/Rome")


async def invited(session: AsyncSession, zone_ids: Collection[int]) -> list[int]:
    """The users of the comuni of ``zone_ids`` (active or not: ``notify`` sorts that out)."""
    if not zone_ids:
        return []
    rows = await session.scalars(
        select(User.id)
        .join(Comune, Comune.id == User.comune_id)
        .where(Comune.zone_id.in_(list(zone_ids)))
    )
    return list(rows)


async def named(session: AsyncSession, meeting: Meeting) -> list[int]:
    """Who a body's meeting names besides its zones: the body's members (wherever
    they are from), its chair and its vice chair. A meeting without a body: none."""
    if meeting.body_id is None:
        return []
    ids = [i for i in (meeting.chair_id, meeting.vice_chair_id) if i is not None]
    ids += await session.scalars(
        select(BodyMember.user_id).where(BodyMember.body_id == meeting.body_id, BodyMember.active)
    )
    return ids


def _params(meeting: Meeting) -> dict[str, Any]:
    """JSON-safe: the meeting and its start as Turin's wall time."""
    local = meeting.starts_at.astimezone(ROME)
    return {"meeting_id": meeting.id, "starts": local.strftime("%d/%m/%Y %H:%M")}


async def _to_invited(
    uow: UnitOfWork,
    meeting: Meeting,
    zone_ids: Iterable[int],
    kind: Kind,
    ref: str,
    actor: User | None,
) -> list[int]:
    zones = sorted(set(zone_ids))
    return await notify(
        uow,
        [*await invited(uow.session, zones), *await named(uow.session, meeting)],
        kind,
        ref=ref,
        url=f"/meetings/{meeting.id}",
        title=meeting.title,
        text=" · ".join(p for p in (_params(meeting)["starts"], meeting.place) if p),
        actor_id=actor.id if actor else None,
        zone_id=zones[0] if zones else None,
        params=_params(meeting),
    )


async def convened(
    uow: UnitOfWork, user: User, meeting: Meeting, zone_ids: Iterable[int]
) -> list[int]:
    """A meeting was convened: its invited hear of it (the ICS rides the e-mail)."""
    ref = f"meeting:{meeting.id}:convened"
    return await _to_invited(uow, meeting, zone_ids, Kind.MEETING_CONVENED, ref, user)


async def changed(
    uow: UnitOfWork, user: User, meeting: Meeting, zone_ids: Iterable[int]
) -> list[int]:
    """The meeting was edited (``zone_ids``: before and after): once per revision."""
    ref = f"meeting:{meeting.id}:changed:{meeting.revision}"
    return await _to_invited(uow, meeting, zone_ids, Kind.MEETING_CHANGED, ref, user)


async def cancelled(
    uow: UnitOfWork, user: User, meeting: Meeting, zone_ids: Iterable[int]
) -> list[int]:
    ref = f"meeting:{meeting.id}:cancelled"
    return await _to_invited(uow, meeting, zone_ids, Kind.MEETING_CANCELLED, ref, user)


async def vote_opened(
    uow: UnitOfWork, user: User, meeting: Meeting, zone_ids: Iterable[int], vote: Vote
) -> list[int]:
    """A vote opened: who is checked in to the meeting now."""
    present = await uow.session.scalars(
        select(Attendance.user_id).where(
            Attendance.meeting_id == meeting.id, Attendance.left_at.is_(None)
        )
    )
    zones = sorted(zone_ids)
    return await notify(
        uow,
        list(present),
        Kind.VOTE_OPENED,
        ref=f"vote:{vote.id}:opened",
        url=f"/meetings/{meeting.id}#room-vote",
        title=meeting.title,
        text=vote.motion + (f" — {vote.point}" if vote.point else ""),
        actor_id=user.id,
        zone_id=zones[0] if zones else None,
        params={**_params(meeting), "vote_id": vote.id},
    )


async def verbale_published(
    uow: UnitOfWork, user: User, meeting: Meeting, zone_ids: Iterable[int]
) -> list[int]:
    """The verbale was published: who attended, at any time."""
    attended = await uow.session.scalars(
        select(Attendance.user_id).where(Attendance.meeting_id == meeting.id)
    )
    zones = sorted(zone_ids)
    return await notify(
        uow,
        list(attended),
        Kind.VERBALE_PUBLISHED,
        ref=f"meeting:{meeting.id}:verbale",
        url=f"/meetings/{meeting.id}/verbale",
        title=meeting.title,
        actor_id=user.id,
        zone_id=zones[0] if zones else None,
        params=_params(meeting),
    )


def soon_ref(meeting: Meeting) -> str:
    """Once per start time: any other write (a delegate named, the public
    link) bumps the revision too, and must not remind again."""
    return f"meeting:{meeting.id}:soon:{meeting.starts_at.astimezone(UTC).strftime('%Y%m%dT%H%MZ')}"


async def remind_soon(database: Database, now: datetime) -> int:
    """Remind the invited of each meeting still convened that starts within
    the hour (a ``Reminder``: run about every minute, in every process)."""
    async with database.session() as session:
        due = list(
            await session.scalars(
                select(Meeting.id).where(
                    Meeting.state == MeetingState.CONVOCATA,
                    Meeting.starts_at > now,
                    Meeting.starts_at <= now + SOON,
                )
            )
        )
    made = 0
    for meeting_id in due:
        # One transaction per meeting: a clash with another process on one
        # (the unique ref) leaves the others done.
        async with database.transaction() as uow:
            meeting = await uow.session.get(Meeting, meeting_id)
            if meeting is None or meeting.state != MeetingState.CONVOCATA:
                continue
            zones = await uow.session.scalars(
                select(MeetingZone.zone_id).where(MeetingZone.meeting_id == meeting_id)
            )
            made += len(
                await _to_invited(
                    uow, meeting, list(zones), Kind.MEETING_SOON, soon_ref(meeting), None
                )
            )
    return made
