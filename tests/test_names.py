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
from collab.meetings import actions as meeting_actions
from collab.meetings import minutes
from collab.models import AuditLog, Theme, Zone
from tests.conftest import World
from tests.consultations.scene import open_consultation
from tests.helpers import Client, italian, parse, snapshot
from tests.meetings.scene import convene

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


async def test_boards_show_english_names_in_english(
    world: World, db: Database, login_as: LoginAs, new_client: Callable[[], Client]
) -> None:
    staff = await login_as("staff")
    response = await staff.post(
        "/zones/6/trasporti-mobilita/new", {"title": "Navetta per Susa", "body": "Proposta."}
    )
    thread = response.headers["location"]
    for client, it in ((staff, True), (english(await login_as("staff")), False)):
        home = ok(await client.get("/"))
        card = words(one(home, '.zone-card[data-zone="1"] h2'))
        assert card.endswith("Torino" if it else "Turin")
        zone = ok(await client.get("/zones/6"))
        assert words(one(zone, "main h1")).endswith(
            "Valli di Susa e Sangone" if it else "Susa and Sangone Valleys"
        )
        themes = [words(a) for a in zone.select("table[data-testid=themes] tbody td a")]
        assert ("Trasporti e mobilità" if it else "Transport and mobility") in themes
        row = words(one(zone, '[data-thread-list] [id^="thread-"]'))
        assert ("Trasporti e mobilità" if it else "Transport and mobility") in row
        board = ok(await client.get("/zones/6/trasporti-mobilita"))
        assert words(one(board, "main h1")) == (
            "Trasporti e mobilità" if it else "Transport and mobility"
        )
        crumbs = ok(await client.get(thread)).select(".breadcrumb-item a")
        assert words(crumbs[2]) == ("Trasporti e mobilità" if it else "Transport and mobility")
    # The anonymous home page too; a zone without an English name keeps its own.
    visitor = english(new_client())
    home = ok(await visitor.get("/"))
    assert words(one(home, '.zone-card[data-zone="1"] h2')).endswith("Turin")
    assert words(one(home, '.zone-card[data-zone="5"] h2')).endswith("Pinerolese")


async def test_meetings_library_and_consultations_in_english(
    world: World, db: Database, login_as: LoginAs
) -> None:
    meeting = await convene(db, world["staff"], (5, 6))
    await open_consultation(db, world["staff"], zones=(5, 6))
    staff = english(await login_as("staff"))
    listing = ok(await staff.get("/meetings"))
    zones = words(one(listing, f"#meeting-{meeting.id} [data-testid=meeting-zones]"))
    assert zones == "ZO 5 Pinerolese, ZO 6 Susa and Sangone Valleys"
    room = ok(await staff.get(f"/meetings/{meeting.id}"))
    assert words(one(room, '[data-testid="room-zones"]')) == zones
    # Each item's theme, under its title (the scene's titles name the Italian theme).
    themes = [words(div).split(" · ")[0] for div in room.select("#room-agenda div.small")]
    assert themes[0] == "A more productive and innovative Turin metropolis"
    ics = (await staff.get(f"/meetings/{meeting.id}/calendar.ics")).text
    assert "CATEGORIES:ZO 5 Pinerolese,ZO 6 Susa and Sangone Valleys" in ics
    zone_ics = (await staff.get("/zones/6/meetings.ics")).text
    assert "X-WR-CALNAME:Meetings of ZO 6 Susa and Sangone Valleys" in zone_ics
    convening = ok(await staff.get("/meetings/new"))
    assert "Transport and mobility" in [words(o) for o in convening.select("option")]
    library = ok(await staff.get("/library"))
    assert "Schools" in [words(a) for a in library.select('a[href="/library/scuola"]')]
    assert words(one(ok(await staff.get("/library/scuola")), "main h1")) == "Schools"
    consultations = ok(await staff.get("/consultations"))
    assert "ZO 6 Susa and Sangone Valleys" in words(one(consultations, "main"))
    # The same pages in Italian.
    italian_staff = await login_as("staff")
    room = ok(await italian_staff.get(f"/meetings/{meeting.id}"))
    assert words(one(room, '[data-testid="room-zones"]')) == (
        "ZO 5 Pinerolese, ZO 6 Valli di Susa e Sangone"
    )
    ics = (await italian_staff.get(f"/meetings/{meeting.id}/calendar.ics")).text
    assert "CATEGORIES:ZO 5 Pinerolese,ZO 6 Valli di Susa e Sangone" in ics


async def test_the_verbale_stays_italian(world: World, db: Database, login_as: LoginAs) -> None:
    staff_user = world["staff"]
    meeting = await convene(db, staff_user, (6,))
    async with db.transaction() as uow:
        await meeting_actions.do_open(uow, staff_user, meeting.id)
    async with db.transaction() as uow:
        await minutes.do_close(uow, staff_user, meeting.id)
    staff = english(await login_as("staff"))
    page = ok(await staff.get(f"/meetings/{meeting.id}/verbale"))
    # The draft's own heading names the convened zones, in Italian.
    verbale = words(one(page, "#verbale"))
    assert "ZO 6 Valli di Susa e Sangone" in verbale, verbale
    assert "Susa and Sangone Valleys" not in verbale
    room = ok(await staff.get(f"/meetings/{meeting.id}"))
    assert words(one(room, '[data-testid="room-zones"]')) == "ZO 6 Susa and Sangone Valleys"


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
