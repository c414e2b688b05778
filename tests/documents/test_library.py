"""The forms library: documents and versions through the app, files on disk, events, live push."""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from bs4 import BeautifulSoup
from sqlalchemy import func, select
from starlette.applications import Starlette

from collab.app import create_app
from collab.db import Database
from collab.documents.models import Blob, Document, StoredFile
from collab.models import Theme
from collab.realtime.events import DocumentAdded, DocumentVersioned, library_topic
from collab.search.tracking import TextQueued
from collab.settings import Settings
from tests.helpers import Client, capture_events, parse
from tests.realtime.test_ws import MAYOR, TECH9, Browser, browser, frames, subscribe

__all__ = ["browser"]  # the fixture, shared with the websocket tests

THEME = "trasporti-mobilita"
PDF_1 = b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\n%%EOF\n"
PDF_2 = b"%PDF-1.7\n% version two of the form\n%%EOF\n"

Login = Callable[[str], Awaitable[Client]]


async def upload(
    client: Client,
    url: str,
    content: bytes,
    name: str = "modulo.pdf",
    htmx: bool = False,
    **fields: str,
) -> Any:
    """A multipart post; the CSRF token its first field, as the form sends it."""
    token = await client.csrf()
    headers = {"HX-Request": "true"} if htmx else {}
    return await client.http.post(
        url,
        data={"csrf_token": token, **fields},
        files={"file": (name, content, "application/pdf")},
        headers=headers,
    )


async def add(
    client: Client, content: bytes = PDF_1, title: str = "Modulo navetta", **kw: Any
) -> Any:
    return await upload(client, f"/library/{THEME}/new", content, title=title, **kw)


def document_id(response: Any) -> int:
    assert response.status_code == 303, response.text
    return int(response.headers["location"].rsplit("/", 1)[1])


def stored_files(settings: Settings) -> list[Path]:
    """Every file under DATA_DIR/files (the temporary ones in files/tmp included)."""
    root = settings.files_dir
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


async def versions(db: Database, doc_id: int) -> list[StoredFile]:
    async with db.session() as session:
        rows = await session.scalars(
            select(StoredFile).where(StoredFile.document_id == doc_id).order_by(StoredFile.version)
        )
        return list(rows)


async def count(db: Database, model: Any) -> int:
    async with db.session() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_add_a_document_and_see_it_in_the_theme(login_as: Login, db: Database) -> None:
    tecnico = await login_as("tecnico5")
    async with capture_events(db) as events:
        doc_id = document_id(await add(tecnico, description="Per le richieste di navetta"))
    async with db.session() as session:
        theme_id = await session.scalar(select(Theme.id).where(Theme.slug == THEME))
    # The file's text is queued for search (collab/search/extractor.py).
    assert events == [
        DocumentAdded(zone_id=None, theme_id=theme_id, document_id=doc_id),
        TextQueued(),
    ]
    page = parse(await tecnico.get(f"/library/{THEME}"))
    row = page.select_one(f"#document-{doc_id}")
    assert row is not None
    assert row.select_one('[data-testid="document-link"]')["href"] == f"/documents/{doc_id}"
    assert row.select_one('[data-testid="document-version"]').get_text(strip=True) == "1"
    (stored,) = await versions(db, doc_id)
    assert row.select_one('[data-testid="document-download"]')["href"] == (
        f"/files/{stored.id}/modulo.pdf"
    )
    assert stored.sha256 == hashlib.sha256(PDF_1).hexdigest()
    # The upload form uses the macros: multipart, the token its first field, progress bar.
    form = page.select_one('[data-testid="add-document-form"]')
    assert form is not None and form["enctype"] == "multipart/form-data"
    assert "csrf_token" not in str(form["action"]) and form.has_attr("data-upload")
    assert form.select("input")[0]["name"] == "csrf_token"
    assert form.select_one("[data-upload-progress]") is not None
    live = page.select_one("#live")
    assert live is not None and json.loads(str(live["data-topics"])) == {library_topic(theme_id): 1}
    index = parse(await tecnico.get("/library"))
    assert index.select_one(f'a[href="/library/{THEME}"]') is not None


