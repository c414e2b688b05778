"""Type detection from content: every allowed kind, and the files that must be refused."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from collab.documents import sniff
from collab.documents.sniff import HEAD_SIZE, KINDS, Kind, detect

ODT_MIME = b"application/vnd.oasis.opendocument.text"
ODS_MIME = b"application/vnd.oasis.opendocument.spreadsheet"


def write(tmp_path: Path, data: bytes, name: str = "upload.bin") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def odf_bytes(mimetype: bytes, *, compress_mimetype: bool = False) -> bytes:
    """An OpenDocument package as LibreOffice writes it: ``mimetype`` first, stored."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        method = zipfile.ZIP_DEFLATED if compress_mimetype else zipfile.ZIP_STORED
        archive.writestr(zipfile.ZipInfo("mimetype"), mimetype, compress_type=method)
        archive.writestr("content.xml", "<office:document-content/>", zipfile.ZIP_DEFLATED)
        archive.writestr("META-INF/manifest.xml", "<manifest:manifest/>", zipfile.ZIP_DEFLATED)
    return buffer.getvalue()


def zip_bytes(members: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def docx_bytes() -> bytes:
    return zip_bytes(
        {
            "[Content_Types].xml": "<Types/>",
            "_rels/.rels": "<Relationships/>",
            "word/document.xml": "<w:document/>",
        }
    )


def xlsx_bytes() -> bytes:
    return zip_bytes(
        {
            "[Content_Types].xml": "<Types/>",
            "_rels/.rels": "<Relationships/>",
            "xl/workbook.xml": "<workbook/>",
            "xl/worksheets/sheet1.xml": "<worksheet/>",
        }
    )


def test_kinds_are_distinct_and_complete() -> None:
    assert len({kind.extension for kind in KINDS}) == len(KINDS)
    assert len({kind.mime for kind in KINDS}) == len(KINDS)
    labels = {kind.label for kind in KINDS}
    assert labels == {"PDF", "ODT", "DOCX", "XLSX", "ODS", "PNG", "JPEG", "GIF", "WebP", "CSV"}
    assert all(isinstance(kind, Kind) for kind in KINDS)


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n%%EOF\n", sniff.PDF),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x00" * 17, sniff.PNG),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01" + b"\x00" * 7, sniff.JPEG),
        (b"GIF87a\x01\x00\x01\x00\x00\x00\x00;", sniff.GIF),
        (b"GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00;", sniff.GIF),
        (b"RIFF\x1a\x00\x00\x00WEBPVP8L\x0d\x00\x00\x00/\x00\x00\x00", sniff.WEBP),
    ],
    ids=["pdf", "png", "jpeg", "gif87a", "gif89a", "webp"],
)
def test_magic_numbers(tmp_path: Path, data: bytes, expected: Kind) -> None:
    assert detect(write(tmp_path, data)) == expected


def test_odt_and_ods(tmp_path: Path) -> None:
    assert detect(write(tmp_path, odf_bytes(ODT_MIME), "a.odt")) == sniff.ODT
    assert detect(write(tmp_path, odf_bytes(ODS_MIME), "a.ods")) == sniff.ODS


def test_docx_and_xlsx(tmp_path: Path) -> None:
    assert detect(write(tmp_path, docx_bytes(), "a.docx")) == sniff.DOCX
    assert detect(write(tmp_path, xlsx_bytes(), "a.xlsx")) == sniff.XLSX


def test_the_name_does_not_matter(tmp_path: Path) -> None:
    assert detect(write(tmp_path, docx_bytes(), "report.pdf")) == sniff.DOCX
    assert detect(write(tmp_path, b"%PDF-1.4\n", "photo.png")) == sniff.PDF


@pytest.mark.parametrize(
    "data",
    [
        b"nome,cognome,comune\nMario,Rossi,Torino\n",
        "\ufeffnome;città\nLuca;Forlì\n".encode(),
        "nome;città\nLuca;Forlì\n".encode("cp1252"),
        "nome;importo\nAnna;12 €\n".encode("cp1252"),
        b"a\tb\tc\r\n1\t2\t3\r\n",
        b"solo,una,riga",
    ],
    ids=["utf8-comma", "utf8-bom-semicolon", "cp1252", "cp1252-euro", "tab-crlf", "one-line"],
)
def test_csv(tmp_path: Path, data: bytes) -> None:
    assert detect(write(tmp_path, data, "data.csv")) == sniff.CSV


def test_csv_with_multibyte_char_cut_at_the_head_boundary(tmp_path: Path) -> None:
    line = "città,è\n".encode()
    # Pad so that a two-byte "à" straddles the end of the bytes read.
    body = b"a,b\n" + b"x" * (HEAD_SIZE - 4 - 1) + "à".encode() + line * 10
    assert body[HEAD_SIZE - 1 : HEAD_SIZE + 1] == "à".encode()
    assert detect(write(tmp_path, body, "big.csv")) == sniff.CSV


def test_csv_truncated_in_a_multibyte_char_at_the_real_end_is_not_utf8(tmp_path: Path) -> None:
    # At the true end of the file a cut character is an error; cp1252 then sees
    # "Ã" and accepts the text as a legacy-encoded CSV, which is still text.
    assert detect(write(tmp_path, b"a,b\n\xc3")) == sniff.CSV
    # A byte cp1252 leaves undefined after a broken sequence: not text at all.
    assert detect(write(tmp_path, b"a,b\n\xc3\x81\x81")) is None


