"""What changed between two versions of a contribution's text, word by word.

The result is a list of ``(kind, text)`` runs (``equal``, ``delete`` or
``insert``) of the Markdown sources; the template escapes the text and marks
the runs with ``<del>`` and ``<ins>``, so nothing here builds HTML.

Comparing costs up to (tokens x tokens x matches) for texts made to be hard,
so the work is counted and bounded: past :data:`BUDGET` steps the texts are
compared by lines instead (changed lines refined word by word while the
budget lasts), and past that shown as the old text removed and the new one
added. A page never spends more than a fraction of a second on it, whatever
was typed into the largest contribution allowed.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from difflib import Match, SequenceMatcher
from itertools import accumulate
from typing import Literal

__all__ = ["BUDGET", "Run", "changes"]

Kind = Literal["equal", "delete", "insert"]
Run = tuple[Kind, str]

# Words, runs of spaces (newlines kept) and single punctuation marks.
TOKEN = re.compile(r"\s+|\w+|[^\w\s]", re.UNICODE)
# Steps of the matcher's inner loop (an upper bound of them) one comparison may take.
BUDGET = 1_000_000


class _TooCostly(Exception):
    pass


class _Bounded(SequenceMatcher[str]):
    """A matcher that counts, before each search, an upper bound of its inner
    loop (every occurrence in ``b`` of every element of ``a``'s range) and
    gives up once a shared budget is spent."""

    def __init__(self, a: Sequence[str], b: Sequence[str], left: list[int]) -> None:
        super().__init__(None, a, b, autojunk=False)
        self._size = len(a)
        counts = Counter(b)
        self._prefix = list(accumulate((counts.get(x, 0) for x in a), initial=0))
        self._left = left

    def find_longest_match(
        self, alo: int = 0, ahi: int | None = None, blo: int = 0, bhi: int | None = None
    ) -> Match:
        high = self._size if ahi is None else ahi
        self._left[0] -= self._prefix[high] - self._prefix[alo] + 1
        if self._left[0] < 0:
            raise _TooCostly
        return super().find_longest_match(alo, high, blo, bhi)


def _tokens(text: str) -> list[str]:
    return TOKEN.findall(text)


def _runs(old: Sequence[str], new: Sequence[str], left: list[int]) -> list[Run]:
    runs: list[Run] = []
    for tag, i1, i2, j1, j2 in _Bounded(old, new, left).get_opcodes():
        if tag == "equal":
            runs.append(("equal", "".join(old[i1:i2])))
            continue
        if tag in ("delete", "replace"):
            runs.append(("delete", "".join(old[i1:i2])))
        if tag in ("insert", "replace"):
            runs.append(("insert", "".join(new[j1:j2])))
    return runs


def _by_lines(old: str, new: str, left: list[int]) -> list[Run]:
    old_lines, new_lines = old.splitlines(keepends=True), new.splitlines(keepends=True)
    runs = _runs(old_lines, new_lines, left)
    # Refine each removed-then-added pair of line blocks word by word.
    refined: list[Run] = []
    i = 0
    while i < len(runs):
        kind, text = runs[i]
        if kind == "delete" and i + 1 < len(runs) and runs[i + 1][0] == "insert":
            try:
                refined.extend(_runs(_tokens(text), _tokens(runs[i + 1][1]), left))
            except _TooCostly:
                refined.extend(runs[i : i + 2])
            i += 2
            continue
        refined.append((kind, text))
        i += 1
    return refined


def _merge(runs: list[Run]) -> list[Run]:
    """Adjacent runs of the same kind as one, and no empty run."""
    merged: list[Run] = []
    for kind, text in runs:
        if not text:
            continue
        if merged and merged[-1][0] == kind:
            merged[-1] = (kind, merged[-1][1] + text)
        else:
            merged.append((kind, text))
    return merged


def changes(old: str, new: str, budget: int = BUDGET) -> list[Run]:
    """The runs that turn ``old`` into ``new``, within ``budget`` steps per stage."""
    try:
        return _merge(_runs(_tokens(old), _tokens(new), [budget]))
    except _TooCostly:
        pass
    try:
        return _merge(_by_lines(old, new, [budget]))
    except _TooCostly:
        return _merge([("delete", old), ("insert", new)])
