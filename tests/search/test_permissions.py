"""Search within what each person may read, walked like the pages' permission matrix.

For each role of the world (zones 5 and 9, CMTo) and anonymous visitors: a
thread of another zone is never found, never counted, never in a snippet;
consultations and meetings follow their features' readers; anonymous
visitors find public meetings and published verbali only.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from collab.consultations import actions as consultations
from collab.db import Database
from collab.meetings import actions as meetings
from collab.meetings import floor, minutes
from collab.models import Comune, User
from collab.permissions import Action, can
from collab.search.engine import Filters
from tests.conftest import WORLD_USERS, World
from tests.consultations.scene import open_consultation
from tests.meetings.scene import convene, zone_ids
from tests.search.scene import find, thread

# Each zone's threads carry its own secret word; the metropolitan one too.
SECRET = {5: "ciclovia", 9: "teleriscaldamento", None: "interporto"}
ROLES = [*WORLD_USERS, "anonymous"]


@pytest.fixture
async def boards(db: Database, world: World) -> dict[int | None, int | None]:
    authors = {5: world["sindaco5"], 9: world["sindaco9"], None: world["staff"]}
    zones = await zone_ids(db, 5, 9)
    ids: dict[int | None, int | None] = {5: zones[0], 9: zones[1], None: None}
    for number, word in SECRET.items():
        await thread(
            db, authors[number], f"Progetto {word}", f"Il {word} e il bilancio comune.", zone=number
        )
    return ids


def viewer(world: World, role: str) -> User | None:
    return None if role == "anonymous" else world[role]


@pytest.mark.parametrize("role", ROLES)
async def test_threads_of_the_matrix(
    db: Database, world: World, boards: dict[int | None, int | None], role: str
) -> None:
    user = viewer(world, role)
    readable = {number for number, zone_id in boards.items() if can(user, Action.READ, zone_id)}
    for number, word in SECRET.items():
        found = await find(db, user, word)
        if number in readable:
            assert found.total == 2, (role, word)  # the thread and its first post
        else:
            assert (found.total, list(found.hits)) == (0, []), (role, word)
    # A word all threads share: counted only where readable, nothing else hinted at.
    shared = await find(db, user, "bilancio")
    assert shared.total == len(readable)
    assert {h.zone_id for h in shared.hits} == {boards[n] for n in readable}
    assert all(SECRET[n] not in h.snippet for h in shared.hits for n in SECRET if n not in readable)
    # Asking for the other zone by filter changes nothing.
    for number in (5, 9):
        filtered = await find(db, user, "bilancio", Filters(zone_id=boards[number]))
        assert filtered.total == (1 if number in readable else 0)


def test_the_matrix_is_the_table(world: World, boards: dict[int | None, int | None]) -> None:
    # The walk above takes its expectations from the permission table; this
    # pins them to the documented default (docs/permissions.md), so a change
    # of the table cannot silently widen what search finds.
    expected = {
        "sindaco5": {5, None}, "tecnico5": {5, None}, "portavoce5": {5, None},
        "sindaco9": {9, None}, "tecnico9": {9, None}, "portavoce9": {9, None},
        "staff": {5, 9, None}, "admin": {5, 9, None}, "anonymous": set(),
    }  # fmt: skip
    assert set(expected) == set(ROLES)
    for role, numbers in expected.items():
        user = viewer(world, role)
        readable = {n for n, zone_id in boards.items() if can(user, Action.READ, zone_id)}
        assert readable == numbers, role


async def test_consultations_follow_their_readers(db: Database, world: World) -> None:
    consultation = await open_consultation(db, world["staff"], zones=(5,))
    async with db.transaction() as uow:
        await consultations.do_submit(
            uow, world["sindaco5"], consultation.id, "Pinerolo chiede più corse serali.", []
        )
    for role in ROLES:
        user = viewer(world, role)
        mayors = await find(db, user, "serali")
        plan = await find(db, user, "obbligatorio")
        reads = role in {"sindaco5", "tecnico5", "portavoce5", "staff", "admin"}
        assert (mayors.total, plan.total) == ((1, 1) if reads else (0, 0)), role
        if reads:
            assert mayors.hits[0].kind == "contribution"
            assert mayors.hits[0].context == "Parere sul Piano strategico"


async def test_meetings_members_and_public(db: Database, world: World) -> None:
    closed = await convene(db, world["portavoce9"], zones=(9,), public=True, title="Assemblea ZO9")
    private = await convene(db, world["portavoce5"], zones=(5,), title="Tavolo riservato ZO5")
    async with db.transaction() as uow:
        room = await meetings.do_open(uow, world["portavoce9"], closed.id)
        item = room.items[0]
    async with db.transaction() as uow:
        await floor.do_save_notes(
            uow, world["portavoce9"], closed.id, item.id, "Deciso il sottopasso."
        )
    # Notes are the secretary's draft while the meeting runs.
    assert (await find(db, world["staff"], "sottopasso")).total == 0
    async with db.transaction() as uow:
        await minutes.do_close(uow, world["portavoce9"], closed.id)
    async with db.transaction() as uow:
        await minutes.do_publish_verbale(uow, world["portavoce9"], closed.id)
    for role in ROLES:
        user = viewer(world, role)
        public = await find(db, user, "assemblea")
        kinds = sorted(h.kind for h in public.hits)
        assert kinds == ["meeting", "verbale"], role
        # A member lands on the room, anyone else on the public link.
        member = role in {"sindaco9", "tecnico9", "portavoce9", "staff", "admin"}
        meeting_hit = next(h for h in public.hits if h.kind == "meeting")
        assert meeting_hit.url.startswith("/meetings/" if member else "/m/"), role
        notes = await find(db, user, "sottopasso", Filters(kind="meeting"))
        assert notes.total == 1, role
        secret = await find(db, user, "riservato")
        reads_private = role in {"sindaco5", "tecnico5", "portavoce5", "staff", "admin"}
        assert secret.total == (1 if reads_private else 0), role
    assert private.id != closed.id


async def test_who_reads_is_asked_at_each_search(
    db: Database, world: World, boards: dict[int | None, int | None]
) -> None:
    # A person's zone and active flag are read when they search, not stored
    # in the index: moving or deactivating them needs no reindex.
    async with db.transaction() as uow:
        ivrea = await uow.session.scalar(select(Comune).where(Comune.istat_code == "001125"))
        moved = await uow.session.get(User, world["tecnico5"].id)
        assert ivrea is not None and moved is not None
        moved.comune_id = ivrea.id
    async with db.session() as session:
        tecnico = await session.get(User, world["tecnico5"].id)
    assert (await find(db, tecnico, SECRET[5])).total == 0
    assert (await find(db, tecnico, SECRET[9])).total == 2
    async with db.transaction() as uow:
        gone = await uow.session.get(User, world["sindaco5"].id)
        assert gone is not None
        gone.active = False
    async with db.session() as session:
        inactive = await session.get(User, world["sindaco5"].id)
    assert (await find(db, inactive, "bilancio")).total == 0


async def test_items_of_two_zones_are_found_in_both(db: Database, world: World) -> None:
    consultation = await open_consultation(db, world["staff"], zones=(5, 9))
    async with db.transaction() as uow:
        await consultations.do_submit(
            uow, world["sindaco9"], consultation.id, "Chiediamo la navetta festiva.", []
        )
    for role in ROLES:
        reads = role not in {"anonymous"}
        assert (await find(db, viewer(world, role), "navetta")).total == (1 if reads else 0), role


async def test_typed_words_are_not_the_index_s_scope(
    db: Database, world: World, boards: dict[int | None, int | None]
) -> None:
    """The SQLite index keeps who may read an item as tokens (``z5``, ``zpub``,
    ``zmetro``): typed, they are words, and find nothing here."""
    zone = boards[5]
    for typed in (f"z{zone}", "zpub", "zmetro", f'"z{zone}"', f"bilancio z{zone}"):
        for role in ("sindaco5", "staff", "anonymous"):
            assert (await find(db, viewer(world, role), typed)).total == 0, (typed, role)
