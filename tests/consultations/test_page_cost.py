"""What the consultation's page reads, and that reading less leaves it as it was:
the list's rows come with their file counts in one query (the current
version's files only), the counts by state give the total and the pages, the
comuni still awaited come with how many the zones have, also when none is."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from sqlalchemy import event, func, insert, select, update

from collab.consultations import queries
from collab.consultations.models import Consultation, Contribution, ContributionVersion, Status
from collab.db import Database
from collab.i18n import translations
from collab.models import Comune, Zone, utcnow
from tests.conftest import World
from tests.consultations.scene import CSV, PDF, open_consultation
from tests.consultations.test_pages import received
from tests.helpers import (
    Client,
    italian,
    parse,
    quiet_db,  # noqa: F401 (the db fixture: writes notify people)
    text_of,
)

Login = Callable[[str], Awaitable[Client]]


class Statements:
    """The SQL the engine runs while in a ``with`` block."""

    def __init__(self, db: Database) -> None:
        self.engine = db.engine.sync_engine
        self.seen: list[str] = []

    def _record(self, *args: Any) -> None:
        self.seen.append(" ".join(str(args[2]).split()))

    def __enter__(self) -> list[str]:
        event.listen(self.engine, "before_cursor_execute", self._record)
        return self.seen

    def __exit__(self, *exc: object) -> None:
        event.remove(self.engine, "before_cursor_execute", self._record)


def _files(num: int) -> str:
    # In Italian "file" is its own plural: italian_n would take it for untranslated.
    return translations("it").ngettext("%(num)d file", "%(num)d files", num) % {"num": num}


def _row_details(page: Any) -> list[str]:
    rows = parse(page).select('#contributions [data-testid="contribution"] .small')
    return [" ".join(r.get_text(" ").split()) for r in rows]


async def test_a_row_counts_the_files_of_the_current_version_only(
    login_as: Login, db: Database, world: World
) -> None:
    consultation = await open_consultation(db, world["staff"])
    url = f"/consultations/{consultation.id}"
    sindaco = await login_as("sindaco5")
    sent = await sindaco.upload(
        f"{url}/contributions",
        {"body": "Prima versione."},
        [("files", ("a.csv", CSV, "text/csv")), ("files", ("b.pdf", PDF, "application/pdf"))],
    )
    assert sent.status_code == 303, sent.text
    staff = await login_as("staff")
    (details,) = _row_details(await staff.get(url))
    assert _files(2) in details
    # Version 2 keeps none of them: the row counts no file and names the version.
    async with db.session() as session:
        contribution = await session.scalar(select(Contribution))
        assert contribution is not None
    edited = await sindaco.upload(
        f"/contributions/{contribution.id}/edit", {"body": "Seconda versione, senza allegati."}
    )
    assert edited.status_code == 303, edited.text
    (details,) = _row_details(await staff.get(url))
    assert _files(2) not in details
    assert _files(1) not in details
    assert "2" in details.split("·")[-1]  # "versione 2 del ..."


async def test_the_list_takes_one_query_whatever_its_rows(
    login_as: Login, db: Database, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    consultation_id, _ = await received(db, world)
    url = f"/consultations/{consultation_id}"
    staff = await login_as("staff")
    seen: dict[int, list[str]] = {}
    for per_page in (1, 5):
        monkeypatch.setattr(queries, "CONTRIBUTIONS_PER_PAGE", per_page)
        with Statements(db) as statements:
            page = await staff.get(url)
        assert page.status_code == 200
        assert len(parse(page).select('#contributions [data-testid="contribution"]')) == per_page
        seen[per_page] = statements
    assert len(seen[1]) == len(seen[5])
    # The counts by state, the page of rows; no versions, files or a count of its own.
    contribution_reads = [s for s in seen[5] if s.startswith("SELECT contribution.")]
    assert len(contribution_reads) == 2, contribution_reads
    assert not [s for s in seen[5] if s.startswith("SELECT contribution_version.")]
    assert not [s for s in seen[5] if s.startswith("SELECT count(*) AS count_1 FROM (SELECT")]


@pytest.mark.parametrize("page", ["0", "-1", "abc", "99"])
async def test_page_numbers_out_of_range_give_the_first_or_last_page(
    login_as: Login, db: Database, world: World, monkeypatch: pytest.MonkeyPatch, page: str
) -> None:
    monkeypatch.setattr(queries, "CONTRIBUTIONS_PER_PAGE", 2)
    consultation_id, sent = await received(db, world)
    staff = await login_as("staff")
    soup = parse(await staff.get(f"/consultations/{consultation_id}?page={page}"))
    names = [a.get_text(strip=True) for a in soup.select("#contributions a.fw-semibold")]
    expected = [name for _, name in sent]
    assert names == (expected[4:] if page == "99" else expected[:2])
    current = soup.select_one('.pagination [aria-current="page"]')
    assert current is not None and current.get_text(strip=True) == ("3" if page == "99" else "1")


async def test_a_state_with_no_contribution_shows_an_empty_list(
    login_as: Login, db: Database, world: World
) -> None:
    consultation_id, _ = await received(db, world)
    staff = await login_as("staff")
    page = await staff.get(f"/consultations/{consultation_id}?status={Status.ACCEPTED.value}")
    soup = parse(page)
    assert soup.select('#contributions [data-testid="contribution"]') == []
    assert soup.select_one('[data-testid="none-in-state"]') is not None
    assert soup.select_one(".pagination") is None


async def test_when_every_comune_has_sent_the_zones_count_stays(
    login_as: Login, db: Database, world: World
) -> None:
    consultation = await open_consultation(db, world["staff"])
    async with db.transaction() as uow:
        session = uow.session
        zone = await session.scalar(select(Zone.id).where(Zone.number == 5))
        comuni = list(await session.scalars(select(Comune.id).where(Comune.zone_id == zone)))
        now = utcnow()
        await session.execute(insert(Contribution), [
            {"consultation_id": consultation.id, "comune_id": comune, "number": n,
             "submitted_by_id": world["staff"].id, "submitted_at": now, "updated_at": now}
            for n, comune in enumerate(comuni, start=1)
        ])  # fmt: skip
        ids = list(await session.scalars(select(Contribution.id)))
        await session.execute(insert(ContributionVersion), [
            {"contribution_id": cid, "number": 1, "body_source": "Parere.",
             "body_html": "<p>Parere.</p>", "created_by_id": world["staff"].id}
            for cid in ids
        ])  # fmt: skip
        await session.execute(
            update(Consultation)
            .where(Consultation.id == consultation.id)
            .values(last_number=len(ids))
        )
    async with db.session() as session:
        view = await queries.load_consultation(session, consultation.id, contributions=False)
        total = await session.scalar(select(func.count(Comune.id)).where(Comune.zone_id == zone))
    assert view is not None
    assert view.awaited == [] and view.comune_count == total == len(comuni) > 0
    tecnico = await login_as("tecnico5")
    page = await tecnico.get(f"/consultations/{consultation.id}")
    expected = italian("Every comune of the consulted zones has sent its contribution.")
    assert text_of(page, '[data-testid="awaited-count"]') == expected
    assert parse(page).select('[data-testid="awaited-list"] li') == []
