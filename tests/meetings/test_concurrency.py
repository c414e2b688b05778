"""Two chairs (and many comuni) acting at once on one meeting stay consistent.

Each write runs in its own transaction on the same ``db``, all started together
with ``asyncio.gather``. Every meeting write first takes the meeting's lock
(:func:`collab.meetings.actions.lock_meeting`), so they run one after the other
and each sees what the previous one committed: on SQLite (one writer at a time,
the others wait on the busy timeout) and on PostgreSQL (a row lock).
"""

from __future__ import annotations

import asyncio
import csv
from typing import Any

from sqlalchemy import func, select

from collab.db import Database
from collab.demo import DEMO_CSV
from collab.errors import ActionError, Conflict
from collab.meetings import actions, attendance, floor, minutes, voting
from collab.meetings.models import Attendance, Ballot, FloorRequest, MeetingState, Verbale, Vote
from collab.models import User
from collab.realtime.events import MeetingUpdated
from tests.conftest import WORLD_USERS, World
from tests.helpers import capture_events, italian
from tests.meetings.scene import comune_id, convene
from tests.meetings.test_actions import (
    CUMIANA,
    LUSERNA,
    PINEROLO,
    TORRE_PELLICE,
    Write,
    act,
    add_sindaco,
    check_in,
    opened,
    room_of,
)

VOTE_CLOSED = "This vote is closed."


async def attempt(db: Database, write: Write, *args: Any) -> Any:
    """``write(uow, *args)`` in its own transaction: its result, or the ActionError."""
    try:
        async with db.transaction() as uow:
            return await write(uow, *args)
    except ActionError as error:
        return error


def refusals(results: list[Any]) -> list[str]:
    return [r.message for r in results if isinstance(r, ActionError)]


async def count(db: Database, model: type[Any], **where: Any) -> int:
    async with db.session() as session:
        query = select(func.count()).select_from(model).filter_by(**where)
        return int(await session.scalar(query) or 0)


async def test_two_chairs_moving_to_different_items(db: Database, world: World) -> None:
    staff, portavoce = world["staff"], world["portavoce5"]
    meeting = await opened(db, world)
    items = (await room_of(db, meeting.id)).items
    for round_ in range(6):
        # Both move away from the current item, to the two others, in turn.
        now = (await room_of(db, meeting.id)).current_item
        assert now is not None
        one, two = [i for i in items if i.id != now.id][:: 1 if round_ % 2 else -1]
        async with capture_events(db) as events:
            results = await asyncio.gather(
                attempt(db, actions.do_set_item, staff, meeting.id, one.id),
                attempt(db, actions.do_set_item, portavoce, meeting.id, two.id),
            )
        assert refusals(results) == []
        room = await room_of(db, meeting.id)
        current = [i.id for i in room.items if i.opened_at is not None and i.closed_at is None]
        # Exactly one current item: the one of the write that committed last.
        moves = [e for e in events if isinstance(e, MeetingUpdated)]
        assert len(moves) == 2
        assert current == [moves[-1].item_id], round_
        assert room.current_item is not None and room.current_item.id == moves[-1].item_id


async def _council(db: Database, world: World) -> tuple[Any, dict[str, User]]:
    """A ZO 5 meeting in progress with its four comuni present."""
    voters = {
        PINEROLO: world["sindaco5"],
        CUMIANA: world["portavoce5"],
        LUSERNA: await add_sindaco(db, "sindaco-luserna", LUSERNA),
        TORRE_PELLICE: await add_sindaco(db, "sindaco-torre", TORRE_PELLICE),
    }
    meeting = await opened(db, world)
    for istat, user in voters.items():
        await check_in(db, user, meeting.id, istat)
    return meeting, voters


async def test_closing_a_vote_while_ballots_are_cast(db: Database, world: World) -> None:
    meeting, voters = await _council(db, world)
    chair = world["staff"]
    names = {PINEROLO: "Pinerolo", CUMIANA: "Cumiana", LUSERNA: "Luserna San Giovanni",
             TORRE_PELLICE: "Torre Pellice"}  # fmt: skip
    assert italian(VOTE_CLOSED)
    outcomes: set[bool] = set()
    for round_ in range(len(voters) + 1):
        vote, _ = await act(db, voting.do_open_vote, chair, meeting.id, f"Mozione {round_}")
        ballots = [
            attempt(db, voting.do_cast_ballot, user, meeting.id, vote.id, "favorevole")
            for user in voters.values()
        ]
        # The close goes in at a different place each round.
        ballots.insert(round_, attempt(db, voting.do_close_vote, chair, meeting.id, vote.id))
        results = await asyncio.gather(*ballots)
        closed = results.pop(round_)
        assert isinstance(closed, Vote), closed
        assert closed.result is not None
        counted = set(closed.result["favorevoli"])
        for istat, result in zip(voters, results, strict=True):
            if isinstance(result, Ballot):
                assert names[istat] in counted  # accepted: counted
                assert result.cast_at <= closed.closed_at  # type: ignore[operator]
            else:
                assert isinstance(result, Conflict) and result.message == VOTE_CLOSED
                assert names[istat] not in counted  # refused: not counted, present not voting
                assert names[istat] in closed.result["not_voting"]
        accepted = sum(isinstance(r, Ballot) for r in results)
        assert len(counted) == accepted == await count(db, Ballot, vote_id=vote.id)
        outcomes.update(isinstance(r, Ballot) for r in results)
    assert outcomes == {True, False}  # the rounds saw ballots both before and after the close


