"""The demo's forms library: real files through the library's actions."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

from pypdf import PdfReader
from sqlalchemy import select

from collab.db import Database
from collab.demo import load_demo
from collab.demo_library import one_page_pdf
from collab.documents.models import Document, StoredFile
from collab.documents.sniff import detect
from collab.documents.store import FileStore


def test_the_pdf_is_a_real_one_page_pdf(tmp_path: Path) -> None:
    data = one_page_pdf("Modulo (prova) è \\ valido", ["Riga uno", "Città metropolitana"])
    path = tmp_path / "modulo.pdf"
    path.write_bytes(data)
    kind = detect(path)
    assert kind is not None and kind.extension == "pdf"
    reader = PdfReader(io.BytesIO(data), strict=True)
    assert len(reader.pages) == 1
    text = reader.pages[0].extract_text()
    assert "Modulo (prova) è \\ valido" in text and "Città metropolitana" in text


async def test_the_demo_fills_the_library(db: Database, tmp_path: Path) -> None:
    store = FileStore(tmp_path / "files")
    assert await load_demo(db, store)
    async with db.session() as session:
        documents = {d.title: d for d in await session.scalars(select(Document))}
        stored = list(
            await session.scalars(select(StoredFile).where(StoredFile.document_id.is_not(None)))
        )
    assert len(documents) == 3
    school = documents["Richiesta di contributo per il trasporto scolastico"]
    assert school.version == 2
    versions = sorted(f.version for f in stored if f.document_id == school.id)
    assert versions == [1, 2]
    for f in stored:
        path = store.path(f.sha256)
        assert hashlib.sha256(path.read_bytes()).hexdigest() == f.sha256
        kind = detect(path)
        assert kind is not None and kind.mime == f.content_type
    # Loading again changes nothing.
    assert not await load_demo(db, store)
    async with db.session() as session:
        assert len(list(await session.scalars(select(Document)))) == 3
