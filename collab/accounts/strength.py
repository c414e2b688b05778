"""How easy a password is to guess: zxcvbn, plus common Italian passwords.

zxcvbn's dictionaries are English; :data:`ITALIAN_LIST` adds the Italian
passwords and words people pick most (shipped as data). Its feedback is
English too: :func:`weakness` turns the reason zxcvbn found into one of our
own msgids, translated where it is shown.

Domain code: no Starlette here.
"""

from __future__ import annotations

import re
import threading
from functools import cache
from pathlib import Path
from typing import Any

from zxcvbn import matching, zxcvbn

from collab.i18n import N_

__all__ = ["ITALIAN_LIST", "MIN_SCORE", "weakness"]

#: zxcvbn's score (0-4) a password needs: 3 is "safely unguessable",
#: about 10^8 guesses and more.
MIN_SCORE = 3
ITALIAN_LIST = Path(__file__).parent.parent / "data" / "common_passwords_it.txt"
# zxcvbn looks at no more than this many characters (and refuses longer input).
CHECKED_LENGTH = 72
# zxcvbn keeps the user's inputs in a module-level dictionary: one check at a time.
_lock = threading.Lock()

COMMON = N_("This password is too easy to guess: it is, or looks like, a common password.")
PREFIX_REASONS = {
    "Straight rows of keys": N_(
        "This password is too easy to guess: rows of keys like “qwerty” are easy to guess."
    ),
    "Short keyboard patterns": N_(
        "This password is too easy to guess: keyboard patterns are easy to guess."
    ),
    "Repeats like": N_(
        "This password is too easy to guess: repeated characters or words, like “aaa”, "
        "are easy to guess."
    ),
    "Sequences like": N_(
        "This password is too easy to guess: sequences like “abc” or “6543” are easy to guess."
    ),
    "Recent years": N_("This password is too easy to guess: dates and years are easy to guess."),
    "Dates are": N_("This password is too easy to guess: dates and years are easy to guess."),
    "This is a top-10": COMMON,
    "This is a top-100": COMMON,
    "This is a very common": COMMON,
    "This is similar to": COMMON,
    "A word by itself": N_(
        "This password is too easy to guess: a single word is easy to guess. "
        "Add another word or two."
    ),
    "Names and surnames": N_(
        "This password is too easy to guess: names and surnames are easy to guess."
    ),
    "Common names and surnames": N_(
        "This password is too easy to guess: names and surnames are easy to guess."
    ),
}
PERSONAL = N_("This password is too easy to guess: it contains your name or e-mail address.")
GENERIC = N_(
    "This password is too easy to guess: add another word or two (uncommon words are better)."
)


@cache
def _load_italian() -> None:
    words = [
        line.strip().lower()
        for line in ITALIAN_LIST.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    matching.add_frequency_lists({"italian": words})


def weakness(password: str, personal: list[str]) -> str | None:
    """Why ``password`` is too easy to guess (a msgid), or None when it is not.

    ``personal``: the user's name, e-mail address and the like, which make a
    password easy to guess for whoever knows them.
    """
    _load_italian()
    inputs = [p.lower() for p in personal if p and len(p) >= 3]
    with _lock:
        result: dict[str, Any] = zxcvbn(password[:CHECKED_LENGTH], user_inputs=inputs)
    if _mostly(password, inputs):
        return PERSONAL
    if result["score"] >= MIN_SCORE:
        return None
    names = {match.get("dictionary_name") for match in result["sequence"]}
    if "user_inputs" in names:
        return PERSONAL
    if "italian" in names and not result["feedback"]["warning"]:
        return COMMON
    warning: str = result["feedback"]["warning"]
    for prefix, reason in PREFIX_REASONS.items():
        if warning.startswith(prefix):
            return reason
    return GENERIC


def _mostly(password: str, personal: list[str]) -> bool:
    """Whether ``password`` is little more than the user's own words: zxcvbn
    sometimes counts "Name-surname" as strong."""
    rest = password.lower()
    for word in sorted(personal, key=len, reverse=True):
        rest = rest.replace(word, "")
    return rest != password.lower() and len(re.sub(r"[\W_]+", "", rest)) < 4
