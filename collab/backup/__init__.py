"""Backups you can restore: ``collab backup`` and ``collab restore``.

A backup is the database as of one instant plus the files it names. The
database is dumped first (:func:`collab.backup.databases.dump_database`),
then the files are copied: stored contents are immutable and only ever
appear by an atomic rename once complete, so every file the dump names is
already on disk, whole, when the copy starts; files stored after the dump
are harmless extras. The backup checks that every hash the dump names was
copied and fails otherwise. The archive is written as ``<name>.partial``
and renamed when complete, so a half-written backup never looks like one.

A restore refuses a target that is not empty (unless ``force``), checks
every member's hash before it changes anything, loads the database, puts
the files in place, and migrates a backup of an older revision; one of a
revision this code does not know (a newer collab) is refused.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tarfile
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError

from collab import __version__, migrate
from collab.backup.archive import (
    DAMAGED,
    FORMAT,
    Manifest,
    Writer,
    hash_stream,
    mail_files,
    read_manifest,
    safe_name,
    store_files,
    verify,
)
from collab.backup.databases import (
    BackupError,
    database_kind,
    dump_database,
    is_empty,
    load_database,
)
from collab.i18n import N_
from collab.settings import Settings

__all__ = ["BackupError", "Manifest", "Restored", "make_backup", "restore_backup"]

DATA = "data"
MISSING_FILES = N_(
    "%(count)d stored files named by the database are missing from %(path)s: "
    "the file store is incomplete, the backup was not written."
)
NOT_EMPTY = N_(
    "The target is not empty (%(what)s): restore replaces everything there. "
    "Use --force to replace it."
)


@dataclass(frozen=True)
class Restored:
    manifest: Manifest
    migrated_from: str | None  # the backup's revision, when it had to be migrated


def archive_path(to: Path, now: datetime) -> Path:
    """``to`` itself when it names a ``.tar``, else a dated name inside the directory ``to``."""
    if to.suffix == ".tar":
        return to
    return to / f"collab-backup-{now.strftime('%Y%m%dT%H%M%SZ')}.tar"


async def make_backup(settings: Settings, to: Path) -> tuple[Path, Manifest]:
    """Write a backup of the database and of ``DATA_DIR``'s files; return its path."""
    now = datetime.now(UTC)
    target = archive_path(to, now)
    if target.exists():
        raise BackupError(N_("%(path)s already exists."), path=str(target))
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".collab-backup-") as work:
        snapshot = await dump_database(settings.database_url, Path(work))
        # 0600: the archive holds password hashes and the secret key.
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            with os.fdopen(fd, "wb") as out:
                with tarfile.open(fileobj=out, mode="w") as tar:
                    writer = Writer(tar)
                    writer.add_file(snapshot.path.name, snapshot.path)
                    copied = _add_files(writer, settings)
                    missing = snapshot.blobs - copied
                    if missing:
                        raise BackupError(
                            MISSING_FILES, count=len(missing), path=str(settings.files_dir)
                        )
                    manifest = Manifest(
                        format=FORMAT, collab_version=__version__, revision=snapshot.revision,
                        created_at=now.isoformat(timespec="seconds").replace("+00:00", "Z"),
                        database=database_kind(settings.database_url), dump=snapshot.path.name,
                        server_version=snapshot.server_version, files=list(writer.entries),
                    )  # fmt: skip
                    writer.add_manifest(manifest)
                # The end-of-archive blocks too: synced before the name says "complete".
                out.flush()
                os.fsync(out.fileno())
            os.replace(partial, target)
        finally:
            partial.unlink(missing_ok=True)
    return target, manifest


def _add_files(writer: Writer, settings: Settings) -> set[str]:
    """Copy the file store, the mail directory and the key; the hashes of stored contents."""
    data_dir = settings.data_dir
    copied: set[str] = set()
    for path in store_files(settings.files_dir):
        entry = writer.add_file(_member(path, data_dir), path)
        if entry is None:
            continue
        if entry.sha256 != path.name:
            # Contents are named by their hash: this one changed on disk.
            raise BackupError(
                N_("The stored file %(path)s does not match its hash: the disk is damaged."),
                path=str(path),
            )
        copied.add(entry.sha256)
    for path in mail_files(settings.mail_dir):
        writer.add_file(_member(path, data_dir), path)
    writer.add_file(f"{DATA}/secret_key", data_dir / "secret_key")
    return copied