async def test_many_comuni_check_in_and_vote_at_once(db: Database, world: World) -> None:
    zones = (5, 6, 7, 8, 9)
    # The world's sindaci and portavoce vote for their comuni; a sindaco for each other one.
    mayors = {k: c for k, (role, c) in WORLD_USERS.items() if c and role != "tecnico"}
    taken = set(mayors.values())
    with DEMO_CSV.open(encoding="utf-8") as fp:
        codes = [r["codice_istat"] for r in csv.DictReader(fp) if int(r["zona"]) in zones]
    voters = {
        code: await add_sindaco(db, f"sindaco-{code}", code) for code in codes if code not in taken
    }
    voters.update({c: world[k] for k, c in mayors.items() if c in codes})
    assert len(voters) == 20
    meeting = await convene(db, world["staff"], zones)
    await act(db, actions.do_open, world["staff"], meeting.id)
    ids = {code: await comune_id(db, code) for code in voters}
    results = await asyncio.gather(
        *(attempt(db, attendance.do_check_in, u, meeting.id, ids[c]) for c, u in voters.items())
    )
    assert refusals(results) == []
    room = await room_of(db, meeting.id)
    assert room.present_ids == set(ids.values())
    vote, _ = await act(db, voting.do_open_vote, world["staff"], meeting.id, "Parere sul PSM")
    choices = ["favorevole", "contrario", "astenuto", "non_partecipa"]
    picked = {code: choices[n % 4] for n, code in enumerate(sorted(voters))}
    results = await asyncio.gather(
        *(
            attempt(db, voting.do_cast_ballot, u, meeting.id, vote.id, picked[c])
            for c, u in voters.items()
        )
    )
    assert refusals(results) == []
    assert await count(db, Ballot, vote_id=vote.id) == 20
    closed, _ = await act(db, voting.do_close_vote, world["staff"], meeting.id, vote.id)
    assert closed.result is not None
    sizes = {k: len(closed.result[k]) for k in ("favorevoli", "contrari", "astenuti")}
    assert sizes == {"favorevoli": 5, "contrari": 5, "astenuti": 5}
    assert len(closed.result["non_partecipanti"]) == 5
    assert len(closed.result["present"]) == 15


async def test_two_chairs_closing_the_same_vote(db: Database, world: World) -> None:
    meeting, voters = await _council(db, world)
    vote, _ = await act(db, voting.do_open_vote, world["staff"], meeting.id, "Parere sul PSM")
    await act(db, voting.do_cast_ballot, voters[PINEROLO], meeting.id, vote.id, "favorevole")
    results = await asyncio.gather(
        attempt(db, voting.do_close_vote, world["staff"], meeting.id, vote.id),
        attempt(db, voting.do_close_vote, world["portavoce5"], meeting.id, vote.id),
    )
    assert sorted(type(r).__name__ for r in results) == ["Conflict", "Vote"]
    assert refusals(results) == [VOTE_CLOSED]
    winner = next(r for r in results if isinstance(r, Vote))
    async with db.session() as session:
        stored = await session.get_one(Vote, vote.id)
    assert (stored.closed_at, stored.result) == (winner.closed_at, winner.result)


async def test_two_chairs_opening_or_closing_the_meeting(db: Database, world: World) -> None:
    meeting = await convene(db, world["staff"], (5,))
    results = await asyncio.gather(
        attempt(db, actions.do_open, world["staff"], meeting.id),
        attempt(db, actions.do_open, world["portavoce5"], meeting.id),
    )
    assert refusals(results) == ["The meeting is in progress."]
    results = await asyncio.gather(
        attempt(db, minutes.do_close, world["staff"], meeting.id),
        attempt(db, minutes.do_close, world["portavoce5"], meeting.id),
    )
    assert refusals(results) == ["Only a meeting in progress can be closed."]
    assert (await room_of(db, meeting.id)).meeting.state == MeetingState.CHIUSA
    assert await count(db, Verbale, meeting_id=meeting.id) == 1


async def test_two_check_ins_of_the_same_comune(db: Database, world: World) -> None:
    meeting = await opened(db, world)
    mayor = await add_sindaco(db, "sindaco-luserna", LUSERNA)
    await act(db, attendance.do_name_delegate, mayor, meeting.id, "tecnico5@test.collab.it")
    luserna, pinerolo = await comune_id(db, LUSERNA), await comune_id(db, PINEROLO)
    results = await asyncio.gather(
        attempt(db, attendance.do_check_in, mayor, meeting.id, luserna),
        attempt(db, attendance.do_check_in, world["tecnico5"], meeting.id, luserna),
        attempt(db, attendance.do_check_in, world["sindaco5"], meeting.id, pinerolo),
        attempt(db, attendance.do_check_in, world["sindaco5"], meeting.id, pinerolo),
    )
    assert refusals(results) == ["This comune is already checked in."] * 2
    assert await count(db, Attendance, meeting_id=meeting.id, comune_id=luserna) == 1
    assert await count(db, Attendance, meeting_id=meeting.id, comune_id=pinerolo) == 1
    assert (await room_of(db, meeting.id)).present_ids == {luserna, pinerolo}


async def test_raising_a_hand_twice_at_once(db: Database, world: World) -> None:
    meeting = await opened(db, world)
    results = await asyncio.gather(
        *(attempt(db, floor.do_raise_hand, world["sindaco5"], meeting.id) for _ in range(3))
    )
    assert refusals(results) == ["You have already asked for the floor."] * 2
    assert await count(db, FloorRequest, meeting_id=meeting.id) == 1
