"""Import comuni from CSV: ISTAT code, name, zone number, and optionally the
resident population (ISTAT), which a double majority weighs.

All or nothing: every line is checked first, and a file with any bad line
imports nothing. Importing the same file twice changes nothing; a comune
whose zone differs from the database's is moved (the file is the truth). A
population left empty (or a file of three columns) keeps the one stored.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field

from sqlalchemy import select

from collab.audit import audit
from collab.db import UnitOfWork
from collab.i18n import N_
from collab.models import Comune, User, Zone
from collab.realtime.events import UserChanged

__all__ = ["ImportReport", "LineError", "import_comuni", "parse_comuni", "parse_population"]

MAX_BYTES = 2 * 1024 * 1024


@dataclass(frozen=True)
class LineError:
    """A bad line: its 1-based number in the file, and why (a msgid with params)."""

    line: int
    message: str
    params: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class Row:
    line: int
    istat_code: str
    name: str
    zone_number: int
    population: int | None = None


@dataclass
class ImportReport:
    created: list[str] = field(default_factory=list)
    moved: list[str] = field(default_factory=list)
    renamed: list[str] = field(default_factory=list)
    populated: list[str] = field(default_factory=list)  # population set or changed
    unchanged: int = 0
    errors: list[LineError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


def _decode(data: bytes) -> str:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        # Spreadsheets on Italian Windows still save in cp1252.
        text = data.decode("cp1252", errors="replace")
    # NUL means nothing in a CSV, and PostgreSQL refuses it in text columns.
    return text.replace("\x00", "")


def _dialect(text: str) -> type[csv.Dialect] | csv.Dialect:
    try:
        return csv.Sniffer().sniff(text[:4096], ";,\t")
    except csv.Error:
        # The sniffer gives up when lines disagree, as in a file with a bad line;
        # the first line's separator then decides, so good lines still parse and
        # each bad line is reported for what is wrong with it.
        first = next((line for line in text.splitlines() if line.strip()), "")

        class FirstLine(csv.excel):
            delimiter = max(";,\t", key=first.count)

        return FirstLine


# 12345, or with the thousands grouped as Italian spreadsheets show them: 45.210, 45 210.
POPULATION = re.compile(r"\d{1,7}|\d{1,3}(?:[. \u00a0']\d{3}){1,2}")


def parse_population(cell: str) -> int | None:
    """The population written in ``cell``; ValueError when it is not a number."""
    if not cell:
        return None
    if not POPULATION.fullmatch(cell):
        raise ValueError(cell)
    return int(re.sub(r"\D", "", cell))


def parse_comuni(data: bytes, zone_numbers: set[int]) -> tuple[list[Row], list[LineError]]:
    """Parse and check every line; returns the rows and the errors (by line number)."""
    if len(data) > MAX_BYTES:
        return [], [LineError(0, N_("The file is too large."))]
    text = _decode(data)
    rows: list[Row] = []
    errors: list[LineError] = []
    seen: dict[str, int] = {}
    reader = csv.reader(io.StringIO(text), _dialect(text))
    for cells in reader:
        line = reader.line_num
        cells = [c.strip() for c in cells]
        if not any(cells):
            continue
        # A first line with words in both the code and the zone column is a
        # header ("codice_istat;nome;zona", "Codice ISTAT,Comune,Zona"...). A
        # data line with a bad code still has a numeric zone: it is reported.
        if line == 1 and not cells[0].isdigit() and not cells[-1].isdigit():
            continue
        if len(cells) not in (3, 4):
            errors.append(
                LineError(
                    line,
                    N_("expected 3 or 4 columns (ISTAT code, name, zone, population), found %(n)d"),
                    {"n": len(cells)},
                )
            )
            continue
        code, name, zone = cells[:3]
        try:
            population = parse_population(cells[3] if len(cells) == 4 else "")
        except ValueError:
            errors.append(
                LineError(
                    line, N_("population %(value)r is not a whole number"), {"value": cells[3]}
                )
            )
            continue
        if not (code.isascii() and code.isdigit()) or len(code) > 6:
            errors.append(
                LineError(
                    line,
                    N_("ISTAT code %(code)r is not a number of up to 6 digits"),
                    {"code": code},
                )
            )
            continue
        # Spreadsheets drop the leading zeros of "001272".
        code = code.zfill(6)
        if not name or len(name) > 120:
            errors.append(LineError(line, N_("the name is empty or longer than 120 characters")))
            continue
        if not (zone.isascii() and zone.isdigit()) or int(zone) not in zone_numbers:
            errors.append(LineError(line, N_("zone %(zone)r does not exist"), {"zone": zone}))
            continue
        if code in seen:
            errors.append(
                LineError(
                    line,
                    N_("ISTAT code %(code)s already on line %(other)d"),
                    {"code": code, "other": seen[code]},
                )
            )
            continue
        seen[code] = line
        rows.append(Row(line, code, name, int(zone), population))
    if not rows and not errors:
        errors.append(LineError(0, N_("The file contains no comuni.")))
    return rows, errors  # fmt: skip


async def import_comuni(uow: UnitOfWork, data: bytes, actor: User | None = None) -> ImportReport:
    """Create or update comuni from ``data``; nothing at all on any error.

    ``actor`` is the administrator who uploaded the file (None: the command line).
    """
    session = uow.session
    zones = {z.number: z for z in (await session.scalars(select(Zone))).all()}
    rows, errors = parse_comuni(data, set(zones))
    report = ImportReport(errors=errors)
    if errors:
        return report
    existing = {c.istat_code: c for c in (await session.scalars(select(Comune))).all()}
    for row in rows:
        zone = zones[row.zone_number]
        comune = existing.get(row.istat_code)
        if comune is None:
            session.add(Comune(istat_code=row.istat_code, name=row.name, zone_id=zone.id,
                               population=row.population))  # fmt: skip
            report.created.append(row.istat_code)
            continue
        changed = False
        if row.population is not None and comune.population != row.population:
            comune.population = row.population
            report.populated.append(row.istat_code)
            changed = True
        if comune.zone_id != zone.id:
            comune.zone_id = zone.id
            report.moved.append(row.istat_code)
            changed = True
        if comune.name != row.name:
            comune.name = row.name
            report.renamed.append(row.istat_code)
            changed = True
        if not changed:
            report.unchanged += 1
    if report.moved:
        # Their users now read another zone: their open pages check again.
        moved = [existing[code].id for code in report.moved]
        for user_id in await session.scalars(select(User.id).where(User.comune_id.in_(moved))):
            uow.record(UserChanged(None, user_id))
    if report.created or report.moved or report.renamed or report.populated:
        audit(
            session, actor, "comuni.imported", "comune",
            created=len(report.created), moved=report.moved, renamed=report.renamed,
            populated=len(report.populated),
        )  # fmt: skip
    return report
