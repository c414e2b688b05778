"""Counting a vote on a *parere*, as a council verbale records it.

One ballot per comune, cast by its sindaco or delegate. When the chair closes
the vote the result is frozen from:

- the comuni present at that moment (checked in to the meeting);
- their ballots: *favorevole*, *contrario*, *astenuto*, or *non partecipa al
  voto*, which takes the comune out of this vote's present and voting counts
  (and of this vote's quorum) while it stays present at the meeting.

A comune present that cast no ballot by the close is counted among the
*astenuti*, as a council member present who does not vote; so the verbale's
line always adds up: Presenti = Votanti + Astenuti, Votanti = Favorevoli +
Contrari. The motion passes when the quorum held (present comuni, for this
vote, at least the quorum) and the favourable votes outnumber the contrary
ones. A secret vote is recorded with counts only, never with names.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from collab.i18n import N_
from collab.meetings.models import Choice

__all__ = ["Choice", "Outcome", "majority_quorum", "roll_call", "tally"]


def majority_quorum(comuni: int) -> int:
    """The default quorum: a majority of the comuni of the convened zones."""
    return comuni // 2 + 1


def _reading_order(name: str) -> tuple[str, str]:
    # Accents and case aside, as an index is ordered: Ála after Airasca, before Bra.
    plain = "".join(c for c in unicodedata.normalize("NFKD", name) if not unicodedata.combining(c))
    return plain.casefold(), name


def _names(names: Iterable[str]) -> tuple[str, ...]:
    return tuple(sorted(names, key=_reading_order))


@dataclass(frozen=True)
class Outcome:
    """A closed vote's result. Names are the comuni's, sorted."""

    present: tuple[str, ...]  # counted present for this vote
    favorevoli: tuple[str, ...]
    contrari: tuple[str, ...]
    astenuti: tuple[str, ...]
    non_partecipanti: tuple[str, ...]
    quorum: int
    secret: bool = False

    @property
    def voting(self) -> int:
        return len(self.favorevoli) + len(self.contrari)

    @property
    def quorum_held(self) -> bool:
        return len(self.present) >= self.quorum

    @property
    def approved(self) -> bool:
        return self.quorum_held and len(self.favorevoli) > len(self.contrari)


def tally(
    present: Iterable[str], ballots: Mapping[str, Choice], quorum: int, secret: bool = False
) -> Outcome:
    """Count ``ballots`` (comune -> choice) of the comuni ``present`` at the close.

    A ballot of a comune that is no longer present does not count (it left
    before the close); a present comune without a ballot abstains.
    """
    here = set(present)
    choices = {comune: ballots.get(comune, Choice.ASTENUTO) for comune in here}
    by: dict[Choice, tuple[str, ...]] = {
        choice: _names(c for c, chosen in choices.items() if chosen is choice) for choice in Choice
    }
    return Outcome(
        present=_names(c for c in here if choices[c] is not Choice.NON_PARTECIPA),
        favorevoli=by[Choice.FAVOREVOLE],
        contrari=by[Choice.CONTRARIO],
        astenuti=by[Choice.ASTENUTO],
        non_partecipanti=by[Choice.NON_PARTECIPA],
        quorum=quorum,
        secret=secret,
    )


PRESENT = N_("Present %(num)d")
VOTING = N_("Voting %(num)d")
IN_FAVOUR = N_("In favour %(num)d")
AGAINST = N_("Against %(num)d")
ABSTAINED = N_("Abstained %(num)d")
NOT_TAKING_PART = N_("Not taking part in the vote %(num)d")


def roll_call(outcome: Outcome, gettext: Callable[[str], str]) -> str:
    """The verbale's line: "Presenti 12, Votanti 9, Favorevoli 7 (Airasca, ...), ..."."""

    def part(label: str, names: tuple[str, ...]) -> str:
        text = gettext(label) % {"num": len(names)}
        if names and not outcome.secret:
            text += f" ({', '.join(names)})"
        return text

    parts = [
        gettext(PRESENT) % {"num": len(outcome.present)},
        gettext(VOTING) % {"num": outcome.voting},
        part(IN_FAVOUR, outcome.favorevoli),
        part(AGAINST, outcome.contrari),
        part(ABSTAINED, outcome.astenuti),
    ]
    if outcome.non_partecipanti:
        parts.append(part(NOT_TAKING_PART, outcome.non_partecipanti))
    return ", ".join(parts)
