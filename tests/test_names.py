"""English names of themes and zones: seeded, edited by administrators, shown
wherever a name appears when the interface is in English (the Italian name
otherwise, and whenever there is no English one). The API keeps the canonical
Italian ``name`` and adds ``name_en``; the verbale, an official act, stays Italian.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import httpx
import pytest
from bs4 import BeautifulSoup, Tag
from sqlalchemy import select

from collab.db import Database
from collab.models import AuditLog, Theme, Zone
from tests.conftest import World
from tests.consultations.scene import open_consultation
from tests.helpers import Client, italian, parse, snapshot

LoginAs = Callable[[str], Awaitable[Client]]


def one(soup: BeautifulSoup | Tag, selector: str) -> Tag:
    node = soup.select_one(selector)
    assert node is not None, f"{selector!r} not found"
    return node


def words(node: Tag) -> str:
    return " ".join(node.get_text(" ").split())


def ok(response: httpx.Response) -> BeautifulSoup:
    assert response.status_code == 200, (response.status_code, response.text[:500])
    return parse(response)


def english(client: Client) -> Client:
    client.http.cookies.set("lang", "en")
    return client


async def theme_by_slug(db: Database, slug: str) -> Theme:
    async with db.session() as session:
        found = await session.scalar(select(Theme).where(Theme.slug == slug))
    assert found is not None
    return found


async def zone_by_number(db: Database, number: int) -> Zone:
    async with db.session() as session:
        found = await session.scalar(select(Zone).where(Zone.number == number))
    assert found is not None
    return found


async def audit_details(db: Database, action: str) -> list[dict[str, object]]:
    async with db.session() as session:
        rows = await session.scalars(
            select(AuditLog).where(AuditLog.action == action).order_by(AuditLog.id)
        )
        return [row.detail for row in rows]


async def test_seeded_themes_and_zones_have_english_names(db: Database) -> None:
    assert (await theme_by_slug(db, "trasporti-mobilita")).name_en == "Transport and mobility"
    assert (await theme_by_slug(db, "psm-verde-ecologica")).name_en == (
        "A greener and more ecological Turin metropolis"
    )
    assert (await zone_by_number(db, 1)).name_en == "Turin"
    assert (await zone_by_number(db, 6)).name_en == "Susa and Sangone Valleys"
    # A proper noun stays as it is: no English name, the Italian one is shown.
    pinerolese = await zone_by_number(db, 5)
    assert pinerolese.name_en is None
    assert (pinerolese.label("en"), pinerolese.label("it")) == ("Pinerolese", "Pinerolese")


async def test_api_keeps_the_italian_name_and_adds_the_english_one(
    world: World, db: Database, login_as: LoginAs
) -> None:
    consultation = await open_consultation(db, world["staff"], zones=(5, 6))
    staff = english(await login_as("staff"))
    data = (await staff.get(f"/api/v1/consultations/{consultation.id}")).json()
    assert data["zones"] == [
        {"id": (await zone_by_number(db, 5)).id, "number": 5, "name": "Pinerolese",
         "name_en": None},
        {"id": (await zone_by_number(db, 6)).id, "number": 6, "name": "Valli di Susa e Sangone",
         "name_en": "Susa and Sangone Valleys"},
    ]  # fmt: skip
    (theme,) = data["themes"]
    assert (theme["name"], theme["name_en"]) == (
        "Torino metropoli più produttiva e innovativa",
        "A more productive and innovative Turin metropolis",
    )


# --- administration -----------------------------------------------------------------


async def test_admin_gives_a_theme_an_english_name(
    world: World, db: Database, login_as: LoginAs
) -> None:
    admin = await login_as("admin")
    created = await admin.post(
        "/admin/themes", {"name": "Politiche giovanili", "name_en": " Youth  policy ", "slug": ""}
    )
    assert created.status_code == 303
    new = await theme_by_slug(db, "politiche-giovanili")
    assert new.name_en == "Youth policy"
    rows = parse(await admin.get("/admin/themes")).select("table[data-testid=themes] tbody tr")
    last = [words(td) for td in rows[-1].select("td")]
    assert last[1:3] == ["Politiche giovanili", "Youth policy"]
    assert (await audit_details(db, "theme.created"))[-1]["name_en"] == "Youth policy"

    form = ok(await admin.get(f"/admin/themes/{new.id}"))
    assert one(form, "#name_en")["value"] == "Youth policy"
    data = {"name": "Politiche giovanili", "slug": "politiche-giovanili", "name_en": "Youth"}
    assert (await admin.post(f"/admin/themes/{new.id}", data)).status_code == 303
    assert (await theme_by_slug(db, "politiche-giovanili")).name_en == "Youth"
    assert (await audit_details(db, "theme.updated"))[-1] == {
        "before": {"name": "Politiche giovanili", "slug": "politiche-giovanili",
                   "name_en": "Youth policy"},
        "after": {"name": "Politiche giovanili", "slug": "politiche-giovanili",
                  "name_en": "Youth"},
    }  # fmt: skip
    # Emptied: the Italian name is shown in English too.
    assert (await admin.post(f"/admin/themes/{new.id}", {**data, "name_en": ""})).is_redirect
    assert (await theme_by_slug(db, "politiche-giovanili")).name_en is None
    sindaco = english(await login_as("sindaco5"))
    names = [words(a) for a in ok(await sindaco.get("/zones/5")).select("td a")]
    assert "Politiche giovanili" in names
    # A form without the field (a script, an older page) leaves the English name alone.
    scuola = await theme_by_slug(db, "scuola")
    response = await admin.post(f"/admin/themes/{scuola.id}", {"name": "Scuola", "slug": "scuola"})
    assert response.status_code == 303
    assert (await theme_by_slug(db, "scuola")).name_en == "Schools"


@pytest.mark.parametrize(
    ("name_en", "message"),
    [
        ("x" * 121, "Enter the English name in at most 120 characters, or leave it empty."),
        ("tourism", "A theme with this English name already exists."),
    ],
)
async def test_bad_english_theme_names_are_refused(
    world: World, db: Database, login_as: LoginAs, name_en: str, message: str
) -> None:
    admin = await login_as("admin")
    scuola = await theme_by_slug(db, "scuola")
    before = await snapshot(db)
    for url, data in (
        ("/admin/themes", {"name": "Nuovo tema", "slug": "", "name_en": name_en}),
        (f"/admin/themes/{scuola.id}", {"name": "Scuola", "slug": "scuola", "name_en": name_en}),
    ):
        response = await admin.post(url, data)
        assert response.status_code == 422, url
        page = parse(response)
        assert words(one(page, ".alert-danger")) == italian(message)
        assert [node["id"] for node in page.select(".is-invalid")] == ["name_en"]
        assert one(page, "#name_en")["value"] == name_en
    assert await snapshot(db) == before


async def test_admin_gives_a_zone_an_english_name(
    world: World, db: Database, login_as: LoginAs
) -> None:
    admin = await login_as("admin")
    page = ok(await admin.get("/admin/zones"))
    assert one(page, "#zone-1-en")["value"] == "Turin"
    assert one(page, "#zone-5-en")["value"] == ""
    data = {"name": "Pinerolese", "name_en": "Pinerolo area"}
    assert (await admin.post("/admin/zones/5", data)).headers["location"] == "/admin/zones"
    assert (await zone_by_number(db, 5)).name_en == "Pinerolo area"
    assert (await audit_details(db, "zone.updated")) == [
        {"before": {"name_en": None}, "after": {"name_en": "Pinerolo area"}}
    ]
    sindaco = english(await login_as("sindaco5"))
    assert words(one(ok(await sindaco.get("/zones/5")), "main h1")) == "Zone 5 · Pinerolo area"
    # Only the Italian name sent: the English one stays.
    assert (await admin.post("/admin/zones/5", {"name": "Pinerolese"})).status_code == 303
    assert (await zone_by_number(db, 5)).name_en == "Pinerolo area"
    # Emptied: the Italian name again.
    assert (await admin.post("/admin/zones/5", {"name": "Pinerolese", "name_en": " "})).is_redirect
    assert (await zone_by_number(db, 5)).name_en is None


async def test_a_too_long_english_zone_name_is_refused(
    world: World, db: Database, login_as: LoginAs
) -> None:
    admin = await login_as("admin")
    before = await snapshot(db)
    response = await admin.post("/admin/zones/5", {"name": "Pinerolese", "name_en": "x" * 121})
    assert response.status_code == 422
    page = parse(response)
    assert words(one(page, ".alert-danger")) == italian(
        "Enter the English name in at most 120 characters, or leave it empty."
    )
    assert [node["id"] for node in page.select(".is-invalid")] == ["zone-5-en"]
    assert one(page, "#zone-5-en")["value"] == "x" * 121
    assert one(page, "#zone-1-en")["value"] == "Turin"
    assert await snapshot(db) == before
