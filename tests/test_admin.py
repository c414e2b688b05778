"""User administration and the audit log: admins only."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from bs4 import BeautifulSoup
from sqlalchemy import func, select

from collab.db import Database
from collab.i18n import translations
from collab.models import AuditLog, Role, User
from tests.conftest import WORLD_USERS, World, email
from tests.helpers import PASSWORD, Client, parse, text_of

LoginAs = Callable[[str], Awaitable[Client]]
NON_ADMINS = ["staff", "sindaco5", "tecnico5", "portavoce9"]
NEW_USER = {
    "email": "nuova@comune.it",
    "name": "Nuova Utente",
    "role": "tecnico",
    "comune": "001191",
    "password": "password-iniziale",
}


def italian(msgid: str, **params: Any) -> str:
    text = translations("it").gettext(msgid)
    assert text != msgid, f"the Italian catalog does not translate {msgid!r}"
    return text % params if params else text


def user_rows(response: httpx.Response) -> list[list[str]]:
    """The users table, cell texts per row (name, email, role, comune, status)."""
    rows = parse(response).select("table[data-testid=users] tbody tr")
    return [[" ".join(td.get_text(" ").split()) for td in row.select("td")[:5]] for row in rows]


def form_values(page: BeautifulSoup) -> list[tuple[str, str]]:
    """What a browser would submit for the page's main form, as it stands."""
    form = page.select_one("main form[method=post]")
    assert form is not None, "no form in the page"
    values: list[tuple[str, str]] = []
    for node in form.select("input[name], select[name]"):
        name = str(node["name"])
        if node.name == "select":
            chosen = node.select_one("option[selected]") or node.select_one("option")
            values.append((name, str(chosen["value"]) if chosen else ""))
        elif node.get("type") == "checkbox":
            if node.has_attr("checked"):
                values.append((name, str(node.get("value", "on"))))
        else:
            values.append((name, str(node.get("value", ""))))
    return values


async def logged_in(client: Client) -> bool:
    response = await client.get("/account/password")
    return response.status_code == 200


async def users_by_email(db: Database) -> dict[str, User]:
    async with db.session() as session:
        return {u.email: u for u in (await session.scalars(select(User))).all()}


async def audit_actions(db: Database) -> list[str]:
    async with db.session() as session:
        return list((await session.scalars(select(AuditLog.action).order_by(AuditLog.id))).all())


# --- listing -----------------------------------------------------------------


async def test_admin_lists_users(world: World, login_as: LoginAs) -> None:
    admin = await login_as("admin")
    response = await admin.get("/admin/users")
    assert response.status_code == 200
    rows = user_rows(response)
    assert sorted(row[1] for row in rows) == sorted(email(key) for key in WORLD_USERS)
    by_email = {row[1]: row for row in rows}
    assert by_email[email("sindaco5")][3] == "Pinerolo"
    assert by_email[email("staff")][3] == "CMTo"


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("sindaco", ["sindaco5", "sindaco9"]),  # names and emails
        ("PORTAVOCE9", ["portavoce9"]),  # case-insensitive
        ("tecnico9@test", ["tecnico9"]),  # by email
        ("Staff", ["staff"]),  # by name
        ("nessuno", []),
    ],
)
async def test_admin_searches_users(
    world: World, login_as: LoginAs, query: str, expected: list[str]
) -> None:
    admin = await login_as("admin")
    response = await admin.get("/admin/users", params={"q": query})
    assert response.status_code == 200
    assert sorted(row[1] for row in user_rows(response)) == [email(k) for k in expected]
    assert parse(response).select_one("input#q")["value"] == query  # type: ignore[index]


# --- creating ----------------------------------------------------------------


