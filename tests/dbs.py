"""Throwaway databases for tests: one migrated template, one copy per test.

SQLite (default): the template is a migrated file, copied per test.
PostgreSQL (``DATABASE_URL=postgresql+asyncpg://.../postgres``): the template
is a migrated database, and each test gets ``CREATE DATABASE ... TEMPLATE``.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import asyncpg
from sqlalchemy.engine import make_url

from collab.migrate import upgrade

_counter = itertools.count()


def base_url() -> str:
    return os.environ.get("DATABASE_URL", "")


def is_postgres() -> bool:
    return base_url().startswith("postgresql")


def _admin_dsn(database: str = "postgres") -> str:
    url = make_url(base_url()).set(drivername="postgresql", database=database)
    return url.render_as_string(hide_password=False)


async def _pg(sql: str) -> None:
    conn = await asyncpg.connect(_admin_dsn())
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def pg_url(database: str) -> str:
    return make_url(base_url()).set(database=database).render_as_string(hide_password=False)


class Template:
    """The migrated template database of this test session."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.name = f"collab_tpl_{os.getpid()}"
        if is_postgres():
            asyncio.run(_pg(f'DROP DATABASE IF EXISTS "{self.name}"'))
            asyncio.run(_pg(f'CREATE DATABASE "{self.name}"'))
            upgrade(pg_url(self.name))
        else:
            self.path = workdir / "template.sqlite3"
            upgrade(f"sqlite+aiosqlite:///{self.path}")

    def new_database(self, tmp_path: Path) -> str:
        if is_postgres():
            name = f"collab_t_{os.getpid()}_{next(_counter)}"
            asyncio.run(_pg(f'CREATE DATABASE "{name}" TEMPLATE "{self.name}"'))
            return pg_url(name)
        path = tmp_path / "collab.sqlite3"
        shutil.copy(self.path, path)
        return f"sqlite+aiosqlite:///{path}"

    @staticmethod
    def drop_database(url: str) -> None:
        if is_postgres():
            name = make_url(url).database
            asyncio.run(_pg(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

    def close(self) -> None:
        if is_postgres():
            asyncio.run(_pg(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'))
        shutil.rmtree(self.workdir, ignore_errors=True)


@contextlib.contextmanager
def sqlite_write_locked(url: str) -> Iterator[None]:
    """Another process's write transaction on a SQLite database file, for the block."""
    path = make_url(url).database
    assert path
    holder = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        holder.execute("BEGIN EXCLUSIVE")
        yield
    finally:
        holder.execute("ROLLBACK")
        holder.close()
