"""The text inside an uploaded file, for the search index: PDF, ODT, DOCX, CSV, plain text.

Bounded, whatever the file: at most :data:`MAX_PAGES` pages of a PDF and
:data:`MAX_CHARS` characters of text are kept, an office document whose
XML unpacks to more than :data:`MAX_XML_BYTES` is not opened, and the
reading runs in a child process (:func:`extract`) that is killed after
:data:`TIME_LIMIT` seconds, so a pathological PDF can neither hang the
event loop nor keep a thread spinning. A file that cannot be read as its
type (broken, encrypted, a zip bomb) raises :class:`Unreadable`: the queue
marks it skipped and never tries again; a time-out or a lost child raises
:class:`ExtractionFailed`, which the queue retries a few times.

The parsers (``pypdf``, ``odfpy``, ``python-docx``) are imported in the
child only: the app's processes do not load them.
"""

from __future__ import annotations

import multiprocessing
import re
import zipfile
from collections.abc import Callable, Iterator
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

__all__ = [
    "EXTRACTABLE",
    "MAX_CHARS",
    "MAX_PAGES",
    "MAX_XML_BYTES",
    "TIME_LIMIT",
    "ExtractionFailed",
    "Unreadable",
    "extract",
    "read_text",
]

PDF = "application/pdf"
ODT = "application/vnd.oasis.opendocument.text"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
TEXT = ("text/csv", "text/plain")
#: The content types whose text is read (``blob.content_type``, from the bytes).
EXTRACTABLE = frozenset({PDF, ODT, DOCX, *TEXT})
#: Pages of a PDF read, from the first: a regulation's body, not an annex of tables.
MAX_PAGES = 100
#: Characters of text kept per file (about 30,000 words, a hundred pages):
#: a body the index and its snippets handle in milliseconds, and far below
#: PostgreSQL's 1 MB limit of a ``tsvector``.
MAX_CHARS = 200_000
#: Bytes of a text file read (UTF-8 takes at most four per character).
MAX_TEXT_BYTES = MAX_CHARS * 4
#: Unpacked size of an office document's XML above which it is not opened.
MAX_XML_BYTES = 64 * 1024 * 1024
#: Seconds one file may take, child process start included.
TIME_LIMIT = 30.0

_SPACES = re.compile(r"\s+")


class Unreadable(Exception):
    """The file is not readable as its type (broken, encrypted, too big unpacked): skip it."""


class ExtractionFailed(Exception):
    """The reading did not finish (time limit, the child died): worth another try later."""


def _clean(parts: Iterator[str]) -> str:
    """``parts`` joined by single spaces, cut at :data:`MAX_CHARS`."""
    kept: list[str] = []
    size = 0
    for part in parts:
        part = _SPACES.sub(" ", part).strip()
        if not part:
            continue
        kept.append(part)
        size += len(part) + 1
        if size >= MAX_CHARS:
            break
    return " ".join(kept)[:MAX_CHARS]


def _pdf(path: Path) -> Iterator[str]:
    from pypdf import PdfReader

    reader = PdfReader(path)
    if reader.is_encrypted:
        # An owner password alone (printing, copying) still opens with "".
        try:
            opened = reader.decrypt("")
        except Exception as exc:  # a cipher pypdf cannot do without an extra package
            raise Unreadable(f"encrypted PDF: {exc}") from None
        if not opened:
            raise Unreadable("encrypted PDF (a password is needed to open it)")
    for number, page in enumerate(reader.pages):
        if number >= MAX_PAGES:
            return
        yield page.extract_text()


def _check_xml(path: Path, member: str) -> None:
    try:
        with zipfile.ZipFile(path) as archive:
            size = archive.getinfo(member).file_size
    except (KeyError, zipfile.BadZipFile) as exc:
        raise Unreadable(f"no {member}: {exc}") from None
    if size > MAX_XML_BYTES:
        raise Unreadable(f"{member} unpacks to {size} bytes")


