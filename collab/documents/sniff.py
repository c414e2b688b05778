"""File type detection from the content alone, for uploads.

The name a client gives a file and the ``Content-Type`` it sends are both under
its control, so neither says anything about what the bytes are. :func:`detect`
looks only at the bytes and answers with one of the allowed :data:`KINDS`, or
``None`` for anything else (markup, executables, archives that are not an office
document, corrupt files, empty files).

An upload may be hundreds of megabytes, so memory stays bounded: at most
:data:`HEAD_SIZE` bytes are read from the start, a short tail for the ZIP end
record, and for ZIPs the central directory (capped) plus one tiny member.
"""

from __future__ import annotations

import codecs
import pathlib
import re
import struct
import zipfile
import zlib
from dataclasses import dataclass

__all__ = [
    "CSV",
    "DOCX",
    "GIF",
    "HEAD_SIZE",
    "JPEG",
    "KINDS",
    "ODS",
    "ODT",
    "PDF",
    "PNG",
    "WEBP",
    "XLSX",
    "Kind",
    "detect",
]


@dataclass(frozen=True)
class Kind:
    """An allowed file type: what to serve it as and what to call it."""

    mime: str
    extension: str  # canonical, without the dot
    label: str  # the format's name, language-neutral


PDF = Kind("application/pdf", "pdf", "PDF")
PNG = Kind("image/png", "png", "PNG")
JPEG = Kind("image/jpeg", "jpg", "JPEG")
GIF = Kind("image/gif", "gif", "GIF")
WEBP = Kind("image/webp", "webp", "WebP")
ODT = Kind("application/vnd.oasis.opendocument.text", "odt", "ODT")
ODS = Kind("application/vnd.oasis.opendocument.spreadsheet", "ods", "ODS")
DOCX = Kind(
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document", "docx", "DOCX"
)
XLSX = Kind("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "xlsx", "XLSX")
CSV = Kind("text/csv", "csv", "CSV")

KINDS: tuple[Kind, ...] = (PDF, ODT, DOCX, ODS, XLSX, CSV, PNG, JPEG, GIF, WEBP)

#: Bytes read from the start of the file: enough for every magic number and
#: for judging whether the file is text.
HEAD_SIZE = 64 * 1024

_ZIP_LOCAL = b"PK\x03\x04"
_ZIP_END = b"PK\x05\x06"
_ZIP_END_SIZE = 22
_ZIP_MAX_COMMENT = 0xFFFF
# zipfile loads the whole central directory into memory; a real office document
# has at most a few thousand entries, so a bigger directory is refused unread.
_ZIP_MAX_DIRECTORY = 2 * 1024 * 1024
# The ``mimetype`` member of an OpenDocument file is a few dozen bytes.
_ODF_MAX_MIMETYPE = 128
_ODF_MIMETYPES = {
    b"application/vnd.oasis.opendocument.text": ODT,
    b"application/vnd.oasis.opendocument.spreadsheet": ODS,
}
# The part that makes an OOXML package a document or a workbook.
_OOXML_MAIN_PARTS = {"word/document.xml": DOCX, "xl/workbook.xml": XLSX}
_OOXML_CONTENT_TYPES = "[Content_Types].xml"

# zipfile's failures on hostile input are varied; all of them mean "not allowed".
_ZIP_ERRORS = (
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    OSError,
    EOFError,
    ValueError,
    KeyError,
    RuntimeError,  # an encrypted member
    NotImplementedError,  # an unsupported compression method
    struct.error,
    zlib.error,
)

_CSV_DELIMITERS = (",", ";", "\t")
# Every control character (Unicode category Cc: C0, DEL, C1) except tab, CR, LF.
_FORBIDDEN_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def detect(path: pathlib.Path) -> Kind | None:
    """The allowed kind of the file at ``path`` judged by its bytes, or ``None``.

    Never raises for bad content or an unreadable file: both give ``None``.
    """
    try:
        with path.open("rb") as f:
            head = f.read(HEAD_SIZE)
            # One more byte tells whether the head is the whole file, which
            # decides whether a multibyte character may be cut at its end.
            whole = not f.read(1)
    except OSError:
        return None
    if not head:
        return None
    kind = _detect_magic(head)
    if kind is not None:
        return kind
    if head.startswith(_ZIP_LOCAL):
        return _detect_zip(path, head)
    if _looks_like_csv(head, whole=whole):
        return CSV
    return None


def _detect_magic(head: bytes) -> Kind | None:
    """The kinds recognised by a fixed signature at the start."""
    if head.startswith(b"%PDF-"):
        return PDF
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if head.startswith(b"\xff\xd8\xff"):
        return JPEG
    if head.startswith((b"GIF87a", b"GIF89a")):
        return GIF
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return WEBP
    return None


# --- ZIP-based office formats ------------------------------------------------


def _detect_zip(path: pathlib.Path, head: bytes) -> Kind | None:
    """ODT, ODS, DOCX or XLSX if the archive is one of them and opens cleanly."""
    if not _zip_directory_is_small(path):
        return None
    try:
        with zipfile.ZipFile(path) as archive:
            if _first_local_name(head) == b"mimetype":
                # OpenDocument wants the first entry stored, so that its type
                # can be read at a fixed offset: check the local header too.
                if head[8:10] != b"\x00\x00":
                    return None
                return _detect_odf(archive)
            return _detect_ooxml(archive)
    except _ZIP_ERRORS:
        return None


def _first_local_name(head: bytes) -> bytes | None:
    """The file name in the first local header, if it is complete in ``head``."""
    if len(head) < 30:
        return None
    name_length = int.from_bytes(head[26:28], "little")
    name = head[30 : 30 + name_length]
    return name if len(name) == name_length else None


def _zip_directory_is_small(path: pathlib.Path) -> bool:
    """Whether the end record is present and announces a central directory within the cap.

    This mirrors how zipfile finds the end record (first with no comment, then
    searching the comment area), so the size checked is the size it will read.
    A truncated archive has no end record and fails here.
    """
    try:
        with path.open("rb") as f:
            size = f.seek(0, 2)
            tail_size = min(size, _ZIP_END_SIZE + _ZIP_MAX_COMMENT)
            f.seek(size - tail_size)
            tail = f.read(tail_size)
    except OSError:
        return False
    if tail[-_ZIP_END_SIZE:].startswith(_ZIP_END):
        end = tail[-_ZIP_END_SIZE:]
    else:
        start = tail.rfind(_ZIP_END)
        end = tail[start : start + _ZIP_END_SIZE] if start >= 0 else b""
    if len(end) < _ZIP_END_SIZE:
        return False
    directory_size = int.from_bytes(end[12:16], "little")
    # 0xFFFFFFFF means "see the ZIP64 record": only needed by huge directories.
    return directory_size <= _ZIP_MAX_DIRECTORY


def _detect_odf(archive: zipfile.ZipFile) -> Kind | None:
    """OpenDocument: the first entry is ``mimetype``, stored uncompressed, naming the type."""
    first = archive.infolist()[0]
    if first.filename != "mimetype" or first.compress_type != zipfile.ZIP_STORED:
        return None
    if first.file_size > _ODF_MAX_MIMETYPE:
        return None
    # read() checks the CRC too, so a damaged member is refused.
    return _ODF_MIMETYPES.get(archive.read(first))


def _detect_ooxml(archive: zipfile.ZipFile) -> Kind | None:
    """Office Open XML: ``[Content_Types].xml`` plus exactly one known main part."""
    names = set(archive.namelist())
    if _OOXML_CONTENT_TYPES not in names:
        return None
    found = [part for part in _OOXML_MAIN_PARTS if part in names]
    if len(found) != 1:
        # Neither, or an archive claiming to be both: not a document we know.
        return None
    # Reading the first bytes proves the member's local header and stream are
    # sound without decompressing the whole part.
    with archive.open(found[0]) as member:
        member.read(1)
    return _OOXML_MAIN_PARTS[found[0]]


# --- CSV ---------------------------------------------------------------------


def _looks_like_csv(head: bytes, *, whole: bool) -> bool:
    """Whether the head is delimited text and not markup."""
    text = _decode_text(head, whole=whole)
    if text is None or not text.strip():
        return False
    if _FORBIDDEN_CONTROLS.search(text):
        return False
    if text.lstrip().startswith("<"):
        # HTML, SVG, XML: markup a browser might render, never a table.
        return False
    first_line = text.lstrip("\r\n").splitlines()[0]
    return any(delimiter in first_line for delimiter in _CSV_DELIMITERS)


def _decode_text(head: bytes, *, whole: bool) -> str | None:
    """The head as text: UTF-8 (BOM dropped), else cp1252, else ``None``.

    When the file goes on past the head, the UTF-8 decoder is told the input is
    not final, so a character cut at the boundary is held back, not an error.
    latin-1 needs no separate attempt: where it differs from cp1252 it decodes
    to C1 control characters, which the caller refuses anyway.
    """
    try:
        return codecs.getincrementaldecoder("utf-8-sig")().decode(head, final=whole)
    except UnicodeDecodeError:
        pass
    try:
        # cp1252 leaves five bytes undefined; strict decoding refuses them.
        return head.decode("cp1252")
    except UnicodeDecodeError:
        return None
