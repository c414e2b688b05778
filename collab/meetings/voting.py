"""Votes on a parere: open, one ballot per comune present, close with a frozen result.

The chair opens a vote (on the current item, optionally on one point of a
motion, open or secret); the sindaco or delegate of each comune present casts
its ballot once; the chair closes it and the result is frozen as
:mod:`collab.meetings.tally` counts it. The writes take the meeting's lock
(:func:`collab.meetings.actions.lock_meeting`), so a ballot and the close never
cross, and the database's unique (vote, comune) constraint is the last guard
against a second ballot.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.exc import IntegrityError

from collab.audit import audit
from collab.db import UnitOfWork
from collab.errors import ActionError, Conflict, PermissionDenied
from collab.i18n import N_
from collab.meetings import notices
from collab.meetings.actions import lock_meeting, require_chair
from collab.meetings.attendance import require_follower
from collab.meetings.models import Ballot, Choice, MeetingState, Vote
from collab.meetings.room import Room, VoteView
from collab.meetings.rules import voting_comune
from collab.meetings.tally import Outcome, tally
from collab.models import User, utcnow
from collab.realtime.events import VoteChanged

__all__ = ["do_cast_ballot", "do_close_vote", "do_open_vote", "outcome_of", "parse_choice"]


def parse_choice(value: str) -> Choice:
    try:
        return Choice(value)
    except ValueError:
        raise ActionError(N_("Choose in favour, against, abstain or not taking part."),
                          field="choice") from None  # fmt: skip


def _in_progress(room: Room) -> None:
    if room.meeting.state != MeetingState.IN_CORSO:
        raise Conflict(N_("Votes are held only while the meeting is in progress."))


def _vote_of(room: Room, vote_id: int) -> VoteView:
    view = next((v for v in room.votes if v.vote.id == vote_id), None)
    if view is None:
        raise ActionError(N_("This vote does not belong to this meeting."), field="vote")
    return view


async def do_open_vote(
    uow: UnitOfWork, user: User, meeting_id: int, motion: str, point: str = "",
    secret: bool = False,
) -> Vote:  # fmt: skip
    room = await lock_meeting(uow, meeting_id)
    require_chair(user, room)
    _in_progress(room)
    motion = " ".join(motion.split())
    point = " ".join(point.split())
    if len(motion) < 3:
        raise ActionError(N_("Say what the vote is on."), field="motion")
    if len(motion) > 300 or len(point) > 200:
        raise ActionError(N_("The text of the vote is too long."), field="motion")
    if room.open_vote is not None:
        raise Conflict(N_("Another vote is open: close it first."))
    current = room.current_item
    vote = Vote(
        meeting_id=meeting_id, item_id=current.id if current else None, motion=motion,
        point=point, secret=secret, quorum=room.quorum, opened_at=utcnow(),
    )  # fmt: skip
    uow.session.add(vote)
    await uow.session.flush()
    audit(uow.session, user, "vote.opened", vote, motion=motion, point=point, secret=secret)
    uow.record(VoteChanged(zone_id=None, meeting_id=meeting_id, vote_id=vote.id))
    await notices.vote_opened(uow, user, room.meeting, room.zone_ids, vote)
    return vote


async def do_cast_ballot(
    uow: UnitOfWork, user: User, meeting_id: int, vote_id: int, choice: str
) -> Ballot:
    """The comune's ballot, once, while the vote is open and the comune present."""
    chosen = parse_choice(choice)
    room = await lock_meeting(uow, meeting_id)
    require_follower(user, room)  # before the vote's existence or state
    view = _vote_of(room, vote_id)
    comune_id = voting_comune(user, room.zone_ids, room.delegates)
    if comune_id is None:
        raise PermissionDenied(N_("Only the sindaco of the comune or its delegate can vote."))
    if not view.is_open:
        raise Conflict(N_("This vote is closed."))
    _in_progress(room)
    if comune_id not in room.present_ids:
        raise Conflict(N_("Your comune is not checked in: check in before voting."))
    if comune_id in view.ballots:
        raise Conflict(N_("Your comune has already voted."))
    ballot = Ballot(
        vote_id=vote_id, comune_id=comune_id, cast_by_id=user.id, choice=chosen, cast_at=utcnow()
    )
    uow.session.add(ballot)
    try:
        await uow.session.flush()
    except IntegrityError:  # a ballot that slipped past the lock (cannot, but never two)
        raise Conflict(N_("Your comune has already voted.")) from None
    uow.record(VoteChanged(zone_id=None, meeting_id=meeting_id, vote_id=vote_id,
                           comune_id=comune_id))  # fmt: skip
    return ballot


def _frozen(outcome: Outcome) -> dict[str, Any]:
    """The result as stored: names for an open vote, counts only for a secret one.

    Counts only for every list of a secret vote, "present" and "non partecipa"
    too: not taking part is a choice on the ballot, and the names present for
    the vote are those of the meeting minus the ones who chose it.
    """

    def names(values: tuple[str, ...]) -> list[str] | int:
        return len(values) if outcome.secret else list(values)

    return {
        "secret": outcome.secret,
        "quorum": outcome.quorum,
        "present": names(outcome.present),
        "favorevoli": names(outcome.favorevoli),
        "contrari": names(outcome.contrari),
        "astenuti": names(outcome.astenuti),
        "non_partecipanti": names(outcome.non_partecipanti),
    }


def outcome_of(result: dict[str, Any]) -> Outcome:
    """The :class:`Outcome` of a frozen result (a secret one has no names to give)."""

    def names(value: list[str] | int) -> tuple[str, ...]:
        return ("",) * value if isinstance(value, int) else tuple(value)

    return Outcome(
        present=names(result["present"]), favorevoli=names(result["favorevoli"]),
        contrari=names(result["contrari"]), astenuti=names(result["astenuti"]),
        non_partecipanti=names(result["non_partecipanti"]), quorum=int(result["quorum"]),
        secret=bool(result["secret"]),
    )  # fmt: skip


async def do_close_vote(uow: UnitOfWork, user: User, meeting_id: int, vote_id: int) -> Vote:
    """Close the vote and freeze its result from who is present now."""
    room = await lock_meeting(uow, meeting_id)
    require_chair(user, room)
    view = _vote_of(room, vote_id)
    if not view.is_open:
        raise Conflict(N_("This vote is closed."))
    names = {c.id: c.name for c in room.comuni}
    present = [names[i] for i in room.present_ids if i in names]
    ballots = {names[c]: choice for c, choice in view.ballots.items() if c in names}
    outcome = tally(present, ballots, view.vote.quorum, secret=view.vote.secret)
    vote = view.vote
    vote.closed_at = utcnow()
    vote.result = _frozen(outcome)
    vote.approved = outcome.approved
    audit(uow.session, user, "vote.closed", vote, approved=outcome.approved)
    uow.record(VoteChanged(zone_id=None, meeting_id=meeting_id, vote_id=vote_id))
    return vote
