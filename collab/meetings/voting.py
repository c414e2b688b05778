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

from sqlalchemy.exc import IntegrityError

from collab.audit import audit
from collab.db import UnitOfWork
from collab.errors import ActionError, Conflict, PermissionDenied
from collab.i18n import N_
from collab.meetings import notices
from collab.meetings.actions import lock_meeting, require_chair
from collab.meetings.attendance import require_follower
from collab.meetings.models import Ballot, Choice, Majority, MeetingState, Vote
from collab.meetings.room import Room, VoteView
from collab.meetings.rules import voting_comune
from collab.meetings.tally import (
    NO_POPULATION,
    Member,
    Outcome,
    freeze,
    missing_population,
    rules_of,
    tally,
)
from collab.models import User, utcnow
from collab.realtime.events import VoteChanged

__all__ = ["do_cast_ballot", "do_close_vote", "do_open_vote", "parse_choice"]


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


async def do_close_vote(uow: UnitOfWork, user: User, meeting_id: int, vote_id: int) -> Vote:
    """Close the vote and freeze its result: the members present now, the ballots
    cast (those of members who left since included), by the body's rules."""
    room = await lock_meeting(uow, meeting_id)
    require_chair(user, room)
    view = _vote_of(room, vote_id)
    if not view.is_open:
        raise Conflict(N_("This vote is closed."))
    outcome = _count(room, view)
    vote = view.vote
    vote.closed_at = utcnow()
    vote.closed_by_id = user.id
    vote.result = freeze(outcome)
    vote.approved = outcome.approved
    audit(uow.session, user, "vote.closed", vote, approved=outcome.approved)
    uow.record(VoteChanged(zone_id=None, meeting_id=meeting_id, vote_id=vote_id))
    return vote


def _members(room: Room) -> list[Member]:
    """The vote's members: the body's people, or the voting comuni with their population."""
    return room.members()


def _count(room: Room, view: VoteView) -> Outcome:
    """The outcome of ``view`` if it closed now (member keys turned into names)."""
    names = room.member_names
    members = _members(room)
    rules = rules_of(room.body)
    if rules.majority == Majority.DOUBLE and (missing := missing_population(members)):
        raise Conflict(NO_POPULATION, names=", ".join(missing))
    return tally(
        members,
        [names[key] for key in room.present_member_ids if key in names],
        {names[key]: choice for key, choice in view.ballots.items() if key in names},
        room.quorum,
        rules,
        secret=view.vote.secret,
        cast_by={names[key]: who for key, who in view.cast_by.items() if key in names},
    )
