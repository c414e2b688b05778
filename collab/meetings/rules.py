"""Who may do what in a meeting, from the permission table and the meeting itself.

The table (:mod:`collab.permissions`) says what a role may do in meetings of
its own zone or of others; these helpers add what only the meeting knows:
who chairs it, who is its secretary, which comune a user votes for (their own,
or the one whose sindaco named them delegate for this meeting).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from collab.meetings.models import Meeting, MeetingDelegate, MeetingZone
from collab.models import User
from collab.permissions import Action, can_in_zones

__all__ = [
    "may_chair",
    "may_preside",
    "may_read",
    "may_take_notes",
    "meeting_zone_ids",
    "voting_comune",
]


async def meeting_zone_ids(session: AsyncSession, meeting_id: int) -> set[int]:
    """The zones a meeting convenes (fixed when it is convened)."""
    rows = await session.scalars(
        select(MeetingZone.zone_id).where(MeetingZone.meeting_id == meeting_id)
    )
    return set(rows)


def may_read(user: User | None, zone_ids: Collection[int]) -> bool:
    """Members of a convened zone, CMTo staff and admins follow a meeting."""
    return can_in_zones(user, Action.READ, zone_ids)


def may_chair(user: User | None, meeting: Meeting, zone_ids: Collection[int]) -> bool:
    """Drive the meeting: the portavoce of a convened zone, or CMTo staff."""
    return can_in_zones(user, Action.CONVENE, zone_ids)


def may_preside(
    user: User | None, meeting: Meeting, zone_ids: Collection[int], chair_present: bool
) -> bool:
    """Preside: open and close the meeting, move the agenda, open and close votes.

    A meeting of a body: its designated chair, or the vice chair while the
    chair is not checked in (``chair_present``). A meeting without a body keeps
    the older rule: whoever may chair it (:func:`may_chair`).
    """
    if user is None or not user.active:
        return False
    if meeting.body_id is None:
        return may_chair(user, meeting, zone_ids)
    if user.id == meeting.chair_id:
        return True
    return user.id == meeting.vice_chair_id and not chair_present


def may_take_notes(user: User | None, meeting: Meeting, zone_ids: Collection[int]) -> bool:
    """The live notes and the verbale: whoever may chair (CMTo staff act as
    secretary), the meeting's secretary, and its chair and vice chair."""
    if user is None or not user.active:
        return False
    if user.id in (meeting.secretary_id, meeting.chair_id, meeting.vice_chair_id):
        return True
    return may_chair(user, meeting, zone_ids)


def voting_comune(
    user: User | None,
    zone_ids: Collection[int],
    delegates: Iterable[MeetingDelegate] = (),
) -> int | None:
    """The comune ``user`` checks in and votes for at this meeting, or None.

    A delegate votes for the comune that named them. Otherwise a sindaco (or a
    portavoce, who is a mayor too) votes for their own comune when it belongs
    to a convened zone; naming a delegate does not take that away (the comune
    still has one ballot, whoever casts it).
    """
    if user is None or not user.active:
        return None
    for delegate in delegates:
        if delegate.user_id == user.id:
            return delegate.comune_id
    if user.comune_id is None or not can_in_zones(user, Action.VOTE, zone_ids):
        return None
    return user.comune_id
