"""The verbale as a page and as a PDF, from the same template.

One verbale is rendered once for the module (WeasyPrint is slow to import and
to lay out); the tests read its HTML and the PDF's text back with pypdf.
"""

from __future__ import annotations

import asyncio
import io
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from bs4 import BeautifulSoup
from pypdf import PdfReader

from collab.markup import render_markdown
from collab.meetings.pdf import local_fetcher, render_pdf, render_pdf_async
from collab.templating import Templates
from tests.helpers import italian

ROLL_CALL = (
    "Presenti 5, Votanti 3, Favorevoli 2 (Airasca, Pinerolo), Contrari 1 (Cumiana), "
    "Astenuti 2 (Bricherasio, Luserna San Giovanni)"
)
TITLE = "Verbale dell'Assemblea dei sindaci della zona Pinerolese"
REMOTE_IMAGE = "http://example.invalid/x.png"
# An 8x8 blue PNG: data: URLs are the one kind of image the PDF may load.
DATA_IMAGE = (
    "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAgAAAAICAIAAABLbSncAAAAFElEQVR4nGNkSDvDgA0w"
    "YRUdtBIA8ugBQt2fIJ0AAAAASUVORK5CYII="
)
SOURCE = f"""\
## 1. Parere sul Piano strategico metropolitano

La Città metropolitana di Torino illustra l'aggiornamento del piano; il
portavoce ricorda che il parere è obbligatorio perché il piano riguarda
tutta la zona. Si è discusso di mobilità, attività produttive e qualità dell'aria.

Esito della votazione: {ROLL_CALL}. Il parere è approvato.

![logo]({REMOTE_IMAGE})
"""
# Long enough for a second page, so the header and the page count are exercised.
FILLER = "\n\n".join(
    f"Intervento {n}: il sindaco di Cumiana chiede più corse serali per la linea "
    "Torino-Pinerolo e un calendario comune per le giornate di sintesi."
    for n in range(1, 31)
)


def flat(text: str) -> str:
    """Text with every run of spaces and line breaks made one space."""
    return " ".join(text.split())


def document(locale: str = "it", **context: Any) -> str:
    values: dict[str, Any] = {
        "title": TITLE,
        "body_html": render_markdown(SOURCE + "\n" + FILLER)
        + f'<p><img src="{DATA_IMAGE}" alt="schema"></p>',
        "meeting": {
            "zone_names": ["Pinerolese"],
            "date_text": "giovedì 12 marzo 2026, 10:00–12:30",
            "place": "Pinerolo, sala consiliare",
        },
    }
    values.update(context)
    return Templates().render("meetings/verbale_document.html", locale, values)


@dataclass
class Rendered:
    html: str
    pdf: bytes
    refused: list[str]
    connections: list[object]

    @property
    def pages(self) -> list[str]:
        return [flat(page.extract_text()) for page in PdfReader(io.BytesIO(self.pdf)).pages]


@pytest.fixture(scope="module")
def verbale() -> Iterator[Rendered]:
    html = document()
    fetcher = local_fetcher()
    connections: list[object] = []

    def no_network(*args: object, **kwargs: object) -> None:
        connections.append(args)
        raise OSError("no network in this test")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(socket, "getaddrinfo", no_network)
        patch.setattr(socket.socket, "connect", no_network)
        pdf = render_pdf(html, url_fetcher=fetcher)
    yield Rendered(html, pdf, fetcher.refused, connections)


def test_the_page_shows_title_meeting_and_body(verbale: Rendered) -> None:
    page = BeautifulSoup(verbale.html, "html.parser")
    assert page.html is not None and page.html["lang"] == "it"
    assert page.title is not None and page.title.get_text() == TITLE
    article = page.select_one("article#verbale")
    assert article is not None
    heading = article.select_one("h1")
    assert heading is not None and flat(heading.get_text()) == TITLE
    zones = article.select_one('[data-testid="verbale-zones"]')
    assert zones is not None and zones.get_text() == "Pinerolese"
    labels = [dt.get_text() for dt in article.select(".verbale-meta dt")]
    assert labels == [italian("Zones"), italian("Date"), italian("Place")]
    body = article.select_one(".verbale-body")
    assert body is not None and ROLL_CALL in flat(body.get_text())
    # A remote image is a link (collab serves only its own images, docs/security.md).
    assert body.select_one(f'img[src="{REMOTE_IMAGE}"]') is None
    link = body.select_one(f'a[href="{REMOTE_IMAGE}"]')
    assert link is not None and link.get_text() == "logo"


