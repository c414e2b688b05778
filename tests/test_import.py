"""Importing comuni from CSV (all or nothing), and the ``collab`` command line."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from collab.accounts.passwords import verify_password
from collab.cli import main
from collab.db import Database
from collab.demo import DEMO_CSV, DEMO_USERS
from collab.forums.models import Post, Thread
from collab.importer import ImportReport, LineError, import_comuni, parse_comuni
from collab.meetings.models import Meeting
from collab.models import AuditLog, Comune, User

T = TypeVar("T")
ZONES = set(range(1, 12))


GOOD = b"codice_istat,nome,zona\n001272,Torino,1\n001090,Collegno,2\n001191,Pinerolo,5\n"
# Line by line: 1 header, 2 good, 3 two columns, 4 code not a number, 5 zone 12,
# 6 blank (skipped, still counted), 7 code of line 2 again, 8 empty name, 9 good.
BAD = (
    b"codice_istat;nome;zona\n"
    b"001272;Torino;1\n"
    b"001090;Collegno\n"
    b"ABC123;Nowhere;2\n"
    b"001120;Grugliasco;12\n"
    b"\n"
    b"001272;Torino bis;1\n"
    b"001219;;2\n"
    b"001292;Venaria Reale;2\n"
)
BAD_LINES = [3, 4, 5, 7, 8]


def parsed(data: bytes) -> list[tuple[int, str, str, int]]:
    rows, errors = parse_comuni(data, ZONES)
    assert errors == []
    return [(r.line, r.istat_code, r.name, r.zone_number) for r in rows]


async def do_import(db: Database, data: bytes) -> ImportReport:
    async with db.transaction() as uow:
        return await import_comuni(uow, data)


async def comuni(session: AsyncSession) -> dict[str, tuple[str, int]]:
    """ISTAT code -> (name, zone number) of every comune in the database."""
    rows = (await session.scalars(select(Comune))).all()
    return {c.istat_code: (c.name, c.zone.number) for c in rows}


# --- parsing ---------------------------------------------------------------


def test_comma_file_with_header() -> None:
    assert parsed(GOOD) == [
        (2, "001272", "Torino", 1),
        (3, "001090", "Collegno", 2),
        (4, "001191", "Pinerolo", 5),
    ]


def test_semicolon_file_without_header_pads_codes() -> None:
    # Spreadsheets drop leading zeros: 5 and 4 digit codes are padded to 6.
    assert parsed(b"01272;Torino;1\n1090;Collegno;2\n") == [
        (1, "001272", "Torino", 1),
        (2, "001090", "Collegno", 2),
    ]


def test_utf8_with_bom_and_crlf() -> None:
    data = "\ufeffcodice_istat;nome;zona\r\n001086;Ciriè;7\r\n001001;Agliè;8\r\n".encode()
    assert parsed(data) == [(2, "001086", "Ciriè", 7), (3, "001001", "Agliè", 8)]


def test_cp1252_file() -> None:
    data = "001086;Ciriè;7\n001272;Torino;1\n".encode("cp1252")
    assert parsed(data) == [(1, "001086", "Ciriè", 7), (2, "001272", "Torino", 1)]


def test_quoted_names_and_apostrophes() -> None:
    data = b'001247,"Sant\'Ambrogio di Torino",6\n001002,"Airasca, TO",5\n'
    assert parsed(data) == [
        (1, "001247", "Sant'Ambrogio di Torino", 6),
        (2, "001002", "Airasca, TO", 5),
    ]


@pytest.mark.parametrize("separator", [";", ","])
def test_every_bad_line_is_reported_by_number(separator: str) -> None:
    data = BAD.replace(b";", separator.encode())
    rows, errors = parse_comuni(data, ZONES)
    assert [e.line for e in errors] == BAD_LINES
    by_line = {e.line: e for e in errors}
    assert by_line[3].params == {"n": 2}
    assert by_line[4].params == {"code": "ABC123"}
    assert by_line[5].params == {"zone": "12"}
    assert by_line[7].params == {"code": "001272", "other": 2}
    # The good lines still parse: the errors are about the bad ones only.
    assert [r.line for r in rows] == [2, 9]


@pytest.mark.parametrize("data", [b"", b"  \n\n", b"codice_istat;nome;zona\n", b"\xef\xbb\xbf"])
def test_a_file_without_comuni_is_an_error(data: bytes) -> None:
    rows, errors = parse_comuni(data, ZONES)
    assert rows == []
    assert len(errors) == 1
    assert errors[0].line == 0


# --- importing into the database -------------------------------------------


async def test_import_creates_comuni(db: Database) -> None:
    report = await do_import(db, GOOD)
    assert report.ok
    assert sorted(report.created) == ["001090", "001191", "001272"]
    async with db.session() as session:
        assert await comuni(session) == {
            "001272": ("Torino", 1),
            "001090": ("Collegno", 2),
            "001191": ("Pinerolo", 5),
        }
        audits = (await session.scalars(select(AuditLog))).all()
    assert [a.action for a in audits] == ["comuni.imported"]
    assert audits[0].actor_id is None


async def test_importing_twice_changes_nothing(db: Database) -> None:
    await do_import(db, GOOD)
    async with db.session() as session:
        before = await comuni(session)
    report = await do_import(db, GOOD)
    assert report.ok
    assert (report.created, report.moved, report.renamed) == ([], [], [])
    assert report.unchanged == 3
    async with db.session() as session:
        assert await comuni(session) == before
        # Nothing changed, so nothing to audit the second time.
        audits = await session.scalar(select(func.count()).select_from(AuditLog))
    assert audits == 1


async def test_a_moved_or_renamed_comune_is_updated(db: Database) -> None:
    await do_import(db, GOOD)
    report = await do_import(db, b"001272;Torino;1\n001090;Collegno;3\n001191;Pinerolo (TO);5\n")
    assert report.ok
    assert report.moved == ["001090"]
    assert report.renamed == ["001191"]
    assert report.unchanged == 1
    async with db.session() as session:
        assert await comuni(session) == {
            "001272": ("Torino", 1),
            "001090": ("Collegno", 3),
            "001191": ("Pinerolo (TO)", 5),
        }


async def test_a_file_with_errors_imports_nothing(db: Database) -> None:
    await do_import(db, b"001090;Collegno;2\n")
    # Good lines that would create (Venaria) or move (Collegno) are not applied either.
    data = BAD + b"001090;Collegno;4\n"
    report = await do_import(db, data)
    assert not report.ok
    assert [e.line for e in report.errors] == BAD_LINES
    assert (report.created, report.moved, report.renamed) == ([], [], [])
    async with db.session() as session:
        assert await comuni(session) == {"001090": ("Collegno", 2)}
        audits = await session.scalar(select(func.count()).select_from(AuditLog))
    assert audits == 1


async def test_empty_file_imports_nothing(db: Database) -> None:
    report = await do_import(db, b"")
    assert not report.ok
    assert report.errors == [LineError(0, "The file contains no comuni.")]
    async with db.session() as session:
        assert await comuni(session) == {}


# --- the command line ------------------------------------------------------


def query(url: str, fn: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Run ``fn`` on a session of the database at ``url`` (tests here are sync)."""

    async def run() -> T:
        database = Database(url)
        try:
            async with database.session() as session:
                return await fn(session)
        finally:
            await database.dispose()

    return asyncio.run(run())


