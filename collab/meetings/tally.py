"""Counting a vote as an Italian council verbale records it.

The members of a vote are the comuni of a body (one ballot each, cast by the
sindaco or a delegate) or its named people. When the chair closes a vote the
result is frozen from:

- *presenti*: the members checked in at the close, plus those who cast a
  ballot and left before it (a ballot cast stays valid), minus those whose
  ballot is *non partecipa al voto* (out of this vote's counts and quorum,
  still present at the meeting);
- a present member with no ballot is a *presente non votante*: named, never
  counted as an abstention, never among the *votanti*;
- *votanti*: Favorevoli + Contrari, or with :attr:`Counting.ABSTAINERS_VOTE`
  Favorevoli + Contrari + Astenuti, as the body's rules say.

The vote is valid when the presenti reach the quorum; it carries by the
body's :class:`Majority` (see :attr:`Outcome.approved`). Ties, no votanti and
no quorum never carry. A secret vote is recorded with counts only.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from babel.numbers import format_decimal, format_percent

from collab.i18n import N_
from collab.meetings.models import Choice, Counting, Majority, VotingBody

__all__ = [
    "Choice",
    "Member",
    "Outcome",
    "Rules",
    "double_line",
    "freeze",
    "majority_line",
    "majority_quorum",
    "missing_population",
    "outcome_text",
    "required_present",
    "roll_call",
    "rules_of",
    "tally",
    "thaw",
]

Gettext = Callable[[str], str]
Ngettext = Callable[[str, str, int], str]


def majority_quorum(comuni: int) -> int:
    """The default quorum: a majority of the comuni of the convened zones."""
    return comuni // 2 + 1


def required_present(members: int, num: int, den: int, above: bool) -> int:
    """Members present for a structural quorum of ``num/den`` of ``members``.

    ``above``: more than the fraction ("metà più uno": 12 of 22, 11 of 21);
    otherwise at least it ("un terzo": 8 of 22, 7 of 21).
    """
    if above:
        return members * num // den + 1
    return -(-members * num // den)


@dataclass(frozen=True)
class Rules:
    """How a body counts its votes (:class:`VotingBody`'s columns)."""

    counting: Counting = Counting.ABSTAINERS_APART
    majority: Majority = Majority.SIMPLE
    majority_num: int = 2  # QUALIFIED: the fraction
    majority_den: int = 3
    of_members: bool = False  # QUALIFIED and DOUBLE: of the members, not of the votanti


def rules_of(body: VotingBody | None) -> Rules:
    """The rules of ``body``; a meeting without a body has the default ones."""
    if body is None:
        return Rules()
    return Rules(
        counting=body.counting, majority=body.majority, majority_num=body.majority_num,
        majority_den=body.majority_den, of_members=body.majority_of_members,
    )  # fmt: skip


@dataclass(frozen=True)
class Member:
    """One member of a vote: a comune (with its population) or a person."""

    name: str
    population: int | None = None


def missing_population(members: Iterable[Member]) -> list[str]:
    """The members without a population: a double majority cannot be counted."""
    return _names(m.name for m in members if m.population is None)


NO_POPULATION = N_(
    "A vote by double majority needs the population of every member comune; "
    "it is missing for: %(names)s."
)


def _reading_order(name: str) -> tuple[str, str]:
    # Accents and case aside, as an index is ordered: Ála after Airasca, before Bra.
    plain = "".join(c for c in unicodedata.normalize("NFKD", name) if not unicodedata.combining(c))
    return plain.casefold(), name


def _names(names: Iterable[str]) -> list[str]:
    return sorted(names, key=_reading_order)


@dataclass(frozen=True)
class Outcome:
    """A closed vote's result. Names are the members', sorted as people read them.

    For a secret vote every name is ``""``: the tuples only give counts.
    """

    present: tuple[str, ...]  # presenti for this vote (with the presenti non votanti)
    favorevoli: tuple[str, ...]
    contrari: tuple[str, ...]
    astenuti: tuple[str, ...]
    non_partecipanti: tuple[str, ...]
    quorum: int  # presenti required
    secret: bool = False
    not_voting: tuple[str, ...] = ()  # presenti non votanti: present, no ballot
    members: int = 0  # the vote's members (0: not recorded, results before bodies)
    rules: Rules = Rules()
    # Member -> who cast its ballot (a comune's sindaco or delegate); open votes only.
    cast_by: Mapping[str, str] = field(default_factory=dict, hash=False)
    # DOUBLE only: the population of the favorevoli and of the base.
    population_for: int | None = None
    population_base: int | None = None

    @property
    def voting(self) -> int:
        """The *votanti*, by the body's convention on abstainers."""
        voting = len(self.favorevoli) + len(self.contrari)
        if self.rules.counting == Counting.ABSTAINERS_VOTE:
            voting += len(self.astenuti)
        return voting

    @property
    def quorum_held(self) -> bool:
        return len(self.present) >= self.quorum

    @property
    def base(self) -> int:
        """What the majority is a majority of: the members or the votanti."""
        if self.rules.majority == Majority.ABSOLUTE:
            return self.members
        if self.rules.majority in (Majority.QUALIFIED, Majority.DOUBLE) and self.rules.of_members:
            return self.members
        return self.voting

    @property
    def required(self) -> int:
        """Votes in favour needed to carry (for DOUBLE, comuni; with the population too)."""
        rules, base = self.rules, self.base
        if rules.majority == Majority.QUALIFIED:
            return max(1, -(-base * rules.majority_num // rules.majority_den))
        return base // 2 + 1

    @property
    def approved(self) -> bool:
        if not self.quorum_held or self.voting == 0:
            return False
        favour, rules = len(self.favorevoli), self.rules
        if rules.majority == Majority.QUALIFIED:
            return favour > 0 and favour * rules.majority_den >= rules.majority_num * self.base
        if rules.majority == Majority.DOUBLE:
            people, of = self.population_for or 0, self.population_base or 0
            return 2 * favour > self.base and 2 * people > of
        return 2 * favour > self.base  # SIMPLE (base: votanti), ABSOLUTE (base: members)

    def voter(self, name: str) -> str:
        """``name`` with who voted for it, as the verbale lists comuni: "Airasca (Mario Rossi)"."""
        who = self.cast_by.get(name)
        return f"{name} ({who})" if who and who != name else name


def tally(
    members: Sequence[Member],
    present: Iterable[str],
    ballots: Mapping[str, Choice],
    quorum: int,
    rules: Rules = Rules(),  # frozen: one shared default is safe
    secret: bool = False,
    cast_by: Mapping[str, str] | None = None,
) -> Outcome:
    """Count ``ballots`` (member name -> choice) of the ``members`` present at the close.

    ``present``: the members checked in at the close. A member who cast a
    ballot and left still counts with it; names that are not members (guests)
    are ignored. With :attr:`Majority.DOUBLE` every member needs a population
    (:func:`missing_population`; ValueError otherwise).
    """
    names = {m.name for m in members}
    if len(names) != len(members):
        raise ValueError("members of a vote have distinct names")
    cast = {name: choice for name, choice in ballots.items() if name in names}
    here = (set(present) & names) | set(cast)
    by: dict[Choice, list[str]] = {
        choice: _names(n for n, chosen in cast.items() if chosen is choice) for choice in Choice
    }
    counted = here - set(by[Choice.NON_PARTECIPA])
    outcome = Outcome(
        present=tuple(_names(counted)),
        favorevoli=tuple(by[Choice.FAVOREVOLE]),
        contrari=tuple(by[Choice.CONTRARIO]),
        astenuti=tuple(by[Choice.ASTENUTO]),
        non_partecipanti=tuple(by[Choice.NON_PARTECIPA]),
        quorum=quorum,
        secret=secret,
        not_voting=tuple(_names(counted - set(cast))),
        members=len(members),
        rules=rules,
        cast_by={} if secret else {n: who for n, who in (cast_by or {}).items() if n in cast},
    )
    if rules.majority != Majority.DOUBLE:
        return outcome
    if missing := missing_population(members):
        raise ValueError(f"no population for {', '.join(missing)}")
    population = {m.name: m.population or 0 for m in members}
    voting = [*outcome.favorevoli, *outcome.contrari]
    if rules.counting == Counting.ABSTAINERS_VOTE:
        voting += outcome.astenuti
    base = population if rules.of_members else voting
    return replace(
        outcome,
        population_for=sum(population[n] for n in outcome.favorevoli),
        population_base=sum(population[n] for n in base),
    )


# --- stored form -----------------------------------------------------------------------------


def freeze(outcome: Outcome) -> dict[str, Any]:
    """The result as stored (JSON): names for an open vote, counts only for a secret one.

    Counts only for every list of a secret vote, "present" and "non partecipa"
    too: not taking part is a choice on the ballot, and the names present for
    the vote are those of the meeting minus the ones who chose it. Nor is who
    cast each ballot kept.
    """

    def names(values: tuple[str, ...]) -> list[str] | int:
        return len(values) if outcome.secret else list(values)

    rules = outcome.rules
    frozen: dict[str, Any] = {
        "secret": outcome.secret,
        "quorum": outcome.quorum,
        "present": names(outcome.present),
        "favorevoli": names(outcome.favorevoli),
        "contrari": names(outcome.contrari),
        "astenuti": names(outcome.astenuti),
        "non_partecipanti": names(outcome.non_partecipanti),
        "not_voting": names(outcome.not_voting),
        "members": outcome.members,
        "rules": {
            "counting": rules.counting.value,
            "majority": rules.majority.value,
            "majority_num": rules.majority_num,
            "majority_den": rules.majority_den,
            "of_members": rules.of_members,
        },
    }
    if not outcome.secret:
        frozen["cast_by"] = dict(sorted(outcome.cast_by.items()))
    if outcome.population_for is not None:
        frozen["population_for"] = outcome.population_for
        frozen["population_base"] = outcome.population_base
    return frozen


def thaw(result: Mapping[str, Any]) -> Outcome:
    """The :class:`Outcome` of a frozen result.

    A secret one has no names to give (``""`` each). Results frozen before
    bodies and rules lack the newer keys: default rules, no presenti non
    votanti (then, a present comune without a ballot was among the astenuti).
    """

    def names(value: list[str] | int | None) -> tuple[str, ...]:
        if value is None:
            return ()
        return ("",) * value if isinstance(value, int) else tuple(value)

    stored = result.get("rules") or {}
    default = Rules()
    rules = Rules(
        counting=Counting(stored.get("counting", default.counting)),
        majority=Majority(stored.get("majority", default.majority)),
        majority_num=int(stored.get("majority_num", default.majority_num)),
        majority_den=int(stored.get("majority_den", default.majority_den)),
        of_members=bool(stored.get("of_members", default.of_members)),
    )
    population_for, population_base = result.get("population_for"), result.get("population_base")
    return Outcome(
        present=names(result["present"]), favorevoli=names(result["favorevoli"]),
        contrari=names(result["contrari"]), astenuti=names(result["astenuti"]),
        non_partecipanti=names(result["non_partecipanti"]), quorum=int(result["quorum"]),
        secret=bool(result["secret"]), not_voting=names(result.get("not_voting")),
        members=int(result.get("members", 0)), rules=rules,
        cast_by=dict(result.get("cast_by") or {}),
        population_for=None if population_for is None else int(population_for),
        population_base=None if population_base is None else int(population_base),
    )  # fmt: skip


# --- wording ---------------------------------------------------------------------------------

APPROVED = N_("approved")
NOT_APPROVED = N_("not approved")
NO_QUORUM = N_("not valid: no quorum")


def outcome_text(outcome: Outcome, gettext: Gettext) -> str:
    """The one wording of an outcome, for the room, the page and the PDF."""
    if not outcome.quorum_held:
        return gettext(NO_QUORUM)
    return gettext(APPROVED) if outcome.approved else gettext(NOT_APPROVED)


def majority_line(outcome: Outcome, gettext: Gettext, ngettext: Ngettext) -> str:
    """What carries the vote and how many in favour it takes, for the verbale."""
    rules, num = outcome.rules, outcome.required
    values = {"num": num, "members": outcome.members,
              "fraction": f"{rules.majority_num}/{rules.majority_den}"}  # fmt: skip
    if rules.majority == Majority.ABSOLUTE:
        text = ngettext(
            "absolute majority of the %(members)d members: %(num)d vote in favour needed",
            "absolute majority of the %(members)d members: %(num)d votes in favour needed",
            num,
        )
    elif rules.majority == Majority.QUALIFIED and rules.of_members:
        text = ngettext(
            "majority of %(fraction)s of the %(members)d members: %(num)d vote in favour needed",
            "majority of %(fraction)s of the %(members)d members: %(num)d votes in favour needed",
            num,
        )
    elif rules.majority == Majority.QUALIFIED:
        text = ngettext(
            "majority of %(fraction)s of the voting: %(num)d vote in favour needed",
            "majority of %(fraction)s of the voting: %(num)d votes in favour needed",
            num,
        )
    elif rules.majority == Majority.DOUBLE and rules.of_members:
        text = ngettext(
            "majority of the %(members)d member comuni and of their population: "
            "%(num)d comune in favour needed",
            "majority of the %(members)d member comuni and of their population: "
            "%(num)d comuni in favour needed",
            num,
        )
    elif rules.majority == Majority.DOUBLE:
        text = ngettext(
            "majority of the voting comuni and of their population: "
            "%(num)d comune in favour needed",
            "majority of the voting comuni and of their population: "
            "%(num)d comuni in favour needed",
            num,
        )
    else:
        text = ngettext(
            "simple majority of the voting: %(num)d vote in favour needed",
            "simple majority of the voting: %(num)d votes in favour needed",
            num,
        )
    return text % values


def double_line(outcome: Outcome, gettext: Gettext, ngettext: Ngettext, locale: str) -> str:
    """A double majority's result: "7 comuni su 12, 58,3% della popolazione: 45.210
    abitanti su 77.530" (in favour, of the base); "" for the other rules."""
    if outcome.population_for is None or outcome.population_base is None:
        return ""
    favour, base = len(outcome.favorevoli), outcome.base
    people, total = outcome.population_for, outcome.population_base
    comuni = ngettext("%(num)d comune of %(base)d", "%(num)d comuni of %(base)d", favour)
    share = gettext("%(share)s of the population: %(people)s inhabitants of %(total)s")
    return (
        (comuni % {"num": favour, "base": base})
        + ", "
        + share
        % {
            "share": format_percent(people / total if total else 0, "#,##0.0%", locale=locale),
            "people": format_decimal(people, locale=locale),
            "total": format_decimal(total, locale=locale),
        }
    )


def roll_call(outcome: Outcome, gettext: Gettext, ngettext: Ngettext) -> str:
    """The verbale's line: "3 presenti, 2 votanti, 1 favorevole (Pinerolo), ...".

    Presenti non votanti and non partecipanti only when there are some; names
    only for an open vote. (``gettext`` for symmetry with the other wordings:
    every part has a count, so all are plural forms.)
    """

    def part(text: str, names: tuple[str, ...]) -> str:
        text %= {"num": len(names)}
        if names and not outcome.secret:
            text += f" ({', '.join(names)})"
        return text

    o = outcome
    parts = [
        ngettext("%(num)d present", "%(num)d present", len(o.present)) % {"num": len(o.present)},
        ngettext("%(num)d voting", "%(num)d voting", o.voting) % {"num": o.voting},
        part(ngettext("%(num)d in favour", "%(num)d in favour", len(o.favorevoli)), o.favorevoli),
        part(ngettext("%(num)d against", "%(num)d against", len(o.contrari)), o.contrari),
        part(ngettext("%(num)d abstaining", "%(num)d abstaining", len(o.astenuti)), o.astenuti),
    ]
    if o.not_voting:
        text = ngettext(
            "%(num)d present not voting", "%(num)d present not voting", len(o.not_voting)
        )
        parts.append(part(text, o.not_voting))
    if o.non_partecipanti:
        text = ngettext(
            "%(num)d not taking part in the vote",
            "%(num)d not taking part in the vote",
            len(o.non_partecipanti),
        )
        parts.append(part(text, o.non_partecipanti))
    return ", ".join(parts)
