"""Staff correct an open consultation's title, text or themes; the comuni see it was changed."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from sqlalchemy import select

from collab.consultations.models import Consultation
from collab.db import Database
from collab.models import AuditLog, Theme
from tests.conftest import World
from tests.consultations.scene import expire, open_consultation
from tests.helpers import (
    Client,
    capture_events,
    italian,
    parse,
    quiet_db,  # noqa: F401 (the db fixture: writes notify people)
    snapshot,
    text_of,
)

Login = Callable[[str], Awaitable[Client]]
NEW_TEXT = "La zona esprima il parere sul PSM 2027-2029, **allegato B** compreso."


async def _themes(db: Database) -> list[int]:
    async with db.session() as session:
        return list(await session.scalars(select(Theme.id).order_by(Theme.position).limit(2)))


async def test_staff_change_the_text_and_the_comuni_see_it(
    login_as: Login, db: Database, world: World
) -> None:
    consultation = await open_consultation(db, world["staff"])
    url = f"/consultations/{consultation.id}"
    staff = await login_as("staff")
    page = await staff.get(url)
    link = parse(page).select_one('[data-testid="edit-consultation"]')
    assert link is not None and link["href"] == f"{url}/edit"
    form = parse(await staff.get(f"{url}/edit"))
    title = form.select_one("#title")
    assert title is not None and title["value"] == consultation.title
    body = form.select_one("#body")
    assert body is not None and body.get_text() == consultation.body_source
    first, second = await _themes(db)
    checked = {str(i["value"]) for i in form.select('input[name="themes"][checked]')}
    assert checked == {str(first)}

    async with capture_events(db) as events:
        saved = await staff.post(
            f"{url}/edit",
            {"title": "Parere sul Piano strategico (rettifica)", "body": NEW_TEXT,
             "themes": [str(first), str(second)]},  # type: ignore[dict-item]
        )  # fmt: skip
    assert saved.status_code == 303 and saved.headers["location"] == url
    assert [e.type for e in events] == ["consultation.updated"]

    sindaco = await login_as("sindaco5")
    shown = await sindaco.get(url)
    assert text_of(shown, "#consultation-title") == "Parere sul Piano strategico (rettifica)"
    assert parse(shown).select_one("#consultation-ask .markdown strong") is not None
    edited = text_of(shown, '[data-testid="edited"]')
    assert edited.startswith(italian("Text changed by CMTo on %(when)s.", when="")[:20])
    # Only staff change it; the sindaco sees no link and is refused.
    assert parse(shown).select_one('[data-testid="edit-consultation"]') is None
    assert (await sindaco.get(f"{url}/edit")).status_code == 403
    before = await snapshot(db)
    refused = await sindaco.post(f"{url}/edit", {"title": "Altro", "body": "Testo del sindaco."})
    assert refused.status_code == 403
    assert await snapshot(db) == before

    async with db.session() as session:
        trail = (
            await session.scalars(
                select(AuditLog).where(
                    AuditLog.action == "consultation.revised",
                    AuditLog.object_id == str(consultation.id),
                )
            )
        ).one()
    assert trail.detail["previous"]["title"] == "Parere sul Piano strategico"
    assert trail.detail["previous"]["body"] == consultation.body_source
    assert trail.detail["themes"] == sorted([first, second])
    api = (await sindaco.get(f"/api/v1/consultations/{consultation.id}")).json()
    assert api["title"] == "Parere sul Piano strategico (rettifica)" and api["edited_at"]
    assert sorted(t["id"] for t in api["themes"]) == sorted([first, second])


async def test_bad_input_no_change_and_closed(login_as: Login, db: Database, world: World) -> None:
    consultation = await open_consultation(db, world["staff"])
    url = f"/consultations/{consultation.id}"
    staff = await login_as("staff")
    (first, _) = await _themes(db)
    before = await snapshot(db)
    for data, message in (
        ({"title": "x", "body": NEW_TEXT}, "The title must be from 3 to 200 characters long."),
        ({"title": "Parere", "body": "breve"}, "Write the text (at least %(n)d characters)."),
        ({"title": "Parere", "body": NEW_TEXT, "themes": "999999"}, "Choose themes in use."),
    ):
        response = await staff.post(f"{url}/edit", data)  # type: ignore[arg-type]
        assert response.status_code == 422, data
        expected = italian(message, n=10) if "%(n)d" in message else italian(message)
        assert expected in parse(response).get_text()
        # The form keeps what was typed.
        kept = parse(response).select_one("#title")
        assert kept is not None and kept["value"] == data["title"]
    assert await snapshot(db) == before

    # The same title, text and themes: nothing to record, no event.
    async with capture_events(db) as events:
        same = await staff.post(
            f"{url}/edit",
            {"title": consultation.title, "body": consultation.body_source, "themes": str(first)},
        )
    assert same.status_code == 303 and events == []
    async with db.session() as session:
        found = await session.get(Consultation, consultation.id)
    assert found is not None and found.edited_at is None

    await expire(db, consultation.id)
    closed = await staff.post(f"{url}/edit", {"title": "Parere tardivo", "body": NEW_TEXT})
    assert closed.status_code == 409
    assert italian("This consultation is closed: extend the deadline to change it.") in (
        parse(closed).get_text()
    )
    assert parse(await staff.get(url)).select_one('[data-testid="edit-consultation"]') is None
