"""The story of a consultation through HTTP: open, submit, receipt, edit, review, answer."""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from sqlalchemy import func, select

from collab.consultations.models import Contribution, ContributionVersion, Status
from collab.db import Database
from collab.documents.models import Blob, StoredFile
from collab.templating import ROME
from tests.conftest import World
from tests.conftest import email as email_of
from tests.consultations.scene import CSV, PDF, PNG, expire, open_consultation
from tests.helpers import (
    Client,
    capture_events,
    italian,
    parse,
    quiet_db,  # noqa: F401 (the db fixture: writes notify people)
    snapshot,
    text_of,
)

Login = Callable[[str], Awaitable[Client]]


def in_days(days: int) -> str:
    """A ``datetime-local`` value, Turin time, ``days`` from now."""
    return (datetime.now(ROME) + timedelta(days=days)).strftime("%Y-%m-%dT%H:%M")


async def test_staff_open_a_consultation_with_drafts(login_as: Login, db: Database) -> None:
    staff = await login_as("staff")
    page = await staff.get("/consultations/new")
    assert page.status_code == 200
    zone5 = parse(page).select_one('input[name="zones"] + label:-soup-contains("Pinerolese")')
    assert zone5 is not None
    zone_value = str(zone5.find_previous("input")["value"])
    async with capture_events(db) as events:
        response = await staff.upload(
            "/consultations/new",
            {"title": "Parere PSM", "body": "Si chiede il parere della zona.",
             "deadline": in_days(30), "zones": [zone_value]},
            [("files", ("bozza.pdf", PDF, "application/pdf"))],
        )  # fmt: skip
    assert response.status_code == 303, response.text
    url = response.headers["location"]
    # Besides the feature's event, the bells of zone 5 (tests/consultations/test_notices.py).
    assert [e.type for e in events if e.type != "notification.changed"] == [
        "consultation.opened",
        "notification.mail_owed",  # a new consultation is e-mailed at once
        "search.text_queued",  # the drafts' text, for search
    ]
    shown = await staff.get(url)
    assert "Parere PSM" in text_of(shown, "h1")
    assert parse(shown).select_one('#consultation-drafts a[href$="bozza.pdf"]') is not None


async def test_open_refused_to_a_sindaco_and_bad_input_changes_nothing(
    login_as: Login, db: Database
) -> None:
    sindaco = await login_as("sindaco5")
    assert (await sindaco.get("/consultations/new")).status_code == 403
    staff = await login_as("staff")
    before = await snapshot(db)
    response = await staff.upload(
        "/consultations/new", {"title": "x", "body": "", "deadline": in_days(30)}
    )
    assert response.status_code == 422
    assert italian("The title must be from 3 to 200 characters long.") in response.text
    past = await staff.upload(
        "/consultations/new",
        {"title": "Parere", "body": "Testo della richiesta.", "deadline": "2001-01-01T10:00"},
    )
    assert past.status_code == 422
    assert await snapshot(db) == before


