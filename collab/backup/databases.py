"""The database half of a backup: a consistent dump, and loading it back.

SQLite: the online backup API (``sqlite3.Connection.backup``) copies the
whole database in one step under one read transaction, so the copy is the
database as of one instant while the app goes on writing (WAL: readers do
not block writers). PostgreSQL: ``pg_dump`` in custom format, run inside a
snapshot exported by a repeatable-read transaction that also reads the
revision and the stored files' hashes, so all three describe the same
instant. Restoring is a file copy (SQLite) or ``pg_restore`` in one
transaction into an empty database (PostgreSQL).
"""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
from sqlalchemy.engine import URL, make_url

from collab.errors import ActionError
from collab.i18n import N_

__all__ = [
    "BackupError",
    "Snapshot",
    "database_kind",
    "dump_database",
    "is_empty",
    "load_database",
]

SQLITE_DUMP = "database.sqlite3"
PG_DUMP = "database.pgdump"
NO_TOOL = N_("%(tool)s was not found: install the PostgreSQL client, version %(version)s or later.")
OLD_TOOL = N_(
    "%(tool)s is version %(client)s but the server is %(version)s: "
    "install the PostgreSQL client of the server's version."
)
TOOL_FAILED = N_("%(tool)s failed: %(error)s")
NO_DATABASE = N_("Cannot connect to the database: %(error)s")
NOT_MIGRATED = N_("The database has no migration revision: run collab migrate first.")


class BackupError(ActionError):
    """A backup or restore that cannot go on; nothing was changed by the failing step."""


@dataclass(frozen=True)
class Snapshot:
    """A dumped database: where the dump is, its revision, the file hashes it names."""

    path: Path
    revision: str
    blobs: frozenset[str]
    server_version: str = ""


def database_kind(url: str) -> str:
    return "sqlite" if url.startswith("sqlite") else "postgresql"


def sqlite_path(url: str) -> Path:
    database = make_url(url).database
    if not database or database == ":memory:":
        raise BackupError(N_("DATABASE_URL names no SQLite file."))
    return Path(database)


async def dump_database(url: str, workdir: Path) -> Snapshot:
    """Dump the database at ``url`` into ``workdir``, as of one instant."""
    if database_kind(url) == "sqlite":
        return _dump_sqlite(sqlite_path(url), workdir / SQLITE_DUMP)
    return await _dump_postgres(make_url(url), workdir / PG_DUMP)


def _dump_sqlite(source: Path, target: Path) -> Snapshot:
    if not source.is_file():
        raise BackupError(N_("There is no database at %(path)s."), path=str(source))
    src = sqlite3.connect(f"{source.resolve().as_uri()}?mode=ro", uri=True, timeout=30)
    dst = sqlite3.connect(target)
    try:
        # pages=-1 (the default): the whole database in one step, one read
        # transaction, so writes committed meanwhile are either all in or out.
        src.backup(dst)
    except sqlite3.Error as exc:
        dst.close()
        raise BackupError(NO_DATABASE, error=str(exc)) from exc
    finally:
        src.close()
    try:
        revision, blobs = _contents(dst.execute)
    finally:
        dst.close()
    return Snapshot(target, revision, blobs)


def _contents(execute: Any) -> tuple[str, frozenset[str]]:
    try:
        revision = execute("SELECT version_num FROM alembic_version").fetchone()
    except sqlite3.OperationalError as exc:
        raise BackupError(NOT_MIGRATED) from exc
    if revision is None:
        raise BackupError(NOT_MIGRATED)
    try:
        blobs = frozenset(row[0] for row in execute("SELECT sha256 FROM blob").fetchall())
    except sqlite3.OperationalError:  # a revision before the file store
        blobs = frozenset()
    return str(revision[0]), blobs


