"""The verbale drafted at the close from the database's record: the body, the session,
the body's members present and absent, guests with their role, the votes' dispositivo
and method, speakers with their times; and a body's own template used at the close.

On SQLite by default, on PostgreSQL with ``DATABASE_URL`` (tests/dbs.py).
"""

from __future__ import annotations

import io
from collections.abc import Awaitable, Callable
from datetime import date

from pypdf import PdfReader
from sqlalchemy import select, update

from collab.db import Database
from collab.i18n import translations
from collab.meetings import actions, attendance, floor, minutes, voting
from collab.meetings.models import (
    Attendance,
    BodyKind,
    BodyMember,
    BodyZone,
    Meeting,
    SessionType,
    Verbale,
    Vote,
    VoteMethod,
    VotingBody,
)
from collab.meetings.room import load_room
from collab.meetings.tally import outcome_text, roll_call, thaw
from collab.models import Comune
from tests.conftest import World
from tests.helpers import Client, parse, text_of
from tests.meetings.scene import comune_id, convene, zone_ids

Login = Callable[[str], Awaitable[Client]]

IT = translations("it")


async def _body(db: Database, template: str = "", show_theme: bool = True) -> int:
    (zone5,) = await zone_ids(db, 5)
    async with db.transaction() as uow:
        body = VotingBody(name="Assemblea dei sindaci ZO 5", kind=BodyKind.COMUNI,
                          show_theme=show_theme, verbale_template=template)  # fmt: skip
        uow.session.add(body)
        await uow.session.flush()
        uow.session.add(BodyZone(body_id=body.id, zone_id=zone5))
        return body.id


async def _held(db: Database, world: World, body_id: int) -> int:
    """A session of the body, held: two comuni and a guest, a speech, a vote, one leaves."""
    staff, chair, mayor, officer = (
        world[k] for k in ("staff", "portavoce5", "sindaco5", "tecnico5")
    )
    meeting = await convene(db, staff, (5,), items=2)
    async with db.transaction() as uow:
        await uow.session.execute(
            update(Meeting).where(Meeting.id == meeting.id).values(
                body_id=body_id, session_number=4, session_type=SessionType.STRAORDINARIA,
                call=2, notice_date=date(2026, 11, 10), notice_protocol="4567/2026",
                chair_id=chair.id, vice_chair_id=mayor.id, secretary_id=staff.id,
            )
        )  # fmt: skip
    room = await minutes_room(db, meeting.id)
    async with db.transaction() as uow:
        await actions.do_open(uow, chair, meeting.id)
    async with db.transaction() as uow:
        await actions.do_set_item(uow, chair, meeting.id, room.items[0].id)
    async with db.transaction() as uow:
        await attendance.do_check_in(uow, mayor, meeting.id, await comune_id(db, "001191"))
    async with db.transaction() as uow:
        await attendance.do_check_in(uow, chair, meeting.id, await comune_id(db, "001097"))
    async with db.transaction() as uow:
        await attendance.do_join_as_guest(uow, officer, meeting.id)
    async with db.transaction() as uow:
        hand = await floor.do_raise_hand(uow, mayor, meeting.id)
    async with db.transaction() as uow:
        await floor.do_grant_floor(uow, chair, meeting.id, hand.id)
    async with db.transaction() as uow:
        await floor.do_end_floor(uow, chair, meeting.id)
    async with db.transaction() as uow:
        vote = await voting.do_open_vote(uow, chair, meeting.id, "Parere sul Piano strategico")
    async with db.transaction() as uow:
        await uow.session.execute(
            update(Vote).where(Vote.id == vote.id).values(
                text="Si **esprime parere favorevole** al Piano.", method=VoteMethod.ELECTRONIC,
            )
        )  # fmt: skip
    async with db.transaction() as uow:
        await voting.do_cast_ballot(uow, mayor, meeting.id, vote.id, "favorevole")
    async with db.transaction() as uow:
        await voting.do_cast_ballot(uow, chair, meeting.id, vote.id, "favorevole")
    async with db.transaction() as uow:
        await voting.do_close_vote(uow, chair, meeting.id, vote.id)
    async with db.transaction() as uow:
        await attendance.do_check_out(uow, mayor, meeting.id)  # Pinerolo leaves before the close
    async with db.transaction() as uow:
        await minutes.do_close(uow, chair, meeting.id)
    return meeting.id


async def minutes_room(db: Database, meeting_id: int):  # type: ignore[no-untyped-def]
    async with db.session() as session:
        room = await load_room(session, meeting_id)
    assert room is not None
    return room


