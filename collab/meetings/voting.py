"""Votes on a parere: open, one ballot per member present, close with a frozen result.

The chair (:func:`collab.meetings.actions.require_presiding`) opens a vote on
the current item, optionally on one point of a motion, with the proposal put to
the vote (the dispositivo) and how it is taken (roll call, electronic, secret);
in a body's meeting without the quorum only after confirming it. Each member
present casts its ballot once: a comune by its sindaco or delegate, a member of
a body of people in person. The chair closes it and the result is frozen as
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
from collab.meetings.actions import lock_meeting, require_presiding
from collab.meetings.attendance import require_follower
from collab.meetings.log import log
from collab.meetings.models import Ballot, Choice, Majority, MeetingState, Vote, VoteMethod
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

__all__ = [
    "QuorumMissing",
    "check_open_vote",
    "do_cast_ballot",
    "do_close_vote",
    "do_open_vote",
    "parse_choice",
    "parse_method",
]


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


class QuorumMissing(Conflict):
    """The quorum is not present: the vote opens only once the chair confirms
    (``without_quorum``); the room asks (:mod:`collab.meetings.confirm`)."""


MAX_TEXT = 20_000


SECRET_DOUBLE = N_(
    "A vote by double majority cannot be secret: the population in favour would tell who voted how."
)


def parse_method(value: str, secret: bool) -> VoteMethod:
    """The method chosen (none: by roll call; a secret vote is by secret ballot)."""
    if not value:
        return VoteMethod.SECRET if secret else VoteMethod.ROLL_CALL
    try:
        method = VoteMethod(value)
    except ValueError:
        raise ActionError(N_("Choose how the vote is taken."), field="method") from None
    if secret and method != VoteMethod.SECRET:
        raise ActionError(N_("A secret vote is taken by secret ballot."), field="method")
    return method


def check_open_vote(room: Room, without_quorum: bool) -> tuple[int, int]:
    """What opening a vote in ``room`` checks beyond its form, in order: an open
    vote, a double majority without every population, the quorum (a body's
    meeting: only with ``without_quorum``). The members present and required."""
    if room.open_vote is not None:
        raise Conflict(N_("Another vote is open: close it first."))
    if rules_of(room.body).majority == Majority.DOUBLE and (
        missing := missing_population(_members(room))
    ):
        raise Conflict(NO_POPULATION, names=", ".join(missing))
    present, required = len(room.present_member_ids), room.quorum
    if room.body is not None and present < required and not without_quorum:
        raise QuorumMissing(
            N_("The quorum is not present (%(present)d of %(required)d): confirm to open "
               "the vote all the same."), present=present, required=required,
        )  # fmt: skip
    return present, required


async def do_open_vote(
    uow: UnitOfWork, user: User, meeting_id: int, motion: str, point: str = "",
    secret: bool = False, *, text: str = "", method: str = "", without_quorum: bool = False,
) -> Vote:  # fmt: skip
    """Open a vote on the current item: its motion (and point), the proposal put
    to the vote (``text``, the dispositivo), how it is taken (``method``).

    A body's meeting without the quorum opens it only with ``without_quorum``
    (the chair confirmed), which the vote and the meeting's log record.
    """
    room = await lock_meeting(uow, meeting_id)
    require_presiding(user, room)
    _in_progress(room)
    motion = " ".join(motion.split())
    point = " ".join(point.split())
    text = text.strip().replace("\r\n", "\n")
    if len(motion) < 3:
        raise ActionError(N_("Say what the vote is on."), field="motion")
    if len(motion) > 300 or len(point) > 200:
        raise ActionError(N_("The text of the vote is too long."), field="motion")
    if len(text) > MAX_TEXT:
        raise ActionError(N_("The proposal is too long (at most 20,000 characters)."),
                          field="text")  # fmt: skip
    chosen = parse_method(method, secret)
    if chosen == VoteMethod.SECRET and rules_of(room.body).majority == Majority.DOUBLE:
        # The population in favour would tell, among few comuni, who voted how.
        raise ActionError(SECRET_DOUBLE, field="method")
    present, required = check_open_vote(room, without_quorum)
    current, now = room.current_item, utcnow()
    vote = Vote(
        meeting_id=meeting_id, item_id=current.id if current else None, motion=motion,
        point=point, secret=chosen == VoteMethod.SECRET, quorum=room.quorum, opened_at=now,
        text=text, method=chosen, without_quorum=present < required, opened_by_id=user.id,
    )  # fmt: skip
    uow.session.add(vote)
    await uow.session.flush()
    audit(uow.session, user, "vote.opened", vote, motion=motion, point=point,
          secret=vote.secret, without_quorum=vote.without_quorum)  # fmt: skip
    log(uow, meeting_id, user, "vote_opened", at=now, vote_id=vote.id, motion=motion,
        without_quorum=vote.without_quorum, present=present, required=required)  # fmt: skip
    uow.record(VoteChanged(zone_id=None, meeting_id=meeting_id, vote_id=vote.id))
    await notices.vote_opened(uow, user, room.meeting, room.zone_ids, vote)
    return vote


def _voter(user: User, room: Room) -> tuple[int, bool]:
    """The member ``user`` votes for: (key, is a person). A 403 for anyone else."""
    if room.by_people:
        member = room.member_of(user)
        if member is None:
            raise PermissionDenied(N_("Only the members of the body can vote."))
        return member.id, True
    comune_id = voting_comune(user, room.zone_ids, room.delegates)
    if comune_id is None:
        raise PermissionDenied(N_("Only the sindaco of the comune or its delegate can vote."))
    return comune_id, False


async def do_cast_ballot(
    uow: UnitOfWork, user: User, meeting_id: int, vote_id: int, choice: str
) -> Ballot:
    """The member's ballot, once, while the vote is open and the member present:
    a comune's (cast by its sindaco or delegate) or a body member's own."""
    chosen = parse_choice(choice)
    room = await lock_meeting(uow, meeting_id)
    require_follower(user, room)  # before the vote's existence or state
    view = _vote_of(room, vote_id)
    key, person = _voter(user, room)
    if not view.is_open:
        raise Conflict(N_("This vote is closed."))
    _in_progress(room)
    if key not in room.present_member_ids:
        if person:
            raise Conflict(N_("You are not checked in: check in before voting."))
        raise Conflict(N_("Your comune is not checked in: check in before voting."))
    already = N_("You have already voted.") if person else N_("Your comune has already voted.")
    if key in view.ballots:
        raise Conflict(already)
    ballot = Ballot(
        vote_id=vote_id, comune_id=None if person else key, member_id=key if person else None,
        cast_by_id=user.id, choice=chosen, cast_at=utcnow(),
    )  # fmt: skip
    uow.session.add(ballot)
    try:
        await uow.session.flush()
    except IntegrityError:  # a ballot that slipped past the lock (cannot, but never two)
        raise Conflict(already) from None
    uow.record(VoteChanged(zone_id=None, meeting_id=meeting_id, vote_id=vote_id,
                           comune_id=None if person else key))  # fmt: skip
    return ballot


async def do_close_vote(uow: UnitOfWork, user: User, meeting_id: int, vote_id: int) -> Vote:
    """Close the vote and freeze its result: the members present now, the ballots
    cast (those of members who left since included), by the body's rules."""
    room = await lock_meeting(uow, meeting_id)
    require_presiding(user, room)
    view = _vote_of(room, vote_id)
    if not view.is_open:
        raise Conflict(N_("This vote is closed."))
    outcome = _count(room, view)
    vote = view.vote
    vote.closed_at = utcnow()
    log(uow, meeting_id, user, "vote_closed", at=vote.closed_at, vote_id=vote.id)
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
