"""The verbale's PDF is an archival PDF/A-3a: tagged, identified, headed once.

No database: the document template and the renderer alone, one render per
case (WeasyPrint is slow to import, a render is a fraction of a second).
"""

from __future__ import annotations

import io
from typing import Any

from pypdf import PdfReader
from pypdf.generic import DictionaryObject

from collab.markup import render_markdown
from collab.meetings.documents import own_heading
from collab.meetings.pdf import PDF_VARIANT, render_pdf
from collab.templating import Templates

HEADING = "Verbale della seduta n. 3 del Consiglio della zona Pinerolese"
PDFAID = "http://www.aiim.org/pdfa/ns/id/"
SOURCE = f"""\
# {HEADING}

**Seduta ordinaria in prima convocazione** del 12 marzo 2026.

## Ordine del giorno

1. Parere sul Piano strategico metropolitano

| Esito | Voti |
| --- | --- |
| Favorevoli | 7 |
"""


def _document(source: str = SOURCE, **context: Any) -> str:
    body = render_markdown(source)
    heading = own_heading(body)
    values: dict[str, Any] = {
        "title": heading or "Verbale: Assemblea",
        "own_heading": bool(heading),
        "body_html": body,
        "meeting": {"zone_names": ["ZO 5 Pinerolese"], "date_text": "giovedì 12 marzo 2026"},
    }
    values.update(context)
    return Templates().render("meetings/verbale_document.html", "it", values)


def _text(pdf: bytes) -> str:
    return " ".join(
        " ".join((p.extract_text() or "").split()) for p in PdfReader(io.BytesIO(pdf)).pages
    )


def test_the_pdf_is_identified_as_pdf_a_3a_in_its_xmp_metadata() -> None:
    assert PDF_VARIANT == "pdf/a-3a"
    reader = PdfReader(io.BytesIO(render_pdf(_document())))
    xmp = reader.xmp_metadata
    assert xmp is not None
    described = [
        node
        for node in xmp.rdf_root.getElementsByTagNameNS(
            "http://www.w3.org/1999/02/22-rdf-syntax-ns#", "Description"
        )
        if node.hasAttributeNS(PDFAID, "part")
    ]
    assert len(described) == 1
    assert described[0].getAttributeNS(PDFAID, "part") == "3"
    assert described[0].getAttributeNS(PDFAID, "conformance") == "A"
    # PDF/A wants the output intent and the document's language too.
    root = reader.trailer["/Root"]
    assert root["/Lang"] == "it"
    assert len(root["/OutputIntents"]) == 1
    assert bool(root["/MarkInfo"]["/Marked"])


def test_the_pdf_has_a_structure_tree_with_headings_and_a_table() -> None:
    root = PdfReader(io.BytesIO(render_pdf(_document()))).trailer["/Root"]
    tree = root["/StructTreeRoot"].get_object()
    assert tree["/Type"] == "/StructTreeRoot"
    kinds: set[str] = set()

    def walk(node: Any, depth: int = 0) -> None:
        node = node.get_object()
        if isinstance(node, DictionaryObject):
            if "/S" in node:
                kinds.add(str(node["/S"]))
            kids = node.get("/K")
            if kids is not None:
                for kid in kids if isinstance(kids, list) else [kids]:
                    if depth < 40:
                        walk(kid, depth + 1)

    walk(tree)
    assert {"/H1", "/H2", "/P", "/Table"} <= kinds, kinds


def test_a_heading_of_its_own_is_printed_once() -> None:
    html = _document()
    assert html.count(HEADING) == 2  # the <title> (the PDF's metadata) and the body's <h1>
    assert 'class="verbale-head"' not in html
    pdf = render_pdf(html)
    assert _text(pdf).count(HEADING) == 1
    metadata = PdfReader(io.BytesIO(pdf)).metadata
    assert metadata is not None and metadata.title == HEADING


def test_a_body_without_a_heading_gets_the_meeting_s_header() -> None:
    html = _document("Il segretario apre la seduta.\n")
    assert 'class="verbale-head"' in html
    text = _text(render_pdf(html))
    assert text.count("Verbale: Assemblea") == 1
    assert "giovedì 12 marzo 2026" in text


def test_own_heading_reads_the_text_of_the_opening_h1_only() -> None:
    assert own_heading("<h1>Verbale &amp; <em>atti</em></h1><p>x</p>") == "Verbale & atti"
    assert own_heading("<p>x</p><h1>Più tardi</h1>") == ""
    assert own_heading("") == ""
