"""@mentions in posts: parse, resolve to people who may read the thread, render, notify.

Domain code: no Starlette here. The syntax is Zulip's, in the Markdown
source: ``@**Full Name|42**`` (what the autocomplete inserts) or
``@**Full Name**`` (typed by hand: resolved only when exactly one person who
may read the thread has that name). ``@Mario`` alone stays plain text: no
guessing. A mention is an inline rule of the Markdown parser, so one inside
a code span or block is code, never a mention.

A resolved mention is rendered as ``<a class="mention" href="/people/42">@Full
Name</a>`` with the person's current name; an unresolved one (unknown id,
inactive account, someone who may not read the thread) as the plain text
``@Full Name`` as typed, and it notifies no one. A post notifies at most
``limit`` of the people it links (``MENTION_LIMIT``); the others stay linked.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any

from markdown_it.common.utils import escapeHtml
from markdown_it.renderer import RendererHTML
from markdown_it.rules_inline import StateInline
from markdown_it.token import Token
from markdown_it.utils import EnvType, OptionsDict
from sqlalchemy import BindParameter, ColumnElement, Select, and_, bindparam, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from collab.db import UnitOfWork
from collab.forums.models import Post, Thread
from collab.forums.queries import post_position
from collab.markup import markdown_parser, sanitize_html
from collab.models import Comune, Role, User
from collab.notifications.actions import notify
from collab.notifications.kinds import Kind
from collab.permissions import TABLE, Action, Relation

__all__ = [
    "DEFAULT_LIMIT",
    "Mention",
    "Person",
    "Rendered",
    "beyond_limit",
    "linked_people",
    "match_name",
    "notify_mentions",
    "parse_mentions",
    "plain_text",
    "post_url",
    "readers",
    "readers_among",
    "render_post",
    "suggest",
]

#: The default of ``MENTION_LIMIT`` (collab.settings), for callers without settings.
DEFAULT_LIMIT = 30
SUGGESTIONS = 8  # people the autocomplete offers at once
CHUNK = 500  # ids per IN (...)

# After "@**": a name (no "*", "|" or line break) and an optional "|id".
_MENTION = re.compile(r"\*\*([^*|\n]{1,120}?)(?:\|(\d{1,9}))?\*\*")


@dataclass(frozen=True)
class Mention:
    """One ``@**...**`` of a source, as typed."""

    name: str
    user_id: int | None


@dataclass(frozen=True)
class Person:
    """Someone who may read a thread, as the autocomplete and the renderer show them."""

    id: int
    name: str
    role: Role
    comune: str | None  # None: CMTo

    @property
    def syntax(self) -> str:
        """What the autocomplete inserts to mention them."""
        name = " ".join(re.sub(r"[*|]", " ", self.name).split())
        return f"@**{name}|{self.id}**"


@dataclass
class Rendered:
    """A post's safe HTML and the people it links, in order of first mention."""

    html: str
    linked: list[int] = field(default_factory=list)


# --- parsing ------------------------------------------------------------------


def _mention_rule(state: StateInline, silent: bool) -> bool:
    pos = state.pos
    if state.src[pos] != "@" or state.linkLevel > 0:  # no link inside a link's text
        return False
    if pos > 0 and (state.src[pos - 1].isalnum() or state.src[pos - 1] == "_"):
        return False  # an address (name@**x**), not a mention
    match = _MENTION.match(state.src, pos + 1)
    if match is None or not match[1].strip():
        return False
    if not silent:
        token = state.push("mention", "", 0)
        token.meta = {"name": " ".join(match[1].split()), "id": int(match[2] or 0) or None}
    state.pos = match.end()
    return True


def _render_mention(
    renderer: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
) -> str:
    meta = tokens[idx].meta
    person = env["resolve"](Mention(meta["name"], meta["id"])) if "resolve" in env else None
    if person is None:
        return escapeHtml("@" + meta["name"])
    if person.id not in env["linked"]:
        env["linked"].append(person.id)
    return f'<a class="mention" href="/people/{person.id}">{escapeHtml("@" + person.name)}</a>'


_md = markdown_parser()
_md.inline.ruler.before("emphasis", "mention", _mention_rule)
_md.add_render_rule("mention", _render_mention)