@pytest.mark.parametrize(
    "data",
    [
        b"<!DOCTYPE html><html><body>a,b</body></html>",
        b"  \n<html>,</html>",
        "\ufeff<table><tr><td>a;b</td></tr></table>".encode(),
        b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"><script>x,y</script></svg>',
        b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 56,
        b"MZ\x90\x00\x03\x00\x00\x00",
        b"",
        b"   \r\n\t\n",
        b"just a sentence without any delimiter\nsecond line, with comma\n",
        b"a,b\n1,\x002\n",
        b"a,b\n1,\x1b[31m\n",
        "a,b\n1,\u0085\n".encode(),
        b"a,b\n\x81\x8d\x8f\n",
        b"This is not really a PDF document\n",
        b"%PDF",
        b"RIFF\x1a\x00\x00\x00WAVEfmt ",
        b"GIF88a",
    ],
    ids=[
        "html",
        "html-after-whitespace",
        "html-after-bom",
        "svg",
        "elf",
        "pe",
        "empty",
        "whitespace-only",
        "no-delimiter-in-first-line",
        "nul",
        "escape",
        "c1-control",
        "cp1252-undefined",
        "text-pretending-pdf",
        "pdf-magic-incomplete",
        "riff-not-webp",
        "gif-bad-version",
    ],
)
def test_refused(tmp_path: Path, data: bytes) -> None:
    assert detect(write(tmp_path, data, "upload.pdf")) is None


def test_plain_zip_is_refused(tmp_path: Path) -> None:
    data = zip_bytes({"readme.txt": "hello, world", "photo.jpg": "\xff\xd8\xff"})
    assert detect(write(tmp_path, data, "a.zip")) is None


def test_odf_with_another_mimetype_is_refused(tmp_path: Path) -> None:
    assert detect(write(tmp_path, odf_bytes(b"application/epub+zip"))) is None
    assert detect(write(tmp_path, odf_bytes(ODT_MIME + b"\n"))) is None


def test_odf_with_compressed_mimetype_is_refused(tmp_path: Path) -> None:
    assert detect(write(tmp_path, odf_bytes(ODT_MIME, compress_mimetype=True))) is None


def test_odf_mimetype_not_first_is_refused(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("content.xml", "<office:document-content/>")
        archive.writestr("mimetype", ODT_MIME)
    assert detect(write(tmp_path, buffer.getvalue())) is None


def test_ooxml_needs_content_types_and_one_main_part(tmp_path: Path) -> None:
    no_types = zip_bytes({"word/document.xml": "<w:document/>"})
    both = zip_bytes(
        {
            "[Content_Types].xml": "<Types/>",
            "word/document.xml": "<w:document/>",
            "xl/workbook.xml": "<workbook/>",
        }
    )
    neither = zip_bytes({"[Content_Types].xml": "<Types/>", "ppt/presentation.xml": "<p/>"})
    for data in (no_types, both, neither):
        assert detect(write(tmp_path, data)) is None


@pytest.mark.parametrize("make", [docx_bytes, lambda: odf_bytes(ODT_MIME)], ids=["docx", "odt"])
def test_truncated_zip_is_refused(tmp_path: Path, make: Callable[[], bytes]) -> None:
    data = make()
    for cut in (len(data) // 2, len(data) - 10, 40):
        assert detect(write(tmp_path, data[:cut])) is None


def test_corrupt_member_is_refused(tmp_path: Path) -> None:
    data = bytearray(odf_bytes(ODT_MIME))
    # Flip a byte of the stored mimetype: the CRC no longer matches.
    offset = data.index(ODT_MIME)
    data[offset + 5] ^= 0x20
    assert detect(write(tmp_path, bytes(data))) is None


def test_docx_with_broken_main_part_is_refused(tmp_path: Path) -> None:
    data = bytearray(docx_bytes())
    # Garble the local header of word/document.xml; the central directory is intact.
    offset = data.index(b"PK\x03\x04", data.index(b"_rels/.rels"))
    data[offset : offset + 4] = b"XXXX"
    assert detect(write(tmp_path, bytes(data))) is None


def test_huge_central_directory_is_refused_unread(tmp_path: Path) -> None:
    data = bytearray(docx_bytes())
    end = data.rindex(b"PK\x05\x06")
    data[end + 12 : end + 16] = (64 * 1024 * 1024).to_bytes(4, "little")
    assert detect(write(tmp_path, bytes(data))) is None


def test_missing_or_unreadable_file(tmp_path: Path) -> None:
    assert detect(tmp_path / "missing") is None
    assert detect(tmp_path) is None


def test_only_the_head_of_a_large_file_is_judged(tmp_path: Path) -> None:
    path = tmp_path / "big.csv"
    row = b"1234567,abcdefg\n"
    with path.open("wb") as f:
        f.write(b"numero,codice\n" + row * (HEAD_SIZE // len(row)))
        # Sparse NULs from here to 8 MiB: text past the head is never examined.
        f.truncate(8 * 1024 * 1024)
    assert detect(path) == sniff.CSV
