"""Reference data administration: themes, comuni (and their CSV import), zones.

Admins only. Every change is checked through HTTP as the people who live with
it see it: a deactivated theme disappears from the zone page, a comune moved
to another zone takes its mayor with it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest
from bs4 import BeautifulSoup, Tag
from sqlalchemy import func, select

from collab.admin.actions import slugify
from collab.db import Database
from collab.forums import actions as forum_actions
from collab.forums.models import Thread
from collab.importer import MAX_BYTES
from collab.models import AuditLog, Comune, Theme, User, Zone
from tests.conftest import WORLD_USERS, World
from tests.helpers import Client, italian, italian_n, parse, snapshot, text_of

LoginAs = Callable[[str], Awaitable[Client]]
NON_ADMINS = [key for key, (role, _) in WORLD_USERS.items() if role != "admin"]
IMPORT = "/admin/comuni/import"


# --- helpers -----------------------------------------------------------------


def words(node: Tag | None) -> str:
    assert node is not None
    return " ".join(node.get_text(" ").split())


def one(soup: BeautifulSoup | Tag, selector: str) -> Tag:
    node = soup.select_one(selector)
    assert node is not None, f"{selector!r} not found"
    return node


def cells(row: Tag) -> list[str]:
    return [words(td) for td in row.select("td")]


def theme_rows(response: httpx.Response) -> list[dict[str, Any]]:
    """The admin themes table: slug, name, thread count, status, per row in order
    (the English name, when there is one, in ``name_en``)."""
    assert response.status_code == 200, response.text[:300]
    rows = []
    for row in parse(response).select("table[data-testid=themes] tbody tr"):
        position, name, name_en, slug, threads, status = cells(row)[:6]
        rows.append({"position": int(position), "name": name, "slug": slug,
                     "threads": int(threads), "status": status})  # fmt: skip
        if name_en:
            rows[-1]["name_en"] = name_en
    return rows


def comune_rows(response: httpx.Response) -> dict[str, list[str]]:
    """The admin comuni table by ISTAT code: code, name, zone, users."""
    assert response.status_code == 200, response.text[:300]
    table = parse(response).select("table[data-testid=comuni] tbody tr[data-istat]")
    return {str(row["data-istat"]): cells(row)[:4] for row in table}


def zone_theme_names(response: httpx.Response) -> list[str]:
    """Theme names listed on a zone (or metropolitan) page."""
    assert response.status_code == 200, response.text[:300]
    return [words(a) for a in parse(response).select("table[data-testid=themes] tbody td a")]


def field_value(page: BeautifulSoup, selector: str) -> str:
    node = one(page, selector)
    if node.name == "select":
        chosen = node.select_one("option[selected]") or node.select_one("option")
        return str(chosen["value"]) if chosen else ""
    return str(node.get("value", ""))


async def audit_rows(db: Database, action: str) -> list[AuditLog]:
    async with db.session() as session:
        stmt = select(AuditLog).where(AuditLog.action == action).order_by(AuditLog.id)
        return list((await session.scalars(stmt)).all())


async def themes_in_order(db: Database) -> list[Theme]:
    async with db.session() as session:
        stmt = select(Theme).order_by(Theme.position, Theme.name, Theme.id)
        return list((await session.scalars(stmt)).all())


async def theme(db: Database, slug: str) -> Theme:
    async with db.session() as session:
        found = await session.scalar(select(Theme).where(Theme.slug == slug))
    assert found is not None, slug
    return found


async def move(client: Client, theme_id: int, direction: str) -> int:
    response = await client.post(f"/admin/themes/{theme_id}/move", {"direction": direction})
    return response.status_code


async def comune(db: Database, istat: str) -> Comune:
    async with db.session() as session:
        found = await session.scalar(select(Comune).where(Comune.istat_code == istat))
    assert found is not None, istat
    return found


async def thread_count(db: Database) -> int:
    async with db.session() as session:
        return await session.scalar(select(func.count()).select_from(Thread)) or 0


async def start_thread(db: Database, user: User, zone: int, slug: str, title: str) -> Thread:
    async with db.session() as session:
        the_theme = await forum_actions.get_theme(session, slug)
        zone_id = await session.scalar(select(Zone.id).where(Zone.number == zone))
    async with db.transaction() as uow:
        return await forum_actions.do_start_thread(uow, user, zone_id, the_theme, title, "Testo.")


async def upload(
    client: Client, content: bytes, *, token: bool = True, filename: str = "comuni.csv"
) -> httpx.Response:
    """Post a CSV to the import form as a browser does: the token its first field."""
    data = {"csrf_token": await client.csrf()} if token else {}
    return await client.http.post(
        IMPORT, data=data, files={"file": (filename, content, "text/csv")}
    )


def import_errors(response: httpx.Response) -> list[tuple[int, str]]:
    items = parse(response).select("[data-testid=import-errors] li[data-line]")
    return [(int(str(li["data-line"])), words(li)) for li in items]


# --- who may -----------------------------------------------------------------


def data_pages() -> list[tuple[str, str, dict[str, str] | bytes]]:
    """Every reference-data page and write (bytes: a CSV upload)."""
    return [
        ("GET", "/admin/themes", {}),
        ("POST", "/admin/themes", {"name": "Nuovo tema", "slug": ""}),
        ("GET", "/admin/themes/1", {}),
        ("POST", "/admin/themes/1", {"name": "Rinominato", "slug": "rinominato"}),
        ("POST", "/admin/themes/2/move", {"direction": "up"}),
        ("POST", "/admin/themes/1/active", {"active": "0"}),
        ("GET", "/admin/comuni", {}),
        ("GET", "/admin/comuni?zone=5&q=pin", {}),
        ("GET", "/admin/comuni/1", {}),
        ("POST", "/admin/comuni/1", {"name": "Altro nome", "zone": "9"}),
        ("GET", IMPORT, {}),
        ("POST", IMPORT, b"001316;Mappano;4\n"),
        ("GET", "/admin/zones", {}),
        ("POST", "/admin/zones/5", {"name": "Altro nome"}),
    ]


async def send(client: Client, method: str, url: str, data: dict[str, str] | bytes) -> Any:
    if method == "GET":
        return await client.get(url)
    if isinstance(data, bytes):
        return await upload(client, data)
    return await client.post(url, data)


@pytest.mark.parametrize("key", NON_ADMINS)
async def test_non_admins_get_403_everywhere(
    world: World, db: Database, login_as: LoginAs, key: str
) -> None:
    client = await login_as(key)
    before = await snapshot(db)
    for method, url, data in data_pages():
        response = await send(client, method, url, data)
        assert response.status_code == 403, (method, url)
        assert text_of(response, ".alert-danger[data-status='403']") == italian(
            "Only administrators can manage users, comuni, zones and themes."
        )
    assert await snapshot(db) == before


async def test_anonymous_is_sent_to_login(world: World, db: Database, client: Client) -> None:
    before = await snapshot(db)
    for method, url, data in data_pages():
        response = await send(client, method, url, data)
        assert response.status_code == 303, (method, url)
        assert response.headers["location"].startswith("/login?next=/admin/")
    assert await snapshot(db) == before


@pytest.mark.parametrize(
    ("url", "tab"),
    [("/admin/themes", "/admin/themes"), ("/admin/themes/1", "/admin/themes"),
     ("/admin/comuni", "/admin/comuni"), ("/admin/comuni/1", "/admin/comuni"),
     (IMPORT, "/admin/comuni"), ("/admin/zones", "/admin/zones"),
     ("/admin/legal", "/admin/legal"), ("/admin/legal/privacy", "/admin/legal"),
     ("/admin/mail", "/admin/mail"), ("/admin/logins", "/admin/logins"),
     ("/admin/bodies", "/admin/bodies"), ("/admin/bodies/new", "/admin/bodies")],
)  # fmt: skip
async def test_admin_pages_have_the_admin_tabs(
    world: World, login_as: LoginAs, url: str, tab: str
) -> None:
    admin = await login_as("admin")
    response = await admin.get(url)
    assert response.status_code == 200
    tabs = parse(response).select("ul.nav-tabs a.nav-link")
    assert [str(a["href"]) for a in tabs] == [
        "/admin/users", "/admin/themes", "/admin/comuni", "/admin/zones", "/admin/bodies",
        "/admin/legal", "/admin/mail", "/admin/audit", "/admin/logins",
    ]  # fmt: skip
    assert [str(a["href"]) for a in tabs if "active" in a["class"]] == [tab]
    assert words(tabs[1]) == italian("Themes")


@pytest.mark.parametrize("url", ["/admin/themes/999", "/admin/comuni/99999", "/admin/zones/12"])
async def test_unknown_objects_are_404(world: World, login_as: LoginAs, url: str) -> None:
    admin = await login_as("admin")
    if not url.startswith("/admin/zones"):
        assert (await admin.get(url)).status_code == 404
    data = {"name": "Nome", "slug": "nome", "zone": "5"}
    assert (await admin.post(url, data)).status_code == 404
    if url.startswith("/admin/themes"):
        assert (await admin.post(f"{url}/move", {"direction": "up"})).status_code == 404
        assert (await admin.post(f"{url}/active", {"active": "0"})).status_code == 404


# --- themes ------------------------------------------------------------------


async def test_themes_are_listed_in_order_with_thread_counts(
    world: World, db: Database, login_as: LoginAs
) -> None:
    await start_thread(db, world["sindaco5"], 5, "scuola", "Mense scolastiche")
    await start_thread(db, world["sindaco9"], 9, "scuola", "Trasporto scolastico")
    await start_thread(db, world["sindaco9"], 9, "turismo", "Via Francigena")
    admin = await login_as("admin")
    rows = theme_rows(await admin.get("/admin/themes"))
    stored = await themes_in_order(db)
    assert [row["slug"] for row in rows] == [t.slug for t in stored]
    assert [row["name"] for row in rows] == [t.name for t in stored]
    assert [row["position"] for row in rows] == list(range(1, len(stored) + 1))
    counts = {row["slug"]: row["threads"] for row in rows}
    assert (counts["scuola"], counts["turismo"], counts["psm-sana"]) == (2, 1, 0)
    assert {row["status"] for row in rows} == {italian("active")}


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Pari opportunità e inclusione", "pari-opportunita-e-inclusione"),
        ("  Più verde,   più sana! ", "piu-verde-piu-sana"),
        ("Scuola & Università — 2025", "scuola-universita-2025"),
        ("L'Àrea metropolitana", "l-area-metropolitana"),
        ("!!!", ""),
        ("a" * 100, "a" * 80),
    ],
)
def test_slugify(name: str, expected: str) -> None:
    assert slugify(name) == expected


async def test_admin_creates_a_theme_with_a_derived_slug(
    world: World, db: Database, login_as: LoginAs
) -> None:
    admin = await login_as("admin")
    response = await admin.post("/admin/themes", {"name": " Pari  opportunità ", "slug": ""})
    assert response.status_code == 303
    assert response.headers["location"] == "/admin/themes"
    rows = theme_rows(await admin.get("/admin/themes"))
    assert rows[-1] == {"position": len(rows), "name": "Pari opportunità",
                        "slug": "pari-opportunita", "threads": 0,
                        "status": italian("active")}  # fmt: skip
    [row] = await audit_rows(db, "theme.created")
    assert row.actor_id == world["admin"].id
    assert row.detail == {"name": "Pari opportunità", "slug": "pari-opportunita",
                          "position": len(rows)}  # fmt: skip
    # The new theme is on the zone pages, last, and takes threads.
    sindaco = await login_as("sindaco5")
    assert zone_theme_names(await sindaco.get("/zones/5"))[-1] == "Pari opportunità"
    created = await sindaco.post(
        "/zones/5/pari-opportunita/new", {"title": "Primo tema nuovo", "body": "Testo."}
    )
    assert created.status_code == 303


async def test_admin_creates_a_theme_with_its_own_slug(
    world: World, db: Database, login_as: LoginAs
) -> None:
    admin = await login_as("admin")
    data = {"name": "Politiche giovanili", "slug": "giovani"}
    assert (await admin.post("/admin/themes", data)).status_code == 303
    created = await theme(db, "giovani")
    assert (created.name, created.active) == ("Politiche giovanili", True)


@pytest.mark.parametrize(
    ("data", "field", "message", "params"),
    [
        ({"name": "", "slug": ""}, "name", "Enter the name (at most 120 characters).", {}),
        ({"name": "x" * 121, "slug": ""}, "name", "Enter the name (at most 120 characters).",
         {}),
        ({"name": "Nuovo", "slug": "Con Spazi"}, "slug", "SLUG", {}),
        ({"name": "Nuovo", "slug": "doppio--trattino"}, "slug", "SLUG", {}),
        ({"name": "Nuovo", "slug": "-inizio"}, "slug", "SLUG", {}),
        ({"name": "!!!", "slug": ""}, "slug", "SLUG", {}),
        ({"name": "Nuovo", "slug": "scuola"}, "slug",
         "The address %(slug)s is already used by another theme.", {"slug": "scuola"}),
        ({"name": "SCUOLA!", "slug": ""}, "slug",
         "The address %(slug)s is already used by another theme.", {"slug": "scuola"}),
        ({"name": "turismo", "slug": "turismo-2"}, "name",
         "A theme with this name already exists.", {}),
    ],
)  # fmt: skip
async def test_create_theme_refuses_bad_input(
    world: World,
    db: Database,
    login_as: LoginAs,
    data: dict[str, str],
    field: str,
    message: str,
    params: dict[str, Any],
) -> None:
    if message == "SLUG":
        message = (
            "The address may contain only lowercase letters without accents, digits "
            "and single hyphens (at most 80 characters)."
        )
    admin = await login_as("admin")
    before = await snapshot(db)
    response = await admin.post("/admin/themes", data)
    assert response.status_code == 422
    page = parse(response)
    assert text_of(response, ".alert-danger") == italian(message, **params)
    assert [node["id"] for node in page.select(".is-invalid")] == [field]
    form = one(page, "form[data-testid=new-theme]")
    assert field_value(form, "#name") == data["name"]
    assert field_value(form, "#slug") == data["slug"]
    assert len(page.select("table[data-testid=themes] tbody tr")) == len(before["theme"])
    assert await snapshot(db) == before


async def test_admin_renames_a_theme(world: World, db: Database, login_as: LoginAs) -> None:
    target = await theme(db, "scuola")
    admin = await login_as("admin")
    page = parse(await admin.get(f"/admin/themes/{target.id}"))
    assert (field_value(page, "#name"), field_value(page, "#slug")) == ("Scuola", "scuola")
    data = {"name": "Scuola e formazione", "slug": "scuola"}
    assert (await admin.post(f"/admin/themes/{target.id}", data)).status_code == 303
    [row] = await audit_rows(db, "theme.updated")
    assert row.actor_id == world["admin"].id
    assert row.detail == {"before": {"name": "Scuola", "slug": "scuola"},
                          "after": {"name": "Scuola e formazione", "slug": "scuola"}}  # fmt: skip
    sindaco = await login_as("sindaco5")
    names = zone_theme_names(await sindaco.get("/zones/5"))
    assert "Scuola e formazione" in names
    assert "Scuola" not in names
    # The same form sent again changes nothing and writes no audit row.
    assert (await admin.post(f"/admin/themes/{target.id}", data)).status_code == 303
    assert len(await audit_rows(db, "theme.updated")) == 1


async def test_admin_changes_a_theme_address(world: World, db: Database, login_as: LoginAs) -> None:
    target = await theme(db, "scuola")
    admin = await login_as("admin")
    data = {"name": "Scuola", "slug": "istruzione"}
    assert (await admin.post(f"/admin/themes/{target.id}", data)).status_code == 303
    sindaco = await login_as("sindaco5")
    assert (await sindaco.get("/zones/5/istruzione")).status_code == 200
    assert (await sindaco.get("/zones/5/scuola")).status_code == 404


@pytest.mark.parametrize(
    ("data", "field", "message", "params"),
    [
        ({"name": "Scuola", "slug": "turismo"}, "slug",
         "The address %(slug)s is already used by another theme.", {"slug": "turismo"}),
        ({"name": "Turismo", "slug": "scuola"}, "name",
         "A theme with this name already exists.", {}),
        ({"name": "  ", "slug": "scuola"}, "name", "Enter the name (at most 120 characters).",
         {}),
        ({"name": "Scuola", "slug": "Scuola"}, "slug",
         "The address may contain only lowercase letters without accents, digits "
         "and single hyphens (at most 80 characters).", {}),
    ],
)  # fmt: skip
async def test_edit_theme_refuses_bad_input(
    world: World,
    db: Database,
    login_as: LoginAs,
    data: dict[str, str],
    field: str,
    message: str,
    params: dict[str, Any],
) -> None:
    target = await theme(db, "scuola")
    admin = await login_as("admin")
    before = await snapshot(db)
    response = await admin.post(f"/admin/themes/{target.id}", data)
    assert response.status_code == 422
    page = parse(response)
    assert text_of(response, ".alert-danger") == italian(message, **params)
    assert [node["id"] for node in page.select(".is-invalid")] == [field]
    assert (field_value(page, "#name"), field_value(page, "#slug")) == (data["name"], data["slug"])
    assert await snapshot(db) == before


async def test_admin_moves_themes_up_and_down(
    world: World, db: Database, login_as: LoginAs
) -> None:
    admin = await login_as("admin")
    start = [t.slug for t in await themes_in_order(db)]
    second = await theme(db, start[1])
    assert await move(admin, second.id, "up") == 303
    moved = [row["slug"] for row in theme_rows(await admin.get("/admin/themes"))]
    assert moved == [start[1], start[0], *start[2:]]
    [row] = await audit_rows(db, "theme.updated")
    assert row.detail == {"before": {"position": 2}, "after": {"position": 1}}
    # The zone pages follow the new order.
    sindaco = await login_as("sindaco5")
    names = zone_theme_names(await sindaco.get("/zones/5"))
    assert names == [t.name for t in await themes_in_order(db)]

    # And back down.
    assert await move(admin, second.id, "down") == 303
    assert [t.slug for t in await themes_in_order(db)] == start

    # The first cannot go up nor the last down: nothing changes.
    page = parse(await admin.get("/admin/themes"))
    rows = page.select("table[data-testid=themes] tbody tr")
    assert one(rows[0], "button[data-action=up]").has_attr("disabled")
    assert one(rows[-1], "button[data-action=down]").has_attr("disabled")
    assert not one(rows[1], "button[data-action=up]").has_attr("disabled")
    first, last = await theme(db, start[0]), await theme(db, start[-1])
    before = await snapshot(db)
    assert await move(admin, first.id, "up") == 303
    assert await move(admin, last.id, "down") == 303
    assert await snapshot(db) == before


async def test_move_refuses_a_bad_direction(world: World, db: Database, login_as: LoginAs) -> None:
    admin = await login_as("admin")
    target = (await themes_in_order(db))[3]
    before = await snapshot(db)
    response = await admin.post(f"/admin/themes/{target.id}/move", {"direction": "sideways"})
    assert response.status_code == 422
    assert text_of(response, ".alert-danger") == italian(
        "Choose whether to move the theme up or down."
    )
    assert await snapshot(db) == before


async def test_deactivated_theme_is_hidden_and_refuses_new_threads(
    world: World, db: Database, login_as: LoginAs
) -> None:
    old = await start_thread(db, world["sindaco5"], 5, "scuola", "Mense scolastiche")
    target = await theme(db, "scuola")
    admin = await login_as("admin")
    sindaco = await login_as("sindaco5")
    assert "Scuola" in zone_theme_names(await sindaco.get("/zones/5"))

    response = await admin.post(f"/admin/themes/{target.id}/active", {"active": "0"})
    assert response.status_code == 303
    row = next(r for r in theme_rows(await admin.get("/admin/themes")) if r["slug"] == "scuola")
    assert (row["status"], row["threads"]) == (italian("deactivated"), 1)
    [audited] = await audit_rows(db, "theme.updated")
    assert audited.detail == {"before": {"active": True}, "after": {"active": False}}

    # Hidden from the zone pages and the metropolitan page...
    assert "Scuola" not in zone_theme_names(await sindaco.get("/zones/5"))
    assert "Scuola" not in zone_theme_names(await sindaco.get("/metro"))
    # ...refuses new threads, and changes nothing...
    threads = await thread_count(db)
    refused = await sindaco.post("/zones/5/scuola/new", {"title": "Nuova", "body": "Testo."})
    assert refused.status_code == 422
    assert text_of(refused, ".alert-danger") == italian("This theme is no longer in use.")
    assert await thread_count(db) == threads
    # ...but its threads stay readable.
    assert (await sindaco.get(f"/threads/{old.id}")).status_code == 200

    # Reactivated, it is back and takes threads again.
    response = await admin.post(f"/admin/themes/{target.id}/active", {"active": "1"})
    assert response.status_code == 303
    assert "Scuola" in zone_theme_names(await sindaco.get("/zones/5"))
    created = await sindaco.post("/zones/5/scuola/new", {"title": "Nuova", "body": "Testo."})
    assert created.status_code == 303
    assert await thread_count(db) == threads + 1
    assert len(await audit_rows(db, "theme.updated")) == 2


async def test_deactivating_twice_writes_one_audit_row(
    world: World, db: Database, login_as: LoginAs
) -> None:
    target = await theme(db, "turismo")
    admin = await login_as("admin")
    for _ in range(2):
        response = await admin.post(f"/admin/themes/{target.id}/active", {"active": "0"})
        assert response.status_code == 303
    assert len(await audit_rows(db, "theme.updated")) == 1


# --- comuni ------------------------------------------------------------------


async def test_comuni_are_listed_by_zone_with_user_counts(
    world: World, db: Database, login_as: LoginAs
) -> None:
    admin = await login_as("admin")
    response = await admin.get("/admin/comuni")
    rows = comune_rows(response)
    async with db.session() as session:
        stored = (await session.scalars(select(Comune))).all()
    assert set(rows) == {c.istat_code for c in stored}
    assert rows["001191"] == ["001191", "Pinerolo", "5", "1"]
    assert rows["001125"] == ["001125", "Ivrea", "9", "1"]
    assert rows["001272"] == ["001272", "Torino", "1", "0"]
    # Grouped by zone: a heading row before each zone's comuni, in zone order.
    headings = parse(response).select("table[data-testid=comuni] tbody th[scope=rowgroup]")
    assert [words(h).split(" · ")[0] for h in headings] == [
        italian("Zone %(number)d", number=n) for n in range(1, 12)
    ]
    zones = [int(row[2]) for row in rows.values()]
    assert zones == sorted(zones)
    # "%(num)d comuni" is the same in both languages: italian_n cannot tell.
    assert text_of(response, "[data-testid=comuni-count]") == f"{len(stored)} comuni"


async def test_comuni_filter_by_zone(world: World, db: Database, login_as: LoginAs) -> None:
    admin = await login_as("admin")
    response = await admin.get("/admin/comuni", params={"zone": "9"})
    names = sorted(row[1] for row in comune_rows(response).values())
    assert names == ["Banchette", "Ivrea", "Pavone Canavese", "Strambino"]
    assert field_value(parse(response), "select#zone") == "9"
    # Anything but a zone number is no filter at all.
    everything = comune_rows(await admin.get("/admin/comuni", params={"zone": "nove"}))
    assert len(everything) == len(comune_rows(await admin.get("/admin/comuni")))


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"q": "torinese"}, {"001265", "001249", "001063", "001128"}),
        ({"q": "PINEROLO"}, {"001191"}),
        ({"q": "00112"}, {"001120", "001125", "001128"}),
        ({"q": "torinese", "zone": "4"}, {"001265", "001249", "001063"}),
        ({"q": "%"}, set()),
        ({"q": "_"}, set()),
        ({"q": "nessuno"}, set()),
    ],
)
async def test_comuni_search_by_name_and_istat_code(
    world: World, login_as: LoginAs, params: dict[str, str], expected: set[str]
) -> None:
    admin = await login_as("admin")
    response = await admin.get("/admin/comuni", params=params)
    assert set(comune_rows(response)) == expected
    assert field_value(parse(response), "input#q") == params["q"]


async def test_moving_a_comune_moves_its_users(
    world: World, db: Database, login_as: LoginAs
) -> None:
    pinerolo = await comune(db, "001191")
    sindaco = await login_as("sindaco5")  # the mayor of Pinerolo
    assert (await sindaco.get("/zones/5")).status_code == 200
    assert (await sindaco.get("/zones/4")).status_code == 403

    admin = await login_as("admin")
    page = parse(await admin.get(f"/admin/comuni/{pinerolo.id}"))
    assert (field_value(page, "#name"), field_value(page, "select#zone")) == ("Pinerolo", "5")
    assert words(one(page, "[data-testid=comune-users]")) == italian_n(
        "%(num)d user belongs to this comune: moved to another zone, they follow it.",
        "%(num)d users belong to this comune: moved to another zone, they follow it.",
        1,
    )
    response = await admin.post(f"/admin/comuni/{pinerolo.id}", {"name": "Pinerolo", "zone": "4"})
    assert response.status_code == 303
    assert response.headers["location"] == "/admin/comuni"

    # The mayor, in the same session, now works in zone 4 and no longer in 5.
    assert (await sindaco.get("/zones/4")).status_code == 200
    assert (await sindaco.get("/zones/5")).status_code == 403
    my_zone = parse(await sindaco.get("/")).select_one('header a.nav-link[href^="/zones/"]')
    assert my_zone is not None and my_zone["href"] == "/zones/4"
    comuni_of_4 = words(one(parse(await sindaco.get("/zones/4")), "main details p"))
    assert "Pinerolo" in comuni_of_4.split(", ")
    assert (await sindaco.get("/zones/5/scuola/new")).status_code == 403
    assert (await sindaco.get("/zones/4/scuola/new")).status_code == 200
    # The rest of zone 5 is unaffected.
    tecnico = await login_as("tecnico5")
    assert (await tecnico.get("/zones/5")).status_code == 200
    assert (await tecnico.get("/zones/4")).status_code == 403

    [row] = await audit_rows(db, "comune.updated")
    assert row.actor_id == world["admin"].id
    assert (row.object_type, row.object_id) == ("comune", str(pinerolo.id))
    assert row.detail == {
        "before": {"name": "Pinerolo", "zone": 5, "population": 35400},
        "after": {"name": "Pinerolo", "zone": 4, "population": 35400},
    }
    listed = comune_rows(await admin.get("/admin/comuni", params={"zone": "4"}))
    assert listed["001191"] == ["001191", "Pinerolo", "4", "1"]


async def test_admin_renames_a_comune(world: World, db: Database, login_as: LoginAs) -> None:
    target = await comune(db, "001292")
    admin = await login_as("admin")
    data = {"name": "  Venaria   Reale (TO) ", "zone": "2"}
    assert (await admin.post(f"/admin/comuni/{target.id}", data)).status_code == 303
    renamed = await comune(db, "001292")
    assert (renamed.name, renamed.zone.number) == ("Venaria Reale (TO)", 2)
    # Unchanged, the form writes nothing.
    data["name"] = "Venaria Reale (TO)"
    assert (await admin.post(f"/admin/comuni/{target.id}", data)).status_code == 303
    assert len(await audit_rows(db, "comune.updated")) == 1


async def test_admin_sets_a_comunes_population(
    world: World, db: Database, login_as: LoginAs
) -> None:
    target = await comune(db, "001292")
    admin = await login_as("admin")
    page = parse(await admin.get(f"/admin/comuni/{target.id}"))
    assert field_value(page, "#population") == "32800"
    data = {"name": "Venaria Reale", "zone": "2", "population": "33.015"}
    assert (await admin.post(f"/admin/comuni/{target.id}", data)).status_code == 303
    assert (await comune(db, "001292")).population == 33015
    before = await snapshot(db)
    response = await admin.post(f"/admin/comuni/{target.id}", {**data, "population": "circa 33"})
    assert response.status_code == 422
    assert text_of(response, ".alert-danger") == italian(
        "The population is a whole number of inhabitants."
    )
    assert field_value(parse(response), "#population") == "circa 33"
    assert await snapshot(db) == before
    # Empty: unknown (a double majority then cannot be counted); absent: left alone.
    assert (
        await admin.post(f"/admin/comuni/{target.id}", {**data, "population": ""})
    ).status_code == 303
    assert (await comune(db, "001292")).population is None
    data.pop("population")
    assert (
        await admin.post(f"/admin/comuni/{target.id}", {**data, "population": "33015"})
    ).status_code == 303
    assert (await admin.post(f"/admin/comuni/{target.id}", data)).status_code == 303
    assert (await comune(db, "001292")).population == 33015


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"name": "", "zone": "4"}, "name", "Enter the name (at most 120 characters)."),
        ({"name": "x" * 121, "zone": "4"}, "name", "Enter the name (at most 120 characters)."),
        ({"name": "Pinerolo", "zone": "12"}, "zone", "Choose a valid zone."),
        ({"name": "Pinerolo", "zone": "quattro"}, "zone", "Choose a valid zone."),
        ({"name": "Pinerolo", "zone": "9" * 40}, "zone", "Choose a valid zone."),
    ],
)
async def test_edit_comune_refuses_bad_input(
    world: World, db: Database, login_as: LoginAs, data: dict[str, str], field: str, message: str
) -> None:
    target = await comune(db, "001191")
    admin = await login_as("admin")
    before = await snapshot(db)
    response = await admin.post(f"/admin/comuni/{target.id}", data)
    assert response.status_code == 422
    page = parse(response)
    assert text_of(response, ".alert-danger") == italian(message)
    assert [node["id"] for node in page.select(".is-invalid")] == [field]
    assert field_value(page, "#name") == data["name"]
    if field != "zone":
        assert field_value(page, "select#zone") == data["zone"]
    assert await snapshot(db) == before


# --- comuni import -----------------------------------------------------------


async def test_import_form_carries_the_token_as_its_first_field(
    world: World, login_as: LoginAs
) -> None:
    admin = await login_as("admin")
    page = parse(await admin.get(IMPORT))
    form = one(page, "form[data-testid=import-form]")
    assert form["enctype"] == "multipart/form-data"
    assert form["action"] == IMPORT  # never in the URL: access logs keep it
    first = form.select("input")[0]
    assert (first["name"], first["value"]) == ("csrf_token", admin.token)
    assert one(form, "input[type=file]")["name"] == "file"


async def test_good_csv_is_imported_with_a_report(
    world: World, db: Database, login_as: LoginAs
) -> None:
    csv = (
        b"codice_istat;nome;zona\n"
        b"001272;Torino;1\n"  # unchanged
        b"001292;Venaria Reale (TO);2\n"  # renamed
        b"001191;Pinerolo;4\n"  # moved (with its mayor)
        b"1316;Mappano;4\n"  # created; the leading zeros come back
        b"001090;Collegno;2;50.000\n"  # a new population
    )
    admin = await login_as("admin")
    sindaco = await login_as("sindaco5")
    response = await upload(admin, csv)
    assert response.status_code == 200, response.text[:500]
    page = parse(response)
    counts = {str(dd["data-count"]): words(dd) for dd in page.select("[data-count]")}
    assert counts == {
        "created": "1", "moved": "1", "renamed": "1", "populated": "1", "unchanged": "1"
    }  # fmt: skip
    assert [words(li) for li in page.select("[data-testid=moved] li")] == [
        f"Pinerolo → {italian('Zone %(number)d', number=4)}"
    ]
    assert page.select_one("[data-testid=import-errors]") is None

    mappano = await comune(db, "001316")
    assert (mappano.name, mappano.zone.number) == ("Mappano", 4)
    assert (await comune(db, "001292")).name == "Venaria Reale (TO)"
    assert (await comune(db, "001090")).population == 50000
    assert (await comune(db, "001191")).zone.number == 4
    assert (await sindaco.get("/zones/4")).status_code == 200
    assert (await sindaco.get("/zones/5")).status_code == 403
    # The world's import (from the command line, no actor), then the admin's.
    world_import, row = await audit_rows(db, "comuni.imported")
    assert (world_import.actor_id, row.actor_id) == (None, world["admin"].id)
    assert row.detail == {
        "created": 1, "moved": ["001191"], "renamed": ["001292"], "populated": 1
    }  # fmt: skip

    # The same file again changes nothing.
    before = await snapshot(db)
    again = parse(await upload(admin, csv))
    counts = {str(dd["data-count"]): words(dd) for dd in again.select("[data-count]")}
    assert counts == {
        "created": "0", "moved": "0", "renamed": "0", "populated": "0", "unchanged": "5"
    }  # fmt: skip
    assert await snapshot(db) == before


async def test_bad_csv_lists_every_bad_line_and_imports_nothing(
    world: World, db: Database, login_as: LoginAs
) -> None:
    csv = (
        b"001316;Mappano;4\n"  # good, but the file has errors: not imported
        b"00A191;Pinerolo;5\n"
        b"001191;Pinerolo;12\n"
        b"001125;;9\n"
        b"001269;Strambino\n"
        b"001191;Pinerolo;4\n"  # good alone
        b"001191;Pinerolo;5\n"  # repeats line 6
    )
    admin = await login_as("admin")
    before = await snapshot(db)
    response = await upload(admin, csv)
    assert response.status_code == 422
    assert import_errors(response) == [
        (2, italian("line %(line)d: %(text)s", line=2, text=italian(
            "ISTAT code %(code)r is not a number of up to 6 digits", code="00A191"))),
        (3, italian("line %(line)d: %(text)s", line=3, text=italian(
            "zone %(zone)r does not exist", zone="12"))),
        (4, italian("line %(line)d: %(text)s", line=4, text=italian(
            "the name is empty or longer than 120 characters"))),
        (5, italian("line %(line)d: %(text)s", line=5, text=italian(
            "expected 3 or 4 columns (ISTAT code, name, zone, population), "
            "found %(n)d", n=2))),
        (7, italian("line %(line)d: %(text)s", line=7, text=italian(
            "ISTAT code %(code)s already on line %(other)d", code="001191", other=6))),
    ]  # fmt: skip
    box = one(parse(response), "[data-testid=import-errors]")
    assert words(one(box, "p")).startswith(italian("Nothing imported: the file has errors."))
    assert parse(response).select_one("[data-testid=import-report]") is None
    assert await snapshot(db) == before


@pytest.mark.parametrize(
    ("content", "filename", "message"),
    [
        (b"", "vuoto.csv", "The file contains no comuni."),
        (b"codice;nome;zona\n\n", "intestazione.csv", "The file contains no comuni."),
    ],
)
async def test_empty_csv_is_refused(
    world: World, db: Database, login_as: LoginAs, content: bytes, filename: str, message: str
) -> None:
    admin = await login_as("admin")
    before = await snapshot(db)
    response = await upload(admin, content, filename=filename)
    assert response.status_code == 422
    assert import_errors(response) == [(0, italian(message))]
    assert await snapshot(db) == before


async def test_upload_without_a_file_is_refused(
    world: World, db: Database, login_as: LoginAs
) -> None:
    admin = await login_as("admin")
    before = await snapshot(db)
    token = {"csrf_token": await admin.csrf()}
    response = await admin.http.post(
        IMPORT, data=token, files={"other": ("x.csv", b"1;a;1", "text/csv")}
    )
    assert response.status_code == 422
    assert text_of(response, ".alert-danger") == italian("Choose a CSV file to upload.")
    # A browser's form with no file chosen sends an empty part without a name.
    empty = await admin.http.post(
        IMPORT, data=token, files={"file": ("", b"", "application/octet-stream")}
    )
    assert empty.status_code == 422
    assert text_of(empty, ".alert-danger") == italian("Choose a CSV file to upload.")
    # A url-encoded post (no file at all) is refused the same way.
    response = await admin.post(IMPORT, {"file": "001316;Mappano;4"})
    assert response.status_code == 422
    assert await snapshot(db) == before


async def test_a_long_list_of_bad_lines_is_cut(
    world: World, db: Database, login_as: LoginAs
) -> None:
    admin = await login_as("admin")
    response = await upload(admin, b"001191;Pinerolo;99\n" * 600)
    assert response.status_code == 422
    listed = import_errors(response)
    assert [line for line, _ in listed] == list(range(1, 501))
    box = one(parse(response), "[data-testid=import-errors]")
    assert words(box.select("li")[-1]) == italian_n(
        "… and %(num)d more line.", "… and %(num)d more lines.", 100
    )
    assert words(one(box, "p")).endswith(
        italian_n("%(num)d line to correct:", "%(num)d lines to correct:", 600)
    )


async def test_upload_without_csrf_token_is_refused(
    world: World, db: Database, login_as: LoginAs
) -> None:
    admin = await login_as("admin")
    before = await snapshot(db)
    response = await upload(admin, b"001316;Mappano;4\n", token=False)
    assert response.status_code == 403
    wrong = await admin.http.post(
        IMPORT, data={"csrf_token": "sbagliato"}, files={"file": ("c.csv", b"001316;Mappano;4\n")}
    )
    assert wrong.status_code == 403
    # The right token in the URL is not accepted: access logs keep URLs.
    query = await admin.http.post(
        f"{IMPORT}?csrf_token={await admin.csrf()}",
        files={"file": ("c.csv", b"001316;Mappano;4\n")},
    )
    assert query.status_code == 403
    assert await snapshot(db) == before
    # The token may also come in the header, as htmx sends it.
    response = await admin.http.post(
        IMPORT, files={"file": ("c.csv", b"001316;Mappano;4\n")},
        headers={"X-CSRF-Token": await admin.csrf()},
    )  # fmt: skip
    assert response.status_code == 200
    assert (await comune(db, "001316")).name == "Mappano"


async def test_oversize_upload_is_refused(world: World, db: Database, login_as: LoginAs) -> None:
    admin = await login_as("admin")
    before = await snapshot(db)
    line = b"001316;Mappano;4\n"
    big = line * (MAX_BYTES // len(line) + 1)
    assert len(big) > MAX_BYTES
    response = await upload(admin, big)
    assert response.status_code == 413
    assert parse(response).select_one(".alert-danger[data-status='413']") is not None
    assert await snapshot(db) == before


async def test_oversize_chunked_upload_is_refused(
    world: World, db: Database, login_as: LoginAs
) -> None:
    """Without Content-Length the body is still cut at the limit."""
    admin = await login_as("admin")
    before = await snapshot(db)
    boundary = "collab-test-boundary"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="c.csv"\r\n'
        "Content-Type: text/csv\r\n\r\n"
    ).encode()

    async def body() -> AsyncIterator[bytes]:
        yield head
        for _ in range(MAX_BYTES // 65536 + 4):
            yield b"001316;Mappano;4\n" * 3855  # ~64 KiB
        yield f"\r\n--{boundary}--\r\n".encode()

    response = await admin.http.post(
        IMPORT, content=body(),
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}",
                 "X-CSRF-Token": await admin.csrf()},
    )  # fmt: skip
    assert "content-length" not in response.request.headers
    assert response.status_code == 413
    assert await snapshot(db) == before


async def test_file_just_under_the_limit_is_accepted(
    world: World, db: Database, login_as: LoginAs
) -> None:
    admin = await login_as("admin")
    # One comune, then blank lines (skipped) up to just under 2 MB.
    line = b"001191;Pinerolo;5\n"
    content = line + b"\n" * (MAX_BYTES - 2 * len(line))
    assert MAX_BYTES - 100 < len(content) < MAX_BYTES
    response = await upload(admin, content)
    assert response.status_code == 200
    counts = {str(dd["data-count"]): words(dd) for dd in parse(response).select("[data-count]")}
    assert counts["unchanged"] == "1"


# --- zones -------------------------------------------------------------------


async def test_zones_are_listed_with_comuni_and_users(
    world: World, db: Database, login_as: LoginAs
) -> None:
    admin = await login_as("admin")
    response = await admin.get("/admin/zones")
    assert response.status_code == 200
    rows = parse(response).select("table[data-testid=zones] tbody tr")
    assert [int(str(row["data-zone"])) for row in rows] == list(range(1, 12))
    by_number = {int(str(row["data-zone"])): row for row in rows}
    five = cells(by_number[5])
    assert (five[2], five[3]) == ("4", "3")  # 4 comuni in the demo file, 3 users
    assert field_value(by_number[5], "input[name=name]") == "Pinerolese"
    assert cells(by_number[1])[2:] == ["1", "0"]


async def test_admin_renames_a_zone(world: World, db: Database, login_as: LoginAs) -> None:
    admin = await login_as("admin")
    response = await admin.post("/admin/zones/5", {"name": "  Pinerolese e Val Pellice "})
    assert response.status_code == 303
    assert response.headers["location"] == "/admin/zones"
    sindaco = await login_as("sindaco5")
    heading = text_of(await sindaco.get("/zones/5"), "main h1")
    assert heading == f"{italian('Zone %(number)d', number=5)} · Pinerolese e Val Pellice"
    [row] = await audit_rows(db, "zone.updated")
    assert row.actor_id == world["admin"].id
    assert row.detail == {"before": {"name": "Pinerolese"},
                          "after": {"name": "Pinerolese e Val Pellice"}}  # fmt: skip


@pytest.mark.parametrize("name", ["", "   ", "x" * 121])
async def test_rename_zone_refuses_bad_names(
    world: World, db: Database, login_as: LoginAs, name: str
) -> None:
    admin = await login_as("admin")
    before = await snapshot(db)
    response = await admin.post("/admin/zones/5", {"name": name})
    assert response.status_code == 422
    page = parse(response)
    assert text_of(response, ".alert-danger") == italian("Enter the name (at most 120 characters).")
    assert [node["id"] for node in page.select(".is-invalid")] == ["zone-5"]
    assert field_value(page, "#zone-5") == name
    assert field_value(page, "#zone-9") == "Eporediese"
    assert await snapshot(db) == before
