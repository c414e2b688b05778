"""The engine on the database the suite runs on: Italian words, syntax, ranking, snippets."""

from __future__ import annotations

import pytest
from bs4 import BeautifulSoup

from collab.db import Database
from collab.search.engine import Filters
from tests.conftest import World
from tests.search.scene import find, post, theme_id, thread, titles


@pytest.fixture
async def corpus(db: Database, world: World) -> dict[str, int]:
    s5 = world["sindaco5"]
    ids = {}
    ids["bus"] = (
        await thread(
            db, s5, "Trasporto scolastico a Pinerolo",
            "Il trasporto degli alunni verso le scuole medie parte alle 7:30.",
        )
    ).id  # fmt: skip
    ids["mobility"] = (
        await thread(
            db, s5, "Piano della mobilità sostenibile",
            "Le piste ciclabili della mobilita dolce collegano i comuni.",
        )
    ).id  # fmt: skip
    ids["waste"] = (
        await thread(
            db, s5, "Raccolta dei rifiuti", "La raccolta differenziata porta a porta.",
            theme="ambiente-rifiuti",
        )
    ).id  # fmt: skip
    return ids


async def test_stems_find_other_forms(db: Database, world: World, corpus: dict[str, int]) -> None:
    staff = world["staff"]
    assert "Trasporto scolastico a Pinerolo" in titles(await find(db, staff, "trasporti"))
    assert titles(await find(db, staff, "scuola")) == ["Trasporto scolastico a Pinerolo"]
    for q in ("mobilità", "mobilita", "MOBILITÀ"):
        found = await find(db, staff, q)
        assert set(titles(found)) == {"Piano della mobilità sostenibile"}, q
        assert found.total == 2  # the thread's title and its first post


async def test_words_all_match(db: Database, world: World, corpus: dict[str, int]) -> None:
    staff = world["staff"]
    assert titles(await find(db, staff, "raccolta porta")) == ["Raccolta dei rifiuti"]
    assert (await find(db, staff, "raccolta trasporto")).total == 0


async def test_phrase_exclusion_prefix(db: Database, world: World, corpus: dict[str, int]) -> None:
    staff = world["staff"]
    assert titles(await find(db, staff, '"porta a porta"')) == ["Raccolta dei rifiuti"]
    assert (await find(db, staff, '"porta raccolta"')).total == 0
    both = await find(db, staff, "comuni")
    assert titles(both) == ["Piano della mobilità sostenibile"]
    assert (await find(db, staff, "mobilità -ciclabili")).total == 1  # the title alone
    typed = await find(db, staff, "raccol", typing=True)
    assert (set(titles(typed)), typed.total) == ({"Raccolta dei rifiuti"}, 2)
    assert (await find(db, staff, "raccol")).total == 0  # submitted: a whole word
    assert (await find(db, staff, "la raccol", typing=True)).total == 2


async def test_filters_and_sort(db: Database, world: World, corpus: dict[str, int]) -> None:
    staff = world["staff"]
    waste = await theme_id(db, "ambiente-rifiuti")
    found = await find(db, staff, "raccolta", Filters(theme_id=waste, kind="thread"))
    assert titles(found) == ["Raccolta dei rifiuti"]
    assert (await find(db, staff, "raccolta", Filters(kind="consultation"))).total == 0
    await post(db, world["sindaco5"], corpus["waste"], "La raccolta del vetro cambia giorno.")
    newest = await find(db, staff, "raccolta", Filters(sort="newest"))
    assert "<mark>raccolta</mark> del vetro" in newest.hits[0].snippet


async def test_title_ranks_above_body(db: Database, world: World, corpus: dict[str, int]) -> None:
    await post(db, world["sindaco5"], corpus["waste"], "Parliamo anche di mobilità, più avanti.")
    found = await find(db, world["staff"], "mobilità")
    assert found.hits[0].title == "Piano della mobilità sostenibile"


async def test_snippets_are_escaped(db: Database, world: World, corpus: dict[str, int]) -> None:
    body = "Attenzione: <script>alert(1)</script> e <mark>falso</mark> nel bando del trasporto."
    await post(db, world["sindaco5"], corpus["bus"], body)
    found = await find(db, world["staff"], "bando")
    snippet = found.hits[0].snippet
    soup = BeautifulSoup(snippet, "html.parser")
    assert soup.find("script") is None
    assert [mark.get_text() for mark in soup.find_all("mark")] == ["bando"]
    assert "<script>alert(1)</script>" in soup.get_text()
    assert "<mark>falso</mark>" in soup.get_text()


async def test_paging(db: Database, world: World, corpus: dict[str, int]) -> None:
    for n in range(23):
        await post(db, world["sindaco5"], corpus["bus"], f"Corsa numero {n} della navetta.")
    first = await find(db, world["staff"], "navetta")
    assert (first.total, first.pages, len(first.hits)) == (23, 2, 20)
    second = await find(db, world["staff"], "navetta", page=2)
    assert len(second.hits) == 3
    assert not {h.object_id for h in first.hits} & {h.object_id for h in second.hits}
    assert (await find(db, world["staff"], "navetta", page=99)).page == 2


def test_a_long_text_is_read_in_a_window_around_its_match() -> None:
    """A long file's text is not walked whole: the snippet comes from a window
    around the first word like the query's, cut at spaces, with "…" at the cuts."""
    from collab.search.text import SNIPPET_SCAN, parse_query, snippet

    filler = "parole qualsiasi di un regolamento comunale " * 2_000
    text = filler + "La tariffa della mensa scolastica cambia da settembre. " + filler
    assert len(text) > 20 * SNIPPET_SCAN
    shown = snippet(text, parse_query("mense", prefix=False))
    assert shown.startswith("… ") and shown.endswith(" …")
    assert "<mark>mensa</mark>" in shown and len(shown) < 600
    # No match: the start of the text, cut at a space.
    shown = snippet(text, parse_query("teleriscaldamento", prefix=False))
    assert shown.startswith("parole qualsiasi") and shown.endswith(" …")
    assert "<mark>" not in shown
