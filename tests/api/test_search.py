"""``GET /api/v1/search``: the /search page's search as JSON, within what each person may read."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select, update

from collab.consultations import actions as consultations
from collab.db import Database
from collab.documents.models import Document
from collab.forums.models import Post, Thread
from collab.meetings import actions as meetings
from collab.meetings import minutes
from collab.models import Comune, Theme, utcnow
from collab.permissions import Action, can
from collab.templating import ROME
from tests.conftest import WORLD_USERS, World
from tests.consultations.scene import open_consultation
from tests.helpers import Client, italian
from tests.meetings.scene import convene, zone_ids
from tests.search.scene import post, thread

Login = Callable[[str], Awaitable[Client]]
# Each zone's thread carries its own word; the metropolitan one too.
SECRET = {5: "ciclovia", 9: "teleriscaldamento", None: "interporto"}


@pytest.fixture
async def scene(db: Database, world: World) -> dict[str, Any]:
    """A thread per zone and a metropolitan one, all about the budget; a public
    meeting of zone 9 with its verbale published; a contribution of Pinerolo."""
    authors = {5: world["sindaco5"], 9: world["sindaco9"], None: world["staff"]}
    threads = {}
    for number, word in SECRET.items():
        started = await thread(
            db, authors[number], f"Progetto {word}", f"Il {word} e il bilancio.", zone=number
        )
        threads[number] = started.id
    public = await convene(db, world["staff"], zones=(9,), public=True, title="Assemblea aperta")
    for step in (meetings.do_open, minutes.do_close, minutes.do_publish_verbale):
        async with db.transaction() as uow:
            await step(uow, world["staff"], public.id)  # type: ignore[operator]
    consultation = await open_consultation(db, world["staff"], zones=(5,))
    async with db.transaction() as uow:
        contribution = await consultations.do_submit(
            uow, world["sindaco5"], consultation.id, "Pinerolo chiede il bilancio partecipato.", []
        )
    zones = dict(zip((5, 9), await zone_ids(db, 5, 9), strict=True))
    return {"threads": threads, "meeting": public.id, "contribution": contribution.id,
            "zones": zones}  # fmt: skip


async def _as(role: str, login_as: Login, client: Client) -> Client:
    return client if role == "anonymous" else await login_as(role)


@pytest.mark.parametrize("role", [*WORLD_USERS, "anonymous"])
async def test_the_permission_matrix(
    world: World, login_as: Login, client: Client, scene: dict[str, Any], role: str
) -> None:
    c = await _as(role, login_as, client)
    user = None if role == "anonymous" else world[role]
    readable = {n for n in SECRET if can(user, Action.READ, scene["zones"].get(n))}
    for number, word in SECRET.items():
        response = await c.get(f"/api/v1/search?q={word}")
        assert response.status_code == 200, (role, word)
        assert response.headers["cache-control"] == "private, no-store"
        found = response.json()
        if number in readable:
            assert found["total"] == 2, (role, word)  # the thread and its first post
            assert {hit["kind"] for hit in found["results"]} == {"thread", "post"}
        else:
            # Not counted, not shown, not quoted.
            assert (found["total"], found["results"]) == (0, []), (role, word)
            assert word not in response.text.replace(f'"query":"{word}"', "")
    # The public meeting: found by everyone; members land on it, others on its public link.
    found = (await c.get("/api/v1/search?q=assemblea")).json()
    assert sorted(hit["kind"] for hit in found["results"]) == ["meeting", "verbale"], role
    meeting = next(hit for hit in found["results"] if hit["kind"] == "meeting")
    member = role in {"sindaco9", "tecnico9", "portavoce9", "staff", "admin"}
    assert meeting["url"].startswith("/meetings/" if member else "/m/"), role
    # The contribution follows its consultation's readers (zone 5 and CMTo).
    budget = (await c.get("/api/v1/search?q=bilancio&kind=contribution")).json()
    reads = role in {"sindaco5", "tecnico5", "portavoce5", "staff", "admin"}
    assert budget["total"] == (1 if reads else 0), role
    # Asking for another zone by filter shows nothing more.
    for number in (5, 9):
        filtered = (await c.get(f"/api/v1/search?q=bilancio&kind=post&zone={number}")).json()
        assert filtered["total"] == (1 if number in readable else 0), (role, number)


async def test_the_answer_carries_places_and_no_personal_data(
    world: World, login_as: Login, scene: dict[str, Any]
) -> None:
    c = await login_as("staff")
    response = await c.get("/api/v1/search?q=bilancio+partecipato")
    found = response.json()
    assert (found["query"], found["total"], found["page"], found["pages"]) == (
        "bilancio partecipato", 1, 1, 1,
    )  # fmt: skip
    assert found["per_page"] == 20 and found["next"] is None
    [hit] = found["results"]
    assert hit["kind"] == "contribution" and hit["id"] == scene["contribution"]
    assert hit["title"] == "Pinerolo" and hit["context"] == "Parere sul Piano strategico"
    assert hit["url"] == f"/contributions/{scene['contribution']}"
    assert hit["comune"]["istat_code"] == "001191" and hit["zone"]["number"] == 5
    assert hit["theme"]["slug"] and hit["created_at"].endswith("Z")
    assert "<mark>bilancio</mark> <mark>partecipato</mark>" in hit["snippet_html"]
    for user in world.users.values():
        assert user.email not in response.text and user.name not in response.text
    thread_hit = (await c.get("/api/v1/search?q=interporto&kind=thread")).json()["results"][0]
    assert thread_hit["zone"] is None and thread_hit["comune"] is None
    assert thread_hit["snippet_html"] == ""  # a thread's item is its title


async def test_library_documents_for_the_logged_in_only(
    db: Database, world: World, login_as: Login, client: Client
) -> None:
    async with db.transaction() as uow:
        theme = await uow.session.scalar(select(Theme).where(Theme.slug == "scuola"))
        assert theme is not None
        document = Document(
            theme_id=theme.id, title="Modulo iscrizione pedibus",
            description="Da consegnare in segreteria.", created_by_id=world["staff"].id,
        )  # fmt: skip
        uow.session.add(document)
    for role in ("sindaco9", "tecnico5", "staff"):
        found = (await (await login_as(role)).get("/api/v1/search?q=pedibus")).json()
        assert [(h["kind"], h["id"]) for h in found["results"]] == [("document", document.id)]
        hit = found["results"][0]
        assert hit["url"] == f"/documents/{document.id}" and hit["zone"] is None
        assert hit["theme"]["slug"] == "scuola"
    anonymous = (await client.get("/api/v1/search?q=pedibus&kind=document")).json()
    assert (anonymous["total"], anonymous["results"]) == (0, [])


async def test_snippets_are_escaped(db: Database, world: World, login_as: Login) -> None:
    started = await thread(db, world["sindaco5"], "Navetta", "La navetta parte alle 8.")
    await post(db, world["sindaco5"], started.id, 'Attenti: <script>alert("x")</script> & navetta.')
    c = await login_as("sindaco5")
    found = (await c.get("/api/v1/search?q=navetta&kind=post")).json()
    snippets = [hit["snippet_html"] for hit in found["results"]]
    quoted = next(s for s in snippets if "alert" in s)
    assert "<script" not in quoted and "&lt;script&gt;" in quoted
    assert "&amp; <mark>navetta</mark>" in quoted and quoted.count("<mark>") == 1
    assert quoted.replace("<mark>", "").replace("</mark>", "").count("<") == 0


async def test_filters_sort_and_pages(
    db: Database, world: World, login_as: Login, scene: dict[str, Any]
) -> None:
    s5 = world["sindaco5"]
    started = await thread(db, s5, "Sentieri", "Manutenzione dei sentieri.", theme="turismo")
    for n in range(24):
        await post(db, world["tecnico5"], started.id, f"Sentiero numero {n} da segnare.")
    # The thread began last year: the date filters tell it from its replies.
    async with db.transaction() as uow:
        last_year = utcnow() - timedelta(days=365)
        await uow.session.execute(
            update(Thread).where(Thread.id == started.id).values(created_at=last_year)
        )
        await uow.session.execute(
            update(Post).where(Post.thread_id == started.id, Post.author_id == s5.id)
            .values(created_at=last_year)
        )  # fmt: skip
    from collab.search.index import reindex

    await reindex(db)
    c = await login_as("staff")
    seen: list[tuple[str, int]] = []
    url: str | None = "/api/v1/search?q=sentiero&sort=newest"
    pages = []
    while url is not None:
        page = (await c.get(url)).json()
        pages.append(len(page["results"]))
        seen += [(hit["kind"], hit["id"]) for hit in page["results"]]
        url = page["next"]
        if url is not None:
            assert parse_qs(urlsplit(url).query)["sort"] == ["newest"]
    assert pages == [20, 6] and len(set(seen)) == 26  # the thread, its first post, 24 replies
    newest = (await c.get("/api/v1/search?q=sentiero&sort=newest")).json()["results"]
    assert [h["created_at"] for h in newest] == sorted((h["created_at"] for h in newest),
                                                       reverse=True)  # fmt: skip
    # The filters' days are Europe/Rome's: from 23:00 UTC (22:00 in summer)
    # Rome's today is UTC's tomorrow.
    today = utcnow().astimezone(ROME).date().isoformat()
    recent = (await c.get(f"/api/v1/search?q=sentiero&from={today}&to={today}")).json()
    assert recent["total"] == 24
    by = (await c.get(f"/api/v1/search?q=sentiero&author={s5.id}")).json()
    assert {hit["kind"] for hit in by["results"]} == {"thread", "post"} and by["total"] == 2
    themed = (await c.get("/api/v1/search?q=sentiero&theme=turismo&kind=thread")).json()
    assert [h["id"] for h in themed["results"]] == [started.id]
    assert (await c.get("/api/v1/search?q=sentiero&theme=scuola")).json()["total"] == 0
    async with db.session() as session:
        pinerolo = await session.scalar(select(Comune.id).where(Comune.istat_code == "001191"))
    comune = (await c.get("/api/v1/search?q=bilancio&comune=001191")).json()
    assert [h["comune"]["id"] for h in comune["results"]] == [pinerolo]
    second = (await c.get("/api/v1/search?q=sentiero&page=2")).json()
    assert (second["page"], second["pages"], len(second["results"])) == (2, 2, 6)
    past = (await c.get("/api/v1/search?q=sentiero&page=9")).json()
    assert (past["page"], len(past["results"]), past["next"]) == (2, 6, None)


@pytest.mark.parametrize(
    ("query", "message", "params"),
    [
        ("q=bilancio&zone=12", "There is no such zone.", {}),
        ("q=bilancio&zone=cinque", "There is no such zone.", {}),
        ("q=bilancio&theme=nessuno", "There is no such theme.", {}),
        ("q=bilancio&comune=999999", "There is no such comune.", {}),
        ("q=bilancio&author=abc", "There is no such person.", {}),
        ("q=bilancio&author=999999", "There is no such person.", {}),
        ("q=bilancio&kind=file", "There is no such kind of result.", {}),
        ("q=bilancio&from=31/12/2026", "Give dates as year-month-day, e.g. 2026-03-31.", {}),
        ("q=bilancio&from=2026-05-02&to=2026-05-01", "The first day comes after the last one.",
         {}),
        ("q=bilancio&sort=random", "Sort by relevance or by date.", {}),
        ("q=bilancio&page=0", "The page must be a whole number, from 1.", {}),
        ("q=bilancio&page=due", "The page must be a whole number, from 1.", {}),
        ("", "Type one or more words to search.", {}),
        ("q=", "Type one or more words to search.", {}),
        ("q=il+della+per", "These words are too common to search for: add a more specific one.",
         {}),
        ("q=-bilancio", "Add at least one word to look for, not only words to exclude.", {}),
        ("q=" + "a" * 201, "The search is too long: use at most %(limit)d characters.",
         {"limit": 200}),
        ("q=" + "+".join(f"parola{n}" for n in range(13)),
         "The search has too many words: use at most %(limit)d.", {"limit": 12}),
    ],
)  # fmt: skip
async def test_bad_input_is_400_in_italian(
    login_as: Login, scene: dict[str, Any], query: str, message: str, params: dict[str, int]
) -> None:
    c = await login_as("sindaco5")
    response = await c.get(f"/api/v1/search?{query}")
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"error": italian(message, **params)}


async def test_errors_follow_the_language(client: Client) -> None:
    client.http.cookies.set("lang", "en")
    response = await client.get("/api/v1/search?q=bilancio&zone=12")
    assert (response.status_code, response.json()) == (400, {"error": "There is no such zone."})