async def count_users(session: AsyncSession) -> int:
    return await session.scalar(select(func.count()).select_from(User)) or 0


def write(tmp_path: Path, name: str, data: bytes) -> str:
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)


def reported_lines(stderr: str) -> list[int]:
    """Line numbers of the ``line N: ...`` messages, in any language ("riga N: ...")."""
    return [int(m.group(1)) for m in re.finditer(r"^\w+ (\d+): \S", stderr, re.MULTILINE)]


def test_cli_imports_a_good_file(
    cli: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, "comuni.csv", GOOD)
    assert main(["import-comuni", path]) == 0
    # created, moved, renamed, unchanged
    assert re.findall(r"\d+", capsys.readouterr().out) == ["3", "0", "0", "0"]
    assert main(["import-comuni", path]) == 0
    assert re.findall(r"\d+", capsys.readouterr().out) == ["0", "0", "0", "3"]
    assert query(cli, comuni)["001191"] == ("Pinerolo", 5)


def test_cli_reports_bad_lines_and_imports_nothing(
    cli: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["import-comuni", write(tmp_path, "bad.csv", BAD)]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert reported_lines(captured.err) == BAD_LINES
    assert query(cli, comuni) == {}


def test_cli_empty_file(cli: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["import-comuni", write(tmp_path, "empty.csv", b"")]) == 1
    assert reported_lines(capsys.readouterr().err) == [0]
    assert query(cli, comuni) == {}


def test_cli_unreadable_file(cli: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "missing.csv"
    assert main(["import-comuni", str(missing)]) == 2
    assert str(missing) in capsys.readouterr().err


def test_cli_bad_configuration_exits_2(
    cli: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SESSION_MAX_AGE", "forever")
    assert main(["import-comuni", "whatever.csv"]) == 2
    assert "SESSION_MAX_AGE" in capsys.readouterr().err


def test_cli_createuser(
    cli: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["import-comuni", str(DEMO_CSV)]) == 0
    monkeypatch.setenv("COLLAB_PASSWORD", "una-password-lunga")
    args = ["createuser", "--email", " Ada@Comune.IT ", "--name", "Ada", "--role", "sindaco"]
    assert main([*args, "--comune", "001191"]) == 0
    assert "ada@comune.it" in capsys.readouterr().out
    staff = ["createuser", "--email", "sara@cmto.it", "--name", "Sara", "--role", "staff"]
    assert main([*staff, "--cmto"]) == 0

    async def users(session: AsyncSession) -> dict[str, tuple[str, str | None, str]]:
        rows = (await session.scalars(select(User))).all()
        return {
            u.email: (u.role.value, u.comune.istat_code if u.comune else None, u.password_hash)
            for u in rows
        }

    found = query(cli, users)
    assert set(found) == {"ada@comune.it", "sara@cmto.it"}
    assert found["ada@comune.it"][:2] == ("sindaco", "001191")
    assert found["sara@cmto.it"][:2] == ("staff", None)
    assert asyncio.run(verify_password(found["ada@comune.it"][2], "una-password-lunga"))


@pytest.mark.parametrize(
    "extra",
    [
        ["--email", "x@comune.it", "--role", "sindaco", "--cmto"],  # a comune role needs one
        ["--email", "x@comune.it", "--role", "staff", "--comune", "001191"],  # staff has none
        ["--email", "x@comune.it", "--role", "sindaco", "--comune", "999999"],  # no such code
        ["--email", "not-an-email", "--role", "sindaco", "--comune", "001191"],
    ],
)
def test_cli_createuser_refuses_bad_input(
    cli: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], extra: list[str]
) -> None:
    assert main(["import-comuni", str(DEMO_CSV)]) == 0
    monkeypatch.setenv("COLLAB_PASSWORD", "una-password-lunga")
    assert main(["createuser", "--name", "X", *extra]) == 1
    assert capsys.readouterr().err.strip()
    assert query(cli, count_users) == 0


def test_cli_createuser_refuses_a_short_password(cli: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLLAB_PASSWORD", "corta")
    args = ["createuser", "--email", "s@cmto.it", "--name", "S", "--role", "staff", "--cmto"]
    assert main(args) == 1
    assert query(cli, count_users) == 0


async def demo_counts(session: AsyncSession) -> tuple[int, int, int, int]:
    async def count(model: type) -> int:
        return await session.scalar(select(func.count()).select_from(model)) or 0

    return (await count(User), await count(Comune), await count(Thread), await count(Post))


def test_cli_demo_is_idempotent(cli: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo"]) == 0
    first = query(cli, demo_counts)
    assert first[0] == len(DEMO_USERS)
    assert first[2] > 0
    assert main(["demo"]) == 0
    assert query(cli, demo_counts) == first
    out = capsys.readouterr().out
    # Both runs print the demo logins and the public meeting's link.
    assert out.count(DEMO_USERS[0][0]) == 2
    token = query(cli, public_token)
    assert out.count(f"http://127.0.0.1:8000/m/{token}") == 2


async def public_token(session: AsyncSession) -> str:
    token = await session.scalar(
        select(Meeting.public_token).where(Meeting.public_token.is_not(None))
    )
    assert token
    return token


def test_cli_demo_links_the_public_meeting_at_base_url(
    cli: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("BASE_URL", "http://127.0.0.1:9000/")
    assert main(["demo"]) == 0
    token = query(cli, public_token)
    assert f"  http://127.0.0.1:9000/m/{token}  Giornata di sintesi" in capsys.readouterr().out


def test_cli_demo_refuses_production(
    cli: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("COLLAB_ENV", "production")
    assert main(["demo"]) == 2
    assert "production" in capsys.readouterr().err
    assert query(cli, demo_counts) == (0, 0, 0, 0)
