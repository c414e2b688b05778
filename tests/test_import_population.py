"""The comuni import's optional fourth column: the resident population (ISTAT),
which a double majority weighs."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from collab.db import Database
from collab.demo import DEMO_CSV
from collab.importer import ImportReport, LineError, import_comuni, parse_comuni
from collab.models import AuditLog, Comune

ZONES = set(range(1, 12))


async def do_import(db: Database, data: bytes) -> ImportReport:
    async with db.transaction() as uow:
        return await import_comuni(uow, data)


async def populations(db: Database) -> dict[str, int | None]:
    async with db.session() as session:
        return {c.istat_code: c.population for c in await session.scalars(select(Comune))}


@pytest.mark.parametrize(
    ("cell", "population"),
    [("45210", 45210), ("45.210", 45210), ("45 210", 45210), ("848.748", 848748),
     ("1.234.567", 1234567), ("", None), ("7", 7)],
)  # fmt: skip
def test_population_is_read_as_spreadsheets_write_it(cell: str, population: int | None) -> None:
    data = f'codice_istat;nome;zona;popolazione\n001191;Pinerolo;5;"{cell}"\n'.encode()
    rows, errors = parse_comuni(data, ZONES)
    assert errors == []
    assert [(r.istat_code, r.population) for r in rows] == [("001191", population)]


def test_a_bad_population_is_reported_on_its_line() -> None:
    data = (
        b"001191;Pinerolo;5;35400\n"
        b"001125;Ivrea;9;circa 23000\n"
        b"001090;Collegno;2;-5\n"
        b"001120;Grugliasco;2;37,2\n"
        b"001219;Rivoli;2;47600;x\n"
    )
    rows, errors = parse_comuni(data, ZONES)
    assert [r.istat_code for r in rows] == ["001191"]
    assert errors == [
        LineError(2, "population %(value)r is not a whole number", {"value": "circa 23000"}),
        LineError(3, "population %(value)r is not a whole number", {"value": "-5"}),
        LineError(4, "population %(value)r is not a whole number", {"value": "37,2"}),
        LineError(
            5, "expected 3 or 4 columns (ISTAT code, name, zone, population), found %(n)d",
            {"n": 5},
        ),
    ]  # fmt: skip


async def test_population_is_stored_updated_and_kept_when_empty(db: Database) -> None:
    report = await do_import(db, b"001191;Pinerolo;5;35400\n001125;Ivrea;9\n")
    assert report.ok and sorted(report.created) == ["001125", "001191"]
    assert await populations(db) == {"001191": 35400, "001125": None}
    # A new figure updates it; an empty cell or a file of three columns keeps it.
    report = await do_import(db, b"001191;Pinerolo;5;35500\n001125;Ivrea;9;23000\n")
    assert sorted(report.populated) == ["001125", "001191"] and report.unchanged == 0
    report = await do_import(db, b"001191;Pinerolo;5;\n001125;Ivrea;9\n")
    assert report.populated == [] and report.unchanged == 2
    assert await populations(db) == {"001191": 35500, "001125": 23000}
    async with db.session() as session:
        logged = list(
            await session.scalars(select(AuditLog).where(AuditLog.action == "comuni.imported"))
        )
    assert [row.detail["populated"] for row in logged] == [0, 2]


async def test_every_demo_comune_has_its_population(db: Database) -> None:
    assert (await do_import(db, DEMO_CSV.read_bytes())).ok
    found = await populations(db)
    assert len(found) == 41 and all(p is not None and p > 1000 for p in found.values())
    assert found["001272"] == 848748  # Torino, census 2021
