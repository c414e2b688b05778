"""Cleaning uploaded file names and the Content-Disposition header."""

from __future__ import annotations

import unicodedata

import pytest

from collab.documents import sniff
from collab.documents.names import (
    MAX_NAME_LENGTH,
    ascii_fallback,
    clean_name,
    content_disposition,
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("../../etc/passwd", "passwd.pdf"),
        ("..\\..\\boot.ini", "boot.ini.pdf"),
        ("C:\\Users\\mario\\Desktop\\Verbale.pdf", "Verbale.pdf"),
        ("/srv/a/b/", "documento.pdf"),
    ],
)
def test_directories_are_dropped(raw: str, expected: str) -> None:
    assert clean_name(raw, sniff.PDF) == expected


def test_control_characters_are_dropped() -> None:
    assert clean_name("ver\x00ba\x1fle\x7f\x80\x9b.pdf", sniff.PDF) == "verbale.pdf"
    # Whitespace controls still separate words.
    assert clean_name("verbale\tdel\r\n12\x85marzo.pdf", sniff.PDF) == "verbale del 12 marzo.pdf"


def test_bidi_override_cannot_disguise_the_extension() -> None:
    # Displayed as "invoice_fdp.exe" if the RLO survived.
    name = clean_name("invoice_\u202eexe.pdf", sniff.PDF)
    assert name == "invoice_exe.pdf"
    assert all(unicodedata.category(c) != "Cf" for c in name)
    assert clean_name("a\u200bb\ufeff.pdf", sniff.PDF) == "ab.pdf"


def test_forbidden_characters_become_underscores() -> None:
    assert clean_name('a<b>c:d"e|f?g*h.pdf', sniff.PDF) == "a_b_c_d_e_f_g_h.pdf"


def test_whitespace_is_collapsed_and_edges_stripped() -> None:
    assert clean_name("  Verbale   del\u00a0CdA  .pdf  ", sniff.PDF) == "Verbale del CdA.pdf"
    assert clean_name("--.hidden.pdf.", sniff.PDF) == "hidden.pdf"
    assert clean_name("-rf.pdf", sniff.PDF) == "rf.pdf"


def test_nfc() -> None:
    decomposed = "Citta\u0300.pdf"
    assert clean_name(decomposed, sniff.PDF) == "Città.pdf"


@pytest.mark.parametrize("raw", ["", "   ", ".", "..", "...", " . - ", "\x00\x01", "\u202e"])
def test_nothing_left_falls_back(raw: str) -> None:
    assert clean_name(raw, sniff.PDF) == "documento.pdf"


@pytest.mark.parametrize(
    ("raw", "kind", "expected"),
    [
        ("invoice.html", sniff.PDF, "invoice.html.pdf"),
        ("Relazione.PDF", sniff.PDF, "Relazione.PDF"),
        ("foto.jpeg", sniff.JPEG, "foto.jpeg"),
        ("foto.JPG", sniff.JPEG, "foto.JPG"),
        ("foto.png", sniff.JPEG, "foto.png.jpg"),
        ("tabella", sniff.CSV, "tabella.csv"),
        ("tabella.xlsx", sniff.ODS, "tabella.xlsx.ods"),
        ("bilancio.2024.ods", sniff.ODS, "bilancio.2024.ods"),
        ("pdf", sniff.PDF, "pdf.pdf"),
    ],
)
def test_extension_matches_the_content(raw: str, kind: sniff.Kind, expected: str) -> None:
    assert clean_name(raw, kind) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("CON", "_CON.pdf"),
        ("nul.pdf", "_nul.pdf"),
        ("com1.tar.pdf", "_com1.tar.pdf"),
        ("LPT9 .pdf", "_LPT9.pdf"),
        ("CONSIGLIO.pdf", "CONSIGLIO.pdf"),
        ("COM10.pdf", "COM10.pdf"),
    ],
)
def test_reserved_windows_names(raw: str, expected: str) -> None:
    assert clean_name(raw, sniff.PDF) == expected


def test_long_names_keep_the_extension() -> None:
    name = clean_name("a" * 300 + ".pdf", sniff.PDF)
    assert len(name) == MAX_NAME_LENGTH
    assert name == "a" * (MAX_NAME_LENGTH - 4) + ".pdf"
    name = clean_name("è" * 300 + ".odt", sniff.ODT)
    assert len(name) == MAX_NAME_LENGTH
    assert name.endswith("è.odt")


def test_long_name_with_the_wrong_extension() -> None:
    name = clean_name("b" * 300 + ".html", sniff.PDF)
    assert len(name) <= MAX_NAME_LENGTH
    assert name.endswith("b.pdf")


def test_truncation_does_not_leave_a_trailing_dot() -> None:
    raw = "a" * (MAX_NAME_LENGTH - 5) + ". " + "b" * 50
    name = clean_name(raw, sniff.PDF)
    assert name == "a" * (MAX_NAME_LENGTH - 5) + ".pdf"


def test_clean_name_is_idempotent() -> None:
    for raw in ["../x/Relazione è finale.PDF", "CON", "a" * 300, "invoice.html", "\u202e"]:
        once = clean_name(raw, sniff.PDF)
        assert clean_name(once, sniff.PDF) == once


def test_ascii_fallback() -> None:
    assert ascii_fallback('Relazione è "finale".pdf') == "Relazione e finale.pdf"
    assert ascii_fallback("Città di Forlì.pdf") == "Citta di Forli.pdf"
    assert ascii_fallback("a\\b.pdf") == "ab.pdf"
    assert ascii_fallback("ﬁle.pdf") == "file.pdf"  # NFKD splits the ligature
    assert ascii_fallback("Отчёт.pdf") == "documento.pdf"
    assert ascii_fallback("日本") == "documento"
    assert ascii_fallback("a\r\nb.pdf") == "ab.pdf"


def test_content_disposition() -> None:
    header = content_disposition('Relazione è "finale".pdf')
    assert header == (
        'attachment; filename="Relazione e finale.pdf"; '
        "filename*=UTF-8''Relazione%20%C3%A8%20%22finale%22.pdf"
    )


def test_content_disposition_never_breaks_the_header() -> None:
    header = content_disposition('x"; filename=evil.html\r\nSet-Cookie: a=b.pdf')
    assert "\r" not in header and "\n" not in header
    assert header.count('"') == 2
    assert content_disposition("\udcff.pdf").endswith("''%3F.pdf")