async def test_submit_receipt_and_live_events(login_as: Login, db: Database, world: World) -> None:
    consultation = await open_consultation(db, world["staff"])
    sindaco = await login_as("sindaco5")
    page = await sindaco.get(f"/consultations/{consultation.id}")
    assert parse(page).select_one('[data-testid="contribution-form"]') is not None
    async with capture_events(db) as events:
        response = await sindaco.upload(
            f"/consultations/{consultation.id}/contributions",
            {"body": "Il Comune di Pinerolo esprime parere favorevole."},
            [("files", ("delibera.pdf", PDF, "application/pdf")),
             ("files", ("mappa.png", PNG, "image/png"))],
        )  # fmt: skip
    assert response.status_code == 303, response.text
    assert [e.type for e in events] == ["contribution.submitted", "search.text_queued"]
    assert set(events[0].topics) == {
        f"consultation:{consultation.id}",
        f"zone:{events[0].zone_ids[0]}",
    }
    receipt = await sindaco.get(response.headers["location"])
    assert receipt.status_code == 200
    assert f"{consultation.id}-0001" in text_of(receipt, "h1")
    shas = [n.get_text() for n in parse(receipt).select('[data-testid="sha256"]')]
    assert shas == [hashlib.sha256(PDF).hexdigest(), hashlib.sha256(PNG).hexdigest()]
    # The other comuni of the zone see it; the file downloads as an attachment.
    tecnico = await login_as("tecnico5")
    listing = await tecnico.get(f"/consultations/{consultation.id}")
    assert "Pinerolo" in text_of(listing, "#contributions")
    link = parse(receipt).select_one('[data-testid="receipt-file"] a')
    assert link is not None
    download = await tecnico.get(str(link["href"]))
    assert download.status_code == 200 and download.content == PDF
    assert download.headers["content-disposition"].startswith("attachment;")
    assert download.headers["x-content-type-options"] == "nosniff"
    partial = await tecnico.get(str(link["href"]), headers={"Range": "bytes=0-3"})
    assert partial.status_code == 206 and partial.content == b"%PDF"
    # Another zone sees neither the consultation nor its files.
    other = await login_as("sindaco9")
    assert (await other.get(f"/consultations/{consultation.id}")).status_code == 404
    assert (await other.get(str(link["href"]))).status_code == 404


async def test_one_contribution_per_comune_and_versions(
    login_as: Login, db: Database, world: World
) -> None:
    consultation = await open_consultation(db, world["staff"])
    sindaco = await login_as("sindaco5")
    url = f"/consultations/{consultation.id}/contributions"
    first = await sindaco.upload(
        url, {"body": "Prima versione."}, [("files", ("a.csv", CSV, "text/csv"))]
    )
    assert first.status_code == 303
    again = await sindaco.upload(url, {"body": "Un altro contributo."})
    assert again.status_code == 409
    async with db.session() as session:
        contribution = await session.scalar(select(Contribution))
        assert contribution is not None
        kept = await session.scalar(select(StoredFile))
        assert kept is not None
    edited = await sindaco.upload(
        f"/contributions/{contribution.id}/edit",
        {"body": "Seconda versione, corretta.", "keep": [str(kept.id)]},
        [("files", ("b.pdf", PDF, "application/pdf"))],
    )
    assert edited.status_code == 303, edited.text
    page = await sindaco.get(f"/contributions/{contribution.id}")
    assert "Seconda versione" in text_of(page, '[data-testid="contribution-body"]')
    async with db.session() as session:
        assert await session.scalar(select(func.count()).select_from(ContributionVersion)) == 2
        # The kept CSV is one content, however many versions carry it.
        assert await session.scalar(select(func.count()).select_from(Blob)) == 2
    old = await sindaco.get(f"/contributions/{contribution.id}/receipt?version=1")
    assert [n.get_text() for n in parse(old).select('[data-testid="sha256"]')] == [
        hashlib.sha256(CSV).hexdigest()
    ]


async def test_deadline_closes_the_form_and_staff_can_extend(
    login_as: Login, db: Database, world: World
) -> None:
    consultation = await open_consultation(db, world["staff"])
    await expire(db, consultation.id)
    sindaco = await login_as("sindaco5")
    before = await snapshot(db)
    late = await sindaco.upload(
        f"/consultations/{consultation.id}/contributions", {"body": "Tardi."}
    )
    assert late.status_code == 409
    assert (
        italian("The deadline of this consultation has passed: contributions are closed.")
        in late.text
    )
    assert await snapshot(db) == before
    page = await sindaco.get(f"/consultations/{consultation.id}")
    assert parse(page).select_one('[data-testid="contribution-form"]') is None
    assert (
        await sindaco.post(f"/consultations/{consultation.id}/extend", {"deadline": in_days(30)})
    ).status_code == 403
    staff = await login_as("staff")
    extended = await staff.post(
        f"/consultations/{consultation.id}/extend", {"deadline": in_days(30)}
    )
    assert extended.status_code == 303
    ok = await sindaco.upload(
        f"/consultations/{consultation.id}/contributions", {"body": "Ora sì."}
    )
    assert ok.status_code == 303


