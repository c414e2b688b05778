"""Italian text for the index: accents folded, stop words dropped, Snowball stems.

The same functions serve the index and the query, so what is written and
what is asked meet on the same terms. PostgreSQL stems on its own
(``to_tsvector('italian', search_unaccent(...))``); this module gives it the
parsed query (:class:`Query`) and drops the same stop words first.
"""

from __future__ import annotations

import html
import re
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import Stemmer

from collab.i18n import N_

__all__ = [
    "MAX_QUERY_CHARS",
    "SNIPPET_SCAN",
    "SQL_STEMS",
    "STOP_WORDS",
    "Query",
    "QueryError",
    "add_sqlite_functions",
    "fold",
    "html_text",
    "matches",
    "parse_query",
    "snippet",
    "stem",
    "stems",
    "words",
]

# A query longer than this is refused (a search box, not a document).
MAX_QUERY_CHARS = 200
# Shorter last words are whole words, not prefixes: "a*" would match half the index.
MIN_PREFIX = 3
# Words and phrases in one query, each a condition of the search.
MAX_PARTS = 12

# Snowball's Italian stop list (the one PostgreSQL's 'italian' configuration
# uses), the forms that matter for a search box: articles, prepositions and
# their contractions, conjunctions, the commonest forms of essere and avere.
STOP_WORDS = frozenset(
    """
    a ad al alla alle allo ai agli all anche avere ha hanno ho abbiamo avete
    c che chi ci col come con contro cui da dal dalla dalle dallo dai dagli
    dall de del della delle dello dei degli dell di dove e ed era erano essere
    fra gli i il in io l la le lo loro ma mi ne negli nei nel nella nelle
    nello nell noi non nostro o od per piu poi quale quando quella quelle
    quelli quello questa queste questi questo se sei si sia siamo siete sono
    su sua sue sugli sui sul sull sulla sulle sullo suo suoi ti tra tu tua tuo
    un una uno vi voi e è sono stato stata stati state
    """.split()  # noqa: SIM905 (a list of 150 quoted words reads worse)
)

_WORD = re.compile(r"\w+", re.UNICODE)
_TAG = re.compile(r"<[^>]*>")
_NON_ASCII = re.compile(r"[^\x00-\x7f]+")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_STEMMER = Stemmer.Stemmer("italian")


class QueryError(ValueError):
    """The query cannot be searched; ``message`` is a msgid for the person."""

    def __init__(self, message: str, limit: int = 0) -> None:
        super().__init__(message)
        self.message = message
        self.params = {"limit": limit}
        # Beyond a bound (too long, too many words): not a query a search box sends.
        self.bound = limit > 0


def fold(text: str) -> str:
    """Lower case without accents: ``Mobilità`` -> ``mobilita``.

    The compatibility decomposition (NFKD) of the case-folded text, without
    its combining marks. Only non-ASCII characters decompose or combine, so
    an ASCII text is only case-folded and only the non-ASCII runs of another
    are walked in Python (every reply's text is folded: 27 to 13 us for a
    post of 60 words with accents)."""
    folded = text.casefold()
    if folded.isascii():
        return folded
    return _NON_ASCII.sub(_without_marks, unicodedata.normalize("NFKD", folded))


def _without_marks(run: re.Match[str]) -> str:
    return "".join(c for c in run.group() if not unicodedata.combining(c))


def words(text: str) -> list[str]:
    """The folded words of ``text``, stop words included (phrases keep their order)."""
    return _WORD.findall(fold(text))


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """The Snowball Italian stem of a folded word."""
    return str(_STEMMER.stemWord(word))


def stems(text: str) -> str:
    """What the SQLite index holds for ``text``: its stems, stop words dropped."""
    return " ".join(stem(w) for w in words(text) if w not in STOP_WORDS)


