"""The /search page: without JavaScript, with htmx, its messages and refusals."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest

from collab.db import Database
from tests.conftest import World
from tests.forums.support import one
from tests.helpers import Client, italian, italian_n, parse, snapshot, text_of
from tests.search.scene import post, thread

Login = Callable[[str], Awaitable[Client]]


@pytest.fixture
async def threads(db: Database, world: World) -> dict[str, int]:
    own = await thread(db, world["sindaco5"], "Navetta per l'ospedale", "La navetta parte alle 8.")
    other = await thread(
        db, world["sindaco9"], "Navetta di Ivrea", "Orari della navetta estiva.", zone=9
    )
    reply = await post(db, world["sindaco5"], own.id, "Attenti: <script>alert(1)</script> navetta.")
    return {"own": own.id, "other": other.id, "reply": reply.id}


async def test_results_without_javascript(login_as: Login, threads: dict[str, int]) -> None:
    client = await login_as("sindaco5")
    response = await client.get("/search?q=navetta")
    assert response.status_code == 200
    page = parse(response)
    assert one(page, "form[data-testid=search-form] input[name=q]")["value"] == "navetta"
    hits = page.select("[data-testid=search-hit]")
    assert text_of(response, "[data-testid=search-total]") == italian_n(
        "%(num)d result", "%(num)d results", 3
    )
    links = [str(one(hit, "a")["href"]) for hit in hits]
    assert f"/threads/{threads['own']}?page=1#post-{threads['reply']}" in links
    assert all(f"/threads/{threads['other']}" not in link for link in links)
    # Kind, place and date on each; the snippet escaped, with our marks only.
    first = hits[0]
    assert first.select_one(".badge") is not None and first.select_one("time") is not None
    assert "ZO 5" in first.get_text()
    assert page.select("main script") == []
    reply = hits[links.index(f"/threads/{threads['own']}?page=1#post-{threads['reply']}")]
    snippet = reply.select_one(".search-snippet")
    assert snippet is not None and [m.get_text() for m in snippet.select("mark")] == ["navetta"]
    assert "<script>alert(1)</script>" in snippet.get_text()


async def test_htmx_gets_the_results_alone(login_as: Login, threads: dict[str, int]) -> None:
    client = await login_as("staff")
    response = await client.get("/search?q=navet", headers={"HX-Request": "true"})
    assert response.status_code == 200
    fragment = parse(response)
    assert fragment.select_one("html") is None and fragment.select_one("form") is None
    assert len(fragment.select("[data-testid=search-hit]")) == 5  # the last word as typed
    # Submitted, the same words are whole words.
    submitted = parse(await client.get("/search?q=navet"))
    assert submitted.select_one("[data-testid=search-empty]") is not None


async def test_prompt_and_messages(
    login_as: Login, client: Client, threads: dict[str, int]
) -> None:
    response = await client.get("/search")
    assert response.status_code == 200
    assert parse(response).select_one("[data-testid=search-prompt]") is not None
    # Anonymous visitors find public material only: no thread.
    response = await client.get("/search?q=navetta")
    assert text_of(response, "[data-testid=search-empty]") == italian(
        "Nothing found for %(q)s.", q="navetta"
    )
    mayor = await login_as("sindaco5")
    response = await mayor.get("/search?q=-navetta")
    assert response.status_code == 200
    assert text_of(response, "[data-testid=search-message]") == italian(
        "Add at least one word to look for, not only words to exclude."
    )
    response = await mayor.get("/search?q=" + "parola " * 40)
    assert response.status_code == 400
    assert text_of(response, "[data-testid=search-message]") == italian(
        "The search is too long: use at most %(limit)d characters.", limit=200
    )


@pytest.mark.parametrize(
    "q",
    ['"_" ___ -_', "'a':* & !b | (c)", 'NEAR(a b) "x" OR y*', "\u00df\u0301 \u4e2d\u6587 \u00b2"],
)
async def test_what_no_engine_syntax_reaches(
    login_as: Login, threads: dict[str, int], q: str
) -> None:
    # FTS5's and tsquery's operators are only words here.
    client = await login_as("staff")
    response = await client.get("/search", params={"q": q})
    assert response.status_code == 200
    assert parse(response).select_one("#search-results") is not None


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("zone=99", "There is no such zone."),
        ("zone=cinque", "There is no such zone."),
        ("theme=nessuno", "There is no such theme."),
        ("comune=999999", "There is no such comune."),
        ("author=123456789", "There is no such person."),
        ("kind=file", "There is no such kind of result."),
        ("from=31-12-2026", "Give dates as year-month-day, e.g. 2026-03-31."),
        ("from=2026-05-02&to=2026-05-01", "The first day comes after the last one."),
        ("sort=random", "Sort by relevance or by date."),
    ],
)
async def test_bad_filters_are_400(
    db: Database, login_as: Login, threads: dict[str, int], query: str, message: str
) -> None:
    client = await login_as("sindaco5")
    before = await snapshot(db)
    response = await client.get(f"/search?q=navetta&{query}")
    assert response.status_code == 400
    page = parse(response)
    assert text_of(response, "[data-testid=search-message]") == italian(message)
    assert page.select("[data-testid=search-hit]") == []
    assert page.select_one("form[data-testid=search-form]") is not None
    assert await snapshot(db) == before


async def test_filters_in_the_url(login_as: Login, threads: dict[str, int]) -> None:
    client = await login_as("staff")
    response = await client.get("/search?q=navetta&zone=9&kind=thread&sort=newest")
    hits = parse(response).select("[data-testid=search-hit] a")
    assert [a["href"] for a in hits] == [f"/threads/{threads['other']}"]
    page = parse(response)
    assert one(page, "#search-zone option[selected]")["value"] == "9"
    assert one(page, "#search-kind option[selected]")["value"] == "thread"
    response = await client.get("/search?q=navetta&from=2000-01-01&to=2000-12-31")
    assert parse(response).select_one("[data-testid=search-empty]") is not None


async def test_the_header_has_a_search_box(client: Client) -> None:
    form = parse(await client.get("/")).select_one("header form[data-testid=header-search]")
    assert form is not None and form["action"] == "/search" and form["method"] == "get"
    assert form.select_one("input[name=q]") is not None


async def test_a_count_past_the_cap_says_more_than(
    login_as: Login, threads: dict[str, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past COUNT_CAP results the count stops: the page says "more than",
    pages stop at the cap, and the API says ``more``; under it, nothing changes."""
    from collab.search import engine

    monkeypatch.setattr(engine, "COUNT_CAP", 2)
    client = await login_as("staff")  # reads all 5 "navetta" items
    response = await client.get("/search?q=navetta")
    assert text_of(response, "[data-testid=search-total]") == italian(
        "More than %(num)s results: add a word or a filter to narrow them.", num="2"
    )
    assert len(parse(response).select("[data-testid=search-hit]")) == 2
    api = (await client.get("/api/v1/search?q=navetta")).json()
    assert (api["total"], api["more"], api["pages"]) == (2, True, 1)
    assert len(api["results"]) == 2
    monkeypatch.setattr(engine, "COUNT_CAP", 5)
    api = (await client.get("/api/v1/search?q=navetta")).json()
    assert (api["total"], api["more"], len(api["results"])) == (5, False, 5)