def parse_mentions(source: str) -> list[Mention]:
    """The mentions of ``source`` in order (none from code spans or blocks)."""
    return _mentions_in(_md.parse(source))


def _mentions_in(tokens: Sequence[Token]) -> list[Mention]:
    found: list[Mention] = []
    for token in tokens:
        for child in token.children or ():
            if child.type == "mention":
                found.append(Mention(child.meta["name"], child.meta["id"]))
    return found


# --- who may read a thread --------------------------------------------------------


def _roles(relation: Relation) -> list[Role]:
    return [role for role, allowed in TABLE[Action.READ].items() if relation in allowed]


def _may_read(metro: bool) -> ColumnElement[bool]:
    """``collab.permissions.can(user, READ, zone_id)`` as SQL on ``User`` outer-joined
    to its ``Comune``, for a metropolitan thread or one of zone ``:zone_id``:
    the same table, with ``relation`` spelled as columns."""
    if metro:
        return User.role.in_(_roles(Relation.METRO))
    zone_id: BindParameter[int] = bindparam("zone_id")
    own = and_(User.role.in_(_roles(Relation.OWN_ZONE)), Comune.zone_id == zone_id)
    other = and_(
        User.role.in_(_roles(Relation.OTHER_ZONE)),
        or_(User.comune_id.is_(None), Comune.zone_id != zone_id),
    )
    return or_(own, other)


def _readers(metro: bool, some: bool) -> Select[int, str, Role, str | None]:
    stmt = (
        select(User.id, User.name, User.role, Comune.name)
        .select_from(User)
        .outerjoin(Comune, User.comune_id == Comune.id)
        .where(User.active, _may_read(metro))
        .order_by(User.id)
    )
    return stmt.where(User.id.in_(bindparam("ids", expanding=True))) if some else stmt


def readers_among(metro: bool, ids: Any) -> Select[int]:
    """The ids of the active people of ``ids`` (a query of user ids) who may
    read a thread of ``:zone_id`` (``metro``: a metropolitan one), in order:
    :func:`readers` as one statement with the query that finds them."""
    return (
        select(User.id)
        .select_from(User)
        .outerjoin(Comune, User.comune_id == Comune.id)
        .where(User.id.in_(ids), User.active, _may_read(metro))
        .order_by(User.id)
    )


# Built once per shape (metropolitan or not, some people or all): a reply asks
# this on every write, and a statement built per call costs as much again as
# running it.
_READERS = {(m, s): _readers(m, s) for m in (False, True) for s in (False, True)}


async def readers(
    session: AsyncSession, zone_id: int | None, ids: Iterable[int] | None = None
) -> list[Person]:
    """Active people who may read a thread of ``zone_id`` (None: metropolitan),
    by id; only those of ``ids`` when given."""
    metro = zone_id is None
    if ids is None:
        rows = list((await session.execute(_READERS[metro, False], {"zone_id": zone_id})).all())
    else:
        wanted, rows = sorted(set(ids)), []
        for start in range(0, len(wanted), CHUNK):
            chunk = wanted[start : start + CHUNK]
            params = {"zone_id": zone_id, "ids": chunk}
            rows += (await session.execute(_READERS[metro, True], params)).all()
    return [Person(uid, name, role, comune) for uid, name, role, comune in rows]