#: The SQL name of :func:`stems` on a SQLite connection: the triggers that
#: keep ``search_fts`` (migration 0022) call it on what ``search_item`` holds.
SQL_STEMS = "search_stems"


def _sql_stems(value: str | None) -> str:
    return stems(value) if value else ""


def add_sqlite_functions(dbapi_connection: Any) -> None:
    """Give a new SQLite connection :data:`SQL_STEMS`, which every statement
    writing ``search_item`` needs (``collab.db.make_engine`` and the
    migrations call it on each connection they open)."""
    dbapi_connection.create_function(SQL_STEMS, 1, _sql_stems, deterministic=True)


def html_text(markup: str) -> str:
    """The text of sanitized HTML (a post, a consultation), for the index and its snippets."""
    text = html.unescape(_TAG.sub(" ", markup))
    return " ".join(_CONTROL.sub(" ", text).split())


@dataclass(frozen=True)
class Query:
    """A parsed query: every term and phrase must match, no excluded word may.

    ``terms`` and ``excluded`` are folded words, ``phrases`` tuples of them;
    ``prefix`` is the last word when it may still be being typed (matched
    as the start of a word). Stop words are gone, except inside phrases.
    """

    terms: tuple[str, ...] = ()
    phrases: tuple[tuple[str, ...], ...] = ()
    excluded: tuple[str, ...] = ()
    prefix: str | None = None
    highlight: frozenset[str] = field(default_factory=frozenset)

    @property
    def positive(self) -> bool:
        return bool(self.terms or self.phrases or self.prefix)


_PART = re.compile(r'(-?)"([^"]*)"?|(\S+)')


def parse_query(raw: str, *, prefix: bool = True) -> Query:
    """Words (all must match), ``"exact phrase"``, ``-word`` to exclude; the
    last bare word is a prefix (``prefix=False``: a whole word, as the query
    was submitted, not typed). Raises :class:`QueryError` for an empty, too
    long or only-excluding query."""
    if len(raw) > MAX_QUERY_CHARS:
        raise QueryError(
            N_("The search is too long: use at most %(limit)d characters."), MAX_QUERY_CHARS
        )
    terms: list[str] = []
    phrases: list[tuple[str, ...]] = []
    excluded: list[str] = []
    last_bare: str | None = None
    for match in _PART.finditer(raw):
        negate, quoted, bare = match.group(1), match.group(2), match.group(3)
        if quoted is not None:
            found = tuple(words(quoted))
            if negate:
                excluded.extend(w for w in found if w not in STOP_WORDS)
            elif len(found) > 1:
                phrases.append(found)
            elif found and found[0] not in STOP_WORDS:
                terms.append(found[0])
            last_bare = None
            continue
        negative = bare.startswith("-")
        found = tuple(w for w in words(bare) if w not in STOP_WORDS)
        if negative:
            excluded.extend(found)
            last_bare = None
        else:
            terms.extend(found)
            # "scuola," or a word followed by a space is finished.
            last_bare = found[-1] if found and raw.rstrip() == raw and raw.endswith(bare) else None
    if len(terms) + len(phrases) + len(excluded) > MAX_PARTS:
        raise QueryError(N_("The search has too many words: use at most %(limit)d."), MAX_PARTS)
    typed = None
    if (
        prefix and last_bare is not None and len(last_bare) >= MIN_PREFIX
        and terms and terms[-1] == last_bare
    ):  # fmt: skip
        typed = terms.pop()
    query = Query(
        terms=tuple(dict.fromkeys(terms)),
        phrases=tuple(dict.fromkeys(phrases)),
        excluded=tuple(dict.fromkeys(excluded)),
        prefix=typed,
        highlight=frozenset(
            stem(w) for w in (*terms, *(w for p in phrases for w in p)) if w not in STOP_WORDS
        ),
    )
    if not query.positive:
        if query.excluded:
            raise QueryError(N_("Add at least one word to look for, not only words to exclude."))
        if raw.strip():
            raise QueryError(
                N_("These words are too common to search for: add a more specific one.")
            )
        raise QueryError(N_("Type one or more words to search."))
    return query


