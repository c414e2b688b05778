"""What the consultation's page reads, and that reading less leaves it as it was:
the list's rows come with their file counts in one query (the current
version's files only), the counts by state give the total and the pages, the
comuni still awaited come with how many the zones have, also when none is."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from sqlalchemy import func, insert, select, update

from collab.consultations import queries, rows
from collab.consultations.models import Consultation, Contribution, ContributionVersion, Status
from collab.consultations.queries import ContributionRow
from collab.db import Database
from collab.i18n import translations
from collab.models import Comune, Zone, utcnow
from collab.templating import Templates
from tests.conftest import World
from tests.consultations.scene import CSV, PDF, open_consultation
from tests.consultations.test_pages import received
from tests.helpers import (
    Client,
    italian,
    parse,
    quiet_db,  # noqa: F401 (the db fixture: writes notify people)
    statements,
    text_of,
)

Login = Callable[[str], Awaitable[Client]]


def _files(num: int) -> str:
    # In Italian "file" is its own plural: italian_n would take it for untranslated.
    return translations("it").ngettext("%(num)d file", "%(num)d files", num) % {"num": num}


def _row_details(page: Any) -> list[str]:
    found = parse(page).select('#contributions [data-testid="contribution"] .small')
    return [" ".join(r.get_text(" ").split()) for r in found]


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
        with statements(db) as seen_sql:
            page = await staff.get(url)
        assert page.status_code == 200
        assert len(parse(page).select('#contributions [data-testid="contribution"]')) == per_page
        seen[per_page] = seen_sql
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


def _badges(page: Any) -> dict[str, str]:
    """Comune -> the badge of its row."""
    found = {}
    for row in parse(page).select('#contributions [data-testid="contribution"]'):
        name, badge = row.select_one("a.fw-semibold"), row.select_one(".badge")
        assert name is not None and badge is not None
        found[name.get_text(strip=True)] = badge.get_text(strip=True)
    return found


async def test_a_kept_row_changes_when_its_contribution_does(
    login_as: Login, db: Database, world: World
) -> None:
    consultation_id, sent = await received(db, world)
    url = f"/consultations/{consultation_id}"
    staff = await login_as("staff")
    (first_id, first_name), (second_id, _) = sent[0], sent[1]
    before = _badges(await staff.get(url))
    assert before[first_name] == italian("Received")
    moved = await staff.post(f"/contributions/{first_id}/status", {"status": "under_review"})
    assert moved.status_code == 303, moved.text
    async with db.transaction() as uow:
        comune = await uow.session.scalar(
            select(Contribution.comune_id).where(Contribution.id == second_id)
        )
        await uow.session.execute(update(Comune).where(Comune.id == comune).values(name="Nuovo"))
    after = _badges(await staff.get(url))
    assert after[first_name] == italian("Under review")
    assert "Nuovo" in after and len(after) == len(before)


def _row(number: int, status: Status = Status.RECEIVED) -> ContributionRow:
    comune = Comune(id=number, istat_code=f"99{number:04d}", name=f"Comune {number}", zone_id=1)
    contribution = Contribution(
        id=number, consultation_id=7, comune_id=number, number=number, status=status,
        version=1, submitted_at=utcnow(), updated_at=utcnow(), comune=comune,
    )  # fmt: skip
    return ContributionRow(contribution, file_count=0)


def test_rows_are_kept_by_content_and_within_the_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    templates = Templates()
    first = _row(1)
    html = rows.rendered_row(templates, "it", first)
    assert rows.rendered_row(templates, "it", first) is html
    assert rows.rendered_row(templates, "en", first) is not html
    assert 'id="contribution-1"' in html and "Comune 1" in html
    first.contribution.status = Status.ACCEPTED
    changed = rows.rendered_row(templates, "it", first)
    assert changed != html and 'data-status="accepted"' in changed
    monkeypatch.setattr(rows, "MAX_ROWS", 3)
    for number in range(2, 6):
        rows.rendered_row(templates, "it", _row(number))
    kept = rows._kept[templates]
    assert len(kept) == 3
    assert [key[1] for key in kept] == [3, 4, 5]  # type: ignore[index]


def test_templates_that_reload_keep_no_row() -> None:
    templates = Templates(reload=True)
    rows.rendered_row(templates, "it", _row(1))
    assert templates not in rows._kept


async def test_the_comune_reads_its_own_contribution_in_one_query(
    login_as: Login, db: Database, world: World
) -> None:
    consultation_id, sent = await received(db, world)  # Pinerolo's the last
    sindaco = await login_as("sindaco5")
    with statements(db) as seen_sql:
        page = await sindaco.get(f"/consultations/{consultation_id}")
    assert page.status_code == 200
    own = parse(page).select_one("#own-contribution")
    assert own is not None
    text = " ".join(own.get_text(" ").split())
    assert f"{consultation_id}-0005" in text and italian("Received") in text
    links = [str(a["href"]) for a in own.select("a")]
    assert links == [f"/contributions/{sent[4][0]}", f"/contributions/{sent[4][0]}/receipt"]
    # The counts, the page of rows, the comune's own; no versions, no files.
    contribution_reads = [s for s in seen_sql if s.startswith("SELECT contribution.")]
    assert len(contribution_reads) == 3, contribution_reads
    assert not [s for s in seen_sql if s.startswith("SELECT contribution_version.")]
    assert not [s for s in seen_sql if "WHERE stored_file.contribution_version_id IN" in s]


async def test_the_awaited_comuni_are_read_as_columns(
    login_as: Login, db: Database, world: World
) -> None:
    consultation = await open_consultation(db, world["staff"])  # zone 5 alone
    tecnico = await login_as("tecnico5")
    with statements(db) as seen_sql:
        page = await tecnico.get(f"/consultations/{consultation.id}")
    async with db.session() as session:
        names = list(
            await session.scalars(
                select(Comune.name).join(Zone).where(Zone.number == 5).order_by(Comune.name)
            )
        )
    items = parse(page).select('[data-testid="awaited-list"] li')
    # One zone: no zone after the names.
    assert [li.get_text(strip=True) for li in items] == names
    assert all(li["data-istat"] for li in items)
    (awaited,) = [s for s in seen_sql if "NOT IN (SELECT contribution.comune_id" in s]
    assert awaited.startswith("SELECT comune.id, comune.istat_code, comune.name, zone.number,")
