"""Voting bodies' admin pages: admins create and edit bodies of comuni and of
people, with their rules; every refused field is shown at once, in Italian,
next to its field, and the form keeps what was typed."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from sqlalchemy import select

from collab.db import Database
from collab.meetings.models import (
    BodyKind,
    BodyMember,
    BodyZone,
    Counting,
    Majority,
    VotingBody,
)
from collab.models import AuditLog, User, Zone
from tests.conftest import WORLD_USERS, World, email
from tests.helpers import Client, italian, parse, snapshot, text_of

LoginAs = Callable[[str], Awaitable[Client]]
NON_ADMINS = [key for key, (role, _) in WORLD_USERS.items() if role != "admin"]


def comuni_body(**changes: Any) -> dict[str, Any]:
    form: dict[str, Any] = {
        "name": "Assemblea dei sindaci ZO 5", "kind": "comuni", "zones": ["5"],
        "members": "", "counting": "abstainers_vote", "majority": "double",
        "majority_num": "2", "majority_den": "3", "majority_of_members": "1",
        "quorum_num": "1", "quorum_den": "2", "quorum_above": "1",
        "second_call_quorum_num": "1", "second_call_quorum_den": "3", "active": "1",
    }  # fmt: skip
    return {**form, **changes}


def people_body(**changes: Any) -> dict[str, Any]:
    members = (
        f"{email('portavoce5')}, Sindaco metropolitano\n"
        f"{email('staff')}, Consigliere delegato\n"
        f"  {email('tecnico9').upper()}  ,  Dirigente  \n"
    )
    form = {"name": "Tavolo tecnico mobilità", "kind": "people", "zones": [], "members": members,
            "counting": "abstainers_apart", "majority": "qualified", "majority_of_members": "",
            "show_theme": "1"}  # fmt: skip
    return comuni_body(**{**form, **changes})


async def zone_id(db: Database, number: int) -> int:
    async with db.session() as session:
        found = await session.scalar(select(Zone.id).where(Zone.number == number))
    assert found is not None
    return found


async def bodies(db: Database) -> list[VotingBody]:
    async with db.session() as session:
        return list(await session.scalars(select(VotingBody).order_by(VotingBody.id)))


async def members_of(db: Database, body_id: int) -> list[tuple[str, str, int, bool]]:
    async with db.session() as session:
        rows = await session.execute(
            select(User.email, BodyMember.title, BodyMember.position, BodyMember.active)
            .join(User, User.id == BodyMember.user_id)
            .where(BodyMember.body_id == body_id)
            .order_by(BodyMember.active.desc(), BodyMember.position, User.email)
        )
        return [tuple(row) for row in rows]  # type: ignore[misc]


async def post(client: Client, url: str, form: dict[str, Any]) -> Any:
    return await client.post(url, {k: v for k, v in form.items() if v != ""})


def errors(response: Any) -> dict[str, str]:
    page = parse(response)
    return {
        str(node["data-testid"]).removeprefix("error-"): " ".join(node.get_text(" ").split())
        for node in page.select("[data-testid^=error-]")
    }


async def test_admin_creates_a_body_of_comuni(
    world: World, db: Database, login_as: LoginAs
) -> None:
    client = await login_as("admin")
    zone5 = await zone_id(db, 5)
    response = await post(client, "/admin/bodies/new", comuni_body(zones=[str(zone5)]))
    assert response.status_code == 303, response.text[:500]
    assert response.headers["location"] == "/admin/bodies"
    (body,) = await bodies(db)
    assert (body.name, body.kind, body.counting, body.majority) == (
        "Assemblea dei sindaci ZO 5", BodyKind.COMUNI, Counting.ABSTAINERS_VOTE, Majority.DOUBLE,
    )  # fmt: skip
    assert (body.quorum_num, body.quorum_den, body.quorum_above) == (1, 2, True)
    assert (body.second_call_quorum_num, body.second_call_quorum_den) == (1, 3)
    assert body.second_call_quorum_above is False and body.majority_of_members is True
    assert body.active is True and body.show_theme is False
    async with db.session() as session:
        zones = list(
            await session.scalars(select(BodyZone.zone_id).where(BodyZone.body_id == body.id))
        )
        logged = await session.scalar(select(AuditLog).where(AuditLog.action == "body.created"))
    assert zones == [zone5]
    assert logged is not None and logged.detail["name"] == body.name
    listing = await client.get("/admin/bodies")
    row = parse(listing).select_one(f"table[data-testid=bodies] tr[data-body='{body.id}']")
    assert row is not None
    cells = [" ".join(td.get_text(" ").split()) for td in row.select("td")]
    assert cells[0] == "Assemblea dei sindaci ZO 5"
    assert cells[1] == italian("Comuni of zones %(zones)s", zones="5")
    assert cells[2] == italian("Double majority: comuni and population")


async def test_admin_creates_and_edits_a_body_of_people(
    world: World, db: Database, login_as: LoginAs
) -> None:
    client = await login_as("admin")
    response = await post(client, "/admin/bodies/new", people_body())
    assert response.status_code == 303, response.text[:500]
    (body,) = await bodies(db)
    assert body.kind == BodyKind.PEOPLE and body.majority == Majority.QUALIFIED
    assert (body.majority_num, body.majority_den, body.show_theme) == (2, 3, True)
    assert await members_of(db, body.id) == [
        (email("portavoce5"), "Sindaco metropolitano", 1, True),
        (email("staff"), "Consigliere delegato", 2, True),
        (email("tecnico9"), "Dirigente", 3, True),
    ]
    # The edit page shows what is stored, members in order.
    page = parse(await client.get(f"/admin/bodies/{body.id}"))
    textarea = page.select_one("textarea#members")
    assert textarea is not None
    assert textarea.get_text().splitlines() == [
        f"{email('portavoce5')}, Sindaco metropolitano",
        f"{email('staff')}, Consigliere delegato",
        f"{email('tecnico9')}, Dirigente",
    ]
    # Reordered, one taken off, one added: the one taken off is kept inactive.
    members = f"{email('tecnico9')}, Dirigente\n{email('sindaco5')}\n{email('portavoce5')}, Sindaco"
    response = await post(client, f"/admin/bodies/{body.id}", people_body(members=members))
    assert response.status_code == 303, response.text[:500]
    assert await members_of(db, body.id) == [
        (email("tecnico9"), "Dirigente", 1, True),
        (email("sindaco5"), "", 2, True),
        (email("portavoce5"), "Sindaco", 3, True),
        (email("staff"), "Consigliere delegato", 2, False),
    ]
    # ... and comes back as the same row.
    async with db.session() as session:
        before = await session.scalar(
            select(BodyMember.id).where(BodyMember.user_id == world["staff"].id)
        )
    members += f"\n{email('staff')}, Consigliere"
    response = await post(client, f"/admin/bodies/{body.id}", people_body(members=members))
    assert response.status_code == 303
    async with db.session() as session:
        row = await session.scalar(select(BodyMember).where(BodyMember.id == before))
    assert row is not None and row.active and row.position == 4 and row.title == "Consigliere"


async def test_every_bad_field_is_shown_at_once_and_kept(
    world: World, db: Database, login_as: LoginAs
) -> None:
    client = await login_as("admin")
    before = await snapshot(db)
    form = people_body(
        name="X", members=f"nobody@example.it, Ospite\n{email('staff')}\n{email('staff')}",
        majority="double", counting="secondo me", quorum_num="3", quorum_den="2",
        second_call_quorum_num="uno",
    )  # fmt: skip
    response = await post(client, "/admin/bodies/new", form)
    assert response.status_code == 422
    assert errors(response) == {
        "name": italian("The name must be 3 to 200 characters long."),
        "members": " ".join([
            italian("Line %(line)d: %(email)s is not an active user.", line=1,
                    email="nobody@example.it"),
            italian("Line %(line)d: %(email)s is listed twice.", line=3, email=email("staff")),
        ]),
        "counting": italian("Choose how abstentions are counted."),
        "majority": italian("A double majority (comuni and population) is for a body of comuni."),
        "quorum": italian("Give a fraction between 1/100 and 1, as two whole numbers."),
        "second_call_quorum": italian("Give a fraction between 1/100 and 1, as two whole numbers."),
    }  # fmt: skip
    page = parse(response)
    name = page.select_one("input#name")
    assert name is not None and name["value"] == "X" and name["aria-invalid"] == "true"
    textarea = page.select_one("textarea#members")
    assert textarea is not None and "nobody@example.it, Ospite" in textarea.get_text()
    assert await snapshot(db) == before


async def test_body_checks_zones_names_and_fractions(
    world: World, db: Database, login_as: LoginAs
) -> None:
    client = await login_as("admin")
    for zones in (["99999"], ["\u00b2"], ["\u0665"]):  # no such zone; "²"; Arabic-Indic 5
        response = await post(client, "/admin/bodies/new", comuni_body(zones=zones))
        assert response.status_code == 422, zones
        assert errors(response) == {"zones": italian("Choose the zones whose comuni are members.")}
    response = await post(client, "/admin/bodies/new", comuni_body(zones=[], kind="assemblea"))
    assert errors(response) == {"kind": italian("Choose whether the members are comuni or people.")}
    response = await post(
        client, "/admin/bodies/new",
        comuni_body(zones=[str(await zone_id(db, 5))], majority="qualified", majority_num="1",
                    majority_den="3"),
    )  # fmt: skip
    assert errors(response) == {
        "majority_fraction": italian("A qualified majority is more than half.")
    }
    ok = await post(client, "/admin/bodies/new", comuni_body(zones=[str(await zone_id(db, 5))]))
    assert ok.status_code == 303
    again = await post(client, "/admin/bodies/new", comuni_body(
        name="  assemblea DEI sindaci   zo 5 ", zones=[str(await zone_id(db, 9))]
    ))  # fmt: skip
    assert again.status_code == 422
    assert errors(again) == {"name": italian("Another body has this name.")}
    assert len(await bodies(db)) == 1


@pytest.mark.parametrize("key", NON_ADMINS)
async def test_only_admins_manage_bodies(
    world: World, db: Database, login_as: LoginAs, key: str
) -> None:
    admin = await login_as("admin")
    assert (await post(admin, "/admin/bodies/new", people_body())).status_code == 303
    (body,) = await bodies(db)
    client = await login_as(key)
    before = await snapshot(db)
    for method, url in [("GET", "/admin/bodies"), ("GET", "/admin/bodies/new"),
                        ("POST", "/admin/bodies/new"), ("GET", f"/admin/bodies/{body.id}"),
                        ("POST", f"/admin/bodies/{body.id}")]:  # fmt: skip
        if method == "GET":
            response = await client.get(url)
        else:
            response = await post(client, url, people_body(name="Altro nome"))
        assert response.status_code == 403, (method, url)
        assert text_of(response, ".alert-danger[data-status='403']") == italian(
            "Only administrators can manage users, comuni, zones and themes."
        )
    assert await snapshot(db) == before


async def test_body_forms_need_the_csrf_token(
    world: World, db: Database, login_as: LoginAs
) -> None:
    client = await login_as("admin")
    before = await snapshot(db)
    response = await client.http.post("/admin/bodies/new", data=people_body())
    assert response.status_code == 403
    assert await snapshot(db) == before


async def test_an_unknown_body_is_a_404(world: World, login_as: LoginAs) -> None:
    client = await login_as("admin")
    assert (await client.get("/admin/bodies/4242")).status_code == 404
    response = await post(client, "/admin/bodies/4242", people_body())
    assert response.status_code == 404
