"""Migrations: up, down and up again on a fresh database; the models match them."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Column, Connection, MetaData, String, inspect, text
from sqlalchemy.ext.asyncio import create_async_engine

from collab.cli import main
from collab.migrate import downgrade, upgrade
from collab.schema import metadata as schema_metadata
from collab.search.models import UNMODELED
from tests import dbs

T = TypeVar("T")

# design.md's table of the zone omogenee (the migration's seed data).
ZONES = [
    (1, "Torino"),
    (2, "AMT Ovest"),
    (3, "AMT Sud"),
    (4, "AMT Nord"),
    (5, "Pinerolese"),
    (6, "Valli di Susa e Sangone"),
    (7, "Ciriacese - Valli di Lanzo"),
    (8, "Canavese occidentale"),
    (9, "Eporediese"),
    (10, "Chivassese"),
    (11, "Chierese - Carmagnolese"),
]
THEME_SLUGS = {
    "psm-produttiva-innovativa",
    "psm-verde-ecologica",
    "psm-mobile-collegata",
    "psm-impara",
    "psm-attrattiva-giusta",
    "psm-sana",
    "ambiente-rifiuti",
    "scuola",
    "trasporti-mobilita",
    "protezione-civile",
    "procedure-modulistica",
    "turismo",
    "digitalizzazione",
}


# SQLite always; PostgreSQL too when the suite runs on it (.ci/run's second
# pass). Parametrized, not skipped: a skipped test counts as a failure in CI.
ENGINES = ["sqlite", "postgresql"] if dbs.is_postgres() else ["sqlite"]


@pytest.fixture(params=ENGINES)
def fresh_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database, not migrated: a SQLite file, or a scratch PostgreSQL one."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'fresh.sqlite3'}"
        return
    name = f"collab_mig_{os.getpid()}_{tmp_path.name}"[:63]
    asyncio.run(dbs._pg(f'DROP DATABASE IF EXISTS "{name}"'))
    asyncio.run(dbs._pg(f'CREATE DATABASE "{name}"'))
    try:
        yield dbs.pg_url(name)
    finally:
        asyncio.run(dbs._pg(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def on(url: str, fn: Callable[[Connection], T]) -> T:
    """Run ``fn`` on a sync connection to ``url`` (migrations run their own loop)."""

    async def run() -> T:
        engine = create_async_engine(url)
        try:
            async with engine.connect() as conn:
                return await conn.run_sync(fn)
        finally:
            await engine.dispose()

    return asyncio.run(run())


def tables(conn: Connection) -> set[str]:
    # The search engine's full-text structures are each database's own, not models'.
    return set(inspect(conn).get_table_names()) - UNMODELED


def seed(conn: Connection) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    zones = conn.execute(text("SELECT number, name FROM zone ORDER BY number")).all()
    themes = conn.execute(text("SELECT slug, position, active FROM theme ORDER BY position"))
    return [tuple(z) for z in zones], [tuple(t) for t in themes.all()]


def check_seed(url: str) -> None:
    zones, themes = on(url, seed)
    assert zones == ZONES
    assert {slug for slug, _, _ in themes} == THEME_SLUGS
    assert len(themes) == 13
    assert [position for _, position, _ in themes] == list(range(1, 14))
    assert all(active for _, _, active in themes)


def test_upgrade_downgrade_upgrade(
    fresh_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    model_tables = set(schema_metadata.tables)
    upgrade(fresh_url)
    assert on(fresh_url, tables) == model_tables | {"alembic_version"}
    check_seed(fresh_url)

    # Down and up again through the command line, as the Procfile's release step runs it.
    monkeypatch.setenv("DATABASE_URL", fresh_url)
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    monkeypatch.setenv("COLLAB_ENV", "test")
    monkeypatch.setenv("SECRET_KEY", "m" * 40)
    assert main(["migrate", "--down"]) == 0
    assert on(fresh_url, tables) == {"alembic_version"}
    version = on(fresh_url, lambda c: c.execute(text("SELECT * FROM alembic_version")).all())
    assert version == []

    assert main(["migrate"]) == 0
    assert on(fresh_url, tables) == model_tables | {"alembic_version"}
    check_seed(fresh_url)
    # Upgrading an up-to-date database is a no-op (the release step runs on every deploy).
    upgrade(fresh_url)
    check_seed(fresh_url)


def diff(conn: Connection, metadata: MetaData) -> list[Any]:
    def modeled(_obj: Any, name: str | None, _type: str, reflected: bool, _to: Any) -> bool:
        return not (reflected and name in UNMODELED)

    context = MigrationContext.configure(
        conn, opts={"compare_type": True, "include_object": modeled}
    )
    return list(compare_metadata(context, metadata))


def test_models_match_the_migrations(fresh_url: str) -> None:
    upgrade(fresh_url)
    changes = on(fresh_url, lambda c: diff(c, schema_metadata))
    assert changes == [], (
        "the models differ from the migrated schema: add a migration "
        f"(alembic revision --autogenerate): {changes}"
    )


def test_the_comparison_sees_a_model_change(tmp_path: Path) -> None:
    # Guards the test above: a column added to a model without a migration shows up.
    url = f"sqlite+aiosqlite:///{tmp_path / 'drift.sqlite3'}"
    upgrade(url)
    changed = MetaData(naming_convention=schema_metadata.naming_convention)
    for table in schema_metadata.sorted_tables:
        table.to_metadata(changed)
    changed.tables["user_account"].append_column(Column("phone", String(30), nullable=True))
    changes = on(url, lambda c: diff(c, changed))
    assert [(c[0], c[2], c[3].name) for c in changes] == [("add_column", "user_account", "phone")]


def test_downgrade_to_base_then_upgrade_keeps_seed_single(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'twice.sqlite3'}"
    upgrade(url)
    downgrade(url)
    upgrade(url)
    zones, themes = on(url, seed)
    assert len(zones) == 11
    assert len(themes) == 13


def test_0007_legal_pages_up_and_down(fresh_url: str) -> None:
    upgrade(fresh_url, "0006")
    assert not {"legal_page", "legal_page_revision"} & on(fresh_url, tables)
    upgrade(fresh_url, "0007")
    assert {"legal_page", "legal_page_revision"} <= on(fresh_url, tables)

    def save(conn: Connection) -> list[Any]:
        conn.execute(
            text(
                "INSERT INTO legal_page (kind, version, body_it, html_it, body_en, html_en, "
                "facts, updated_at) VALUES ('privacy', 1, 'Testo', '<p>Testo</p>', '', '', "
                "'{}', CURRENT_TIMESTAMP)"
            )
        )
        conn.commit()
        return list(conn.execute(text("SELECT kind, version FROM legal_page")).all())

    assert [tuple(r) for r in on(fresh_url, save)] == [("privacy", 1)]
    downgrade(fresh_url, "0006")
    assert not {"legal_page", "legal_page_revision"} & on(fresh_url, tables)
    upgrade(fresh_url)
    check_seed(fresh_url)


def columns(table: str) -> Callable[[Connection], set[str]]:
    return lambda conn: {c["name"] for c in inspect(conn).get_columns(table)}


def test_0008_english_names_up_and_down(fresh_url: str) -> None:
    upgrade(fresh_url, "0007")

    def rename_scuola(conn: Connection) -> None:
        # An administrator renamed it before the upgrade: its seeded English
        # name would translate a name it no longer has.
        conn.execute(text("UPDATE theme SET name = 'Istruzione' WHERE slug = 'scuola'"))
        conn.commit()

    on(fresh_url, rename_scuola)
    upgrade(fresh_url, "0008")

    def english(conn: Connection) -> tuple[dict[str, Any], dict[int, Any]]:
        themes = conn.execute(text("SELECT slug, name_en FROM theme")).all()
        zones = conn.execute(text("SELECT number, name_en FROM zone")).all()
        return dict(themes), dict(zones)

    themes, zones = on(fresh_url, english)
    assert themes["turismo"] == "Tourism"
    assert themes["psm-sana"] == "A healthier Turin metropolis"
    assert themes["scuola"] is None
    assert (zones[1], zones[6], zones[5], zones[9]) == (
        "Turin", "Susa and Sangone Valleys", None, None,
    )  # fmt: skip
    downgrade(fresh_url, "0007")
    assert "name_en" not in on(fresh_url, columns("theme"))
    assert "name_en" not in on(fresh_url, columns("zone"))
    upgrade(fresh_url)
    assert "name_en" in on(fresh_url, columns("zone"))


def test_0018_queues_the_text_of_files_already_stored(fresh_url: str) -> None:
    upgrade(fresh_url, "0017")

    def store(conn: Connection) -> None:
        for sha, kind in (("a" * 64, "application/pdf"), ("b" * 64, "image/png")):
            conn.execute(
                text(
                    "INSERT INTO blob (sha256, size, content_type, created_at) "
                    "VALUES (:sha, 10, :kind, CURRENT_TIMESTAMP)"
                ),
                {"sha": sha, "kind": kind},
            )
        conn.commit()

    on(fresh_url, store)
    upgrade(fresh_url, "0018")

    def queued(conn: Connection) -> list[Any]:
        return list(conn.execute(text("SELECT sha256, state, attempts, text FROM file_text")))

    # A PDF has a text to read, a picture none.
    assert [tuple(r) for r in on(fresh_url, queued)] == [("a" * 64, "pending", 0, "")]
    downgrade(fresh_url, "0017")
    assert "file_text" not in on(fresh_url, tables)
    upgrade(fresh_url)
    assert "file_text" in on(fresh_url, tables)