async def _source(db: Database, meeting_id: int) -> str:
    async with db.session() as session:
        verbale = await session.scalar(select(Verbale).where(Verbale.meeting_id == meeting_id))
    assert verbale is not None
    return verbale.source


async def test_the_draft_is_written_from_the_body_s_record(db: Database, world: World) -> None:
    meeting_id = await _held(db, world, await _body(db))
    lines = (await _source(db, meeting_id)).splitlines()
    room = await minutes_room(db, meeting_id)
    assert lines[0] == "# Verbale della seduta n. 4 — Assemblea dei sindaci ZO 5"
    assert "**Seduta straordinaria, in seconda convocazione** — ZO 5 Pinerolese" in lines
    assert "Convocata con avviso del 10 novembre 2026, protocollo n. 4567/2026." in lines
    assert "**Presiede**: Portavoce5, Portavoce di zona, sindaco di Cumiana." in lines
    assert "**Vicepresidente**: Sindaco5, Sindaco di Pinerolo." in lines
    assert "**Segretario verbalizzante**: Staff, Città metropolitana di Torino." in lines

    # Attendance: the body's members (the comuni of ZO 5), who checked them in, who left.
    async with db.session() as session:
        zone5 = list(
            await session.scalars(
                select(Comune.name).where(Comune.zone_id == room.zones[0].id).order_by(Comune.name)
            )
        )
    (present,) = [ln for ln in lines if ln.startswith("**Presenti (")]
    assert present.startswith(f"**Presenti (2 su {len(zone5)})**: Cumiana (Portavoce5); ")
    assert "Pinerolo (Sindaco5), fino alle " in present
    (absent,) = [ln for ln in lines if ln.startswith("**Assenti (")]
    expected = [name for name in zone5 if name not in ("Cumiana", "Pinerolo")]
    assert absent == f"**Assenti ({len(expected)})**: {', '.join(expected)}."
    assert (
        "**Presenti senza diritto di voto**: Tecnico5 "
        "(Funzionario del Comune di Luserna San Giovanni, ZO 5 Pinerolese)."
    ) in lines

    # The point: its theme (the body shows it), the speaker with the time, the vote.
    item = room.items[0]
    heading = lines.index(f"## 1. {item.title}")
    assert lines[heading + 2] == f"*Tema: {item.theme.name}*"
    (spoke,) = [ln for ln in lines if ln.startswith("**Interventi**:")]
    assert spoke.startswith("**Interventi**: Sindaco5 (Pinerolo), alle ")
    assert "**OGGETTO**: Parere sul Piano strategico" in lines
    assert "Si **esprime parere favorevole** al Piano." in lines
    assert (
        "Il presidente pone in votazione la proposta in modo palese, mediante sistema elettronico."
    ) in lines
    vote = room.closed_votes[0].vote
    assert vote.result is not None
    outcome = thaw(vote.result)
    assert roll_call(outcome, IT.gettext, IT.ngettext) + "." in lines
    assert f"**Esito**: {outcome_text(outcome, IT.gettext)}." in lines
    assert (
        "Hanno espresso il voto per i comuni: Cumiana (Portavoce5); Pinerolo (Sindaco5)." in lines
    )
    # The chair's actions, from the meeting log the actions write.
    actions = [ln.split(" — ", 1)[1] for ln in lines if ln.startswith("- ") and " — " in ln]
    assert "Portavoce5 apre la votazione su: Parere sul Piano strategico." in actions
    assert "Portavoce5 chiude la votazione su: Parere sul Piano strategico." in actions
    assert "Portavoce5 dichiara chiusa la seduta." in actions  # logged before the draft
    signatures = "| Portavoce di zona, sindaco di Cumiana | Città metropolitana di Torino |"
    assert lines[-2:] == ["| Portavoce5 | Staff |", signatures]


async def test_no_theme_line_when_the_body_does_not_want_it(db: Database, world: World) -> None:
    meeting_id = await _held(db, world, await _body(db, show_theme=False))
    source = await _source(db, meeting_id)
    assert "*Tema:" not in source


async def test_the_body_s_own_template_writes_the_draft(db: Database, world: World) -> None:
    template = (
        "# {{ body.name }}\n\nSeduta n. {{ meeting.number }}, {{ present|length }} presenti.\n"
    )
    meeting_id = await _held(db, world, await _body(db, template=template))
    assert (
        await _source(db, meeting_id)
        == "# Assemblea dei sindaci ZO 5\n\nSeduta n. 4, 2 presenti.\n"
    )


