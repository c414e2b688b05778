"""The file store: bytes on local disk, named by their SHA-256, each content stored once.

Layout under ``Settings.files_dir``::

    tmp/<random>          a file still arriving (never served)
    <aa>/<sha256>         a stored content (``aa`` = its first two hex digits)

An :class:`Incoming` file is hashed and counted as its bytes are written, so
memory stays constant whatever the size and the limit is enforced before the
disk fills; nothing is visible under its hash until :meth:`Incoming.keep`
renames it there (atomic on one filesystem). Keeping a content that is
already stored drops the new copy. A kept content whose database row did not
commit is an orphan; :func:`sweep_orphans` removes those (housekeeping).
"""

from __future__ import annotations

import hashlib
import os
import secrets
import time
from collections.abc import Iterable
from pathlib import Path
from typing import BinaryIO

import anyio.to_thread

from collab.errors import TooLarge
from collab.i18n import N_

__all__ = ["TOO_LARGE", "FileStore", "Incoming"]

TOO_LARGE = N_("The file is larger than the limit of %(limit)s MB.")
# Bytes gathered before one write to disk (in a worker thread, off the loop).
FLUSH_BYTES = 1024 * 1024
# An orphan is a stored content without a row; younger ones may belong to a
# transaction that has not committed yet.
ORPHAN_AGE = 24 * 3600


def _megabytes(limit: int) -> str:
    return f"{limit / (1024 * 1024):g}"


class FileStore:
    """Where files live; ``root`` is created on first use."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, sha256: str) -> Path:
        return self.root / sha256[:2] / sha256

    def exists(self, sha256: str) -> bool:
        return self.path(sha256).is_file()

    def incoming(self, limit: int) -> Incoming:
        """A new file to write, refused (:class:`TooLarge`) past ``limit`` bytes."""
        tmp = self.root / "tmp"
        tmp.mkdir(parents=True, exist_ok=True)
        return Incoming(self, tmp / secrets.token_hex(16), limit)

    def sweep_orphans(self, known: Iterable[str], now: float | None = None) -> int:
        """Delete stored contents not in ``known`` (and stale temporary files).

        Only files older than a day go: a younger one may be waiting for its
        transaction. Returns how many were removed.
        """
        keep = set(known)
        cutoff = (time.time() if now is None else now) - ORPHAN_AGE
        removed = 0
        if not self.root.is_dir():
            return 0
        for path in self.root.glob("*/*"):
            stale = path.parent.name == "tmp" or path.name not in keep
            if stale and path.is_file() and path.stat().st_mtime < cutoff:
                path.unlink(missing_ok=True)
                removed += 1
        return removed


class Incoming:
    """A file being written: its size and SHA-256 grow with every :meth:`write`."""

    def __init__(self, store: FileStore, path: Path, limit: int) -> None:
        self.store = store
        self.path = path
        self.limit = limit
        self.size = 0
        self._hash = hashlib.sha256()
        self._buffer = bytearray()
        self._file: BinaryIO | None = open(path, "xb")  # noqa: SIM115 - closed by finish/discard
        self.sha256 = ""

    async def write(self, data: bytes) -> None:
        self.size += len(data)
        if self.size > self.limit:
            self.discard()
            raise TooLarge(TOO_LARGE, limit=_megabytes(self.limit))
        self._hash.update(data)
        self._buffer += data
        if len(self._buffer) >= FLUSH_BYTES:
            await self._flush()

    async def _flush(self) -> None:
        if self._buffer and self._file is not None:
            # The buffer itself goes to the thread (no copy): a new one takes its place.
            chunk, self._buffer = self._buffer, bytearray()
            await anyio.to_thread.run_sync(self._file.write, chunk)

    async def finish(self) -> None:
        """All bytes are in: flush, sync to disk, close and fix the hash.

        The bytes reach the disk before :meth:`keep` can rename the file under
        its hash, so a crash never leaves a short file under a committed row.
        """
        await self._flush()
        if self._file is not None:
            file, self._file = self._file, None
            await anyio.to_thread.run_sync(_sync_and_close, file)
        self.sha256 = self._hash.hexdigest()

    def discard(self) -> None:
        """Drop the file (idempotent): nothing of it is left on disk."""
        if self._file is not None:
            self._file.close()
            self._file = None
        self._buffer = bytearray()
        self.path.unlink(missing_ok=True)

    def keep(self) -> Path:
        """Move the finished file under its hash (or drop it: the content is there)."""
        assert self.sha256 and self._file is None, "finish() first"
        target = self.store.path(self.sha256)
        if target.is_file():
            self.path.unlink(missing_ok=True)
        else:
            new_directory = not target.parent.is_dir()
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(self.path, target)
            # The rename (and a new directory's entry) survive a crash too.
            _sync_directory(target.parent)
            if new_directory:
                _sync_directory(self.store.root)
        return target


def _sync_and_close(file: BinaryIO) -> None:
    try:
        file.flush()
        os.fsync(file.fileno())
    finally:
        file.close()


def _sync_directory(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