# Words around the best match that a snippet shows.
SNIPPET_WORDS = 30
#: Characters of a longer text that a snippet reads: a window from a little
#: before the first place a word of the query may start. A 200,000-character
#: PDF is not walked word by word for the 30 words shown (a result page of
#: long documents took 25-40 ms of ts_headline on PostgreSQL).
SNIPPET_SCAN = 3_000


def matches(word: str, query: Query) -> bool:
    """Whether the folded ``word`` is one the query asks for (to highlight it)."""
    stemmed = stem(word)
    if stemmed in query.highlight:
        return True
    return query.prefix is not None and stemmed.startswith(stem(query.prefix))


def snippet(text: str, query: Query, size: int = SNIPPET_WORDS) -> str:
    """The stretch of ``text`` with the most matching words, as HTML: the text
    escaped, matches in our own ``<mark>`` tags. Both engines' snippets: the
    FTS5 ``snippet()`` sees stems, not this text, and ``ts_headline`` parses
    the whole text of every result again.

    A text longer than :data:`SNIPPET_SCAN` is read in a window that opens
    a little before the first word starting like a stem of the query
    (or at its start when none does), cut at spaces, with "…" where it is cut.
    """
    if len(text) <= SNIPPET_SCAN:
        return _best_stretch(text, query, size)
    begin, end = _window(text, query)
    shown = _best_stretch(text[begin:end], query, size)
    if begin and not shown.startswith("… "):
        shown = "… " + shown
    if end < len(text) and not shown.endswith(" …"):
        shown += " …"
    return shown


def _window(text: str, query: Query) -> tuple[int, int]:
    """Where :func:`snippet` reads a long ``text``: whole words, about
    :data:`SNIPPET_SCAN` characters."""
    stems = set(query.highlight) | ({stem(query.prefix)} if query.prefix else set())
    keys = sorted((s for s in stems if s), key=len, reverse=True)
    first = None
    if keys:
        pattern = re.compile(r"\b(?:" + "|".join(map(re.escape, keys)) + ")", re.IGNORECASE)
        found = pattern.search(text)
        first = found.start() if found else None
    begin = 0 if first is None else max(0, first - SNIPPET_SCAN // 4)
    end = min(len(text), begin + SNIPPET_SCAN)
    if first is not None and begin:
        space = text.find(" ", begin, first)
        begin = space + 1 if space >= 0 else begin
    if end < len(text):
        space = text.rfind(" ", begin, end)
        end = space if space > begin else end
    return begin, end


def _best_stretch(text: str, query: Query, size: int) -> str:
    spans = [(m.start(), m.end(), matches(fold(m.group()), query)) for m in _WORD.finditer(text)]
    if not spans:
        return ""
    sums = [0]
    for _, _, hit in spans:
        sums.append(sums[-1] + hit)
    starts = range(max(1, len(spans) - size + 1))
    best = max(
        starts, key=lambda start: (sums[min(start + size, len(spans))] - sums[start], -start)
    )
    # Open a little before the first match, so it reads as a sentence.
    first = next((i for i in range(best, min(len(spans), best + size)) if spans[i][2]), best)
    best = max(0, min(best, first - 3))
    chosen = spans[best : best + size]
    begin, end = chosen[0][0] if best else 0, chosen[-1][1]
    out = [] if best == 0 else ["… "]
    cursor = begin
    for start, stop, hit in chosen:
        if hit:
            out.append(html.escape(text[cursor:start]))
            out.append(f"<mark>{html.escape(text[start:stop])}</mark>")
            cursor = stop
    if best + size < len(spans):
        out.append(html.escape(text[cursor:end]) + " …")
    else:
        out.append(html.escape(text[cursor:]).rstrip())
    return "".join(out)
