"""Folding text for the index: the fast path gives what the definition gives.

:func:`collab.search.text.fold` walks only the non-ASCII runs of a text in
Python; what it returns must stay the compatibility decomposition (NFKD) of
the case-folded text without its combining marks, whatever the text, or
the index and the queries folded before and after the change would differ.
"""

from __future__ import annotations

import random
import unicodedata

from collab.search.text import fold, stems


def reference(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def test_every_character_of_the_basic_plane_folds_as_defined() -> None:
    for code in range(0x10000):
        char = chr(code)
        if 0xD800 <= code <= 0xDFFF:
            continue  # lone surrogates: no text holds them
        assert fold(char) == reference(char), hex(code)


def test_texts_fold_as_defined() -> None:
    fixed = [
        "",
        "Mobilità SOSTENIBILE a Città di Castello, perché no?",
        "Trasporto scolastico: 7:30, linea 12",
        "Straße ﬁnanziaria ½ ² Ⅻ",
        # Decomposed input (text pasted from a Mac): marks after their letter.
        "citta\u0300 perche\u0301 Mu\u0308ller",
        "\u0301 a mark first, and \u0300\u0301 two",
        "Ελληνικά Σίσυφος, русский, 中文, 한국어",
    ]
    rng = random.Random(16)
    alphabet = "aeiouAEIOU àèéìòùÀÈÉ\u0300\u0301\u0308ﬁß½İı ,.;\n\tΣσς한"
    generated = [
        "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 40))) for _ in range(500)
    ]
    for text in fixed + generated:
        assert fold(text) == reference(text), repr(text)


def test_stems_of_an_italian_post() -> None:
    assert stems("Le Scuole della Città: il trasporto è gratuito") == "scuol citt trasport gratu"