def _odt(path: Path) -> Iterator[str]:
    _check_xml(path, "content.xml")
    from odf import teletype
    from odf.namespaces import TEXTNS
    from odf.opendocument import load

    paragraphs = {(TEXTNS, "p"), (TEXTNS, "h")}

    def walk(node: Any) -> Iterator[str]:
        for child in node.childNodes:
            if child.nodeType != child.ELEMENT_NODE:
                continue
            if child.qname in paragraphs:
                yield teletype.extractText(child)
            else:
                yield from walk(child)

    yield from walk(load(str(path)).text)


def _docx(path: Path) -> Iterator[str]:
    _check_xml(path, "word/document.xml")
    import docx
    from docx.table import Table

    document = docx.Document(str(path))
    for block in document.iter_inner_content():
        if isinstance(block, Table):
            for row in block.rows:
                seen: set[int] = set()
                for cell in row.cells:  # a merged cell comes once per column it spans
                    if id(cell._tc) not in seen:
                        seen.add(id(cell._tc))
                        yield cell.text
        else:
            yield block.text


def _text(path: Path) -> Iterator[str]:
    with path.open("rb") as file:
        data = file.read(MAX_TEXT_BYTES)
    try:
        # A cut may split a character: only the very end may be undecodable.
        yield data.decode("utf-8-sig", errors="strict" if len(data) < MAX_TEXT_BYTES else "ignore")
    except UnicodeDecodeError:
        yield data.decode("cp1252", errors="replace")


_READERS: dict[str, Callable[[Path], Iterator[str]]] = {
    PDF: _pdf,
    ODT: _odt,
    DOCX: _docx,
    **dict.fromkeys(TEXT, _text),
}


def read_text(path: Path, content_type: str) -> str:
    """The text of the file at ``path``, in this process (:func:`extract` bounds its time).

    :class:`Unreadable` when the file is not what its type says or is closed
    to reading; ``FileNotFoundError`` when it is not there.
    """
    reader = _READERS.get(content_type)
    if reader is None:
        raise Unreadable(f"no text in {content_type}")
    if not path.exists():
        raise FileNotFoundError(path)
    try:
        return _clean(reader(path))
    except (Unreadable, MemoryError, RecursionError):
        raise
    except Exception as exc:
        # Whatever a parser raises on bytes it cannot make sense of.
        raise Unreadable(f"{type(exc).__name__}: {exc}") from None


def _child(conn: Connection, path: str, content_type: str) -> None:
    try:
        conn.send(("done", read_text(Path(path), content_type)))
    except Unreadable as exc:
        conn.send(("unreadable", str(exc)))
    except BaseException as exc:  # reported to the parent, which decides
        conn.send(("failed", f"{type(exc).__name__}: {exc}"))
    finally:
        conn.close()


def extract(path: Path, content_type: str, time_limit: float = TIME_LIMIT) -> str:
    """:func:`read_text` in a child process killed after ``time_limit`` seconds.

    Blocking: the extractor calls it in a worker thread. A fresh interpreter
    (``spawn``) each time: nothing of the app's threads or sockets is copied
    into it, and its memory goes back to the system when it ends.
    """
    context = multiprocessing.get_context("spawn")
    receiving, sending = context.Pipe(duplex=False)
    child = context.Process(
        target=_child, args=(sending, str(path), content_type), name="collab-extract", daemon=True
    )
    child.start()
    sending.close()  # the child's end: a dead child then reads as EOF here
    try:
        if not receiving.poll(time_limit):
            raise ExtractionFailed(f"no text after {time_limit:g} s")
        try:
            outcome, value = receiving.recv()
        except EOFError:
            raise ExtractionFailed("the extracting process ended without an answer") from None
    finally:
        receiving.close()
        if child.is_alive():
            child.kill()
        child.join(5)
    if outcome == "unreadable":
        raise Unreadable(value)
    if outcome == "failed":
        raise ExtractionFailed(value)
    assert isinstance(value, str)
    return value
