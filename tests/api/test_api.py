"""The JSON API: auth and permissions as on the pages, no personal data, pages, OpenAPI.

Consultations, contributions and library documents are made directly with
the ORM: the tests exercise the reads, not the actions that will write them.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from starlette.routing import Route

from collab.api import routes as api_routes
from collab.api.routes import NOT_FOUND, routes
from collab.api.schema import OPENAPI
from collab.consultations.models import (
    Consultation,
    ConsultationTheme,
    ConsultationZone,
    Contribution,
    ContributionVersion,
    Status,
)
from collab.db import Database
from collab.documents.models import Blob, Document, StoredFile
from collab.models import Comune, Theme, Zone
from tests.conftest import World
from tests.helpers import Client, italian, parse, statements

Login = Callable[[str], Awaitable[Client]]
NOW = datetime.now(UTC)


async def _zone(db: Database, number: int) -> int:
    async with db.session() as session:
        zone_id = await session.scalar(select(Zone.id).where(Zone.number == number))
    assert zone_id is not None
    return zone_id


async def _file(db: Database, name: str, **owner: Any) -> StoredFile:
    """A stored file on a blob of its own (the blob's bytes are not needed here)."""
    sha = f"{abs(hash(name + repr(owner))):064d}"[:64]
    async with db.transaction() as uow:
        uow.session.add(Blob(sha256=sha, size=10, content_type="application/pdf"))
        await uow.session.flush()
        stored = StoredFile(sha256=sha, name=name, content_type="application/pdf", size=10,
                            uploaded_by_id=owner.pop("by"), **owner)  # fmt: skip
        uow.session.add(stored)
    return stored


async def _consultation(
    db: Database, world: World, title: str, zones: list[int], deadline: datetime | None = None
) -> Consultation:
    async with db.transaction() as uow:
        theme = await uow.session.scalar(select(Theme).order_by(Theme.position))
        assert theme is not None
        consultation = Consultation(
            title=title, body_source="Testo", body_html="<p>Testo</p>",
            deadline=deadline or NOW + timedelta(days=10), created_by_id=world["staff"].id,
        )  # fmt: skip
        uow.session.add(consultation)
        await uow.session.flush()
        for number in zones:
            uow.session.add(
                ConsultationZone(consultation_id=consultation.id, zone_id=await _zone(db, number))
            )
        uow.session.add(ConsultationTheme(consultation_id=consultation.id, theme_id=theme.id))
    return consultation


async def _contribution(db: Database, world: World, consultation: Consultation) -> Contribution:
    """Pinerolo's contribution, edited once (version 2 is current), with a file."""
    author = world["sindaco5"]
    async with db.transaction() as uow:
        comune = await uow.session.scalar(select(Comune).where(Comune.istat_code == "001191"))
        assert comune is not None
        contribution = Contribution(
            consultation_id=consultation.id, comune_id=comune.id, number=3,
            status=Status.UNDER_REVIEW, version=2, submitted_by_id=author.id,
        )  # fmt: skip
        uow.session.add(contribution)
        await uow.session.flush()
        for n in (1, 2):
            uow.session.add(ContributionVersion(
                contribution_id=contribution.id, number=n, body_source=f"v{n}",
                body_html=f"<p>versione {n}</p>", created_by_id=author.id,
            ))  # fmt: skip
    async with db.session() as session:
        current = await session.scalar(
            select(ContributionVersion.id).where(
                ContributionVersion.contribution_id == contribution.id,
                ContributionVersion.number == 2,
            )
        )
    await _file(db, "parere.pdf", by=author.id, contribution_version_id=current)
    return contribution


async def _document(db: Database, world: World, theme_id: int) -> Document:
    async with db.transaction() as uow:
        document = Document(
            theme_id=theme_id, title="Modulo di richiesta", description="Da compilare",
            version=2, created_by_id=world["staff"].id,
        )  # fmt: skip
        uow.session.add(document)
    staff = world["staff"].id
    await _file(db, "modulo-v1.pdf", by=staff, document_id=document.id, version=1, note="Prima")
    await _file(db, "modulo-v2.pdf", by=staff, document_id=document.id, version=2, note="Date")
    return document


def _walk(value: Any) -> Iterator[tuple[str, Any]]:
    """Every (key, value) pair anywhere in a JSON value."""
    if isinstance(value, dict):
        for key, inner in value.items():
            yield key, inner
            yield from _walk(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from _walk(inner)


async def test_anonymous_gets_401_json_not_a_redirect(
    db: Database, world: World, client: Client
) -> None:
    consultation = await _consultation(db, world, "Piano", [5])
    for url in ("/api/v1/consultations", f"/api/v1/consultations/{consultation.id}",
                f"/api/v1/consultations/{consultation.id}/contributions",
                "/api/v1/themes/1/documents", "/api/v1/documents/1"):  # fmt: skip
        response = await client.get(url)
        assert response.status_code == 401, url
        assert response.headers["content-type"] == "application/json"
        assert response.json() == {"error": italian("Log in to use the API.")}


async def test_english_locale_gives_english_errors(client: Client) -> None:
    client.http.cookies.set("lang", "en")
    response = await client.get("/api/v1/consultations")
    assert response.json() == {"error": "Log in to use the API."}


async def test_a_sindaco_reads_only_consultations_of_their_zone(
    db: Database, world: World, login_as: Login
) -> None:
    own = await _consultation(db, world, "Zona 5", [5])
    both = await _consultation(db, world, "Zone 5 e 9", [5, 9], deadline=NOW - timedelta(days=1))
    other = await _consultation(db, world, "Zona 9", [9])
    c = await login_as("sindaco5")
    listed = (await c.get("/api/v1/consultations")).json()
    assert [i["id"] for i in listed["consultations"]] == [both.id, own.id]
    assert listed["next"] is None
    first = listed["consultations"][0]
    assert first["open"] is False and first["deadline"].endswith("Z")
    assert [z["number"] for z in first["zones"]] == [5, 9]
    assert first["url"] == f"/consultations/{both.id}" and len(first["themes"]) == 1
    for url in (f"/api/v1/consultations/{other.id}",
                f"/api/v1/consultations/{other.id}/contributions",
                "/api/v1/consultations/999999"):  # fmt: skip
        response = await c.get(url)
        assert response.status_code == 404, url
        assert response.json() == {"error": italian(NOT_FOUND)}


async def test_staff_reads_everything_with_drafts(
    db: Database, world: World, login_as: Login
) -> None:
    own = await _consultation(db, world, "Zona 5", [5])
    other = await _consultation(db, world, "Zona 9", [9])
    draft = await _file(db, "bozza piano.pdf", by=world["staff"].id, consultation_id=other.id)
    c = await login_as("staff")
    listed = (await c.get("/api/v1/consultations")).json()
    assert [i["id"] for i in listed["consultations"]] == [other.id, own.id]
    detail = (await c.get(f"/api/v1/consultations/{other.id}")).json()
    assert detail["body_html"] == "<p>Testo</p>" and detail["open"] is True
    assert detail["documents"] == [{
        "id": draft.id, "name": "bozza piano.pdf", "content_type": "application/pdf",
        "size": 10, "sha256": draft.sha256, "url": f"/files/{draft.id}/bozza%20piano.pdf",
    }]  # fmt: skip


async def test_contributions_carry_no_personal_data(
    db: Database, world: World, login_as: Login
) -> None:
    consultation = await _consultation(db, world, "Zona 5", [5])
    contribution = await _contribution(db, world, consultation)
    c = await login_as("tecnico5")  # reads, does not contribute
    response = await c.get(f"/api/v1/consultations/{consultation.id}/contributions")
    assert response.status_code == 200
    [item] = response.json()["contributions"]
    assert item["id"] == contribution.id
    assert item["receipt"] == f"{consultation.id}-0003"
    assert item["comune"]["istat_code"] == "001191" and item["comune"]["name"] == "Pinerolo"
    assert item["status"] == "under_review" and item["version"] == 2
    assert item["body_html"] == "<p>versione 2</p>" and item["answered_at"] is None
    assert [d["name"] for d in item["documents"]] == ["parere.pdf"]
    text = response.text
    for user in world.users.values():
        assert user.email not in text and json.dumps(user.name) not in text
    keys = {key for key, _ in _walk(response.json())}
    assert not keys & {"email", "user", "user_id", "submitted_by_id", "answered_by_id"}
    listed = (await c.get("/api/v1/consultations")).json()["consultations"]
    assert listed[0]["contribution_count"] == 1


async def test_pagination_follows_next_and_skips_unreadable(
    db: Database, world: World, login_as: Login
) -> None:
    ids = []
    for n in range(5):
        ids.append((await _consultation(db, world, f"Zona 5 n. {n}", [5])).id)
        await _consultation(db, world, f"Zona 9 n. {n}", [9])
    c = await login_as("sindaco5")
    seen: list[int] = []
    url: str | None = "/api/v1/consultations?limit=2"
    while url is not None:
        page = (await c.get(url)).json()
        assert len(page["consultations"]) <= 2
        seen += [i["id"] for i in page["consultations"]]
        url = page["next"]
    assert seen == sorted(ids, reverse=True)
    page = (await c.get(f"/api/v1/consultations?before={ids[2]}")).json()
    assert [i["id"] for i in page["consultations"]] == [ids[1], ids[0]]


async def test_contributions_come_a_page_at_a_time(
    db: Database, world: World, login_as: Login
) -> None:
    consultation = await _consultation(db, world, "Zona 5", [5])
    async with db.transaction() as uow:
        comuni = list(await uow.session.scalars(select(Comune).order_by(Comune.id).limit(5)))
        for number, comune in enumerate(comuni, start=1):
            contribution = Contribution(
                consultation_id=consultation.id, comune_id=comune.id, number=number,
                status=Status.RECEIVED, version=1, submitted_by_id=world["sindaco5"].id,
            )  # fmt: skip
            uow.session.add(contribution)
            await uow.session.flush()
            uow.session.add(ContributionVersion(
                contribution_id=contribution.id, number=1, body_source=f"n. {number}",
                body_html=f"<p>n. {number}</p>", created_by_id=world["sindaco5"].id,
            ))  # fmt: skip
    c = await login_as("tecnico5")
    base = f"/api/v1/consultations/{consultation.id}/contributions"
    pages: list[list[int]] = []
    url: str | None = f"{base}?limit=2"
    while url is not None:
        page = (await c.get(url)).json()
        pages.append([item["number"] for item in page["contributions"]])
        url = page["next"]
    assert pages == [[1, 2], [3, 4], [5]]
    whole = (await c.get(base)).json()  # 50 by default
    assert [i["number"] for i in whole["contributions"]] == [1, 2, 3, 4, 5]
    assert whole["next"] is None
    assert (await c.get(f"{base}?after=3")).json()["contributions"][0]["number"] == 4
    refused = await c.get(f"{base}?after=-1")
    assert refused.status_code == 400
    assert refused.json()["error"] == italian(
        "Query parameters limit, before and after must be whole numbers."
    )


@pytest.mark.parametrize("query", ["limit=0", "limit=201", "limit=abc", "before=-1", "limit="])
async def test_bad_paging_parameters_are_400(login_as: Login, query: str) -> None:
    c = await login_as("staff")
    response = await c.get(f"/api/v1/consultations?{query}")
    assert response.status_code == 400
    assert response.json()["error"] in (
        italian("The limit must be between 1 and 200."),
        italian("Query parameters limit, before and after must be whole numbers."),
    )


async def test_the_list_costs_the_same_queries_for_any_number_of_rows(
    db: Database, world: World, login_as: Login
) -> None:
    c = await login_as("staff")
    await c.get("/api/v1/consultations")  # the session's user is now cached per request only
    counts = []
    for _ in range(2):
        for n in range(4):
            await _contribution(db, world, await _consultation(db, world, f"C{n}", [5, 9]))
        with statements(db) as seen:
            page = (await c.get("/api/v1/consultations")).json()
        counts.append(len(seen))
        assert all(item["contribution_count"] == 1 for item in page["consultations"])
    assert counts[0] == counts[1]


async def test_forms_library_with_versions(
    db: Database, world: World, login_as: Login, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with db.session() as session:
        theme = await session.scalar(select(Theme).order_by(Theme.position))
    assert theme is not None
    document = await _document(db, world, theme.id)
    c = await login_as("sindaco9")
    listed = (await c.get(f"/api/v1/themes/{theme.id}/documents")).json()
    assert listed["theme"] == {
        "id": theme.id, "slug": theme.slug, "name": theme.name, "name_en": theme.name_en,
    }  # fmt: skip
    [item] = listed["documents"]
    assert item["id"] == document.id and item["version"] == 2
    assert item["current"]["name"] == "modulo-v2.pdf"
    assert [(v["version"], v["note"], v["file"]["name"]) for v in item["versions"]] == [
        (1, "Prima", "modulo-v1.pdf"), (2, "Date", "modulo-v2.pdf"),
    ]  # fmt: skip
    detail = (await c.get(f"/api/v1/documents/{document.id}")).json()
    assert detail["versions"] == item["versions"] and detail["theme"]["id"] == theme.id
    for url in ("/api/v1/themes/999999/documents", "/api/v1/documents/999999"):
        assert (await c.get(url)).status_code == 404
    # Whoever may not read the library gets 403 for the list, 404 for a document.
    monkeypatch.setattr(api_routes, "can", lambda *args: False)
    response = await c.get(f"/api/v1/themes/{theme.id}/documents")
    assert response.status_code == 403
    assert response.json() == {"error": italian("You may not read the forms library.")}
    assert (await c.get(f"/api/v1/documents/{document.id}")).status_code == 404


def _refs(value: Any) -> Iterator[str]:
    for key, inner in _walk(value):
        if key == "$ref":
            yield inner


async def test_openapi_document_covers_every_route(client: Client) -> None:
    response = await client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    document = response.json()
    assert document["openapi"] == "3.1.0"
    for route in routes():
        assert isinstance(route, Route)
        path = route.path.replace(":id}", "}")
        assert path in document["paths"], path
        for method in route.methods or ():
            if method != "HEAD":
                assert method.lower() in document["paths"][path]
    for ref in _refs(document):
        section, name = ref.removeprefix("#/components/").split("/")
        assert name in document["components"][section], ref
    assert document == json.loads(json.dumps(OPENAPI))


async def test_docs_page_lists_every_endpoint(client: Client) -> None:
    response = await client.get("/api/docs")
    assert response.status_code == 200
    page = parse(response)
    assert page.h1 is not None and page.h1.get_text(strip=True) == italian("JSON API")
    sections = {node["data-path"]: node for node in page.select('[data-testid="endpoint"]')}
    assert set(sections) == set(OPENAPI["paths"])
    listing = sections["/api/v1/consultations"]
    names = [td.get_text(strip=True) for td in listing.select('[data-testid="parameters"] td code')]
    assert names == ["limit", "before"]
    fields = [td.get_text(strip=True) for td in listing.select('[data-testid="fields"] td code')]
    assert "consultations[].zones[].number" in fields and "next" in fields
    contributions = sections["/api/v1/consultations/{id}/contributions"]
    assert "contributions[].comune.istat_code" in contributions.get_text()
