"""Multipart uploads streamed to the file store: constant memory, limits while streaming.

:func:`read_upload` parses a ``multipart/form-data`` body as it arrives
(``python_multipart``'s push parser, fed from ``request.stream()``): text
fields are kept in memory up to a small bound, file parts go straight into
:class:`collab.documents.store.Incoming` files, hashed on the way. A file
over the size limit stops the upload with :class:`collab.errors.TooLarge`
(413) and its partial file is deleted at once; a file whose content is not an
accepted type gets :class:`collab.errors.UnsupportedType` (415) after it
arrived. Either way nothing is left behind and the caller writes nothing.

The form is an async context manager: files not kept by the action (see
:func:`collab.documents.files.keep`) are deleted on exit, whatever happened.

Nothing is read before it is allowed: each route checks who may write there
(and the state of the place: a closed consultation, a cancelled meeting)
before it calls :func:`read_upload`, so a user who may not write never costs
a body's worth of disk or bandwidth. :func:`upload_gate` then bounds what is
streaming at once (:class:`collab.slots.UploadSlots`: per user, 429, and per process,
503) and refuses every upload while the disk under ``DATA_DIR`` has less
than ``UPLOAD_MIN_FREE_MB`` free (507).
"""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Self, cast

import anyio.to_thread
import python_multipart
from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import parse_options_header
from starlette.requests import Request

from collab.documents.names import clean_name
from collab.documents.sniff import KINDS, Kind, detect
from collab.documents.store import TOO_LARGE, FileStore, Incoming, _megabytes
from collab.documents.upload import TOO_MANY_FILES, Upload
from collab.errors import ActionError, InsufficientStorage, TooLarge, UnsupportedType
from collab.i18n import N_
from collab.services import services

if TYPE_CHECKING:
    from python_multipart.multipart import MultipartCallbacks

__all__ = ["UploadForm", "parse_upload", "read_upload", "upload_gate"]

CALLBACKS = (
    "on_part_begin",
    "on_part_data",
    "on_part_end",
    "on_header_field",
    "on_header_value",
    "on_header_end",
    "on_headers_finished",
    "on_end",
)

MAX_FIELD_BYTES = 256 * 1024  # all text fields together
MAX_PARTS = 60
# Multipart framing (boundaries, part headers) on top of the files' bytes.
OVERHEAD = 64 * 1024
BAD_FORM = N_("The form could not be read. Reload the page and try again.")
EMPTY_FILE = N_("The file %(name)s is empty.")
UNSUPPORTED = N_(
    "The file %(name)s is not one of the accepted types (%(kinds)s): "
    "its content was checked, not its name."
)
NO_SPACE = N_(
    "The server is running out of disk space and cannot accept files now. "
    "Nothing was saved; please tell the administrators."
)


def _free_bytes(directory: Path) -> int:
    while not directory.exists() and directory != directory.parent:
        directory = directory.parent  # DATA_DIR/files may not exist yet
    return shutil.disk_usage(directory).free


@asynccontextmanager
async def upload_gate(request: Request) -> AsyncIterator[None]:
    """Hold an upload slot while the body streams in; refuse when the disk is nearly full.

    Call it after the permission checks and before the first byte is read.
    """
    app = services(request)
    settings = app.settings
    if _free_bytes(settings.data_dir) < settings.upload_min_free_mb * 1024 * 1024:
        raise InsufficientStorage(NO_SPACE)
    user = getattr(request.state, "user", None)
    who: int | str = user.id if user is not None else (request.client or ("", 0))[0]
    with app.uploads.take(who, settings.upload_concurrent_per_user, settings.upload_concurrent):
        yield


@dataclass
class UploadForm:
    """The text fields and the files of one multipart request."""

    fields: dict[str, list[str]] = field(default_factory=dict)
    files: list[Upload] = field(default_factory=list)
    _pending: list[Incoming] = field(default_factory=list)

    def get(self, name: str) -> str:
        values = self.fields.get(name)
        return values[0] if values else ""

    def getlist(self, name: str) -> list[str]:
        return list(self.fields.get(name, ()))

    def files_of(self, name: str) -> list[Upload]:
        return [upload for upload in self.files if upload.field == name]

    def discard(self) -> None:
        for incoming in self._pending:
            incoming.discard()
        for upload in self.files:
            if not upload.kept:
                upload.incoming.discard()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.discard()