def _member(path: Path, data_dir: Path) -> str:
    return f"{DATA}/{path.relative_to(data_dir).as_posix()}"


def _check_revision(manifest: Manifest, database_url: str) -> bool:
    """True when the backup's revision is older than ours (it must be migrated)."""
    script = ScriptDirectory.from_config(migrate.alembic_config(database_url))
    head = script.get_current_head()
    try:
        known = script.get_revision(manifest.revision) is not None
    except CommandError:
        known = False
    if manifest.format > FORMAT or not known:
        raise BackupError(
            N_(
                "The backup was made by a newer collab (%(version)s, revision %(revision)s): "
                "upgrade collab before restoring it."
            ),
            version=manifest.collab_version,
            revision=manifest.revision,
        )
    return manifest.revision != head


async def _target_contents(settings: Settings) -> list[str]:
    """What is already in the target; empty when a restore may go ahead."""
    found = []
    if not await is_empty(settings.database_url):
        found.append("database")
    if any(store_files(settings.files_dir)):
        found.append(str(settings.files_dir))
    if any(mail_files(settings.mail_dir)):
        found.append(str(settings.mail_dir))
    return found


async def restore_backup(settings: Settings, archive: Path, force: bool = False) -> Restored:
    """Bring ``archive`` back into ``DATABASE_URL`` and ``DATA_DIR``; the app must be stopped."""
    try:
        tar = tarfile.open(archive, mode="r:")  # noqa: SIM115 - closed below
    except FileNotFoundError as exc:
        raise BackupError(N_("There is no file %(path)s."), path=str(archive)) from exc
    except (tarfile.TarError, OSError) as exc:
        raise BackupError(DAMAGED, path=str(archive), problem=str(exc)) from exc
    with tar:
        manifest = read_manifest(tar, archive)
        older = _check_revision(manifest, settings.database_url)
        if manifest.database != database_kind(settings.database_url):
            raise BackupError(
                N_("The backup is of a %(kind)s database; DATABASE_URL is %(target)s."),
                kind=manifest.database,
                target=database_kind(settings.database_url),
            )
        found = await _target_contents(settings)
        if found and not force:
            raise BackupError(NOT_EMPTY, what=", ".join(found))
        verify(tar, manifest, archive)
        # From here on the target changes: the archive is whole.
        with tempfile.TemporaryDirectory(dir=_work_dir(settings)) as work:
            dump = Path(work) / safe_name(manifest.dump).name
            sha256 = next(e.sha256 for e in manifest.files if e.path == manifest.dump)
            _extract(tar, manifest.dump, dump, archive, sha256)
            await load_database(settings.database_url, dump)
        _restore_files(tar, manifest, settings, archive)
    if older:
        # Alembic's env runs its own event loop: not on this one.
        await asyncio.to_thread(migrate.upgrade, settings.database_url)
    return Restored(manifest, manifest.revision if older else None)


def _work_dir(settings: Settings) -> Path:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return settings.data_dir


def _restore_files(
    tar: tarfile.TarFile, manifest: Manifest, settings: Settings, archive: Path
) -> None:
    data_dir = settings.data_dir
    for directory in (settings.files_dir, settings.mail_dir):
        if directory.exists():  # only with --force: what was there is replaced
            shutil.rmtree(directory)
    for entry in manifest.files:
        name = safe_name(entry.path)
        if name.parts[0] != DATA or len(name.parts) < 2:
            continue
        target = data_dir.joinpath(*name.parts[1:])
        target.parent.mkdir(parents=True, exist_ok=True)
        _extract(tar, entry.path, target, archive, entry.sha256)


def _extract(tar: tarfile.TarFile, name: str, target: Path, archive: Path, sha256: str) -> None:
    """Write member ``name`` to ``target`` (whole or not at all), checking its hash again."""
    staged = target.with_name(target.name + ".restoring")
    fd = os.open(staged, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        digest, _size = hash_stream(tar.extractfile(name), out)
    if digest != sha256:
        staged.unlink()
        raise BackupError(DAMAGED, path=str(archive), problem=f"{name} changed while restored")
    os.replace(staged, target)
