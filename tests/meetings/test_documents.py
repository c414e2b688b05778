"""A meeting's documents over HTTP: calendars, the verbale's page, edit, publication, PDF."""

from __future__ import annotations

import io
from collections.abc import Awaitable, Callable

import httpx
from pypdf import PdfReader
from sqlalchemy import func, select
from starlette.applications import Starlette

from collab.db import Database
from collab.meetings import actions, attendance, minutes, voting
from collab.meetings.models import Meeting, Verbale, VerbaleRevision
from collab.meetings.room import load_room
from tests.conftest import World
from tests.helpers import Client, italian, parse, snapshot, text_of
from tests.meetings.scene import comune_id, convene

Login = Callable[[str], Awaitable[Client]]


def _unfold(response: httpx.Response) -> list[str]:
    """The content lines of an iCalendar body (CRLF, folded lines joined)."""
    text = response.text
    assert text.endswith("\r\n")
    return text[:-2].replace("\r\n ", "").split("\r\n")


def _events(lines: list[str]) -> list[dict[str, str]]:
    events: list[dict[str, str]] = []
    for line in lines:
        if line == "BEGIN:VEVENT":
            events.append({})
        elif events and line != "END:VEVENT" and ":" in line:
            name, value = line.split(":", 1)
            events[-1].setdefault(name, value)
    return events


async def _revision(db: Database, meeting_id: int) -> int:
    async with db.session() as session:
        value = await session.scalar(select(Meeting.revision).where(Meeting.id == meeting_id))
    assert value is not None
    return value


async def test_a_meeting_calendar(
    login_as: Login, db: Database, world: World, app: Starlette
) -> None:
    meeting = await convene(db, world["staff"], (5, 6), title="Giornata di sintesi; PSM")
    mayor = await login_as("sindaco5")
    response = await mayor.get(f"/meetings/{meeting.id}/calendar.ics")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/calendar; charset=utf-8"
    assert response.headers["content-disposition"] == (
        f'attachment; filename="riunione-{meeting.id}.ics"'
    )
    base = app.state.services.settings.base_url
    host = httpx.URL(base).host
    lines = _unfold(response)
    assert lines[0] == "BEGIN:VCALENDAR" and lines[-1] == "END:VCALENDAR"
    (event,) = _events(lines)
    assert event["UID"] == f"meeting-{meeting.id}@{host}"
    assert event["SUMMARY"] == "Giornata di sintesi\\; PSM"
    assert event["SEQUENCE"] == str(await _revision(db, meeting.id))
    assert event["URL"] == f"{base}/meetings/{meeting.id}"
    assert event["STATUS"] == "CONFIRMED"

    async with db.transaction() as uow:  # a change the calendar must pick up
        await actions.do_cancel(uow, world["staff"], meeting.id)
    (later,) = _events(_unfold(await mayor.get(f"/meetings/{meeting.id}/calendar.ics")))
    assert later["UID"] == event["UID"]
    assert int(later["SEQUENCE"]) == await _revision(db, meeting.id) > int(event["SEQUENCE"])
    assert later["STATUS"] == "CANCELLED"


async def test_who_may_fetch_a_meeting_calendar(
    login_as: Login, db: Database, world: World, new_client: Callable[[], Client]
) -> None:
    meeting = await convene(db, world["staff"], (5,))
    url = f"/meetings/{meeting.id}/calendar.ics"
    for key in ["tecnico5", "staff", "admin"]:
        assert (await (await login_as(key)).get(url)).status_code == 200, key
    assert (await (await login_as("sindaco9")).get(url)).status_code == 404  # not revealed
    assert (await (await login_as("staff")).get("/meetings/999999/calendar.ics")).status_code == 404
    anonymous = await new_client().get(url, follow_redirects=False)
    assert anonymous.status_code == 303


