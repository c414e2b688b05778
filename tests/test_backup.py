"""``collab backup`` and ``collab restore``: a live instance backed up during writes.

The round trip runs a real uvicorn worker on the test database (SQLite, or
PostgreSQL when ``DATABASE_URL`` says so), a client that keeps replying with
two new files per reply, and ``collab backup`` as its own process in the
middle of it; the archive is restored into a new ``DATA_DIR`` and a new
database and compared with the source row by row and file by file. The
refusals run the command in-process.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import itertools
import json
import os
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from alembic.script import ScriptDirectory
from bs4 import BeautifulSoup
from sqlalchemy import select, text

from collab import migrate
from collab.backup.archive import MANIFEST, Manifest
from collab.backup.databases import BackupError, pg_tool
from collab.cli import main
from collab.db import Database
from collab.demo import DEMO_PASSWORD, load_demo
from collab.documents.store import FileStore
from collab.models import Base
from tests.dbs import Template, _pg, is_postgres, pg_url
from tests.helpers import italian
from tests.multiprocess.clients import MAYOR, THEME
from tests.servers import ROOT, free_port, start_uvicorn, stop_process, wait_healthy

PDF = b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog >>\nendobj\n"
Rows = dict[str, dict[tuple[Any, ...], tuple[Any, ...]]]
_counter = itertools.count()


def _csrf(html: str) -> str:
    node = BeautifulSoup(html, "html.parser").select_one('input[name="csrf_token"]')
    assert node is not None
    return str(node["value"])


def _empty_database(tmp_path: Path) -> str:
    """A database with nothing in it, as a new server has."""
    if is_postgres():
        name = f"collab_restore_{os.getpid()}_{next(_counter)}"
        asyncio.run(_pg(f'CREATE DATABASE "{name}"'))
        return pg_url(name)
    return f"sqlite+aiosqlite:///{tmp_path / 'collab.sqlite3'}"


@pytest.fixture
def target(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """An empty database and an empty DATA_DIR to restore into."""
    data_dir = tmp_path / "restored"
    data_dir.mkdir()
    url = _empty_database(data_dir)
    yield url, data_dir
    Template.drop_database(url)


def _env(url: str, data_dir: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key != "REDIS_URL"}
    return {**env, "DATABASE_URL": url, "DATA_DIR": str(data_dir), "SECRET_KEY": "b" * 48,
            "COLLAB_ENV": "development", "DEFAULT_LOCALE": "it"}  # fmt: skip


async def _rows(url: str) -> Rows:
    """Every row of every table, by primary key."""
    database = Database(url)
    tables: Rows = {}
    try:
        async with database.session() as session:
            for table in Base.metadata.sorted_tables:
                key = [table.columns.keys().index(c.name) for c in table.primary_key.columns]
                rows = (await session.execute(select(table))).all()
                tables[table.name] = {tuple(row[i] for i in key): tuple(row) for row in rows}
            revision = await session.scalar(text("SELECT version_num FROM alembic_version"))
            tables["alembic_version"] = {(): (revision,)}
    finally:
        await database.dispose()
    return tables


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@dataclass
class Writer:
    """A mayor who keeps replying to one thread, two new files per reply."""

    http: httpx.AsyncClient
    thread: int = 0
    done: int = 0
    stop: bool = False
    progress: asyncio.Event = field(default_factory=asyncio.Event)

    async def start(self) -> None:
        token = _csrf((await self.http.get("/login")).text)
        form = {"email": MAYOR, "password": DEMO_PASSWORD, "csrf_token": token, "next": "/"}
        assert (await self.http.post("/login", data=form)).status_code == 303
        token = _csrf((await self.http.get("/")).text)
        self.http.headers["X-CSRF-Token"] = token
        response = await self.http.post(
            f"{THEME}/new", data={"title": "Backup", "body": "Scriviamo.", "csrf_token": token}
        )
        assert response.status_code == 303, response.text
        self.thread = int(response.headers["location"].rsplit("/", 1)[1])

    async def run(self) -> None:
        while not self.stop:
            n = self.done
            files = [("files", (f"allegato-{n}-{i}.pdf", PDF + b"%" + f"{n}-{i}".encode(),
                                "application/pdf")) for i in (1, 2)]  # fmt: skip
            response = await self.http.post(
                f"/threads/{self.thread}/reply", data={"body": f"Risposta {n}"}, files=files
            )
            assert response.status_code == 303, response.text
            self.done += 1
            self.progress.set()

    async def until(self, count: int) -> None:
        while self.done < count:
            self.progress.clear()
            await self.progress.wait()


async def _backup_during_writes(url: str, data_dir: Path, out: Path) -> tuple[int, int, int]:
    """Start the worker, write, back up while writing; replies before, during and after."""
    port, log = free_port(), data_dir / "uvicorn.log"
    proc = start_uvicorn(port, {**_env(url, data_dir), "BASE_URL": f"http://127.0.0.1:{port}"}, log)
    try:
        await asyncio.to_thread(wait_healthy, f"http://127.0.0.1:{port}", proc, log)
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{port}", timeout=30, trust_env=False
        ) as http:
            writer = Writer(http)
            await writer.start()
            task = asyncio.create_task(writer.run())
            await writer.until(3)
            before = writer.done
            backup = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "collab", "backup", "--to", str(out),
                cwd=ROOT, env=_env(url, data_dir),
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            )  # fmt: skip
            stdout, stderr = await backup.communicate()
            after = writer.done
            await writer.until(after + 3)
            writer.stop = True
            await task
    finally:
        stop_process(proc)
    assert backup.returncode == 0, stderr.decode()
    assert b"Backup" in stdout
    return before, after, writer.done


def _restore(archive: Path, url: str, data_dir: Path, *args: str) -> tuple[int, str]:
    result = subprocess.run(
        [sys.executable, "-m", "collab", "restore", str(archive), *args],
        cwd=ROOT, env=_env(url, data_dir), capture_output=True, text=True, check=False,
    )  # fmt: skip
    return result.returncode, result.stdout + result.stderr


@pytest.mark.slow
def test_a_backup_taken_during_writes_restores_whole(
    db_template: Template, tmp_path: Path, target: tuple[str, Path]
) -> None:
    source_dir = tmp_path / "source"
    source_dir.mkdir()
    source_url = db_template.new_database(source_dir)
    try:
        asyncio.run(_load_demo(source_url, source_dir))
        out = tmp_path / "backups"
        before, during, total = asyncio.run(_backup_during_writes(source_url, source_dir, out))
        source = asyncio.run(_rows(source_url))
    finally:
        Template.drop_database(source_url)
    (archive,) = out.glob("collab-backup-*.tar")
    assert oct(archive.stat().st_mode & 0o777) == "0o600"

    url, data_dir = target
    code, output = _restore(archive, url, data_dir)
    assert code == 0, output
    restored = asyncio.run(_rows(url))
    _check_rows(restored, source, before, during, total)
    _check_files(restored, archive, source_dir, data_dir)


async def _load_demo(url: str, data_dir: Path) -> None:
    database = Database(url)
    try:
        await load_demo(database, FileStore(data_dir / "files"))
    finally:
        await database.dispose()


# Rows each reply updates: its thread's counters and its topics' last event
# seq. A restored one holds the value of the snapshot's instant, which the
# source has since moved past; that it agrees with the restored posts and
# events (the same instant) is checked below. And the server's text
# extractor reads the demo's files in the background: a file's text, and
# the search items that carry it, may be read after the snapshot.
CHANGING = {"thread", "topic_seq", "file_text", "search_item"}


def _column(table: str, name: str) -> int:
    return Base.metadata.tables[table].columns.keys().index(name)


def _check_rows(restored: Rows, source: Rows, before: int, during: int, total: int) -> None:
    """Every restored row is the source's; what is missing came after the snapshot."""
    assert set(restored) == set(source)
    changed: dict[str, list[tuple[Any, ...]]] = {}
    for table, rows in restored.items():
        for key, row in rows.items():
            assert key in source[table], f"{table} {key} is not in the source"
            if row != source[table][key]:
                changed.setdefault(table, []).append(key)
    assert set(changed) <= CHANGING, changed
    # Whatever the writer did before the backup started is in, and what it did
    # after the backup ended is not: the snapshot is of an instant in between.
    # (One reply may be committed before the dump and answered after the
    # backup ended: the writer has one in flight at most.)
    post_table = Base.metadata.tables["post"]
    source_text = post_table.columns.keys().index("source")
    replies = {
        key for key, row in restored["post"].items() if row[source_text].startswith("Risposta ")
    }
    assert before <= len(replies) <= during + 1, (before, len(replies), during, total)
    assert len(source["post"]) - len(restored["post"]) >= total - during - 1
    # Nothing is half-present: each reply has both its files, each thread
    # counts exactly the posts it has, each topic's last seq is its last
    # logged event, and every file row names a blob.
    post_id, sha = _column("stored_file", "post_id"), _column("stored_file", "sha256")
    files_of: dict[Any, int] = {}
    for row in restored["stored_file"].values():
        files_of[row[post_id]] = files_of.get(row[post_id], 0) + 1
        assert (row[sha],) in restored["blob"]
    for key in replies:
        assert files_of.get(key[0]) == 2, f"post {key} has {files_of.get(key[0])} files"
    thread_of, count = _column("post", "thread_id"), _column("thread", "post_count")
    topic, seq = _column("event_log", "topic"), _column("event_log", "seq")
    for db in (source, restored):
        per_thread: dict[Any, int] = {}
        for row in db["post"].values():
            per_thread[row[thread_of]] = per_thread.get(row[thread_of], 0) + 1
        for key, row in db["thread"].items():
            assert row[count] == per_thread.get(key[0], 0), f"thread {key}"
        last: dict[str, int] = {}
        for row in db["event_log"].values():
            last[row[topic]] = max(last.get(row[topic], 0), row[seq])
        for (name,), row in db["topic_seq"].items():
            assert row[_column("topic_seq", "last_seq")] == last.get(name, 0), name
    assert restored["alembic_version"] == source["alembic_version"]