async def test_admin_creates_a_user(world: World, db: Database, login_as: LoginAs) -> None:
    admin = await login_as("admin")
    form = parse(await admin.get("/admin/users/new"))
    assert {name for name, _ in form_values(form)} >= {"email", "name", "role", "comune"}
    response = await admin.post("/admin/users/new", {**NEW_USER, "email": " Nuova@Comune.IT"})
    assert response.status_code == 303
    assert response.headers["location"] == "/admin/users"
    created = (await users_by_email(db))["nuova@comune.it"]
    assert (created.name, created.role, created.active) == ("Nuova Utente", Role.TECNICO, True)
    assert created.comune is not None
    assert created.comune.istat_code == "001191"
    listed = user_rows(await admin.get("/admin/users", params={"q": "nuova"}))
    assert listed == [["Nuova Utente", "nuova@comune.it", italian("Technician"), "Pinerolo",
                       italian("active")]]  # fmt: skip
    # The new user can log in with the initial password.
    await admin.logout()
    await admin.login("nuova@comune.it", NEW_USER["password"])


async def test_admin_creates_cmto_staff(world: World, db: Database, login_as: LoginAs) -> None:
    admin = await login_as("admin")
    data = {**NEW_USER, "email": "segreteria@cmto.it", "role": "staff", "comune": ""}
    assert (await admin.post("/admin/users/new", data)).status_code == 303
    created = (await users_by_email(db))["segreteria@cmto.it"]
    assert (created.role, created.comune_id) == (Role.STAFF, None)


@pytest.mark.parametrize(
    ("changes", "field", "message", "params"),
    [
        ({"email": "non-una-email"}, "email", "Enter a valid email address.", {}),
        ({"email": "SINDACO5@test.collab.it"}, "email", "A user with this email already exists.",
         {}),
        ({"role": "sindaco", "comune": ""}, "comune", "This role needs the user's comune.", {}),
        ({"role": "staff"}, "comune", "CMTo staff and admins belong to no comune.", {}),
        ({"password": "corta"}, "password",
         "The password must be at least %(min)d characters long.", {"min": 10}),
        ({"comune": "999999"}, "comune", "No comune has ISTAT code %(code)s.",
         {"code": "999999"}),
        ({"role": "sovrano"}, "role", "Choose a valid role.", {}),
    ],
)  # fmt: skip
async def test_create_user_refuses_bad_input(
    world: World,
    db: Database,
    login_as: LoginAs,
    changes: dict[str, str],
    field: str,
    message: str,
    params: dict[str, Any],
) -> None:
    admin = await login_as("admin")
    before = await users_by_email(db)
    audited = await audit_actions(db)
    data = {**NEW_USER, **changes}
    response = await admin.post("/admin/users/new", data)
    assert response.status_code == 422
    page = parse(response)
    assert text_of(response, ".alert-danger") == italian(message, **params)
    assert [node["id"] for node in page.select(".is-invalid")] == [field]
    # What was typed is kept, except the password.
    kept = dict(form_values(page))
    assert kept["email"] == data["email"]
    assert kept["name"] == data["name"]
    if data["role"] in {r.value for r in Role}:
        assert kept["role"] == data["role"]
    if data["comune"] != "999999":
        assert kept["comune"] == data["comune"]
    assert kept["password"] == ""
    assert (await users_by_email(db)).keys() == before.keys()
    assert await audit_actions(db) == audited


# --- editing -----------------------------------------------------------------


async def test_admin_edits_role_and_comune(world: World, db: Database, login_as: LoginAs) -> None:
    admin = await login_as("admin")
    target = world["tecnico5"]
    page = parse(await admin.get(f"/admin/users/{target.id}"))
    values = dict(form_values(page))
    assert (values["role"], values["comune"], values["active"]) == ("tecnico", "001139", "1")
    response = await admin.post(
        f"/admin/users/{target.id}", {"role": "sindaco", "comune": "001125", "active": "1"}
    )
    assert response.status_code == 303
    updated = (await users_by_email(db))[email("tecnico5")]
    assert updated.role == Role.SINDACO
    assert updated.comune is not None
    assert (updated.comune.istat_code, updated.comune.zone.number) == ("001125", 9)
    assert updated.active


async def test_submitting_the_edit_form_unchanged_changes_nothing(
    world: World, db: Database, login_as: LoginAs
) -> None:
    admin = await login_as("admin")
    user = await login_as("tecnico5")
    target = world["tecnico5"]
    page = parse(await admin.get(f"/admin/users/{target.id}"))
    data: dict[str, list[str]] = {}
    for name, value in form_values(page):
        data.setdefault(name, []).append(value)
    response = await admin.http.post(f"/admin/users/{target.id}", data=data)
    assert response.status_code == 303
    assert (await users_by_email(db))[email("tecnico5")].session_epoch == 0
    assert await logged_in(user)
    assert "user.updated" not in await audit_actions(db)


