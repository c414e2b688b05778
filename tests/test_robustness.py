"""Odd input at the edges: huge ids, NUL bytes. Each gets a clean answer, never a 500."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest

from tests.helpers import Client, parse


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