def _check_files(restored: Rows, archive: Path, source_dir: Path, data_dir: Path) -> None:
    """Every file of the manifest is restored with its hash; every blob's file is there."""
    with tarfile.open(archive) as tar:
        member = tar.extractfile(MANIFEST)
        assert member is not None
        manifest = Manifest.from_json(member.read())
    blobs = {key[0] for key in restored["blob"]}
    stored = set()
    for entry in manifest.files:
        if entry.path == manifest.dump:
            continue
        relative = entry.path.removeprefix("data/")
        path = data_dir / relative
        assert _sha256(path) == entry.sha256, entry.path
        assert path.stat().st_size == entry.size
        # The source's file is the same bytes.
        assert _sha256(source_dir / relative) == entry.sha256
        if relative.startswith("files/"):
            stored.add(path.name)
    assert blobs <= stored
    size = Base.metadata.tables["blob"].columns.keys().index("size")
    for (sha256,), row in restored["blob"].items():
        path = data_dir / "files" / sha256[:2] / sha256
        assert _sha256(path) == sha256 and path.stat().st_size == row[size]


# The refusals, in-process: the command exits 1 with a message in Italian and
# the target is left as it was.


@pytest.fixture
def archive(cli: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    """A backup of the test database (the demo data, with its files)."""
    asyncio.run(_load_demo(cli, tmp_path))
    assert main(["backup", "--to", str(tmp_path / "out")]) == 0
    capsys.readouterr()
    (path,) = (tmp_path / "out").glob("*.tar")
    return path


def _use(monkeypatch: pytest.MonkeyPatch, url: str, data_dir: Path) -> None:
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("DATA_DIR", str(data_dir))


def test_a_backup_missing_a_file_the_database_names_is_not_written(
    cli: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    asyncio.run(_load_demo(cli, tmp_path))
    stored = sorted(p for p in (tmp_path / "files").glob("*/*") if p.parent.name != "tmp")
    stored[0].unlink()
    out = tmp_path / "out"
    assert main(["backup", "--to", str(out)]) == 1
    assert capsys.readouterr().err.strip() == italian(
        "%(count)d stored files named by the database are missing from %(path)s: "
        "the file store is incomplete, the backup was not written.",
        count=1,
        path=str(tmp_path / "files"),
    )
    assert list(out.iterdir()) == []  # no archive, no .partial, no dump left behind


def test_restore_refuses_a_target_that_is_not_empty(
    cli: str, archive: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = asyncio.run(_rows(cli))
    files = sorted(p.name for p in (tmp_path / "files").rglob("*"))
    assert main(["restore", str(archive)]) == 1
    message = capsys.readouterr().err.strip()
    assert message == italian(
        "The target is not empty (%(what)s): restore replaces everything there. "
        "Use --force to replace it.",
        what=f"database, {tmp_path / 'files'}",
    )
    assert asyncio.run(_rows(cli)) == before
    assert sorted(p.name for p in (tmp_path / "files").rglob("*")) == files
    # With --force it goes ahead, and gives back the same rows.
    assert main(["restore", "--force", str(archive)]) == 0
    assert asyncio.run(_rows(cli)) == before


def _rewrite(archive: Path, change: Any) -> Path:
    """A copy of ``archive`` with ``change(name, data) -> data`` applied to each member."""
    copy = archive.with_name("changed.tar")
    with tarfile.open(archive) as src, tarfile.open(copy, "w") as dst:
        for member in src:
            fp = src.extractfile(member)
            assert fp is not None
            data = change(member.name, fp.read())
            member.size = len(data)
            dst.addfile(member, io.BytesIO(data))
    return copy


def _untouched(url: str, data_dir: Path) -> None:
    """Nothing was restored: no table, no stored file."""
    if url.startswith("sqlite"):
        assert not (data_dir / "collab.sqlite3").exists()
    else:
        assert asyncio.run(_count_tables(url)) == 0
    assert not (data_dir / "files").exists()


async def _count_tables(url: str) -> int:
    database = Database(url)
    try:
        async with database.session() as session:
            count = await session.scalar(
                text("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")
            )
    finally:
        await database.dispose()
    return int(count or 0)


def test_restore_refuses_a_cut_archive(
    archive: Path,
    target: tuple[str, Path],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    cut = archive.with_name("cut.tar")
    cut.write_bytes(archive.read_bytes()[: archive.stat().st_size // 2])
    url, data_dir = target
    _use(monkeypatch, url, data_dir)
    assert main(["restore", str(cut)]) == 1
    assert capsys.readouterr().err.strip() == italian(
        "The archive %(path)s is damaged: %(problem)s",
        path=str(cut),
        problem="no readable manifest.json",
    )
    _untouched(url, data_dir)


def test_restore_refuses_a_damaged_archive(
    archive: Path,
    target: tuple[str, Path],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    def flip(name: str, data: bytes) -> bytes:
        # The last stored file loses its last byte's value: same size, another hash.
        if name.startswith("data/files/") and name == last:
            return data[:-1] + bytes([data[-1] ^ 1])
        return data

    with tarfile.open(archive) as tar:
        last = [m.name for m in tar if m.name.startswith("data/files/")][-1]
    damaged = _rewrite(archive, flip)
    url, data_dir = target
    _use(monkeypatch, url, data_dir)
    assert main(["restore", str(damaged)]) == 1
    assert capsys.readouterr().err.strip() == italian(
        "The archive %(path)s is damaged: %(problem)s",
        path=str(damaged),
        problem=f"{last} does not match its SHA-256 in the manifest",
    )
    _untouched(url, data_dir)


def test_a_damaged_archive_changes_nothing_even_with_force(
    cli: str, archive: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Every hash is checked before the database or any file is replaced."""
    with tarfile.open(archive) as tar:
        last = [m.name for m in tar if m.name.startswith("data/files/")][-1]

    def flip_last_file(name: str, data: bytes) -> bytes:
        return data[:-1] + bytes([data[-1] ^ 1]) if name == last else data

    damaged = _rewrite(archive, flip_last_file)
    asyncio.run(_rename_first_user(cli, "Cambiato dopo il backup"))
    before = asyncio.run(_rows(cli))
    files = {p: _sha256(p) for p in (tmp_path / "files").rglob("*") if p.is_file()}
    assert main(["restore", "--force", str(damaged)]) == 1
    assert last in capsys.readouterr().err
    assert asyncio.run(_rows(cli)) == before
    assert {p: _sha256(p) for p in (tmp_path / "files").rglob("*") if p.is_file()} == files


async def _rename_first_user(url: str, name: str) -> None:
    database = Database(url)
    try:
        async with database.transaction() as uow:
            await uow.session.execute(
                text("UPDATE user_account SET name = :name"
                     " WHERE id = (SELECT min(id) FROM user_account)"),
                {"name": name},
            )  # fmt: skip
    finally:
        await database.dispose()


def test_restore_refuses_a_backup_of_a_newer_collab(
    archive: Path,
    target: tuple[str, Path],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    def newer(name: str, data: bytes) -> bytes:
        if name != MANIFEST:
            return data
        manifest = json.loads(data)
        manifest["revision"], manifest["collab_version"] = "9999", "9.0.0"
        return json.dumps(manifest).encode()

    url, data_dir = target
    _use(monkeypatch, url, data_dir)
    assert main(["restore", str(_rewrite(archive, newer))]) == 1
    assert capsys.readouterr().err.strip() == italian(
        "The backup was made by a newer collab (%(version)s, revision %(revision)s): "
        "upgrade collab before restoring it.",
        version="9.0.0",
        revision="9999",
    )
    _untouched(url, data_dir)


def test_a_backup_of_an_older_revision_is_restored_and_migrated(
    cli: str,
    target: tuple[str, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    old_dir = tmp_path / "old"
    old_dir.mkdir()
    old_url = _empty_database(old_dir)
    try:
        migrate.upgrade(old_url, "0010")
        _use(monkeypatch, old_url, old_dir)
        assert main(["backup", "--to", str(tmp_path / "old.tar")]) == 0
    finally:
        Template.drop_database(old_url)
    url, data_dir = target
    _use(monkeypatch, url, data_dir)
    capsys.readouterr()
    assert main(["restore", str(tmp_path / "old.tar")]) == 0
    assert italian("The database was migrated from revision %(revision)s.", revision="0010") in (
        capsys.readouterr().out
    )
    head = ScriptDirectory.from_config(migrate.alembic_config(url)).get_current_head()
    assert asyncio.run(_rows(url))["alembic_version"] == {(): (head,)}


def test_backup_and_restore_load_no_web_framework() -> None:
    """Domain code: the command runs without Starlette (docs/architecture.md)."""
    code = "import sys, collab.backup; print(sorted(m for m in sys.modules if 'starlette' in m))"
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


def test_a_postgresql_client_older_than_the_server_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """pg_dump cannot dump a newer server: say which client to install, run nothing."""
    fake = tmp_path / "pg_dump"
    fake.write_text("#!/bin/sh\necho 'pg_dump (PostgreSQL) 98.1 (Debian 98.1-1)'\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(BackupError) as refused:
        pg_tool("pg_dump", 99)  # no /usr/lib/postgresql/99 (nor 98) here
    assert refused.value.params == {"tool": "pg_dump", "client": 98, "version": 99}
    assert pg_tool("pg_dump", 98) == str(fake)
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(BackupError) as missing:
        pg_tool("pg_dump", 99)
    assert missing.value.params == {"tool": "pg_dump", "version": 99}
