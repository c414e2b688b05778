"""A big consultation's contributions come in pages of the list, in receipt
order; the filters and counts stay whole; a contribution's page links back to
the page of the list that shows it; whoever may read the consultation reads
every page, and nobody else any."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
from bs4 import BeautifulSoup
from sqlalchemy import insert, select, update

from collab.consultations import queries
from collab.consultations.models import Consultation, Contribution, ContributionVersion, Status
from collab.db import Database
from collab.models import Comune, Zone, utcnow
from tests.conftest import World
from tests.consultations.scene import open_consultation
from tests.helpers import (
    Client,
    italian,
    parse,
    quiet_db,  # noqa: F401 (the db fixture: writes notify people)
)

Login = Callable[[str], Awaitable[Client]]
PER_PAGE = 2


@pytest.fixture(autouse=True)
def short_pages(monkeypatch: pytest.MonkeyPatch) -> None:
    """Two contributions a page: five comuni make three pages."""
    monkeypatch.setattr(queries, "CONTRIBUTIONS_PER_PAGE", PER_PAGE)


async def received(db: Database, world: World) -> tuple[int, list[tuple[int, str]]]:
    """A consultation of zone 5 with five contributions, Pinerolo's (the comune
    of ``sindaco5``) the last; (id, comune) of each, in receipt order."""
    consultation = await open_consultation(db, world["staff"])
    async with db.transaction() as uow:
        session = uow.session
        zone = await session.scalar(select(Zone.id).where(Zone.number == 5))
        pinerolo = world["sindaco5"].comune_id
        names = ["Airasca", "Bricherasio", "Cavour", "Frossasco"]
        await session.execute(insert(Comune), [
            {"istat_code": f"99900{n}", "name": name, "zone_id": zone}
            for n, name in enumerate(names)
        ])  # fmt: skip
        others = await session.execute(
            select(Comune.id, Comune.name).where(Comune.name.in_(names)).order_by(Comune.name)
        )
        comuni = [*others, (pinerolo, "Pinerolo")]
        now = utcnow()
        await session.execute(insert(Contribution), [
            {"consultation_id": consultation.id, "comune_id": comune, "number": n,
             "submitted_by_id": world["staff"].id, "submitted_at": now, "updated_at": now}
            for n, (comune, _) in enumerate(comuni, start=1)
        ])  # fmt: skip
        rows = list(
            await session.execute(
                select(Contribution.id, Contribution.comune_id)
                .where(Contribution.consultation_id == consultation.id)
                .order_by(Contribution.number)
            )
        )
        await session.execute(insert(ContributionVersion), [
            {"contribution_id": cid, "number": 1, "body_source": "Parere.",
             "body_html": "<p>Parere.</p>", "created_by_id": world["staff"].id}
            for cid, _ in rows
        ])  # fmt: skip
        await session.execute(
            update(Consultation)
            .where(Consultation.id == consultation.id)
            .values(last_number=len(rows))
        )
    by_id = dict(comuni)
    return consultation.id, [(cid, by_id[comune]) for cid, comune in rows]


def rows(soup: BeautifulSoup) -> list[str]:
    found = soup.select('#contributions [data-testid="contribution"] a.fw-semibold')
    return [a.get_text(strip=True) for a in found]


def page_links(soup: BeautifulSoup) -> list[str]:
    return [str(a["href"]) for a in soup.select(".pagination a.page-link")]


async def get(client: Client, url: str) -> BeautifulSoup:
    response = await client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return parse(response)


async def test_the_list_comes_in_pages(login_as: Login, db: Database, world: World) -> None:
    consultation_id, sent = await received(db, world)
    names = [name for _, name in sent]
    url = f"/consultations/{consultation_id}"
    staff = await login_as("staff")

    first, second, third = [await get(staff, f"{url}?page={n}") for n in (1, 2, 3)]
    assert [rows(first), rows(second), rows(third)] == [names[0:2], names[2:4], names[4:]]
    assert rows(await get(staff, url)) == names[0:2]
    assert rows(await get(staff, f"{url}?page=99")) == names[4:]
    assert f"{url}?page=2" in page_links(first)
    # The counts are of the whole list, on every page.
    all_pill = f"{italian('All')} (5)"
    for soup in (first, second, third):
        pills = [
            a.get_text(" ", strip=True) for a in soup.select('[data-testid="status-filter"] a')
        ]
        assert pills == [all_pill, f"{italian('Received')} (5)"]
    # The rows' badges, from macros imported without the page's context, in Italian.
    badges = [b.get_text(strip=True) for b in first.select("#contributions .badge")]
    assert badges == [italian("Received")] * 2
    # A new contribution comes last: only the last page appends it live.
    assert not first.select_one("#contributions").has_attr("data-live-append")  # type: ignore[union-attr]
    assert third.select_one("#contributions").has_attr("data-live-append")  # type: ignore[union-attr]


async def test_a_filtered_list_has_its_own_pages(
    login_as: Login, db: Database, world: World
) -> None:
    consultation_id, sent = await received(db, world)
    url = f"/consultations/{consultation_id}"
    async with db.transaction() as uow:
        await uow.session.execute(
            update(Contribution)
            .where(Contribution.id.in_([sent[0][0], sent[2][0], sent[4][0]]))
            .values(status=Status.UNDER_REVIEW)
        )
    staff = await login_as("staff")
    review = await get(staff, f"{url}?status=under_review")
    assert rows(review) == [sent[0][1], sent[2][1]]
    assert f"{url}?status=under_review&page=2" in page_links(review)
    assert rows(await get(staff, f"{url}?status=under_review&page=2")) == [sent[4][1]]
    assert rows(await get(staff, f"{url}?status=received&page=1")) == [sent[1][1], sent[3][1]]


async def test_a_contribution_links_to_its_page_of_the_list(
    login_as: Login, db: Database, world: World
) -> None:
    consultation_id, sent = await received(db, world)
    staff = await login_as("staff")
    for index, (cid, name) in enumerate(sent):
        soup = await get(staff, f"/contributions/{cid}")
        crumbs = [str(a["href"]) for a in soup.select(".breadcrumb a")]
        number = index // PER_PAGE + 1
        query = f"?page={number}" if number > 1 else ""
        link = f"/consultations/{consultation_id}{query}#contribution-{cid}"
        assert link in crumbs, crumbs
        listed = await get(staff, link.split("#")[0])
        assert listed.select_one(f"#contribution-{cid}") is not None, name


async def test_readers_read_every_page_and_others_none(
    login_as: Login, db: Database, world: World
) -> None:
    consultation_id, sent = await received(db, world)
    url = f"/consultations/{consultation_id}"
    sindaco = await login_as("sindaco5")
    # Pinerolo's own contribution is shown as its own on every page, even
    # where the list does not reach it; the list is the one staff see.
    for number, expected in ((1, sent[0:2]), (3, sent[4:])):
        soup = await get(sindaco, f"{url}?page={number}")
        own = soup.select_one("#own-contribution")
        assert own is not None
        assert own.select_one(f'a[href="/contributions/{sent[4][0]}"]') is not None
        assert rows(soup) == [name for _, name in expected]
    outsider = await login_as("sindaco9")
    for number in (1, 2, 3):
        assert (await outsider.get(f"{url}?page={number}")).status_code == 404
