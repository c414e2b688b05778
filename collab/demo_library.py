"""Demo documents for the forms library: a few forms, one with two versions.

The files are made here (a one-page PDF, a CSV), so the demo needs nothing
but the repository. They go through the library's own actions and the file
store, as an upload would.
"""

from __future__ import annotations

from sqlalchemy import select

from collab.db import Database
from collab.documents.library import do_add_document, do_add_version
from collab.documents.sniff import CSV, PDF, Kind
from collab.documents.store import FileStore
from collab.documents.upload import Upload
from collab.models import Theme, User

__all__ = ["load_demo_library", "one_page_pdf"]

STAFF = "staff@demo.collab.it"


def _pdf_text(text: str) -> bytes:
    """A PDF literal string in WinAnsi (Latin-1 covers Italian), escaped."""
    raw = text.encode("latin-1", errors="replace")
    return b"(" + raw.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)") + b")"


def one_page_pdf(title: str, lines: list[str]) -> bytes:
    """A valid one-page A4 PDF with a title and lines of text (Helvetica)."""
    content = [b"BT /F1 16 Tf 72 770 Td " + _pdf_text(title) + b" Tj ET"]
    y = 740
    for line in lines:
        content.append(b"BT /F1 11 Tf 72 %d Td " % y + _pdf_text(line) + b" Tj ET")
        y -= 18
    stream = b"\n".join(content)
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] "
        b"/Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
    ]
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


async def _upload(store: FileStore, name: str, kind: Kind, data: bytes) -> Upload:
    incoming = store.incoming(len(data) + 1)
    await incoming.write(data)
    await incoming.finish()
    return Upload(field="file", name=name, kind=kind, incoming=incoming)


SCHOOL_FORM = [
    "Comune di ____________________   Anno scolastico ________",
    "Numero di alunni trasportati: ______   Linee attivate: ______",
    "Costo complessivo del servizio (euro): ______________",
    "Contributo richiesto alla Citta metropolitana (euro): ______________",
    "Data e firma del sindaco o del responsabile del servizio",
]
REFERENTS_CSV = (
    b"comune_istat;comune;referente;ruolo;telefono\r\n"
    b"001191;Pinerolo;Ufficio protezione civile;referente comunale;0121 000000\r\n"
    b"001270;Susa;Ufficio tecnico;referente comunale;0122 000000\r\n"
)


async def load_demo_library(database: Database, store: FileStore) -> None:
    """Three documents in three themes; the school form has a second version."""
    async with database.transaction() as uow:
        s = uow.session
        staff = await s.scalar(select(User).where(User.email == STAFF))
        assert staff is not None
        themes = {t.slug: t for t in await s.scalars(select(Theme))}
        school = await do_add_document(
            uow, staff, themes["scuola"], "Richiesta di contributo per il trasporto scolastico",
            "Da compilare a cura del comune e inviare entro il 31 ottobre.",
            await _upload(store, "richiesta-trasporto-scolastico.pdf", PDF,
                          one_page_pdf("Richiesta di contributo - trasporto scolastico",
                                       SCHOOL_FORM[:3])),
        )  # fmt: skip
        await do_add_version(
            uow, staff, school,
            await _upload(store, "richiesta-trasporto-scolastico-2027.pdf", PDF,
                          one_page_pdf("Richiesta di contributo - trasporto scolastico (2027)",
                                       SCHOOL_FORM)),
            "Aggiunti il costo del servizio e la firma.",
        )  # fmt: skip
        await do_add_document(
            uow, staff, themes["procedure-modulistica"],
            "Schema di delibera di giunta per il parere sul Piano strategico",
            "Testo base, da adattare: premesse, parere e allegati.",
            await _upload(store, "schema-delibera-parere-psm.pdf", PDF,
                          one_page_pdf("Schema di delibera - parere sul PSM 2027-2029", [
                              "LA GIUNTA COMUNALE",
                              "Vista la richiesta di parere della Citta metropolitana di Torino;",
                              "Visto lo Statuto metropolitano, art. 27;",
                              "DELIBERA di esprimere parere ______ sul Piano strategico.",
                          ])),
        )  # fmt: skip
        await do_add_document(
            uow, staff, themes["protezione-civile"], "Referenti comunali di protezione civile",
            "Elenco da aggiornare a ogni cambio di referente (CSV, separato da punto e virgola).",
            await _upload(store, "referenti-protezione-civile.csv", CSV, REFERENTS_CSV),
        )  # fmt: skip
