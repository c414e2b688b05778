"""Dates outside 2000..2100 are refused with a clear message (collab/bounds.py).

Regression (issue 14, finding 6): a year-1 date in ``/meetings/new``,
``/consultations/new`` or ``/consultations/{id}/extend`` raised
``OverflowError`` in ``web.rome_to_utc`` (a 500). Every date field of a form
now answers 422 with the Italian message, and nothing is written.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import httpx
import pytest

from collab.bounds import EARLIEST, LATEST, OUT_OF_RANGE
from collab.db import Database
from collab.errors import ActionError
from collab.web import rome_to_utc
from tests.conftest import World
from tests.consultations.scene import open_consultation
from tests.helpers import (
    Client,
    italian,
    parse,
    quiet_db,  # noqa: F401 (the db fixture: writes notify people)
    snapshot,
)
from tests.meetings.scene import zone_ids

Login = Callable[[str], Awaitable[Client]]

OUT_OF_RANGE_MOMENTS = [
    "0001-01-01T00:00",  # OverflowError before the fix
    "0001-01-01T10:00",
    "1999-12-31T23:59",
    "2101-01-01T00:00",
    "9999-12-31T23:59",
]


def _message() -> str:
    return italian(OUT_OF_RANGE, earliest="01/01/2000", latest="31/12/2100")


def _alert(response: httpx.Response) -> str:
    node = parse(response).select_one(".alert-danger")
    assert node is not None, "no error shown"
    return " ".join(node.get_text(" ").split())


@pytest.mark.parametrize("raw", OUT_OF_RANGE_MOMENTS)
def test_rome_to_utc_refuses_dates_out_of_range(raw: str) -> None:
    with pytest.raises(ActionError) as refused:
        rome_to_utc(raw, "deadline")
    assert refused.value.message == OUT_OF_RANGE
    assert refused.value.field == "deadline"


def test_the_bounds_themselves_are_accepted() -> None:
    first = rome_to_utc(f"{EARLIEST.isoformat()}T00:00", "x")
    last = rome_to_utc(f"{LATEST.isoformat()}T23:59", "x")
    assert first is not None and last is not None
    assert first.year == 1999 and last.date() == LATEST  # Turin is ahead of UTC


@pytest.mark.parametrize("raw", OUT_OF_RANGE_MOMENTS)
async def test_convening_with_a_date_out_of_range(login_as: Login, db: Database, raw: str) -> None:
    staff = await login_as("staff")
    (zone,) = await zone_ids(db, 5)
    before = await snapshot(db)
    response = await staff.post(
        "/meetings/new",
        {"title": "Giornata di sintesi", "zones": str(zone), "starts_at": raw,
         "place": "Sala consiliare", "item-0-title": "Parere", "item-0-minutes": "30"},
    )  # fmt: skip
    assert response.status_code == 422
    node = parse(response).select_one("#starts_at-error")  # next to its field
    assert node is not None and _message() in " ".join(node.get_text(" ").split())
    assert await snapshot(db) == before


@pytest.mark.parametrize("raw", OUT_OF_RANGE_MOMENTS)
async def test_opening_a_consultation_with_a_date_out_of_range(
    login_as: Login, db: Database, raw: str
) -> None:
    staff = await login_as("staff")
    (zone,) = await zone_ids(db, 5)
    before = await snapshot(db)
    response = await staff.upload(
        "/consultations/new",
        {"title": "Parere PSM", "body": "Si chiede il parere.", "deadline": raw, "zones": [zone]},
    )
    assert response.status_code == 422
    assert _message() in _alert(response)
    assert await snapshot(db) == before


@pytest.mark.parametrize("raw", OUT_OF_RANGE_MOMENTS)
async def test_extending_a_consultation_to_a_date_out_of_range(
    login_as: Login, db: Database, world: World, raw: str
) -> None:
    consultation = await open_consultation(db, world["staff"])
    staff = await login_as("staff")
    before = await snapshot(db)
    response = await staff.post(f"/consultations/{consultation.id}/extend", {"deadline": raw})
    assert response.status_code == 422
    assert _message() in _alert(response)
    assert await snapshot(db) == before


@pytest.mark.parametrize("raw", ["0001-01-01", "1999-12-31"])
async def test_a_legal_statement_date_out_of_range(login_as: Login, db: Database, raw: str) -> None:
    admin = await login_as("admin")
    before = await snapshot(db)
    response = await admin.post(
        "/admin/legal/accessibility",
        {"version": "0", "body_en": "", "body_it": "Testo.", "drafted_on": raw},
    )
    assert response.status_code == 422
    assert _alert(response) == _message()
    page = parse(response).select_one("#drafted_on")
    assert page is not None and "is-invalid" in page["class"]
    assert await snapshot(db) == before