class _Parser:
    """The callbacks of ``python_multipart.MultipartParser``; data is written after each chunk."""

    def __init__(self, store: FileStore, limit: int, max_files: int, form: UploadForm) -> None:
        self.store, self.limit, self.max_files, self.form = store, limit, max_files, form
        self.header_name = b""
        self.header_value = b""
        self.disposition = b""
        self.name = ""
        self.filename: str | None = None
        self.text = bytearray()
        self.text_total = 0
        self.parts = 0
        self.incoming: Incoming | None = None
        self.part_bytes = 0  # file bytes of the current part
        self.counted = 0  # file parts that count against max_files (empty inputs do not)
        # File bytes of the current chunk, written (awaited) once the chunk is parsed.
        self.writes: list[tuple[Incoming, bytes]] = []
        self.finished: list[tuple[str, str, Incoming]] = []
        self.ended = False

    def on_end(self) -> None:
        self.ended = True

    def on_part_begin(self) -> None:
        self.parts += 1
        if self.parts > MAX_PARTS:
            raise ActionError(BAD_FORM)
        self.disposition, self.filename, self.incoming = b"", None, None
        self.text = bytearray()
        self.part_bytes = 0

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self.header_name += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self.header_value += data[start:end]

    def on_header_end(self) -> None:
        if self.header_name.lower() == b"content-disposition":
            self.disposition = self.header_value
        self.header_name = self.header_value = b""

    def on_headers_finished(self) -> None:
        _, options = parse_options_header(self.disposition)
        raw_name = options.get(b"name")
        if raw_name is None:
            raise ActionError(BAD_FORM)
        self.name = raw_name.decode("utf-8", "replace")
        if b"filename" in options:
            self.filename = options[b"filename"].decode("utf-8", "replace")
            # Files ended before this one, and this one; an empty file input
            # (no name, no bytes) is ignored and does not count.
            if self.counted + 1 > self.max_files:
                raise ActionError(TOO_MANY_FILES, count=self.max_files)
            self.incoming = self.store.incoming(self.limit)
            self.form._pending.append(self.incoming)

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self.incoming is not None:
            self.part_bytes += end - start
            self.writes.append((self.incoming, data[start:end]))
            return
        self.text_total += end - start
        if self.text_total > MAX_FIELD_BYTES:
            raise TooLarge(TOO_LARGE, limit=_megabytes(MAX_FIELD_BYTES))
        self.text += data[start:end]

    def on_part_end(self) -> None:
        if self.incoming is not None and self.filename is not None:
            if self.filename or self.part_bytes:
                self.counted += 1
            self.finished.append((self.name, self.filename, self.incoming))
        elif self.incoming is None:
            value = self.text.decode("utf-8", "replace").replace("\x00", "")
            self.form.fields.setdefault(self.name, []).append(value)


Sniff = Callable[[Path], Kind | None]


async def read_upload(
    request: Request,
    store: FileStore,
    limit: int,
    max_files: int = 10,
    sniff: Sniff = detect,
    kinds: Sequence[Kind] = KINDS,
) -> UploadForm:
    """Parse ``request``'s multipart body into an :class:`UploadForm` (use it with ``async with``),
    through :func:`upload_gate`: what every route that takes files calls, after
    its permission checks."""
    async with upload_gate(request):
        return await parse_upload(request, store, limit, max_files, sniff, kinds)


async def parse_upload(
    request: Request,
    store: FileStore,
    limit: int,
    max_files: int = 10,
    sniff: Sniff = detect,
    kinds: Sequence[Kind] = KINDS,
) -> UploadForm:
    """The streaming parser alone, without the gate (see :func:`read_upload`).

    ``limit`` bounds each file; a part with an empty file name and no bytes
    (a file input left empty) is ignored. ``sniff`` tells a file's kind from
    its content, one of ``kinds`` (named in the error for any other): by
    default every kind :mod:`collab.documents.sniff` accepts.
    """
    _, params = parse_options_header(request.headers.get("content-type", ""))
    boundary = params.get(b"boundary")
    if not boundary:
        raise ActionError(BAD_FORM)
    length = request.headers.get("content-length", "")
    if (
        length.isascii()
        and length.isdigit()
        and int(length) > limit * max_files + OVERHEAD + MAX_FIELD_BYTES
    ):
        raise TooLarge(TOO_LARGE, limit=_megabytes(limit))
    form = UploadForm()
    parser = _Parser(store, limit, max_files, form)
    callbacks = {name: getattr(parser, name) for name in CALLBACKS}
    push = python_multipart.MultipartParser(boundary, cast("MultipartCallbacks", callbacks))
    try:
        async for chunk in request.stream():
            push.write(chunk)
            for incoming, data in parser.writes:
                await incoming.write(data)
            parser.writes.clear()
            while parser.finished:
                await _arrived(form, *parser.finished.pop(0), sniff=sniff, kinds=kinds)
        push.finalize()
        if not parser.ended:  # the body stopped before the closing boundary
            raise ActionError(BAD_FORM)
    except MultipartParseError as exc:
        form.discard()
        raise ActionError(BAD_FORM) from exc
    except BaseException:
        form.discard()
        raise
    return form


async def _arrived(
    form: UploadForm,
    name: str,
    filename: str,
    incoming: Incoming,
    *,
    sniff: Sniff = detect,
    kinds: Sequence[Kind] = KINDS,
) -> None:
    await incoming.finish()
    form._pending.remove(incoming)
    if incoming.size == 0:
        incoming.discard()
        if not filename:  # a file input left empty
            return
        raise ActionError(EMPTY_FILE, name=clean_name(filename, KINDS[0]).rsplit(".", 1)[0])
    kind = await anyio.to_thread.run_sync(sniff, incoming.path)
    if kind is None:
        incoming.discard()
        shown = clean_name(filename, KINDS[0]).rsplit(".", 1)[0]
        labels = ", ".join(k.label for k in kinds)
        raise UnsupportedType(UNSUPPORTED, name=shown, kinds=labels)
    form.files.append(Upload(name, clean_name(filename, kind), kind, incoming))