async def test_a_zone_calendar(login_as: Login, db: Database, world: World, app: Starlette) -> None:
    joint = await convene(db, world["staff"], (5, 6), title="Congiunta ZO 5 e ZO 6")
    own = await convene(db, world["portavoce5"], (5,), title="Assemblea ZO 5")
    other = await convene(db, world["staff"], (9,), title="Assemblea ZO 9")
    mayor = await login_as("sindaco5")
    response = await mayor.get("/zones/5/meetings.ics")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/calendar; charset=utf-8"
    assert response.headers["content-disposition"].startswith("attachment;")
    lines = _unfold(response)
    assert (
        f"X-WR-CALNAME:{italian('Meetings of ZO %(number)d %(name)s', number=5, name='Pinerolese')}"
        in lines
    )
    assert "X-WR-CALNAME:Riunioni ZO 5 Pinerolese" in lines
    events = _events(lines)
    host = httpx.URL(app.state.services.settings.base_url).host
    assert [e["UID"] for e in events] == [f"meeting-{m.id}@{host}" for m in (joint, own)]
    assert [e["SUMMARY"] for e in events] == ["Congiunta ZO 5 e ZO 6", "Assemblea ZO 5"]
    assert all(e["SEQUENCE"] == "0" for e in events)
    assert f"meeting-{other.id}@{host}" not in response.text
    # ZO 6's calendar has the joint meeting too; ZO 9's is not for a mayor of ZO 5.
    staff = await login_as("staff")
    zo6 = _events(_unfold(await staff.get("/zones/6/meetings.ics")))
    assert [e["SUMMARY"] for e in zo6] == ["Congiunta ZO 5 e ZO 6"]
    assert (await mayor.get("/zones/9/meetings.ics")).status_code == 403
    assert (await mayor.get("/zones/99/meetings.ics")).status_code == 404


async def _closed_meeting(db: Database, world: World, *, public: bool = False) -> tuple[int, str]:
    """A meeting of ZO 5 held and closed with one vote; its id and the roll-call line."""
    staff, mayor, chair = world["staff"], world["sindaco5"], world["portavoce5"]
    meeting = await convene(db, staff, (5,), public=public)
    pinerolo = await comune_id(db, "001191")
    cumiana = await comune_id(db, "001097")
    async with db.transaction() as uow:
        await actions.do_open(uow, chair, meeting.id)
    async with db.transaction() as uow:
        await attendance.do_check_in(uow, mayor, meeting.id, pinerolo)
    async with db.transaction() as uow:
        await attendance.do_check_in(uow, chair, meeting.id, cumiana)
    async with db.transaction() as uow:
        vote = await voting.do_open_vote(uow, chair, meeting.id, "Parere favorevole sul PSM")
    async with db.transaction() as uow:
        await voting.do_cast_ballot(uow, mayor, meeting.id, vote.id, "favorevole")
    async with db.transaction() as uow:
        await voting.do_cast_ballot(uow, chair, meeting.id, vote.id, "contrario")
    async with db.transaction() as uow:
        await voting.do_close_vote(uow, chair, meeting.id, vote.id)
    async with db.transaction() as uow:
        await minutes.do_close(uow, chair, meeting.id)
    async with db.session() as session:
        room = await load_room(session, meeting.id)
    assert room is not None and room.verbale is not None
    (line,) = [ln for ln in room.verbale.source.splitlines() if ln.startswith("2 presenti, ")]
    assert "1 favorevole (Pinerolo)" in line and "1 contrario (Cumiana)" in line
    return meeting.id, line.rstrip(".")


def _flat(text: str) -> str:
    return " ".join(text.split())


async def _verbale(db: Database, meeting_id: int) -> Verbale:
    async with db.session() as session:
        verbale = await session.scalar(select(Verbale).where(Verbale.meeting_id == meeting_id))
    assert verbale is not None
    return verbale


async def test_no_verbale_before_the_close(login_as: Login, db: Database, world: World) -> None:
    meeting = await convene(db, world["staff"], (5,))
    chair = await login_as("portavoce5")
    for url in [f"/meetings/{meeting.id}/verbale", f"/meetings/{meeting.id}/verbale.pdf"]:
        response = await chair.get(url)
        assert response.status_code == 404
        assert italian("This meeting has no verbale yet.") in response.text


