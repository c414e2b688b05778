"""What changed between two versions: the runs, their cost, and the page."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from itertools import pairwise

from sqlalchemy import select

from collab.consultations.changes import changes
from collab.consultations.models import Contribution
from collab.db import Database
from tests.conftest import World
from tests.consultations.scene import open_consultation
from tests.helpers import Client, italian, parse

Login = Callable[[str], Awaitable[Client]]


def _apply(runs: list[tuple[str, str]]) -> tuple[str, str]:
    """The old and the new text the runs describe."""
    old = "".join(t for k, t in runs if k != "insert")
    new = "".join(t for k, t in runs if k != "delete")
    return old, new


def test_words_added_removed_and_replaced() -> None:
    runs = changes(
        "Il comune chiede una corsa alle 7:10.",
        "Il comune di Pinerolo chiede due corse alle 7:10.",
    )
    assert runs == [
        ("equal", "Il comune "), ("insert", "di Pinerolo "), ("equal", "chiede "),
        ("delete", "una"), ("insert", "due"), ("equal", " "), ("delete", "corsa"),
        ("insert", "corse"), ("equal", " alle 7:10."),
    ]  # fmt: skip
    assert changes("Uguale.", "Uguale.") == [("equal", "Uguale.")]
    assert changes("", "Nuovo.") == [("insert", "Nuovo.")]
    assert changes("Vecchio.", "") == [("delete", "Vecchio.")]


def test_runs_always_rebuild_both_texts() -> None:
    texts = [
        ("riga uno\nriga due\n\n- punto\n", "riga uno\nriga 2\n\n- punto\n- altro\n"),
        ("a\n" * 3000, "a\n" * 1500 + "b\n" + "a\n" * 1499),
        ("x " * 20_000, "y " * 20_000),
        ("àèìòù €", "àèìòù £"),
    ]
    for old, new in texts:
        runs = changes(old, new)
        assert _apply(runs) == (old, new)
        assert all(text for _, text in runs)
        assert all(a[0] != b[0] for a, b in pairwise(runs))


def test_texts_made_to_be_hard_fall_back_to_coarser_runs() -> None:
    # Repeated tokens make an unbounded matcher take (tokens x tokens x
    # matches): minutes for some of these. The counted budget gives up early
    # and compares lines, then whole texts: still exact, just coarser.
    para = " ".join(["parola"] * 700)
    hard = [
        ("a\n" * 749, "a \n" * 749),
        ("a\n" * 25_000, "a\n" * 12_000 + "b\n" + "a\n" * 12_999),
        ("a\nb\n" * 12_500, "b\na\n" * 12_500),
        ("\n\n".join([para] * 30), "\n\n".join([para.replace("parola", "parole", 5)] * 30)),
    ]
    for old, new in hard:
        assert _apply(changes(old, new)) == (old, new)
    # Word by word within the budget; by lines past it; whole texts past that.
    old, new = "uno due\ntre quattro\n", "uno DUE\ntre quattro\n"
    assert changes(old, new) == [
        ("equal", "uno "), ("delete", "due"), ("insert", "DUE"), ("equal", "\ntre quattro\n"),
    ]  # fmt: skip
    assert changes(old, new, budget=6) == [
        ("delete", "uno due\n"), ("insert", "uno DUE\n"), ("equal", "tre quattro\n"),
    ]  # fmt: skip
    assert changes(old, new, budget=1) == [("delete", old), ("insert", new)]


async def test_the_page_shows_what_changed(login_as: Login, db: Database, world: World) -> None:
    consultation = await open_consultation(db, world["staff"])
    sindaco = await login_as("sindaco5")
    url = f"/consultations/{consultation.id}/contributions"
    sent = await sindaco.upload(url, {"body": "Chiediamo una corsa alle 7:10 <b>subito</b>."})
    assert sent.status_code == 303
    async with db.session() as session:
        contribution = await session.scalar(select(Contribution))
    assert contribution is not None
    page = f"/contributions/{contribution.id}"
    # One version: nothing to compare.
    assert parse(await sindaco.get(page)).select_one('[data-testid="changes-link"]') is None
    missing = await sindaco.get(f"{page}/changes")
    assert missing.status_code == 404
    assert italian("There is no such version to compare with the one before it.") in (
        parse(missing).get_text()
    )
    edited = await sindaco.upload(
        f"{page}/edit", {"body": "Chiediamo due corse alle 7:10 <b>subito</b>."}
    )
    assert edited.status_code == 303
    link = parse(await sindaco.get(page)).select_one('[data-testid="changes-link"]')
    assert link is not None and link["href"] == f"{page}/changes?version=2"

    tecnico = await login_as("tecnico5")  # any reader of the consultation
    shown = parse(await tecnico.get(str(link["href"])))
    box = shown.select_one('[data-testid="changes"]')
    assert box is not None
    removed, added = italian("removed"), italian("added")
    assert [d.get_text() for d in box.select("del")] == [f"[{removed}: una]", f"[{removed}: corsa]"]
    assert [i.get_text() for i in box.select("ins")] == [f"[{added}: due]", f"[{added}: corse]"]
    # The Markdown source is shown as text: the tag is escaped, never markup.
    assert box.select_one("b") is None and "<b>subito</b>" in box.get_text()
    assert (await tecnico.get(f"{page}/changes")).status_code == 200  # the current version
    for bad in ("1", "3", "0", "x", "9" * 12):
        assert (await tecnico.get(f"{page}/changes?version={bad}")).status_code in (200, 404)
    assert (await tecnico.get(f"{page}/changes?version=1")).status_code == 404
    assert (await tecnico.get(f"{page}/changes?version=3")).status_code == 404
    # Another zone may not read it.
    other = await login_as("sindaco9")
    assert (await other.get(f"{page}/changes?version=2")).status_code == 404