async def test_lifecycle_with_answer(login_as: Login, db: Database, world: World) -> None:
    consultation = await open_consultation(db, world["staff"])
    sindaco = await login_as("sindaco5")
    await sindaco.upload(f"/consultations/{consultation.id}/contributions", {"body": "Proposta."})
    async with db.session() as session:
        contribution = await session.scalar(select(Contribution))
    assert contribution is not None
    url = f"/contributions/{contribution.id}/status"
    assert (await sindaco.post(url, {"status": "under_review"})).status_code == 403
    staff = await login_as("staff")
    skip = await staff.post(url, {"status": "accepted", "answer": "Accolto in pieno."})
    assert skip.status_code == 409  # received -> accepted skips the review
    assert (await staff.post(url, {"status": "under_review"})).status_code == 303
    no_answer = await staff.post(url, {"status": "partly_accepted", "answer": ""})
    assert no_answer.status_code == 422
    async with capture_events(db) as events:
        done = await staff.post(
            url, {"status": "partly_accepted", "answer": "Accolto in parte: si veda la delibera."}
        )
    assert done.status_code == 303
    bells = ("notification.changed", "notification.mail_owed")
    answered = [(e.type, e.status) for e in events if e.type not in bells]
    assert answered == [("contribution.answered", "partly_accepted")]
    page = await sindaco.get(f"/contributions/{contribution.id}")
    assert "Accolto in parte" in text_of(page, '[data-testid="answer"]')
    trail = text_of(page, '[data-testid="trail"]')
    assert trail.count("→") == 2
    # Answered: the comune can no longer change it.
    assert parse(page).select_one('[data-testid="edit-form"]') is None
    refused = await sindaco.upload(f"/contributions/{contribution.id}/edit", {"body": "Modifica."})
    assert refused.status_code == 409
    async with db.session() as session:
        assert (await session.get(Contribution, contribution.id)).status == Status.PARTLY_ACCEPTED  # type: ignore[union-attr]


async def test_the_zone_board_lists_open_consultations(
    login_as: Login, db: Database, world: World
) -> None:
    consultation = await open_consultation(db, world["staff"])
    sindaco = await login_as("sindaco5")
    board = await sindaco.get("/zones/5")
    card = parse(board).select_one(f"#consultation-card-{consultation.id}")
    assert card is not None and "Parere sul Piano strategico" in card.get_text()
    other = await login_as("sindaco9")
    assert (
        parse(await other.get("/zones/9")).select_one(f"#consultation-card-{consultation.id}")
        is None
    )
    await expire(db, consultation.id)
    assert (
        parse(await sindaco.get("/zones/5")).select_one(f"#consultation-card-{consultation.id}")
        is None
    )


async def test_export_has_no_personal_data(login_as: Login, db: Database, world: World) -> None:
    consultation = await open_consultation(db, world["staff"])
    sindaco = await login_as("sindaco5")
    await sindaco.upload(
        f"/consultations/{consultation.id}/contributions",
        {"body": "=SOMMA(A1:A3) parere favorevole"},
        [("files", ("delibera.pdf", PDF, "application/pdf"))],
    )
    assert (await sindaco.get(f"/consultations/{consultation.id}/export.csv")).status_code == 403
    staff = await login_as("staff")
    as_csv = await staff.get(f"/consultations/{consultation.id}/export.csv")
    assert as_csv.status_code == 200
    assert as_csv.headers["content-disposition"].startswith("attachment;")
    text = as_csv.content.decode("utf-8-sig")
    header, row = text.splitlines()[:2]
    assert header.startswith("receipt;comune_istat;comune;zone;status")
    assert f"{consultation.id}-0001;001191;Pinerolo;5;received" in row
    assert "'=SOMMA" in row  # a formula is never run by a spreadsheet
    assert hashlib.sha256(PDF).hexdigest() in row
    as_json = (await staff.get(f"/consultations/{consultation.id}/export.json")).json()
    (record,) = as_json["contributions"]
    assert record["comune_istat"] == "001191" and record["files"][0]["name"] == "delibera.pdf"
    for person in ("sindaco5", email_of("sindaco5")):
        assert person not in text and person.lower() not in str(as_json).lower()