def fold(text: str) -> str:
    """``text`` without case and accents: "Élise D'Àmico" -> "elise d'amico"."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


_WORD_BREAK = re.compile(r"[\s\-'’.]+")


def match_name(name: str, query: str) -> bool:
    """Every word of ``query`` begins a word of ``name`` (no case, no accents)."""
    words = [w for w in _WORD_BREAK.split(fold(name)) if w]
    terms = [t for t in _WORD_BREAK.split(fold(query)) if t]
    return bool(terms) and all(any(w.startswith(t) for w in words) for t in terms)


async def suggest(
    session: AsyncSession, zone_id: int | None, query: str, exclude: int | None = None
) -> list[Person]:
    """At most :data:`SUGGESTIONS` readers of a thread of ``zone_id`` whose name
    matches ``query`` (see :func:`match_name`), by name."""
    # Accents and case are folded in Python: SQLite's lower() knows only ASCII.
    found = [
        person
        for person in await readers(session, zone_id)
        if person.id != exclude and match_name(person.name, query)
    ]
    found.sort(key=lambda person: (fold(person.name), person.id))
    return found[:SUGGESTIONS]


# --- rendering -------------------------------------------------------------------


async def _resolver(
    session: AsyncSession, zone_id: int | None, mentions: Sequence[Mention]
) -> dict[str, Any]:
    by_id = {
        p.id: p for p in await readers(session, zone_id, [m.user_id for m in mentions if m.user_id])
    }
    by_name: dict[str, list[Person]] = {}
    if any(m.user_id is None for m in mentions):
        for person in await readers(session, zone_id):
            by_name.setdefault(" ".join(person.name.casefold().split()), []).append(person)

    def resolve(mention: Mention) -> Person | None:
        if mention.user_id is not None:
            return by_id.get(mention.user_id)
        same = by_name.get(mention.name.casefold(), [])
        return same[0] if len(same) == 1 else None

    return {"resolve": resolve, "linked": []}


async def render_post(session: AsyncSession, zone_id: int | None, source: str) -> Rendered:
    """``source`` as safe HTML, its mentions of readers of ``zone_id`` linked."""
    # Parsed once: whom it mentions, then the HTML from the same tokens
    # (the parse does not depend on who the mentions resolve to).
    tokens = _md.parse(source, {})
    mentions = _mentions_in(tokens)
    env = await _resolver(session, zone_id, mentions) if mentions else {"linked": []}
    html = sanitize_html(_md.renderer.render(tokens, _md.options, env))
    return Rendered(html, env["linked"])


class _Reader(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.linked: list[int] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        href = values.get("href") or ""
        if tag == "a" and values.get("class") == "mention" and href.startswith("/people/"):
            number = href.removeprefix("/people/")
            if number.isascii() and number.isdigit() and int(number) not in self.linked:
                self.linked.append(int(number))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


@functools.lru_cache(maxsize=64)
def _read(html: str) -> tuple[tuple[int, ...], str]:
    """Whom the HTML links, and its text. Kept for the last few posts: a
    reply reads its new post's twice (its notifications' excerpt, then the
    notice of people it could not notify), and Python's HTML parser is slow."""
    reader = _Reader()
    reader.feed(html)
    reader.close()
    return tuple(reader.linked), " ".join("".join(reader.text).split())


def linked_people(html: str) -> list[int]:
    """The people a post's stored HTML mentions (links), in order, once each."""
    return list(_read(html)[0])


def plain_text(html: str) -> str:
    """A post's stored HTML as plain text (for a notification's excerpt)."""
    return _read(html)[1]


def beyond_limit(html: str, author_id: int, limit: int) -> int:
    """How many people a post links beyond those it may notify (0: none)."""
    others = [uid for uid in linked_people(html) if uid != author_id]
    return max(0, len(others) - limit)


# --- notifying ---------------------------------------------------------------------


async def post_url(session: AsyncSession, post: Post) -> str:
    """Where a post is: its page of the thread (removed posts keep their place)."""
    return f"/threads/{post.thread_id}?page={await post_position(session, post)}#post-{post.id}"


async def notify_mentions(
    uow: UnitOfWork,
    author: User,
    thread: Thread,
    post: Post,
    linked: Sequence[int],
    *,
    limit: int,
    already: Iterable[int] = (),
) -> list[int]:
    """Notify the first ``limit`` people ``post`` links (``linked``), but not
    those of ``already`` (linked by the previous version of an edited post);
    who was notified. Call it before the reply notifications: a reply that
    mentions someone is one notification to them, a mention (same ref)."""
    first = [uid for uid in linked if uid != author.id][: max(0, limit)]
    before = set(already)
    recipients = [uid for uid in first if uid not in before]
    if not recipients:
        return []
    return await notify(
        uow,
        recipients,
        Kind.MENTION,
        ref=f"post:{post.id}",
        url=await post_url(uow.session, post),
        title=thread.title,
        text=plain_text(post.html),
        actor_id=author.id,
        zone_id=thread.zone_id,
        theme_id=thread.theme_id,
        thread_id=thread.id,
    )
