"""The archive of a backup: one ``.tar`` with the database dump, the files and a manifest.

Layout::

    database.sqlite3 | database.pgdump   the dump (see collab.backup.databases)
    data/files/<aa>/<sha256>              the file store (uploads, documents)
    data/mail/...                         messages written to disk (no SMTP_URL)
    data/secret_key                       the generated key, when there is one
    manifest.json                         written last: what is in, with hashes

Every member is hashed while it is written, from one open file descriptor,
and the manifest lists each one's SHA-256 and size; a restore checks every
member against it before anything is changed.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tarfile
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path, PurePosixPath
from typing import IO

from collab.backup.databases import BackupError
from collab.i18n import N_

__all__ = ["FORMAT", "MANIFEST", "Entry", "Manifest", "Writer", "read_manifest", "verify"]

FORMAT = 1
MANIFEST = "manifest.json"
CHUNK = 1024 * 1024
DAMAGED = N_("The archive %(path)s is damaged: %(problem)s")


@dataclass(frozen=True)
class Entry:
    """One member of the archive."""

    path: str
    sha256: str
    size: int


@dataclass(frozen=True)
class Manifest:
    """What the archive holds and what made it (``manifest.json``)."""

    format: int
    collab_version: str
    revision: str
    created_at: str
    database: str
    dump: str
    server_version: str = ""
    files: list[Entry] = field(default_factory=list)

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), indent=1, sort_keys=True).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> Manifest:
        data = json.loads(raw)
        files = [Entry(str(e["path"]), str(e["sha256"]), int(e["size"])) for e in data["files"]]
        return cls(
            format=int(data["format"]), collab_version=str(data["collab_version"]),
            revision=str(data["revision"]), created_at=str(data["created_at"]),
            database=str(data["database"]), dump=str(data["dump"]),
            server_version=str(data.get("server_version", "")), files=files,
        )  # fmt: skip


class _Hashing:
    """A reader that hashes what passes through it (``tarfile`` reads in chunks)."""

    def __init__(self, fp: IO[bytes]) -> None:
        self.fp = fp
        self.hash = hashlib.sha256()

    def read(self, size: int = -1) -> bytes:
        data = self.fp.read(size)
        self.hash.update(data)
        return data


class Writer:
    """Adds members to a new tar and remembers their hashes for the manifest."""

    def __init__(self, tar: tarfile.TarFile) -> None:
        self.tar = tar
        self.entries: list[Entry] = []

    def add_file(self, name: str, path: Path) -> Entry | None:
        """Add ``path`` as ``name``; None when it vanished before it was opened.

        Files are replaced by rename, never rewritten in place, so the open
        descriptor reads one whole version of the file whatever happens next.
        """
        try:
            fp = path.open("rb")
        except FileNotFoundError:
            return None
        with fp:
            stat = os.fstat(fp.fileno())
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = stat.st_size, int(stat.st_mtime), 0o600
            reader = _Hashing(fp)
            self.tar.addfile(info, reader)
        entry = Entry(name, reader.hash.hexdigest(), info.size)
        self.entries.append(entry)
        return entry

    def add_manifest(self, manifest: Manifest) -> None:
        raw = manifest.to_json()
        info = tarfile.TarInfo(MANIFEST)
        info.size, info.mode, info.mtime = len(raw), 0o600, int(time.time())
        self.tar.addfile(info, io.BytesIO(raw))


def read_manifest(tar: tarfile.TarFile, path: Path) -> Manifest:
    try:
        member = tar.extractfile(MANIFEST)
        raw = member.read() if member is not None else None
    except (KeyError, tarfile.TarError, OSError, EOFError):
        raw = None
    if raw is None:
        raise BackupError(DAMAGED, path=str(path), problem=f"no readable {MANIFEST}")
    try:
        return Manifest.from_json(raw)
    except (KeyError, ValueError, TypeError) as exc:
        problem = f"{MANIFEST}: {type(exc).__name__} {exc}"
        raise BackupError(DAMAGED, path=str(path), problem=problem) from exc


def safe_name(name: str) -> PurePosixPath:
    """A member name as a relative path that cannot leave the directory it goes to."""
    pure = PurePosixPath(name)
    if pure.is_absolute() or ".." in pure.parts or not pure.parts or "\\" in name:
        raise ValueError(f"unsafe member name {name!r}")
    return pure


def verify(tar: tarfile.TarFile, manifest: Manifest, path: Path) -> None:
    """Check every member against the manifest: same names, sizes and SHA-256."""
    expected = {entry.path: entry for entry in manifest.files}
    seen: set[str] = set()
    try:
        for member in tar:
            if member.name == MANIFEST:
                continue
            entry = expected.get(member.name)
            if entry is None or not member.isreg() or member.name in seen:
                raise ValueError(f"unexpected member {member.name}")
            safe_name(member.name)
            seen.add(member.name)
            digest, size = hash_stream(tar.extractfile(member))
            if (digest, size) != (entry.sha256, entry.size):
                raise ValueError(f"{member.name} does not match its SHA-256 in the manifest")
    except (ValueError, tarfile.TarError, OSError, EOFError) as exc:
        raise BackupError(DAMAGED, path=str(path), problem=str(exc)) from exc
    missing = sorted(set(expected) - seen)
    if missing or manifest.dump not in expected:
        problem = f"missing {', '.join(missing) or manifest.dump}"
        raise BackupError(DAMAGED, path=str(path), problem=problem)


def hash_stream(fp: IO[bytes] | None, out: IO[bytes] | None = None) -> tuple[str, int]:
    """SHA-256 and size of what ``fp`` holds, copied to ``out`` on the way if given."""
    if fp is None:
        raise ValueError("not a regular file")
    digest, size = hashlib.sha256(), 0
    for chunk in iter(lambda: fp.read(CHUNK), b""):
        digest.update(chunk)
        size += len(chunk)
        if out is not None:
            out.write(chunk)
    return digest.hexdigest(), size


def store_files(root: Path) -> Iterator[Path]:
    """The stored contents under ``files_dir`` (``<aa>/<sha256>``; not ``tmp/``)."""
    if root.is_dir():
        for path in sorted(root.glob("*/*")):
            if path.parent.name != "tmp" and path.is_file():
                yield path


def mail_files(root: Path) -> Iterator[Path]:
    """Messages written to disk; a ``.part`` is one still being written."""
    if root.is_dir():
        for path in sorted(root.rglob("*")):
            if path.is_file() and path.suffix != ".part":
                yield path
