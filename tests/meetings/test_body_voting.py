"""A body of people votes: its members check in in person and cast their own
ballot; a vote carries its text (dispositivo) and method; without the quorum it
opens only once the chair confirms, and the meeting's log records it all."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
from sqlalchemy import select, update

from collab.accounts.actions import do_create_user
from collab.db import Database
from collab.errors import ActionError, Conflict, PermissionDenied
from collab.meetings import actions, attendance, voting
from collab.meetings.models import Ballot, Majority, Meeting, MeetingLog, Vote, VoteMethod
from collab.meetings.tally import NO_POPULATION
from collab.models import Comune
from tests.conftest import World
from tests.helpers import PASSWORD, Client, italian, parse, text_of
from tests.meetings.bodies_scene import body_meeting, make_body
from tests.meetings.scene import comune_id
from tests.meetings.test_actions import CUMIANA, act, add_sindaco, refused, room_of

Login = Callable[[str], Awaitable[Client]]
NO_QUORUM = (
    "The quorum is not present (%(present)d of %(required)d): confirm to open the vote "
    "all the same."
)


async def _council(db: Database, world: World) -> Meeting:
    """A tavolo of three people (one of zone 9) meeting in zone 5, opened by its chair."""
    body = await make_body(
        db, "Tavolo tecnico mobilità",
        people=((world["portavoce5"], "Coordinatore"), (world["sindaco9"], "Sindaco di Ivrea"),
                (world["tecnico5"], "Dirigente")),
    )  # fmt: skip
    meeting = await body_meeting(db, world["staff"], body, (5,),
                                 chair_email=world["portavoce5"].email)  # fmt: skip
    await act(db, attendance.do_join_as_guest, world["portavoce5"], meeting.id)
    await act(db, actions.do_open, world["portavoce5"], meeting.id)
    return meeting


async def _log(db: Database, meeting_id: int) -> list[tuple[str, dict[str, object]]]:
    async with db.session() as session:
        rows = await session.scalars(
            select(MeetingLog).where(MeetingLog.meeting_id == meeting_id).order_by(MeetingLog.id)
        )
        return [(row.action, row.detail) for row in rows]


async def test_members_check_in_and_cast_their_own_ballots(db: Database, world: World) -> None:
    meeting = await _council(db, world)
    chair, ivrea, tecnico = world["portavoce5"], world["sindaco9"], world["tecnico5"]
    room = await room_of(db, meeting.id)
    assert room.meeting.opening == {"members": 3, "present": 1, "required": 2, "held": False}
    # One of three present: the vote opens only when the chair confirms it.
    error = await refused(db, voting.QuorumMissing, NO_QUORUM, voting.do_open_vote, chair,
                          meeting.id, "Parere sul piano della mobilità")  # fmt: skip
    assert error.params == {"present": 1, "required": 2}
    vote, _ = await act(
        db, lambda uow: voting.do_open_vote(
            uow, chair, meeting.id, "Parere sul piano della mobilità",
            text="Si esprime parere favorevole al piano.", method="elettronico",
            without_quorum=True,
        ),
    )  # fmt: skip
    assert (vote.text, vote.method, vote.without_quorum) == (
        "Si esprime parere favorevole al piano.", VoteMethod.ELECTRONIC, True,
    )  # fmt: skip
    assert vote.opened_by_id == chair.id
    # Who is not a member does not vote; a member votes once, checked in.
    staff = world["staff"]
    await refused(db, PermissionDenied, "Only the members of the body can vote.",
                  voting.do_cast_ballot, staff, meeting.id, vote.id, "favorevole")  # fmt: skip
    await refused(db, Conflict, "You are not checked in: check in before voting.",
                  voting.do_cast_ballot, ivrea, meeting.id, vote.id, "favorevole")  # fmt: skip
    await act(db, attendance.do_join_as_guest, ivrea, meeting.id)
    await act(db, attendance.do_join_as_guest, tecnico, meeting.id)
    await act(db, voting.do_cast_ballot, ivrea, meeting.id, vote.id, "favorevole")
    await refused(db, Conflict, "You have already voted.",
                  voting.do_cast_ballot, ivrea, meeting.id, vote.id, "contrario")  # fmt: skip
    await act(db, voting.do_cast_ballot, chair, meeting.id, vote.id, "contrario")
    # A member who voted and left still counts; coming back is recorded too.
    await act(db, attendance.do_check_out, ivrea, meeting.id)
    await act(db, attendance.do_join_as_guest, ivrea, meeting.id)
    await act(db, attendance.do_check_out, ivrea, meeting.id)
    room = await room_of(db, meeting.id)
    members = {m.user_id: m.id for m in room.people}
    async with db.session() as session:
        ballots = {(b.member_id, b.comune_id, b.choice.value)
                   for b in await session.scalars(select(Ballot))}  # fmt: skip
    assert ballots == {(members[ivrea.id], None, "favorevole"),
                       (members[chair.id], None, "contrario")}  # fmt: skip
    closed, _ = await act(db, voting.do_close_vote, chair, meeting.id, vote.id)
    assert closed.result is not None
    assert closed.result["favorevoli"] == [ivrea.name]
    assert closed.result["contrari"] == [chair.name]
    assert closed.result["not_voting"] == [tecnico.name]  # present, no ballot
    log = await _log(db, meeting.id)
    assert [action for action, _ in log] == [
        "check_in", "opened", "vote_opened", "check_in", "check_in", "left", "back", "left",
        "vote_closed",
    ]  # fmt: skip
    assert log[0][1] == {"member": chair.name, "user": chair.name, "guest": False}
    assert log[2][1] == {"vote_id": vote.id, "motion": "Parere sul piano della mobilità",
                         "without_quorum": True, "present": 1, "required": 2}  # fmt: skip


async def test_a_guest_of_a_body_of_people_does_not_vote(db: Database, world: World) -> None:
    meeting = await _council(db, world)
    await act(db, attendance.do_join_as_guest, world["staff"], meeting.id)
    room = await room_of(db, meeting.id)
    assert [a.user_id for a in room.guests] == [world["staff"].id]
    assert len(room.present_member_ids) == 1
    assert (await _log(db, meeting.id))[-1] == (
        "check_in",
        {"user": world["staff"].name, "guest": True},
    )


async def test_the_vote_form_asks_before_opening_without_quorum(
    db: Database, world: World, login_as: Login
) -> None:
    meeting = await _council(db, world)
    chair = await login_as("portavoce5")
    page = parse(await chair.get(f"/meetings/{meeting.id}"))
    methods = [
        o["value"] for o in page.select("[data-testid=open-vote-form] select#vote-method option")
    ]
    assert methods == ["appello_nominale", "elettronico", "segreto"]
    form = {"motion": "Parere sul piano", "text": "Si approva il piano.", "method": "segreto"}
    asked = await chair.post(f"/meetings/{meeting.id}/votes", form)
    assert asked.status_code == 200  # a question: the form, kept, and the confirmation
    assert text_of(asked, "[data-testid=quorum-confirm] p") == italian(
        NO_QUORUM, present=1, required=2
    )
    confirm = parse(asked).select_one("[data-testid=quorum-confirm-form]")
    assert confirm is not None
    hidden = {str(i["name"]): str(i.get("value", "")) for i in confirm.select("input[type=hidden]")}
    assert {k: hidden[k] for k in ("motion", "text", "method", "without_quorum")} == {
        **form,
        "without_quorum": "1",
    }
    async with db.session() as session:
        assert await session.scalar(select(Vote.id)) is None
    done = await chair.post(f"/meetings/{meeting.id}/votes", {**form, "without_quorum": "1"})
    assert done.status_code == 303
    async with db.session() as session:
        vote = await session.scalar(select(Vote))
    assert vote is not None and vote.secret and vote.method == VoteMethod.SECRET
    assert vote.without_quorum and vote.text == "Si approva il piano."
    # A member sees the vote, its method and the button to check in first.
    member = await login_as("sindaco9")
    room = await member.get(f"/meetings/{meeting.id}")
    assert text_of(room, "[data-testid=vote-method]") == italian("by secret ballot")
    assert parse(room).select_one("[data-testid=checkin]") is not None
    assert text_of(room, "#room-vote .text-muted:last-of-type") == italian("Check in to vote.")


async def test_bad_vote_methods_are_refused(db: Database, world: World) -> None:
    meeting = await _council(db, world)
    chair = world["portavoce5"]
    await act(db, attendance.do_join_as_guest, world["sindaco9"], meeting.id)
    await refused(
        db, ActionError, "Choose how the vote is taken.",
        lambda uow: voting.do_open_vote(uow, chair, meeting.id, "Parere", method="alzata"),
    )  # fmt: skip
    await refused(
        db, ActionError, "A secret vote is taken by secret ballot.",
        lambda uow: voting.do_open_vote(uow, chair, meeting.id, "Parere", secret=True,
                                        method="appello_nominale"),
    )  # fmt: skip


@pytest.mark.parametrize("missing", [True, False])
async def test_a_double_majority_vote_needs_every_population_to_open(
    db: Database, world: World, missing: bool
) -> None:
    body = await make_body(db, "Assemblea ZO 5", zones=(5,), majority=Majority.DOUBLE.value)
    chair = world["portavoce5"]
    meeting = await body_meeting(db, world["staff"], body, chair_email=chair.email)
    if missing:
        async with db.transaction() as uow:
            await uow.session.execute(
                update(Comune).where(Comune.name == "Torre Pellice").values(population=None)
            )
    for key, istat in (("portavoce5", CUMIANA), ("sindaco5", "001191")):
        await act(db, attendance.do_check_in, world[key], meeting.id, await comune_id(db, istat))
    luserna = await add_sindaco(db, "sindaco-luserna", "001139")
    await act(db, attendance.do_check_in, luserna, meeting.id, await comune_id(db, "001139"))
    await act(db, actions.do_open, chair, meeting.id)
    if missing:
        error = await refused(db, Conflict, NO_POPULATION, voting.do_open_vote, chair,
                              meeting.id, "Parere sul PSM")  # fmt: skip
        assert error.params == {"names": "Torre Pellice"}
    else:
        # Never secret: the population in favour would tell who voted how.
        await refused(
            db, ActionError, voting.SECRET_DOUBLE,
            lambda uow: voting.do_open_vote(uow, chair, meeting.id, "Parere sul PSM",
                                            secret=True),
        )  # fmt: skip
        vote, _ = await act(db, voting.do_open_vote, chair, meeting.id, "Parere sul PSM")
        assert vote.without_quorum is False  # 3 of 4 present, 3 required


async def test_two_members_of_the_same_name_stay_two(db: Database, world: World) -> None:
    async with db.transaction() as uow:
        namesake = await do_create_user(
            uow, None, email="omonimo@test.collab.it", name=world["sindaco9"].name,
            role="tecnico", password=PASSWORD, comune_istat="001125",
        )  # fmt: skip
    body = await make_body(
        db, "Tavolo degli omonimi",
        people=((world["portavoce5"], "Coordinatore"), (world["sindaco9"], "Sindaco di Ivrea"),
                (namesake, "")),
    )  # fmt: skip
    chair = world["portavoce5"]
    meeting = await body_meeting(db, world["staff"], body, (5,), chair_email=chair.email)
    for user in (chair, world["sindaco9"], namesake):
        await act(db, attendance.do_join_as_guest, user, meeting.id)
    await act(db, actions.do_open, chair, meeting.id)
    vote, _ = await act(db, voting.do_open_vote, chair, meeting.id, "Parere")
    await act(db, voting.do_cast_ballot, world["sindaco9"], meeting.id, vote.id, "favorevole")
    await act(db, voting.do_cast_ballot, namesake, meeting.id, vote.id, "contrario")
    closed, _ = await act(db, voting.do_close_vote, chair, meeting.id, vote.id)
    assert closed.result is not None
    name = world["sindaco9"].name
    assert closed.result["favorevoli"] == [f"{name} (Sindaco di Ivrea)"]
    assert closed.result["contrari"] == [f"{name} (omonimo@test.collab.it)"]