async def test_a_meeting_without_a_body_keeps_the_convened_comuni(
    db: Database, world: World
) -> None:
    chair, mayor = world["portavoce5"], world["sindaco5"]
    meeting = await convene(db, world["staff"], (5,))
    async with db.transaction() as uow:
        await actions.do_open(uow, chair, meeting.id)
    async with db.transaction() as uow:
        await attendance.do_check_in(uow, mayor, meeting.id, await comune_id(db, "001191"))
    async with db.transaction() as uow:
        await minutes.do_close(uow, chair, meeting.id)
    lines = (await _source(db, meeting.id)).splitlines()
    assert lines[0] == "# Verbale della seduta"
    assert "**Giornata di sintesi**" in lines
    assert "**Seduta ordinaria, in prima convocazione** — ZO 5 Pinerolese" in lines
    (present,) = [ln for ln in lines if ln.startswith("**Presente (")]
    assert present.endswith("**: Pinerolo (Sindaco5).")
    assert not any(ln.startswith("*Tema:") for ln in lines)


async def test_the_pdf_of_the_body_s_verbale_is_pdf_a_with_its_heading_once(
    db: Database, world: World, login_as: Login
) -> None:
    meeting_id = await _held(db, world, await _body(db))
    chair = await login_as("portavoce5")
    response = await chair.get(f"/meetings/{meeting_id}/verbale.pdf")
    assert response.status_code == 200
    reader = PdfReader(io.BytesIO(response.content))
    heading = "Verbale della seduta n. 4 — Assemblea dei sindaci ZO 5"
    pages = [" ".join((page.extract_text() or "").split()) for page in reader.pages]
    # The body's heading, no meeting header above it; on later pages, the running header.
    assert pages[0].startswith(heading) and pages[0].count(heading) == 1
    assert all(page.count(heading) == 1 for page in pages[1:])
    assert reader.metadata is not None and reader.metadata.title == heading
    assert "/StructTreeRoot" in reader.trailer["/Root"]
    xmp = reader.xmp_metadata
    assert xmp is not None and 'pdfaid:part="3"' in xmp.rdf_root.toxml()
    page = await chair.get(f"/meetings/{meeting_id}/verbale")
    assert parse(page).select_one("article#verbale .verbale-head") is None
    assert text_of(page, "article#verbale .verbale-body h1") == heading


async def test_a_body_of_people_lists_its_members_with_titles(db: Database, world: World) -> None:
    staff, chair = world["staff"], world["portavoce5"]
    async with db.transaction() as uow:
        body = VotingBody(name="Tavolo tecnico della mobilità", kind=BodyKind.PEOPLE)
        uow.session.add(body)
        await uow.session.flush()
        titles = {"portavoce5": "Coordinatore", "sindaco5": "Componente", "sindaco9": "Componente",
                  "tecnico9": "Dirigente"}  # fmt: skip
        for position, (key, title) in enumerate(titles.items()):
            uow.session.add(BodyMember(body_id=body.id, user_id=world[key].id, title=title,
                                       position=position))  # fmt: skip
        body_id = body.id
    meeting = await convene(db, staff, (5,), items=1)
    async with db.transaction() as uow:
        await uow.session.execute(
            update(Meeting)
            .where(Meeting.id == meeting.id)
            .values(body_id=body_id, chair_id=chair.id)
        )
    async with db.transaction() as uow:
        await actions.do_open(uow, chair, meeting.id)
    async with db.transaction() as uow:  # present: two members and a guest (not a member)
        for key in ("portavoce5", "sindaco5", "tecnico5"):
            uow.session.add(Attendance(meeting_id=meeting.id, user_id=world[key].id,
                                       voting=key != "tecnico5"))  # fmt: skip
    async with db.transaction() as uow:
        await minutes.do_close(uow, chair, meeting.id)
    lines = (await _source(db, meeting.id)).splitlines()
    assert lines[0] == "# Verbale della seduta — Tavolo tecnico della mobilità"
    assert "**Presiede**: Portavoce5, Coordinatore." in lines
    assert "**Presenti (2 su 4)**: Portavoce5, Coordinatore; Sindaco5, Componente." in lines
    assert "**Assenti (2)**: Sindaco9, Tecnico9." in lines
    assert (
        "**Presenti senza diritto di voto**: Tecnico5 "
        "(Funzionario del Comune di Luserna San Giovanni, ZO 5 Pinerolese)."
    ) in lines
    assert lines[-2:] == ["| Portavoce5 |  |", "| Coordinatore |  |"]  # no secretary named