def test_the_page_escapes_everything_but_the_sanitized_body() -> None:
    html = document(
        title="<script>alert(1)</script>",
        meeting={"zone_names": ["<b>Z</b>"], "date_text": "oggi", "place": "<i>qui</i>"},
    )
    page = BeautifulSoup(html, "html.parser")
    assert page.select("script, b, i") == []
    assert page.title is not None and page.title.get_text() == "<script>alert(1)</script>"
    place = page.select_one('[data-testid="verbale-place"]')
    assert place is not None and place.get_text() == "<i>qui</i>"


def test_the_place_is_left_out_when_there_is_none() -> None:
    page = BeautifulSoup(
        document(meeting={"zone_names": ["Eporediese"], "date_text": "ieri"}), "html.parser"
    )
    assert page.select_one('[data-testid="verbale-place"]') is None


def test_the_pdf_holds_the_roll_call_line_and_the_accents(verbale: Rendered) -> None:
    assert verbale.pdf.startswith(b"%PDF-")
    text = " ".join(verbale.pages)
    assert ROLL_CALL in text
    assert "Città metropolitana di Torino" in text
    assert "il parere è obbligatorio perché il piano riguarda" in text
    assert "giovedì 12 marzo 2026, 10:00–12:30" in text
    metadata = PdfReader(io.BytesIO(verbale.pdf)).metadata
    assert metadata is not None and metadata.title == TITLE


def test_every_page_is_numbered_and_later_pages_carry_the_title(verbale: Rendered) -> None:
    pages = verbale.pages
    assert len(pages) >= 2, "the filler should make a second page"
    for number, text in enumerate(pages, start=1):
        assert f"Pagina {number} di {len(pages)}" in text
    # The title is the first page's heading (no header there) and every other
    # page's header.
    assert pages[0].startswith(TITLE) and pages[0].count(TITLE) == 1
    assert all(text.count(TITLE) == 1 for text in pages[1:])


def test_the_footer_words_follow_the_locale() -> None:
    for locale, label, of in [("it", "Pagina", "di"), ("en", "Page", "of")]:
        body = BeautifulSoup(document(locale), "html.parser").body
        assert body is not None
        assert (body["data-page-label"], body["data-page-of"]) == (label, of)


def test_a_remote_image_never_touches_the_network(verbale: Rendered) -> None:
    # The Markdown made it a link, so the PDF had nothing remote to fetch
    # (the fetcher would refuse it anyway: the test below).
    assert verbale.refused == []
    assert verbale.connections == []
    # The data: image was loaded.
    # (pypdf lists an image on every page that shares its resources: count them once.)
    pages = PdfReader(io.BytesIO(verbale.pdf)).pages
    assert len({image.data for page in pages for image in page.images}) == 1


def test_the_fetcher_reads_only_data_urls_and_files_under_its_roots(tmp_path: Path) -> None:
    root = tmp_path / "static"
    root.mkdir()
    (root / "logo.svg").write_text("<svg xmlns='http://www.w3.org/2000/svg'/>")
    (tmp_path / "secret.txt").write_text("secret")
    fetcher = local_fetcher([root])

    response = fetcher.fetch((root / "logo.svg").as_uri())
    try:
        assert response.read().startswith(b"<svg")
    finally:
        response.close()
    assert fetcher.allows(DATA_IMAGE)
    for url in [
        (tmp_path / "secret.txt").as_uri(),
        (root / ".." / "secret.txt").as_uri(),
        f"file://elsewhere{root / 'logo.svg'}",
        REMOTE_IMAGE,
        "https://example.invalid/x.png",
        "ftp://example.invalid/x.png",
    ]:
        assert not fetcher.allows(url), url
        with pytest.raises(ValueError, match="not fetched"):
            fetcher.fetch(url)
    assert len(fetcher.refused) == 6


async def test_the_async_render_leaves_the_event_loop_free() -> None:
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.005)

    ticker = asyncio.create_task(tick())
    try:
        pdf = await render_pdf_async(document(body_html=f"<p>{ROLL_CALL}</p>"))
    finally:
        ticker.cancel()
    assert pdf.startswith(b"%PDF-")
    assert ROLL_CALL in flat(PdfReader(io.BytesIO(pdf)).pages[0].extract_text())
    assert ticks > 1, "the event loop was blocked while the PDF was laid out"


def test_weasyprint_is_imported_only_to_render() -> None:
    # It takes a second to import and needs Pango: the app must start without it.
    code = "import sys, collab.app, collab.meetings.pdf; sys.exit('weasyprint' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
