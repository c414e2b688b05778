"""Odd input at the edges: huge ids, NUL bytes. Each gets a clean answer, never a 500."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
from sqlalchemy import select

from collab.consultations.models import Contribution
from collab.db import Database
from collab.models import Comune
from tests.conftest import World
from tests.consultations.scene import open_consultation
from tests.helpers import Client, italian, parse, snapshot, text_of


@pytest.mark.parametrize(
    "url",
    [
        "/threads/2147483648",  # past PostgreSQL's 32-bit INTEGER
        "/threads/99999999999999999999",  # past 64 bits
        "/posts/2147483648/history",
        "/zones/2147483648",
        "/admin/users/2147483648",
        "/metro/a%00b",  # NUL in a slug
        "/zones/5/a%00b",
    ],
)
async def test_unknown_objects_are_404(
    login_as: Callable[[str], Awaitable[Client]], url: str
) -> None:
    admin = await login_as("admin")
    response = await admin.get(url)
    assert response.status_code == 404
    assert parse(response).select_one(".alert-danger") is not None


async def test_nul_in_admin_search(login_as: Callable[[str], Awaitable[Client]]) -> None:
    admin = await login_as("admin")
    response = await admin.get("/admin/users", params={"q": "\x00sindaco5"})
    assert response.status_code == 200
    emails = [td.get_text(strip=True) for td in parse(response).select("[data-testid=users] td")]
    assert "sindaco5@test.collab.it" in emails


async def test_nul_in_a_post_is_dropped(login_as: Callable[[str], Awaitable[Client]]) -> None:
    mayor = await login_as("sindaco5")
    response = await mayor.post(
        "/zones/5/trasporti-mobilita/new", {"title": "Orari\x00 bus", "body": "Testo\x00 pulito"}
    )
    assert response.status_code == 303
    page = await mayor.get(response.headers["location"])
    assert parse(page).select_one("h1").get_text(strip=True) == "Orari bus"


# Digits that str.isdigit() accepts and int() refuses (superscripts): the
# fuzz suite (tests/fuzz) found each of these answering 500.
SUPERSCRIPT = "²"


@pytest.mark.parametrize(
    "url",
    [
        f"/threads/1?page={SUPERSCRIPT}",
        f"/notifications?page={SUPERSCRIPT}",
        f"/admin/users?page={SUPERSCRIPT}",
        f"/admin/comuni?zone={SUPERSCRIPT}",
    ],
)
async def test_superscript_digits_in_a_query_are_ignored(
    login_as: Callable[[str], Awaitable[Client]], url: str
) -> None:
    admin = await login_as("admin")
    response = await admin.get(url)
    assert response.status_code in (200, 404)


async def test_superscript_zone_of_a_comune_is_refused(
    login_as: Callable[[str], Awaitable[Client]], db: Database
) -> None:
    admin = await login_as("admin")
    async with db.session() as session:
        comune = await session.scalar(select(Comune).where(Comune.istat_code == "001191"))
    assert comune is not None
    before = await snapshot(db)
    response = await admin.post(
        f"/admin/comuni/{comune.id}", {"name": comune.name, "zone": SUPERSCRIPT}
    )
    assert response.status_code == 422
    assert text_of(response, ".invalid-feedback, .alert-danger") == italian("Choose a valid zone.")
    assert await snapshot(db) == before


async def test_superscript_zone_in_a_comuni_csv_is_reported(
    login_as: Callable[[str], Awaitable[Client]], db: Database
) -> None:
    admin = await login_as("admin")
    before = await snapshot(db)
    csv = f"001191;Pinerolo;{SUPERSCRIPT}\n".encode()
    response = await admin.upload(
        "/admin/comuni/import", files=[("file", ("comuni.csv", csv, "text/csv"))]
    )
    assert response.status_code == 422
    assert await snapshot(db) == before


async def test_superscript_ids_in_a_consultation_form_are_ignored(
    login_as: Callable[[str], Awaitable[Client]], world: World, db: Database
) -> None:
    consultation = await open_consultation(db, world["staff"])
    staff = await login_as("staff")
    response = await staff.post(
        f"/consultations/{consultation.id}/edit",
        {"title": "Parere sul Piano", "body": "Testo del parere.", "themes": SUPERSCRIPT},
    )
    assert response.status_code in (303, 422)
    opened = await staff.upload(
        "/consultations/new",
        data={"title": "Parere", "body": "Testo", "deadline": "2030-01-01T10:00",
              "zones": SUPERSCRIPT, "themes": SUPERSCRIPT},
    )  # fmt: skip
    assert opened.status_code == 422
    mayor = await login_as("sindaco5")
    sent = await mayor.upload(
        f"/consultations/{consultation.id}/contributions", data={"body": "Il parere del comune."}
    )
    assert sent.status_code == 303
    async with db.session() as session:
        contribution_id = await session.scalar(select(Contribution.id))
    contribution = f"/contributions/{contribution_id}"
    page = await mayor.get(f"{contribution}?version={SUPERSCRIPT}")
    assert page.status_code == 200
    edited = await mayor.upload(
        f"{contribution}/edit", data={"body": "Il parere, corretto.", "keep": SUPERSCRIPT}
    )
    assert edited.status_code == 303