async def test_the_draft_is_for_the_chair_edit_then_publish(
    login_as: Login, db: Database, world: World
) -> None:
    meeting_id, roll_call = await _closed_meeting(db, world)
    url = f"/meetings/{meeting_id}/verbale"
    chair, mayor = await login_as("portavoce5"), await login_as("sindaco5")

    # The draft: the chair sees it with its editor; a mayor of the zone does not.
    page = await chair.get(url)
    assert page.status_code == 200
    assert roll_call in _flat(text_of(page, "article#verbale .verbale-body"))
    source = parse(page).select_one('form[data-testid="verbale-edit"] textarea[name="source"]')
    assert source is not None and roll_call in source.get_text()
    assert parse(page).select_one('form[action$="/verbale/publish"]') is not None
    assert parse(page).select_one('[data-testid="verbale-pdf"]') is None
    for target in [url, f"{url}.pdf"]:
        assert (await mayor.get(target)).status_code == 404
    assert (await (await login_as("sindaco9")).get(url)).status_code == 404

    # An edit keeps the previous text as a revision.
    old = await _verbale(db, meeting_id)
    edited = old.source + "\nIl segretario ringrazia i presenti.\n"
    response = await chair.post(url, {"source": edited})
    assert response.status_code == 303 and response.headers["location"] == url
    verbale = await _verbale(db, meeting_id)
    assert verbale.source == edited.strip() + "\n"
    assert "Il segretario ringrazia i presenti." in verbale.html
    async with db.session() as session:
        revisions = list(await session.scalars(select(VerbaleRevision)))
    assert [r.source for r in revisions] == [old.source]
    assert revisions[0].edited_by_id == world["portavoce5"].id

    # An empty text is refused next to the field, and changes nothing.
    before = await snapshot(db)
    refused = await chair.post(url, {"source": "   "})
    assert refused.status_code == 422
    assert text_of(refused, "#source ~ .invalid-feedback") == italian("The verbale is empty.")
    assert await snapshot(db) == before
    assert (await mayor.post(url, {"source": "Riscritto."})).status_code == 403
    assert await snapshot(db) == before

    # Publication: a mayor of the zone may read it now, with its PDF.
    assert (await mayor.post(f"{url}/publish")).status_code == 403
    published = await chair.post(f"{url}/publish", {"confirmed": "1"})
    assert published.status_code == 303
    page = await mayor.get(url)
    assert page.status_code == 200
    assert roll_call in _flat(text_of(page, "article#verbale"))
    pdf_link = parse(page).select_one('a[data-testid="verbale-pdf"]')
    assert pdf_link is not None and pdf_link["href"] == f"{url}.pdf"
    assert pdf_link.get_text(strip=True) == italian("Download the PDF")
    chair_page = await chair.get(url)
    assert parse(chair_page).select_one('textarea[name="source"]') is None

    # Published means frozen: editing or publishing again is a 409, changing nothing.
    before = await snapshot(db)
    again = await chair.post(url, {"source": "Un altro testo."})
    assert again.status_code == 409
    assert italian("The verbale is published: it can no longer be changed.") in again.text
    assert (await chair.post(f"{url}/publish")).status_code == 409
    assert await snapshot(db) == before


async def test_the_pdf_has_the_roll_call(login_as: Login, db: Database, world: World) -> None:
    meeting_id, roll_call = await _closed_meeting(db, world)
    chair = await login_as("portavoce5")
    draft_pdf = await chair.get(f"/meetings/{meeting_id}/verbale.pdf")
    assert draft_pdf.status_code == 200  # the chair may check the draft's layout
    await chair.post(f"/meetings/{meeting_id}/verbale/publish", {"confirmed": "1"})
    response = await (await login_as("tecnico5")).get(f"/meetings/{meeting_id}/verbale.pdf")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/pdf"
    assert response.headers["content-disposition"] == (
        f'attachment; filename="verbale-riunione-{meeting_id}.pdf"'
    )
    assert response.content.startswith(b"%PDF-")
    text = _flat(" ".join(p.extract_text() for p in PdfReader(io.BytesIO(response.content)).pages))
    assert roll_call in text
    assert "Giornata di sintesi" in text
    assert (
        await (await login_as("sindaco9")).get(f"/meetings/{meeting_id}/verbale.pdf")
    ).status_code == 404


async def test_the_public_verbale(
    login_as: Login, db: Database, world: World, new_client: Callable[[], Client]
) -> None:
    meeting_id, roll_call = await _closed_meeting(db, world, public=True)
    async with db.session() as session:
        token = await session.scalar(select(Meeting.public_token).where(Meeting.id == meeting_id))
        assert await session.scalar(select(func.count()).select_from(Verbale)) == 1
    assert token
    visitor = new_client()
    assert (await visitor.get(f"/m/{token}/verbale")).status_code == 404  # a draft
    await (await login_as("portavoce5")).post(
        f"/meetings/{meeting_id}/verbale/publish", {"confirmed": "1"}
    )
    response = await visitor.get(f"/m/{token}/verbale")
    assert response.status_code == 200
    assert response.headers["referrer-policy"] == "same-origin"
    assert roll_call in _flat(text_of(response, "article#verbale"))
    assert parse(response).select_one('textarea[name="source"]') is None
    assert (await visitor.get("/m/not-a-token/verbale")).status_code == 404


async def test_a_private_meeting_has_no_public_verbale(
    login_as: Login, db: Database, world: World, new_client: Callable[[], Client]
) -> None:
    meeting_id, _line = await _closed_meeting(db, world, public=False)
    await (await login_as("portavoce5")).post(
        f"/meetings/{meeting_id}/verbale/publish", {"confirmed": "1"}
    )
    # A private meeting has no token: whatever is guessed, nothing is found.
    assert (await new_client().get("/m/None/verbale")).status_code == 404
    assert (await new_client().get("/m//verbale")).status_code == 404
