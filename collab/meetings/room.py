"""A meeting's room as one snapshot: what its page and its live fragments show.

:func:`load_room` reads everything the room page renders in a fixed number of
queries (about ten, whatever the number of comuni), so the live renderer can
call it once per event per process. Domain code: no Starlette here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from collab.documents.files import files_of
from collab.documents.models import StoredFile
from collab.meetings.models import (
    AgendaItem,
    Attendance,
    Ballot,
    BodyKind,
    BodyMember,
    BodyZone,
    Choice,
    FloorRequest,
    Meeting,
    MeetingDelegate,
    MeetingLog,
    MeetingMaterial,
    MeetingZone,
    Verbale,
    Vote,
    VotingBody,
)
from collab.meetings.rules import meeting_zone_ids
from collab.meetings.tally import Member, majority_quorum, required_present
from collab.models import Comune, User, Zone

__all__ = ["Room", "VoteView", "load_room", "meeting_zone_ids"]


@dataclass
class VoteView:
    """A vote with its ballots so far: member key (the comune's id, or the
    :class:`BodyMember`'s id in a body of people) -> choice, and -> the name of
    who cast it (a comune's sindaco or delegate)."""

    vote: Vote
    ballots: dict[int, Choice] = field(default_factory=dict)
    cast_by: dict[int, str] = field(default_factory=dict)

    @property
    def is_open(self) -> bool:
        return self.vote.closed_at is None

    def count(self, choice: str) -> int:
        return sum(1 for c in self.ballots.values() if c == choice)


@dataclass
class Room:
    meeting: Meeting
    zones: list[Zone]
    items: list[AgendaItem]
    # The voting comuni, by name: of the body's zones for a body of comuni, of
    # the convened zones for a meeting without a body, none for a body of people.
    comuni: list[Comune]
    attendance: list[Attendance]
    floor: list[FloorRequest]
    votes: list[VoteView]
    materials: list[MeetingMaterial]
    delegates: list[MeetingDelegate]
    verbale: Verbale | None
    files: dict[int, list[StoredFile]] = field(default_factory=dict)  # by agenda item id
    body: VotingBody | None = None
    people: list[BodyMember] = field(default_factory=list)  # active members of a body of people
    log: list[MeetingLog] = field(default_factory=list)  # in order
    vice_chair: User | None = None

    @property
    def by_people(self) -> bool:
        """Members are named people (a :attr:`BodyKind.PEOPLE` body), not comuni."""
        return self.body is not None and self.body.kind == BodyKind.PEOPLE

    @property
    def member_names(self) -> dict[int, str]:
        """Member key -> name, in the members' order: comune id -> the comune's
        name, or (a body of people) body member id -> the person's name."""
        if self.by_people:
            # Two members of the same name stay two (a vote counts names): their titles.
            seen = [m.user.name for m in self.people]
            return {
                m.id: m.user.name if seen.count(m.user.name) == 1
                else f"{m.user.name} ({m.title or m.user.email})"
                for m in self.people
            }  # fmt: skip
        return {c.id: c.name for c in self.comuni}

    @property
    def present_member_ids(self) -> set[int]:
        """Member keys (see :attr:`member_names`) present now."""
        if not self.by_people:
            return self.present_ids
        here = {a.user_id for a in self.attendance if a.comune_id is None and a.left_at is None}
        return {m.id for m in self.people if m.user_id in here}

    @property
    def chair_present(self) -> bool:
        """The designated chair is checked in (for a comune, as a member or a guest)."""
        chair = self.meeting.chair_id
        return any(a.user_id == chair and a.left_at is None for a in self.attendance)

    def people_present(self, closed: bool = False) -> list[tuple[BodyMember, Attendance]]:
        """Members of a body of people present now (or, ``closed``, at the close),
        in the body's order, with their attendance."""
        at = self.meeting.closed_at
        rows = {
            a.user_id: a
            for a in self.attendance
            if a.comune_id is None
            and (a.left_at is None if not closed else at is not None and a.left_at is not None
                 and a.left_at >= at)
        }  # fmt: skip
        return [(m, rows[m.user_id]) for m in self.people if m.user_id in rows]

    def member_of(self, user: User | None) -> BodyMember | None:
        """``user``'s membership of this meeting's body of people, if any."""
        if user is None or not self.by_people:
            return None
        return next((m for m in self.people if m.user_id == user.id), None)

    @property
    def zone_ids(self) -> set[int]:
        return {zone.id for zone in self.zones}

    @property
    def zone_names(self) -> list[str]:
        return [f"ZO {zone.number} {zone.name}" for zone in self.zones]

    @property
    def current_item(self) -> AgendaItem | None:
        for item in self.items:
            if item.opened_at is not None and item.closed_at is None:
                return item
        return None

    @property
    def present(self) -> list[Attendance]:
        """Comuni present now (checked in, not left), by name."""
        rows = [a for a in self.attendance if a.comune_id is not None and a.left_at is None]
        return sorted(rows, key=lambda a: a.comune.name if a.comune else "")

    @property
    def present_at_close(self) -> list[Attendance]:
        """Comuni present when the meeting closed (closing checks everyone out at
        ``closed_at``), by name; none before it closed."""
        closed = self.meeting.closed_at
        if closed is None:
            return []
        rows = [a for a in self._left_at_close(closed) if a.comune_id is not None]
        return sorted(rows, key=lambda a: a.comune.name if a.comune else "")

    @property
    def guests_at_close(self) -> list[Attendance]:
        """People present without a vote when the meeting closed."""
        closed = self.meeting.closed_at
        if closed is None:
            return []
        members = {m.user_id for m in self.people}
        rows = self._left_at_close(closed)
        return [a for a in rows if a.comune_id is None and a.user_id not in members]

    def _left_at_close(self, closed: datetime) -> list[Attendance]:
        return [a for a in self.attendance if a.left_at is not None and a.left_at >= closed]

    @property
    def present_ids(self) -> set[int]:
        return {a.comune_id for a in self.present if a.comune_id is not None}

    @property
    def absent(self) -> list[Comune]:
        here = self.present_ids
        return [c for c in self.comuni if c.id not in here]

    @property
    def guests(self) -> list[Attendance]:
        """People present without a vote (in a body of people: who is not a member)."""
        members = {m.user_id for m in self.people}
        return [
            a
            for a in self.attendance
            if a.comune_id is None and a.left_at is None and a.user_id not in members
        ]

    @property
    def quorum(self) -> int:
        """Members present for the meeting to deliberate: of a body, its structural
        quorum of the call (:func:`collab.meetings.tally.required_present`);
        otherwise the meeting's own, or a majority of the convened comuni."""
        body = self.body
        if body is None:
            return self.meeting.quorum or majority_quorum(len(self.comuni))
        if self.meeting.call == 2:
            num, den = body.second_call_quorum_num, body.second_call_quorum_den
            return required_present(len(self.member_names), num, den,
                                    body.second_call_quorum_above)  # fmt: skip
        return required_present(len(self.member_names), body.quorum_num, body.quorum_den,
                                body.quorum_above)  # fmt: skip

    def members(self) -> list[Member]:
        """The members of a vote, for :func:`collab.meetings.tally.tally`: comuni
        with their population, or the body's people (by name, in order)."""
        if self.by_people:
            return [Member(name) for name in self.member_names.values()]
        return [Member(c.name, c.population) for c in self.comuni]

    @property
    def quorum_held(self) -> bool:
        return len(self.present_member_ids) >= self.quorum

    @property
    def speaker(self) -> FloorRequest | None:
        for request in self.floor:
            if request.granted_at is not None and request.ended_at is None:
                return request
        return None

    @property
    def queue(self) -> list[FloorRequest]:
        return [r for r in self.floor if r.granted_at is None and not r.withdrawn]

    @property
    def speeches(self) -> list[FloorRequest]:
        return [r for r in self.floor if r.granted_at is not None and r.ended_at is not None]

    @property
    def open_vote(self) -> VoteView | None:
        for view in self.votes:
            if view.is_open:
                return view
        return None

    @property
    def closed_votes(self) -> list[VoteView]:
        return [v for v in self.votes if not v.is_open]

    def delegate_of(self, comune_id: int) -> MeetingDelegate | None:
        for delegate in self.delegates:
            if delegate.comune_id == comune_id:
                return delegate
        return None

    def item_materials(self, item_id: int | None) -> list[MeetingMaterial]:
        return [m for m in self.materials if m.item_id == item_id]

    def item_files(self, item_id: int) -> list[StoredFile]:
        """The documents attached to agenda item ``item_id``."""
        return self.files.get(item_id, [])

    def speaking_since(self) -> datetime | None:
        speaker = self.speaker
        return speaker.granted_at if speaker else None


async def load_room(session: AsyncSession, meeting_id: int) -> Room | None:
    """The room of ``meeting_id``, or None when there is no such meeting."""
    meeting = await session.get(Meeting, meeting_id, populate_existing=True)
    if meeting is None:
        return None
    zones = list(
        await session.scalars(
            select(Zone)
            .join(MeetingZone, MeetingZone.zone_id == Zone.id)
            .where(MeetingZone.meeting_id == meeting_id)
            .order_by(Zone.number)
        )
    )
    items = list(
        await session.scalars(
            select(AgendaItem)
            .where(AgendaItem.meeting_id == meeting_id)
            .order_by(AgendaItem.position)
        )
    )
    body = await session.get(VotingBody, meeting.body_id) if meeting.body_id else None
    people: list[BodyMember] = []
    if body is not None and body.kind == BodyKind.PEOPLE:
        comuni: list[Comune] = []
        people = list(
            await session.scalars(
                select(BodyMember)
                .join(User, User.id == BodyMember.user_id)
                .where(BodyMember.body_id == body.id, BodyMember.active)
                .order_by(BodyMember.position, User.name, BodyMember.id)
            )
        )
    else:
        voting_zones = (
            select(BodyZone.zone_id).where(BodyZone.body_id == body.id)
            if body is not None
            else select(MeetingZone.zone_id).where(MeetingZone.meeting_id == meeting_id)
        )
        comuni = list(
            await session.scalars(
                select(Comune).where(Comune.zone_id.in_(voting_zones)).order_by(Comune.name)
            )
        )
    attendance = list(
        await session.scalars(
            select(Attendance)
            .where(Attendance.meeting_id == meeting_id)
            .order_by(Attendance.checked_in_at, Attendance.id)
        )
    )
    floor = list(
        await session.scalars(
            select(FloorRequest)
            .where(FloorRequest.meeting_id == meeting_id)
            .order_by(FloorRequest.requested_at, FloorRequest.id)
        )
    )
    votes = list(
        await session.scalars(
            select(Vote).where(Vote.meeting_id == meeting_id).order_by(Vote.opened_at, Vote.id)
        )
    )
    views = {vote.id: VoteView(vote) for vote in votes}
    if views:
        ballots = await session.execute(
            select(Ballot.vote_id, Ballot.comune_id, Ballot.member_id, Ballot.choice, User.name)
            .join(User, User.id == Ballot.cast_by_id)
            .where(Ballot.vote_id.in_(list(views)))
        )
        for vote_id, comune_id, member_id, choice, cast_by in ballots:
            key = member_id if comune_id is None else comune_id
            assert key is not None  # exactly one of them is set
            views[vote_id].ballots[key] = choice
            views[vote_id].cast_by[key] = cast_by
    materials = list(
        await session.scalars(
            select(MeetingMaterial)
            .where(MeetingMaterial.meeting_id == meeting_id)
            .order_by(MeetingMaterial.id)
        )
    )
    delegates = list(
        await session.scalars(
            select(MeetingDelegate).where(MeetingDelegate.meeting_id == meeting_id)
        )
    )
    verbale = await session.scalar(select(Verbale).where(Verbale.meeting_id == meeting_id))
    vice_chair = await session.get(User, meeting.vice_chair_id) if meeting.vice_chair_id else None
    log = list(
        await session.scalars(
            select(MeetingLog)
            .where(MeetingLog.meeting_id == meeting_id)
            .order_by(MeetingLog.at, MeetingLog.id)
        )
    )
    files = await files_of(session, "agenda_item_id", [item.id for item in items])
    return Room(
        meeting=meeting,
        zones=zones,
        items=items,
        comuni=comuni,
        attendance=attendance,
        floor=floor,
        votes=list(views.values()),
        materials=materials,
        delegates=delegates,
        verbale=verbale,
        files=files,
        body=body,
        people=people,
        log=log,
        vice_chair=vice_chair,
    )
