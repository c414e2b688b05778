"""The text inside files: each format, made with the libraries themselves; and the bounds."""

from __future__ import annotations

import io
import os
import time
from pathlib import Path

import docx
import pytest
from odf.opendocument import OpenDocumentText
from odf.table import Table, TableCell, TableColumn, TableRow
from odf.text import H, P, Span
from pypdf import PdfReader, PdfWriter
from weasyprint import HTML

from collab.demo_library import one_page_pdf
from collab.search import extract
from collab.search.extract import ExtractionFailed, Unreadable, read_text

PDF = "application/pdf"
ODT = "application/vnd.oasis.opendocument.text"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def weasy_pdf(html: str) -> bytes:
    return bytes(HTML(string=html).write_pdf())


def test_pdf_text_from_weasyprint(tmp_path: Path) -> None:
    data = weasy_pdf(
        "<h1>Regolamento del trasporto scolastico</h1>"
        "<p>Art. 1 — Il servizio di scuolabus è riservato agli alunni residenti.</p>"
        "<p style='page-break-before: always'>Art. 2 — Le tariffe sono agevolate.</p>"
    )
    text = extract.extract(write(tmp_path, "r.pdf", data), PDF)
    assert "Regolamento del trasporto scolastico" in text
    assert "scuolabus è riservato" in text
    assert "tariffe sono agevolate" in text  # the second page
    assert "\n" not in text and "  " not in text


def test_odt_paragraphs_headings_and_tables(tmp_path: Path) -> None:
    document = OpenDocumentText()
    document.text.addElement(H(outlinelevel=1, text="Modulo di richiesta"))
    paragraph = P(text="Il sottoscritto chiede ")
    paragraph.addElement(Span(text="l'accesso agli atti"))
    document.text.addElement(paragraph)
    table = Table(name="dati")
    table.addElement(TableColumn(numbercolumnsrepeated=2))
    row = TableRow()
    for value in ("Comune", "Pinerolo"):
        cell = TableCell()
        cell.addElement(P(text=value))
        row.addElement(cell)
    table.addElement(row)
    document.text.addElement(table)
    buffer = io.BytesIO()
    document.write(buffer)
    text = read_text(write(tmp_path, "m.odt", buffer.getvalue()), ODT)
    assert text == "Modulo di richiesta Il sottoscritto chiede l'accesso agli atti Comune Pinerolo"


def test_docx_paragraphs_and_tables_in_order(tmp_path: Path) -> None:
    document = docx.Document()
    document.add_heading("Dichiarazione sostitutiva", level=1)
    document.add_paragraph("Il richiedente dichiara la residenza.")
    table = document.add_table(rows=1, cols=2)
    table.rows[0].cells[0].text = "Codice ISTAT"
    table.rows[0].cells[1].text = "001191"
    document.add_paragraph("Firma del dichiarante.")
    buffer = io.BytesIO()
    document.save(buffer)
    text = read_text(write(tmp_path, "d.docx", buffer.getvalue()), DOCX)
    assert text == (
        "Dichiarazione sostitutiva Il richiedente dichiara la residenza. "
        "Codice ISTAT 001191 Firma del dichiarante."
    )


def test_csv_and_text_utf8_or_cp1252(tmp_path: Path) -> None:
    utf8 = "comune;attività\nPinerolo;mobilità sostenibile\n".encode()
    assert read_text(write(tmp_path, "a.csv", b"\xef\xbb\xbf" + utf8), "text/csv") == (
        "comune;attività Pinerolo;mobilità sostenibile"
    )
    latin = "Città di Ivrea; perché no\n".encode("cp1252")
    assert read_text(write(tmp_path, "b.txt", latin), "text/plain") == "Città di Ivrea; perché no"


def test_text_is_cut_at_the_bound(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(extract, "MAX_CHARS", 50)
    monkeypatch.setattr(extract, "MAX_TEXT_BYTES", 200)
    text = read_text(write(tmp_path, "long.txt", b"parola " * 1000), "text/plain")
    assert len(text) == 50 and text.startswith("parola parola")


def test_only_the_first_pages_of_a_pdf(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    writer = PdfWriter()
    for number in (1, 2, 3):
        writer.append(PdfReader(io.BytesIO(one_page_pdf(f"Pagina numero{number}", []))))
    buffer = io.BytesIO()
    writer.write(buffer)
    monkeypatch.setattr(extract, "MAX_PAGES", 2)
    text = read_text(write(tmp_path, "p.pdf", buffer.getvalue()), PDF)
    assert "numero1" in text and "numero2" in text and "numero3" not in text


def test_broken_and_encrypted_pdfs_are_unreadable(tmp_path: Path) -> None:
    with pytest.raises(Unreadable):
        extract.extract(write(tmp_path, "broken.pdf", b"%PDF-1.4\n1 0 obj\n<< /Type"), PDF)
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(one_page_pdf("Riservato", []))))
    writer.encrypt(user_password="segreto", owner_password="segreto", algorithm="RC4-128")
    buffer = io.BytesIO()
    writer.write(buffer)
    with pytest.raises(Unreadable, match="encrypted"):
        extract.extract(write(tmp_path, "locked.pdf", buffer.getvalue()), PDF)


def test_an_owner_password_alone_does_not_hide_the_text(tmp_path: Path) -> None:
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(one_page_pdf("Bando pubblico", []))))
    writer.encrypt(user_password="", owner_password="solo-stampa", algorithm="RC4-128")
    buffer = io.BytesIO()
    writer.write(buffer)
    assert "Bando pubblico" in read_text(write(tmp_path, "open.pdf", buffer.getvalue()), PDF)


def test_an_office_document_too_big_unpacked_is_not_opened(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    document = docx.Document()
    document.add_paragraph("testo " * 2000)
    buffer = io.BytesIO()
    document.save(buffer)
    monkeypatch.setattr(extract, "MAX_XML_BYTES", 1000)
    with pytest.raises(Unreadable, match="unpacks"):
        read_text(write(tmp_path, "big.docx", buffer.getvalue()), DOCX)
    with pytest.raises(Unreadable):
        read_text(write(tmp_path, "fake.docx", b"PK\x03\x04 not a zip"), DOCX)


def test_a_missing_file_is_a_failure_to_retry(tmp_path: Path) -> None:
    with pytest.raises(ExtractionFailed, match="FileNotFoundError"):
        extract.extract(tmp_path / "gone.pdf", PDF)


def test_the_time_limit_kills_the_child(tmp_path: Path) -> None:
    # A pipe nobody writes to: the child blocks opening it until it is killed.
    fifo = tmp_path / "stuck.txt"
    os.mkfifo(fifo)
    started = time.monotonic()
    with pytest.raises(ExtractionFailed, match="after 1 s"):
        extract.extract(fifo, "text/plain", time_limit=1.0)
    assert time.monotonic() - started < 8
