"""The convening form's rows and errors without JavaScript (collab/meetings/pages.py):
agenda and material rows added, removed and moved by the ``row`` buttons, the
form coming back as typed; every refused field shown at once, next to itself."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import httpx
from bs4 import BeautifulSoup
from sqlalchemy import select

from collab.db import Database
from collab.meetings.actions import MAX_ITEMS
from collab.meetings.models import AgendaItem, Meeting
from collab.models import Theme
from collab.templating import ROME
from tests.conftest import World
from tests.helpers import Client, italian, italian_n, parse, snapshot, text_of
from tests.meetings.scene import convene, zone_ids

Login = Callable[[str], Awaitable[Client]]
Form = dict[str, str | list[str]]


async def _themes(db: Database) -> list[int]:
    async with db.session() as session:
        return list(await session.scalars(select(Theme.id).order_by(Theme.position)))


def _local(moment: datetime) -> str:
    return moment.astimezone(ROME).strftime("%Y-%m-%dT%H:%M")


async def _form(db: Database, titles: list[str], **changes: str | list[str]) -> Form:
    themes = await _themes(db)
    data: Form = {
        "title": "Assemblea dei sindaci",
        "zones": [str(z) for z in await zone_ids(db, 5)],
        "starts_at": _local(datetime.now(UTC) + timedelta(days=3)),
        "place": "Sala consiliare, Pinerolo",
        "video_url": "",
        "quorum": "",
        "material-0-title": "",
        "material-0-url": "",
    }
    for n, title in enumerate(titles):
        data |= {
            f"item-{n}-title": title,
            f"item-{n}-theme": str(themes[n % len(themes)]),
            f"item-{n}-minutes": str(10 + n),
        }
    return data | changes


async def _post(client: Client, data: Form, url: str = "/meetings/new") -> httpx.Response:
    token = await client.csrf()
    return await client.http.post(url, data={"csrf_token": token, **data})


def _rows(page: BeautifulSoup, kind: str = "item") -> list[tuple[str, str, str]]:
    """The rows shown (not the template's): title, theme and minutes (or url)."""
    rows = []
    for n, _row in enumerate(page.select(f'ol [data-testid="{kind}-row"]')):
        values = []
        for part in ("title", "theme", "minutes") if kind == "item" else ("title", "url"):
            node = page.select_one(f"#{kind}-{n}-{part}")
            assert node is not None, (kind, n, part)
            if node.name == "select":
                chosen = node.select_one("option[selected]")
                values.append(str(chosen["value"]) if chosen else "")
            else:
                values.append(str(node.get("value", "")))
        rows.append(tuple(values))
    return rows  # type: ignore[return-value]


async def test_a_row_is_added_without_a_write_and_the_typed_values_stay(
    login_as: Login, db: Database
) -> None:
    staff = await login_as("staff")
    data = await _form(db, ["Parere sul PSM", "Trasporti"], description="Ordine del giorno.")
    before = await snapshot(db)
    response = await _post(staff, {**data, "row": "add-item"})
    assert response.status_code == 200
    assert await snapshot(db) == before  # nothing convened
    page = parse(response)
    themes = await _themes(db)
    assert _rows(page) == [
        ("Parere sul PSM", str(themes[0]), "10"),
        ("Trasporti", str(themes[1]), "11"),
        ("", "", "15"),
    ]
    new = page.select_one("#item-2-title")
    assert new is not None and new.has_attr("autofocus")
    label = page.select_one('label[for="item-2-title"]')
    assert label is not None and label.get_text(strip=True) == italian("Item %(number)d") % {
        "number": 3
    }
    title, description = page.select_one("#title"), page.select_one("#description")
    assert title is not None and title["value"] == "Assemblea dei sindaci"
    assert description is not None and description.get_text() == "Ordine del giorno."
    # A blank row stays while the form is being filled.
    again = parse(await _post(staff, {**data, "item-2-title": "", "row": "add-material"}))
    assert len(_rows(again, "material")) == 2
    assert [r[0] for r in _rows(again)] == ["Parere sul PSM", "Trasporti", ""]


async def test_rows_are_removed_and_moved_without_javascript(login_as: Login, db: Database) -> None:
    staff = await login_as("staff")
    data = await _form(db, ["Primo punto", "Secondo punto", "Terzo punto"])
    page = parse(await _post(staff, {**data, "row": "up-item-2"}))
    assert [r[0] for r in _rows(page)] == ["Primo punto", "Terzo punto", "Secondo punto"]
    moved = page.select_one("#item-1-title")
    assert moved is not None and moved.has_attr("autofocus")
    page = parse(await _post(staff, {**data, "row": "down-item-0"}))
    assert [r[0] for r in _rows(page)] == ["Secondo punto", "Primo punto", "Terzo punto"]
    assert [r[2] for r in _rows(page)] == ["11", "10", "12"]  # a row moves whole
    page = parse(await _post(staff, {**data, "row": "remove-item-1"}))
    assert [r[0] for r in _rows(page)] == ["Primo punto", "Terzo punto"]
    # The first row cannot go up, nor the last down; an unknown row changes nothing.
    for action in ("up-item-0", "down-item-2", "remove-item-7"):
        page = parse(await _post(staff, {**data, "row": action}))
        assert [r[0] for r in _rows(page)] == ["Primo punto", "Secondo punto", "Terzo punto"]
    # The last row removed: a blank one to fill.
    single = await _form(db, ["Solo punto"])
    page = parse(await _post(staff, {**single, "row": "remove-item-0"}))
    assert [r[0] for r in _rows(page)] == [""]


async def test_no_more_rows_than_the_agenda_takes(login_as: Login, db: Database) -> None:
    staff = await login_as("staff")
    data = await _form(db, [f"Punto numero {n + 1}" for n in range(MAX_ITEMS)])
    response = await _post(staff, {**data, "row": "add-item"})
    assert response.status_code == 200  # the form's 90 agenda fields fit
    page = parse(response)
    assert len(_rows(page)) == MAX_ITEMS
    add = page.select_one("#add-item")
    assert add is not None and add.has_attr("hidden")


async def test_a_long_agenda_is_convened_in_the_order_shown(login_as: Login, db: Database) -> None:
    staff = await login_as("staff")
    titles = [f"Punto numero {n + 1}" for n in range(12)]
    response = await _post(staff, await _form(db, titles))
    assert response.status_code == 303, response.text[:500]
    meeting_id = int(response.headers["location"].rsplit("/", 1)[1])
    async with db.session() as session:
        items = list(
            await session.scalars(
                select(AgendaItem)
                .where(AgendaItem.meeting_id == meeting_id)
                .order_by(AgendaItem.position)
            )
        )
    assert [(i.title, i.minutes) for i in items] == [(t, 10 + n) for n, t in enumerate(titles)]


async def test_every_error_is_shown_at_once_next_to_its_field(
    login_as: Login, db: Database
) -> None:
    staff = await login_as("staff")
    data = await _form(
        db,
        ["Parere sul PSM", "", "Trasporti", "no"],
        title="x",
        zones=[],
        starts_at="31/12/2030 10:00",
        place="",
        quorum="tanti",
        **{"item-0-minutes": "mezz'ora", "item-2-theme": "999999"},
        **{"material-0-title": "Bozza", "material-0-url": "javascript:alert(1)"},
    )
    before = await snapshot(db)
    response = await _post(staff, data)
    assert response.status_code == 422
    assert await snapshot(db) == before
    page = parse(response)
    # The blank row is dropped: "Trasporti" is row 1 now, "no" row 2, as numbered.
    expected = {
        "title": "The title must be at least 3 characters long.",
        "zones": "Choose at least one zone.",
        "starts_at": "Give the date and time as day, month, year, hours and minutes.",
        "place": "Give a place, a video-call link, or both.",
        "item-0": "An agenda item lasts from 1 to 480 minutes.",
        "item-1": "Each agenda item needs a theme in use.",
        "item-2": "The title must be at least 3 characters long.",
        "quorum": "The quorum must be a number of comuni.",
        "material-0": "The address must start with https:// or http://.",
    }
    shown = {
        str(node["id"]).removesuffix("-error"): node.get_text(strip=True)
        for node in page.select(".invalid-feedback")
    }
    assert shown == {name: italian(message) for name, message in expected.items()}
    assert text_of(response, '[data-testid="form-errors"]') == italian_n(
        "%(num)d field to correct, marked below.",
        "%(num)d fields to correct, marked below.",
        len(expected),
    ) % {"num": len(expected)}
    # Each message is next to its field, which points to it.
    for name in ("title", "starts_at", "place", "quorum", "item-1", "material-0"):
        field = page.select_one(f"#{name}" if "-" not in name else f"#{name}-title")
        assert field is not None and field["aria-invalid"] == "true", name
        assert f"{name}-error" in str(field["aria-describedby"]).split(), name
        container = field.find_parent(class_="convene-row") or field.parent
        assert container is not None and container.select_one(f"#{name}-error"), name
    # What was typed comes back.
    assert [r[0] for r in _rows(page)] == ["Parere sul PSM", "Trasporti", "no"]
    assert _rows(page)[0][2] == "mezz'ora"
    for name in ("title", "starts_at", "quorum"):
        field = page.select_one(f"#{name}")
        assert field is not None and field["value"] == data[name]
    url = page.select_one("#material-0-url")
    assert url is not None and url["value"] == "javascript:alert(1)"


async def test_the_edit_form_has_the_same_rows_and_errors(
    login_as: Login, db: Database, world: World
) -> None:
    meeting: Meeting = await convene(db, world["portavoce5"], (5,), items=2)
    chair = await login_as("portavoce5")
    url = f"/meetings/{meeting.id}/edit"
    page = parse(await chair.get(url))
    assert len(_rows(page)) == 2
    data = {
        **await _form(db, ["no", "Secondo punto"]),
        "title": "Giornata di sintesi",
    }
    page = parse(await _post(chair, {**data, "row": "add-item"}, url))
    assert len(_rows(page)) == 3
    before = await snapshot(db)
    refused = await _post(chair, {**data, "place": ""}, url)
    assert refused.status_code == 422
    assert await snapshot(db) == before
    shown = {str(n["id"]) for n in parse(refused).select(".invalid-feedback")}
    assert shown == {"place-error", "item-0-error"}
