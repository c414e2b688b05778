"""The bell on every page, the notifications page, settings and unsubscribing."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable

from sqlalchemy import select
from starlette.applications import Starlette

from collab.db import Database
from collab.notifications import actions
from collab.notifications.kinds import Kind
from collab.notifications.models import Mode, Notification, NotificationSetting
from collab.notifications.unsubscribe import token_for
from tests.conftest import World
from tests.helpers import Client, italian, italian_n, parse, snapshot

Login = Callable[[str], Awaitable[Client]]


async def _notify(db: Database, user_id: int, n: int, **extra: object) -> None:
    async with db.transaction() as uow:
        await actions.notify(
            uow,
            [user_id],
            Kind(str(extra.pop("kind", Kind.MENTION))),
            ref=f"post:{n}",
            url=f"/threads/1?page=1#post-{n}",
            title=f"Discussione {n}",
            text="Che ne pensi?",
            **extra,  # type: ignore[arg-type]
        )


async def _ids(db: Database, user_id: int) -> list[int]:
    async with db.session() as session:
        return list(
            await session.scalars(
                select(Notification.id)
                .where(Notification.user_id == user_id)
                .order_by(Notification.id)
            )
        )


async def test_every_page_shows_the_bell_and_follows_the_users_topic(
    login_as: Login, db: Database, world: World
) -> None:
    mayor = await login_as("sindaco5")
    page = parse(await mayor.get("/account/password"))  # a page with no live region
    bell = page.select_one("#notif-bell")
    assert bell is not None and bell.select_one("[data-testid=notif-count]") is None
    assert bell["aria-label"] == italian("Notifications: none unread")
    live = page.select_one("#live")
    assert live is not None
    assert json.loads(str(live["data-topics"])) == {}
    assert json.loads(str(live["data-own"])) == {f"user:{world['sindaco5'].id}": 0}

    await _notify(db, world["sindaco5"].id, 1, actor_id=world["tecnico5"].id)
    await _notify(db, world["sindaco5"].id, 2)
    page = parse(await mayor.get("/account/password"))
    bell = page.select_one("#notif-bell")
    assert bell is not None
    assert bell.select_one("[data-testid=notif-count]").get_text() == "2"  # type: ignore[union-attr]
    expected = italian_n("Notifications: %(num)d unread", "Notifications: %(num)d unread", 2)
    assert bell["aria-label"] == expected % {"num": 2}
    live = page.select_one("#live")
    assert live is not None
    assert json.loads(str(live["data-own"]))[f"user:{world['sindaco5'].id}"] == 2


async def test_no_bell_and_no_socket_without_login(client: Client) -> None:
    page = parse(await client.get("/login"))
    assert page.select_one("#notif-bell") is None
    assert page.select_one("#live") is None


async def test_the_list_by_day_and_opening_marks_read(
    login_as: Login, db: Database, world: World
) -> None:
    mayor = await login_as("sindaco5")
    await _notify(db, world["sindaco5"].id, 7, actor_id=world["tecnico5"].id)
    page = parse(await mayor.get("/notifications"))
    assert [h.get_text() for h in page.select("main h2")] == [italian("Today")]
    (item,) = page.select("[data-testid=notification]")
    assert "unread" in item["class"]
    link = item.select_one("a.notification-link")
    assert link is not None
    expected = italian("%(actor)s mentioned you in %(title)s") % {
        "actor": world["tecnico5"].name,
        "title": "Discussione 7",
    }
    assert link.get_text() == expected
    # Opening lands on the exact post and marks it read, on every device.
    response = await mayor.get(str(link["href"]))
    assert response.status_code == 303
    assert response.headers["location"] == "/threads/1?page=1#post-7"
    page = parse(await mayor.get("/notifications"))
    (item,) = page.select("[data-testid=notification]")
    assert "unread" not in item["class"]
    assert parse(await mayor.get("/notifications?show=unread")).select_one(
        "[data-testid=no-notifications]"
    )


async def test_mark_read_with_htmx_and_all(login_as: Login, db: Database, world: World) -> None:
    mayor = await login_as("sindaco5")
    for n in range(3):
        await _notify(db, world["sindaco5"].id, n)
    first, *_ = await _ids(db, world["sindaco5"].id)
    response = await mayor.post(f"/notifications/{first}/read", htmx=True)
    assert response.status_code == 200
    item = parse(response).select_one(f"#notification-{first}")
    assert item is not None and "unread" not in item["class"]
    response = await mayor.post("/notifications/read-all")
    assert response.status_code == 303
    page = parse(await mayor.get("/notifications"))
    assert page.select("[data-testid=notification].unread") == []
    assert page.select_one("[data-testid=read-all]") is None


async def test_another_users_notification_is_not_found(
    login_as: Login, db: Database, world: World
) -> None:
    await _notify(db, world["sindaco5"].id, 1)
    (theirs,) = await _ids(db, world["sindaco5"].id)
    other = await login_as("tecnico5")
    before = await snapshot(db)
    assert (await other.get(f"/notifications/{theirs}")).status_code == 404
    assert (await other.post(f"/notifications/{theirs}/read")).status_code == 404
    assert (await other.post("/notifications/999999/read")).status_code == 404
    assert await snapshot(db) == before


async def test_pages_need_a_login(client: Client) -> None:
    for url in ("/notifications", "/account/notifications"):
        response = await client.get(url)
        assert response.status_code == 303
        assert response.headers["location"].startswith("/login")


async def test_settings_save_and_refuse_bad_input(
    login_as: Login, db: Database, world: World
) -> None:
    mayor = await login_as("sindaco5")
    page = parse(await mayor.get("/account/notifications"))
    form = {
        str(node["name"]): str(node["value"]) for node in page.select("input[type=radio][checked]")
    }
    assert set(form) == {kind.value for kind in Kind}
    assert form["reply"] == Mode.DIGEST.value
    response = await mayor.post("/account/notifications", {**form, "reply": "never"})
    assert response.status_code == 303
    page = parse(await mayor.get(response.headers["location"]))
    assert page.select_one("#reply-never").has_attr("checked")  # type: ignore[union-attr]
    before = await snapshot(db)
    for bad in ({**form, "reply": "often"}, {k: v for k, v in form.items() if k != "mention"}):
        response = await mayor.post("/account/notifications", bad)
        assert response.status_code == 422
        alert = parse(response).select_one(".alert-danger")
        assert alert is not None
        assert alert.get_text() == italian("Choose how to be told of each kind of notification.")
    assert await snapshot(db) == before


async def test_one_click_unsubscribe_needs_no_login(
    app: Starlette, client: Client, db: Database, world: World
) -> None:
    mayor = world["sindaco5"]
    secret = app.state.services.settings.secret_key
    token = token_for(secret, mayor.id, Kind.REPLY)
    await _notify(db, mayor.id, 1, kind=Kind.REPLY)
    # The page asks; a GET changes nothing (mail scanners follow links).
    page = await client.get(f"/unsubscribe/{token}")
    assert page.status_code == 200
    assert page.headers["referrer-policy"] == "same-origin"
    async with db.session() as session:
        assert await session.get(NotificationSetting, (mayor.id, "reply")) is None
    # RFC 8058: a POST with List-Unsubscribe=One-Click, no cookie, no CSRF token.
    response = await client.http.post(
        f"/unsubscribe/{token}", data={"List-Unsubscribe": "One-Click"}
    )
    assert response.status_code == 200
    async with db.session() as session:
        setting = await session.get(NotificationSetting, (mayor.id, "reply"))
        assert setting is not None and setting.mode is Mode.APP
        waiting = await session.scalar(select(Notification).where(Notification.user_id == mayor.id))
        assert waiting is not None and waiting.mail_state.value == "none"
    # A forged or altered token does nothing.
    before = await snapshot(db)
    for bad in (token[:-2] + "xx", token_for("another-secret" * 3, mayor.id, Kind.REPLY), "x"):
        assert (await client.http.post(f"/unsubscribe/{bad}", data={})).status_code == 404
        assert (await client.get(f"/unsubscribe/{bad}")).status_code == 404
    assert await snapshot(db) == before