async def test_search_every_theme(login_as: Login, db: Database) -> None:
    tecnico = await login_as("tecnico5")
    async with db.session() as session:
        other = await session.scalar(
            select(Theme.slug).where(Theme.slug != THEME, Theme.active).order_by(Theme.position)
        )
    assert other is not None
    navetta = document_id(await add(tecnico, title="Modulo navetta scolastica"))
    rifiuti = document_id(
        await upload(
            tecnico, f"/library/{other}/new", PDF_2, name="raccolta_100%.pdf",
            title="Calendario raccolta", description="Per i comuni della NAVETTA ecologica",
        )
    )  # fmt: skip

    def found(page: Any) -> list[str]:
        links = parse(page).select('[data-testid="search-result"] a.fw-semibold')
        return [str(a["href"]) for a in links]

    # Title or description, case apart, across themes; the newest first.
    both = await tecnico.get("/library?q=navetta")
    assert found(both) == [f"/documents/{rifiuti}", f"/documents/{navetta}"]
    box = parse(both).select_one("#library-q")
    assert box is not None and box["value"] == "navetta"
    # The file name; % and _ are plain characters, not wildcards.
    assert found(await tecnico.get("/library?q=100%25")) == [f"/documents/{rifiuti}"]
    assert found(await tecnico.get("/library?q=a_1")) == [f"/documents/{rifiuti}"]
    assert found(await tecnico.get("/library?q=n%25a")) == []
    none = await tecnico.get("/library?q=inesistente")
    assert parse(none).select_one('[data-testid="search-empty"]') is not None
    short = await tecnico.get("/library?q=n")
    assert parse(short).select_one('[data-testid="search-too-short"]') is not None
    # Odd input is only text: NUL dropped, spaces folded, the length capped.
    folded = await tecnico.get("/library?q=%00navetta%00%20%20scolastica")
    assert found(folded) == [f"/documents/{navetta}"]
    assert found(await tecnico.get("/library?q=navetta%00")) == [
        f"/documents/{rifiuti}", f"/documents/{navetta}",
    ]  # fmt: skip
    long = await tecnico.get("/library?q=" + "x" * 5000)
    assert long.status_code == 200
    # No query: the themes only.
    plain = await tecnico.get("/library")
    assert parse(plain).select_one('[data-testid="search-results"]') is None


async def test_a_new_version_keeps_the_old_one_downloadable(login_as: Login, db: Database) -> None:
    tecnico = await login_as("tecnico5")
    doc_id = document_id(await add(tecnico))
    async with capture_events(db) as events:
        response = await upload(tecnico, f"/documents/{doc_id}/versions", PDF_2, note="Nuove date")
    assert response.status_code == 303, response.text
    first, second = await versions(db, doc_id)
    assert (first.version, second.version, second.note) == (1, 2, "Nuove date")
    assert events == [
        DocumentVersioned(zone_id=None, theme_id=events[0].theme_id, document_id=doc_id, version=2),
        TextQueued(),
    ]
    for stored, content in ((first, PDF_1), (second, PDF_2)):
        got = await tecnico.get(f"/files/{stored.id}/{stored.name}")
        assert got.status_code == 200 and got.content == content
        assert got.headers["content-disposition"].startswith("attachment")
        assert got.headers["x-content-type-options"] == "nosniff"
        ranged = await tecnico.get(
            f"/files/{stored.id}/{stored.name}", headers={"Range": "bytes=0-3"}
        )
        assert ranged.status_code == 206 and ranged.content == content[:4]
    page = parse(await tecnico.get(f"/documents/{doc_id}"))
    shown = [li["data-version"] for li in page.select('[data-testid="versions"] > li')]
    assert shown == ["2", "1"]
    shas = [c.get_text() for c in page.select('[data-testid="version-sha256"]')]
    assert shas == [second.sha256, first.sha256]
    async with db.session() as session:
        document = await session.get(Document, doc_id)
        assert document is not None and document.version == 2


async def test_the_same_bytes_are_stored_once(
    login_as: Login, db: Database, settings: Settings
) -> None:
    tecnico = await login_as("tecnico5")
    document_id(await add(tecnico, title="Primo"))
    document_id(await add(tecnico, title="Secondo", name="copia.pdf"))
    assert stored_files(settings) == [settings.files_dir / PDF_SHA[:2] / PDF_SHA]
    assert await count(db, Blob) == 1
    assert await count(db, StoredFile) == 2


PDF_SHA = hashlib.sha256(PDF_1).hexdigest()


async def test_a_spoofed_type_is_refused_and_leaves_nothing(
    login_as: Login, db: Database, settings: Settings
) -> None:
    tecnico = await login_as("tecnico5")
    html = b"<!doctype html><html><script>alert(1)</script></html>"
    response = await add(tecnico, html, name="modulo.pdf")
    assert response.status_code == 415
    assert await count(db, Document) == 0 and await count(db, StoredFile) == 0
    assert stored_files(settings) == []