async def _dump_postgres(url: URL, target: Path) -> Snapshot:
    conn = await _connect(url)
    try:
        version = int(await conn.fetchval("SHOW server_version_num"))
        pg_dump = pg_tool("pg_dump", version // 10000)
        async with conn.transaction(isolation="repeatable_read", readonly=True):
            # pg_dump reads the snapshot this transaction exported: the dump,
            # the revision and the hashes below all see the same commits.
            snapshot = await conn.fetchval("SELECT pg_export_snapshot()")
            try:
                revision = await conn.fetchval("SELECT version_num FROM alembic_version")
            except asyncpg.UndefinedTableError as exc:
                raise BackupError(NOT_MIGRATED) from exc
            if revision is None:
                raise BackupError(NOT_MIGRATED)
            exists = await conn.fetchval("SELECT to_regclass('blob') IS NOT NULL")
            rows = await conn.fetch("SELECT sha256 FROM blob") if exists else []
            blobs = frozenset(row[0] for row in rows)
            _run(
                [pg_dump, "--format=custom", "--no-owner", "--no-privileges",
                 f"--snapshot={snapshot}", f"--file={target}"],
                url,
            )  # fmt: skip
        server = str(await conn.fetchval("SHOW server_version"))
    finally:
        await conn.close()
    return Snapshot(target, str(revision), blobs, server)


async def is_empty(url: str) -> bool:
    """True when the database has no tables (or, for SQLite, does not exist yet)."""
    if database_kind(url) == "sqlite":
        path = sqlite_path(url)
        if not path.exists() or path.stat().st_size == 0:
            return True
        with _closing(sqlite3.connect(path)) as conn:
            try:
                count = conn.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table'")
                return int(count.fetchone()[0]) == 0
            except sqlite3.DatabaseError:  # not a database: not empty either
                return False
    conn = await _connect(make_url(url))
    try:
        count = await conn.fetchval(
            "SELECT count(*) FROM pg_catalog.pg_tables"
            " WHERE schemaname NOT IN ('pg_catalog', 'information_schema')"
        )
    finally:
        await conn.close()
    return int(count) == 0


async def load_database(url: str, dump: Path) -> None:
    """Replace the database at ``url`` by ``dump`` (the app must be stopped)."""
    if database_kind(url) == "sqlite":
        path = sqlite_path(url)
        path.parent.mkdir(parents=True, exist_ok=True)
        staged = path.with_name(path.name + ".restoring")
        shutil.copyfile(dump, staged)
        # A stale WAL next to the new file would be replayed into it.
        for suffix in ("-wal", "-shm", "-journal"):
            path.with_name(path.name + suffix).unlink(missing_ok=True)
        os.replace(staged, path)
        return
    parsed = make_url(url)
    conn = await _connect(parsed)
    try:
        version = int(await conn.fetchval("SHOW server_version_num"))
        # Whatever is there goes (the caller checked it is empty or was told --force).
        await conn.execute("DROP SCHEMA IF EXISTS public CASCADE; CREATE SCHEMA public")
    finally:
        await conn.close()
    pg_restore = pg_tool("pg_restore", version // 10000)
    _run(
        [pg_restore, "--no-owner", "--no-privileges", "--exit-on-error", "--single-transaction",
         f"--dbname={parsed.database}", str(dump)],
        parsed,
    )  # fmt: skip


def pg_tool(name: str, server_major: int) -> str:
    """The client program ``name`` matching a server of version ``server_major``.

    Debian installs each version's clients in ``/usr/lib/postgresql/<v>/bin``;
    elsewhere the one on ``PATH`` is used if it is not older than the server
    (``pg_dump`` refuses to dump a newer server).
    """
    versioned = Path(f"/usr/lib/postgresql/{server_major}/bin/{name}")
    if os.access(versioned, os.X_OK):
        return str(versioned)
    found = shutil.which(name)
    if found is None:
        raise BackupError(NO_TOOL, tool=name, version=server_major)
    output = subprocess.run(  # noqa: S603 - our own argument list
        [found, "--version"], capture_output=True, text=True, check=False
    ).stdout
    match = re.search(r"(\d+)(?:\.\d+)*\s*(?:\(|$)", output.strip())
    client = int(match.group(1)) if match else 0
    if client < server_major:
        raise BackupError(OLD_TOOL, tool=name, client=client, version=server_major)
    return found


def _libpq_env(url: URL) -> dict[str, str]:
    """The connection as libpq environment variables: no password on a command line."""
    env = dict(os.environ)
    for var, value in (
        ("PGHOST", url.host), ("PGPORT", url.port), ("PGUSER", url.username),
        ("PGPASSWORD", url.password), ("PGDATABASE", url.database),
        ("PGSSLMODE", url.query.get("ssl") or url.query.get("sslmode")),
    ):  # fmt: skip
        if value:
            env[var] = str(value)
    return env


def _run(command: list[str], url: URL) -> None:
    result = subprocess.run(  # noqa: S603 - our own argument list
        command, env=_libpq_env(url), capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        error = (result.stderr.strip() or f"exit status {result.returncode}").splitlines()[-1]
        raise BackupError(TOOL_FAILED, tool=Path(command[0]).name, error=error)


async def _connect(url: URL) -> asyncpg.Connection:
    ssl = url.query.get("ssl")
    try:
        return await asyncpg.connect(
            host=url.host, port=url.port, user=url.username, password=url.password,
            database=url.database, ssl=ssl if isinstance(ssl, str) else None,
        )  # fmt: skip
    except (OSError, asyncpg.PostgresError) as exc:
        raise BackupError(NO_DATABASE, error=str(exc)) from exc


@contextmanager
def _closing(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    try:
        yield conn
    finally:
        conn.close()