async def test_unticking_active_in_the_form_deactivates(
    world: World, db: Database, login_as: LoginAs
) -> None:
    admin = await login_as("admin")
    target = world["tecnico5"]
    page = parse(await admin.get(f"/admin/users/{target.id}"))
    checkbox = page.select_one("input#active")
    assert checkbox is not None
    del checkbox["checked"]
    data: dict[str, list[str]] = {}
    for name, value in form_values(page):
        data.setdefault(name, []).append(value)
    assert (await admin.http.post(f"/admin/users/{target.id}", data=data)).status_code == 303
    assert not (await users_by_email(db))[email("tecnico5")].active


async def test_deactivation_ends_the_users_sessions(
    world: World, db: Database, login_as: LoginAs, new_client: Callable[[], Client]
) -> None:
    admin = await login_as("admin")
    user = await login_as("tecnico5")
    other = await login_as("sindaco5")
    target = world["tecnico5"]
    response = await admin.post(
        f"/admin/users/{target.id}", {"role": "tecnico", "comune": "001139", "active": "0"}
    )
    assert response.status_code == 303
    assert not await logged_in(user)
    assert await logged_in(other)
    refused = await new_client().post("/login", {"email": email("tecnico5"), "password": PASSWORD})
    assert refused.status_code == 422
    listed = user_rows(await admin.get("/admin/users", params={"q": "tecnico5"}))
    assert listed[0][4] == italian("deactivated")

    # Reactivated, the user logs in again.
    response = await admin.post(
        f"/admin/users/{target.id}", {"role": "tecnico", "comune": "001139", "active": "1"}
    )
    assert response.status_code == 303
    await new_client().login(email("tecnico5"))


async def test_role_change_takes_effect_at_once(
    world: World, login_as: LoginAs, new_client: Callable[[], Client]
) -> None:
    admin = await login_as("admin")
    staff = await login_as("staff")
    assert (await staff.get("/admin/users")).status_code == 403
    target = world["staff"]
    response = await admin.post(
        f"/admin/users/{target.id}", {"role": "admin", "comune": "", "active": "1"}
    )
    assert response.status_code == 303
    # The old session carried the old role: it is over.
    assert not await logged_in(staff)
    promoted = new_client()
    await promoted.login(email("staff"))
    assert (await promoted.get("/admin/users")).status_code == 200

    # And back: the demoted user loses access at once.
    response = await admin.post(
        f"/admin/users/{target.id}", {"role": "staff", "comune": "", "active": "1"}
    )
    assert response.status_code == 303
    assert (await promoted.get("/admin/users")).status_code == 303
    demoted = new_client()
    await demoted.login(email("staff"))
    assert (await demoted.get("/admin/users")).status_code == 403


@pytest.mark.parametrize(
    "changes", [{"active": "0"}, {"role": "staff"}], ids=["deactivate", "change-role"]
)
async def test_admin_cannot_deactivate_or_demote_self(
    world: World, db: Database, login_as: LoginAs, changes: dict[str, str]
) -> None:
    admin = await login_as("admin")
    me = world["admin"]
    data = {"role": "admin", "comune": "", "active": "1", **changes}
    response = await admin.post(f"/admin/users/{me.id}", data)
    assert response.status_code == 422
    assert text_of(response, ".alert-danger") == italian(
        "You cannot deactivate yourself or change your own role."
    )
    stored = (await users_by_email(db))[email("admin")]
    assert (stored.role, stored.active, stored.session_epoch) == (Role.ADMIN, True, 0)
    assert await logged_in(admin)


