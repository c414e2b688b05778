"""A person's calendar feed: a secret address a calendar app subscribes to
without a cookie, with the meetings of their zone; a new address retires
the old one; revoked, it answers 404."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta

from sqlalchemy import select, update

from collab.db import Database
from collab.meetings import actions
from collab.meetings.actions import AgendaLine, Convocation
from collab.models import AuditLog, Theme, User, Zone, utcnow
from tests.conftest import World, email
from tests.helpers import Client, parse


async def _convene(db: Database, world: World, zone_number: int, title: str) -> int:
    async with db.transaction() as uow:
        zone_id = await uow.session.scalar(select(Zone.id).where(Zone.number == zone_number))
        theme_id = await uow.session.scalar(select(Theme.id).limit(1))
        assert zone_id is not None and theme_id is not None
        meeting = await actions.do_convene(
            uow,
            world["staff"],
            Convocation(
                title=title,
                zone_ids=[zone_id],
                starts_at=utcnow() + timedelta(days=7),
                items=[AgendaLine("Approvazione del verbale", theme_id)],
                place="Sala del Consiglio",
            ),
        )
        return meeting.id


async def _address(client: Client) -> str:
    response = await client.post("/account/calendar")
    assert response.status_code == 303
    node = parse(await client.get("/account/calendar")).select_one("[data-testid=feed]")
    assert node is not None
    return str(node["value"])


async def test_the_feed_has_the_zone_s_meetings_and_needs_no_cookie(
    world: World,
    login_as: Callable[[str], Awaitable[Client]],
    new_client: Callable[..., Client],
    db: Database,
) -> None:
    await _convene(db, world, 5, "Assemblea dei sindaci del Pinerolese")
    await _convene(db, world, 9, "Assemblea dei sindaci dell'Eporediese")
    mayor = await login_as("sindaco5")
    address = await _address(mayor)
    assert address.startswith("http://127.0.0.1:8000/calendar/") and address.endswith(".ics")
    path = address.removeprefix("http://127.0.0.1:8000")
    anonymous = new_client()  # a calendar app: no session
    feed = await anonymous.http.get(path)
    assert feed.status_code == 200
    assert feed.headers["content-type"].startswith("text/calendar")
    assert feed.headers["cache-control"].startswith("private")
    body = feed.text.replace("\r\n ", "")
    assert "SUMMARY:Assemblea dei sindaci del Pinerolese" in body
    assert "Eporediese" not in body  # another zone's meeting
    assert body.count("BEGIN:VEVENT") == 1
    # Staff see every zone's meetings.
    staff = await login_as("staff")
    staff_feed = await anonymous.http.get(
        (await _address(staff)).removeprefix("http://127.0.0.1:8000")
    )
    assert staff_feed.text.count("BEGIN:VEVENT") == 2


async def test_a_new_address_retires_the_old_and_revoking_ends_it(
    world: World,
    login_as: Callable[[str], Awaitable[Client]],
    new_client: Callable[..., Client],
    db: Database,
) -> None:
    tech = await login_as("tecnico5")
    first = (await _address(tech)).removeprefix("http://127.0.0.1:8000")
    second = (await _address(tech)).removeprefix("http://127.0.0.1:8000")
    assert first != second
    anonymous = new_client()
    assert (await anonymous.http.get(first)).status_code == 404
    assert (await anonymous.http.get(second)).status_code == 200
    assert (await tech.post("/account/calendar/revoke")).status_code == 303
    assert (await anonymous.http.get(second)).status_code == 404
    page = parse(await tech.get("/account/calendar"))
    assert page.select_one("[data-testid=feed]") is None
    async with db.session() as session:
        actions_logged = list(await session.scalars(select(AuditLog.action)))
    assert actions_logged.count("user.calendar_feed_created") == 2
    assert "user.calendar_feed_revoked" in actions_logged


async def test_a_deactivated_user_s_feed_stops(
    world: World,
    login_as: Callable[[str], Awaitable[Client]],
    new_client: Callable[..., Client],
    db: Database,
) -> None:
    path = (await _address(await login_as("sindaco9"))).removeprefix("http://127.0.0.1:8000")
    async with db.transaction() as uow:
        await uow.session.execute(
            update(User).where(User.email == email("sindaco9")).values(active=False)
        )
    assert (await new_client().http.get(path)).status_code == 404


async def test_unknown_addresses_and_forged_requests_are_refused(
    world: World, login_as: Callable[[str], Awaitable[Client]], new_client: Callable[..., Client]
) -> None:
    anonymous = new_client()
    for path in ("/calendar/nope.ics", "/calendar/" + "x" * 80 + ".ics", "/calendar/%00.ics"):
        assert (await anonymous.http.get(path)).status_code == 404
    assert (await anonymous.http.get("/account/calendar")).status_code in (302, 303)
    mayor = await login_as("sindaco5")
    forged = await mayor.http.post("/account/calendar")  # no CSRF token
    assert forged.status_code == 403
    assert parse(await mayor.get("/account/calendar")).select_one("[data-testid=feed]") is None


async def test_the_feed_is_rate_limited_per_client(
    world: World, login_as: Callable[[str], Awaitable[Client]], new_client: Callable[..., Client]
) -> None:
    path = (await _address(await login_as("sindaco5"))).removeprefix("http://127.0.0.1:8000")
    greedy = new_client("10.9.9.9")
    statuses = [(await greedy.http.get(path)).status_code for _ in range(61)]
    assert statuses[:60] == [200] * 60 and statuses[60] == 429
    assert (await new_client("10.9.9.8").http.get(path)).status_code == 200
