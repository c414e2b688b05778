"""Counting a vote as a council verbale does."""

from __future__ import annotations

import pytest

from collab.i18n import translations
from collab.meetings.tally import Choice, majority_quorum, roll_call, tally

F, C, A, N = Choice.FAVOREVOLE, Choice.CONTRARIO, Choice.ASTENUTO, Choice.NON_PARTECIPA
ITALIAN = translations("it").gettext


@pytest.mark.parametrize(("comuni", "quorum"), [(1, 1), (2, 2), (7, 4), (22, 12), (41, 21)])
def test_the_default_quorum_is_a_majority_of_the_comuni(comuni: int, quorum: int) -> None:
    assert majority_quorum(comuni) == quorum


def test_the_roll_call_adds_up_and_names_each_comune() -> None:
    present = ["Pinerolo", "Airasca", "Cumiana", "Bricherasio", "Luserna San Giovanni", "Frossasco"]
    outcome = tally(
        present,
        {"Pinerolo": F, "Airasca": F, "Cumiana": C, "Bricherasio": A, "Frossasco": N},
        quorum=4,
    )
    # Frossasco takes no part: not present for this vote. Luserna cast no
    # ballot: present, so it abstains.
    assert outcome.present == (
        "Airasca",
        "Bricherasio",
        "Cumiana",
        "Luserna San Giovanni",
        "Pinerolo",
    )
    assert outcome.voting == 3
    assert outcome.astenuti == ("Bricherasio", "Luserna San Giovanni")
    assert outcome.quorum_held and outcome.approved
    assert roll_call(outcome, ITALIAN) == (
        "Presenti 5, Votanti 3, Favorevoli 2 (Airasca, Pinerolo), Contrari 1 (Cumiana), "
        "Astenuti 2 (Bricherasio, Luserna San Giovanni), Non partecipano al voto 1 (Frossasco)"
    )


def test_a_secret_vote_gives_counts_only() -> None:
    outcome = tally(["A", "B", "C"], {"A": F, "B": C, "C": C}, quorum=2, secret=True)
    assert roll_call(outcome, ITALIAN) == (
        "Presenti 3, Votanti 3, Favorevoli 1, Contrari 2, Astenuti 0"
    )
    assert not outcome.approved  # more against than in favour


def test_a_tie_does_not_pass() -> None:
    assert not tally(["A", "B"], {"A": F, "B": C}, quorum=1).approved


def test_taking_no_part_can_break_the_quorum_of_one_vote() -> None:
    outcome = tally(["A", "B", "C", "D"], {"A": F, "B": F, "C": N, "D": N}, quorum=3)
    assert len(outcome.present) == 2
    assert not outcome.quorum_held
    assert not outcome.approved  # unanimous, but without quorum


def test_a_ballot_of_a_comune_that_left_does_not_count() -> None:
    outcome = tally(["A"], {"A": F, "B": C}, quorum=1)
    assert outcome.contrari == ()
    assert outcome.present == ("A",)


def test_names_sort_as_people_read_them() -> None:
    outcome = tally(["vinovo", "Airasca", "Ála"], {}, quorum=1)
    assert outcome.astenuti == ("Airasca", "Ála", "vinovo")