async def test_edit_refuses_bad_role_and_comune(
    world: World, db: Database, login_as: LoginAs
) -> None:
    admin = await login_as("admin")
    target = world["sindaco9"]
    response = await admin.post(
        f"/admin/users/{target.id}", {"role": "sindaco", "comune": "", "active": "1"}
    )
    assert response.status_code == 422
    assert text_of(response, ".alert-danger") == italian("This role needs the user's comune.")
    stored = (await users_by_email(db))[email("sindaco9")]
    assert stored.comune is not None
    assert stored.comune.istat_code == "001125"


async def test_unknown_user_is_404(world: World, login_as: LoginAs) -> None:
    admin = await login_as("admin")
    assert (await admin.get("/admin/users/99999")).status_code == 404
    response = await admin.post(
        "/admin/users/99999", {"role": "staff", "comune": "", "active": "1"}
    )
    assert response.status_code == 404


# --- who may ----------------------------------------------------------------


def admin_pages(world: World) -> list[tuple[str, str, dict[str, str]]]:
    target = world["tecnico5"].id
    demote = {"role": "tecnico", "comune": "001139", "active": "0"}
    return [
        ("GET", "/admin/users", {}),
        ("GET", "/admin/users?q=sindaco", {}),
        ("GET", "/admin/users/new", {}),
        ("POST", "/admin/users/new", NEW_USER),
        ("GET", f"/admin/users/{target}", {}),
        ("POST", f"/admin/users/{target}", demote),
        ("GET", "/admin/audit", {}),
    ]


@pytest.mark.parametrize("key", NON_ADMINS)
async def test_non_admins_get_403_everywhere(
    world: World, db: Database, login_as: LoginAs, key: str
) -> None:
    client = await login_as(key)
    before = await users_by_email(db)
    for method, url, data in admin_pages(world):
        if method == "GET":
            response = await client.get(url)
        else:
            response = await client.post(url, data)
        assert response.status_code == 403, (method, url)
        assert parse(response).select_one(".alert-danger[data-status='403']") is not None
    after = await users_by_email(db)
    assert after.keys() == before.keys()
    assert after[email("tecnico5")].active
    assert await logged_in(client)


async def test_anonymous_is_sent_to_login(world: World, client: Client) -> None:
    for method, url, data in admin_pages(world):
        if method == "GET":
            response = await client.get(url)
        else:
            response = await client.post(url, data)
        assert response.status_code == 303, (method, url)
        assert response.headers["location"].startswith("/login?next=/admin/")


# --- audit log ---------------------------------------------------------------


async def test_audit_page_shows_user_changes(world: World, login_as: LoginAs) -> None:
    admin = await login_as("admin")
    assert (await admin.post("/admin/users/new", NEW_USER)).status_code == 303
    target = world["tecnico5"]
    data = {"role": "tecnico", "comune": "001139", "active": "0"}
    assert (await admin.post(f"/admin/users/{target.id}", data)).status_code == 303
    response = await admin.get("/admin/audit")
    assert response.status_code == 200
    rows = parse(response).select("table[data-testid=audit] tbody tr")
    cells = [[" ".join(td.get_text(" ").split()) for td in row.select("td")] for row in rows]
    # Newest first: the update, then the creation, each by the admin.
    actions_shown = [(row[1], row[2]) for row in cells]
    assert actions_shown[:2] == [("Admin", "user.updated"), ("Admin", "user.created")]
    assert cells[0][3] == f"user_account {target.id}"
    # The world's users were created from the command line (no actor).
    assert ("Admin", "user.login") in actions_shown
    assert actions_shown.count((italian("system"), "user.created")) == len(WORLD_USERS)


async def test_audit_rows_record_before_and_after(
    world: World, db: Database, login_as: LoginAs
) -> None:
    admin = await login_as("admin")
    target = world["tecnico5"]
    data = {"role": "tecnico", "comune": "001139", "active": "0"}
    assert (await admin.post(f"/admin/users/{target.id}", data)).status_code == 303
    async with db.session() as session:
        row = await session.scalar(
            select(AuditLog).where(AuditLog.action == "user.updated").order_by(AuditLog.id)
        )
        count = await session.scalar(select(func.count()).where(AuditLog.action == "user.updated"))
    assert count == 1
    assert row is not None
    assert row.actor_id == world["admin"].id
    assert row.detail["before"]["active"] is True
    assert row.detail["after"]["active"] is False