@pytest.fixture
async def small_app(settings: Settings) -> AsyncIterator[Starlette]:
    application = create_app(replace(settings, upload_max_bytes=1024))
    async with application.router.lifespan_context(application):
        yield application


async def test_an_oversize_file_is_refused_and_leaves_nothing(
    small_app: Starlette, world: Any, settings: Settings
) -> None:
    import httpx

    from tests.conftest import email

    transport = httpx.ASGITransport(app=small_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        client = Client(http)
        await client.login(email("tecnico5"))
        big = PDF_1 + b"%" * 4096
        response = await add(client, big)
        assert response.status_code == 413
    database: Database = small_app.state.services.db
    assert await count(database, Document) == 0 and await count(database, Blob) == 0
    assert stored_files(settings) == []


async def test_a_traversal_name_is_cleaned(login_as: Login, db: Database) -> None:
    tecnico = await login_as("tecnico5")
    doc_id = document_id(await add(tecnico, name="../../etc/passwd.pdf"))
    (stored,) = await versions(db, doc_id)
    assert "/" not in stored.name and "\\" not in stored.name
    assert stored.name == "passwd.pdf"


async def test_bad_input_answers_the_form_again(login_as: Login, db: Database) -> None:
    tecnico = await login_as("tecnico5")
    response = await add(tecnico, title="ab")
    assert response.status_code == 422
    page = parse(response)
    assert page.select_one("#title.is-invalid") is not None
    assert page.select_one('[data-testid="add-document-form"]') is not None
    htmx = await add(tecnico, title="ab", htmx=True)
    assert htmx.status_code == 422 and htmx.headers["hx-retarget"] == "#alerts"
    assert await count(db, Document) == 0 and await count(db, Blob) == 0


async def test_permissions(login_as: Login, client: Client, db: Database) -> None:
    tecnico5 = await login_as("tecnico5")
    doc_id = document_id(await add(tecnico5))
    (stored,) = await versions(db, doc_id)
    tecnico9 = await login_as("tecnico9")
    assert document_id(await add(tecnico9, title="Del nove")) != doc_id
    refused = await upload(tecnico9, f"/documents/{doc_id}/versions", PDF_2)
    assert refused.status_code == 403
    page = parse(await tecnico9.get(f"/documents/{doc_id}"))
    assert page.select_one('[data-testid="add-version-form"]') is None
    staff = await login_as("staff")
    by_staff = await upload(staff, f"/documents/{doc_id}/versions", PDF_2, note="Revisione CMTo")
    assert by_staff.status_code == 303
    assert [v.version for v in await versions(db, doc_id)] == [1, 2]
    # Anonymous: every page and the download go to the login page.
    for url in ("/library", f"/library/{THEME}", f"/documents/{doc_id}", f"/files/{stored.id}/x"):
        response = await client.get(url)
        assert response.status_code == 303 and response.headers["location"].startswith("/login")
    assert (await tecnico5.get("/library/no-such-theme")).status_code == 404
    assert (await tecnico5.get("/documents/999999")).status_code == 404


# -- the live push -------------------------------------------------------------------


def test_a_new_document_reaches_a_subscribed_socket(browser: Browser) -> None:
    browser.login(TECH9)
    page = BeautifulSoup(browser.client.get(f"/library/{THEME}").text, "html.parser")
    live = page.select_one("#live")
    assert live is not None
    topics = json.loads(str(live["data-topics"]))
    (topic,) = topics
    with browser.client.websocket_connect("/ws") as ws:
        subscribe(ws, topics)
        browser.login(MAYOR)
        response = browser.upload(
            f"/library/{THEME}/new", {"title": "Modulo navetta"},
            [("file", ("modulo.pdf", PDF_1, "application/pdf"))],
        )  # fmt: skip
        assert response.status_code == 303, response.text
        doc_id = int(response.headers["location"].rsplit("/", 1)[1])
        (frame,) = frames(ws, 1)
    head = frame.select_one("template[data-topic]")
    assert head is not None and head["data-topic"] == topic
    assert int(str(head["data-seq"])) == topics[topic] + 1
    assert "Modulo navetta" in str(head["data-announce"])
    op = frame.select_one("template[data-op]")
    assert op is not None and op["data-op"] == "place"
    assert op["data-target"] == f'[data-document-list="{topic}"]'
    assert op["data-id"] == f"document-{doc_id}"
    row = BeautifulSoup(op.decode_contents(), "html.parser").select_one("tr")
    assert row is not None and row["id"] == f"document-{doc_id}"
    assert page.select_one(f'[data-document-list="{topic}"]') is not None
