"""What the fuzz suite sends: one :class:`Spec` per unsafe route, and the
strategy that turns a route into a hostile request.

Every POST route of the app must have a spec here: ``test_fuzz.py`` walks
``app.routes`` and fails on a route without one, so a new form is fuzzed from
the day it is added. A spec names the fields the handler reads; the kind of
each field (a date, a number, a choice) is told by its name in ``KINDS``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote_from_bytes

from hypothesis import strategies as st

from tests.fuzz import values as v

__all__ = ["CSRF_PLACEHOLDER", "SPECS", "Probe", "Spec", "World", "probes"]

ROLE_WORDS = ("sindaco", "tecnico", "portavoce", "staff", "admin")
STATUS_WORDS = ("received", "under_review", "accepted", "partly_accepted", "rejected")
CHOICE_WORDS = ("favorevole", "contrario", "astenuto", "non_partecipa")
MODE_WORDS = ("immediately", "digest", "app", "never")
NOTIFICATION_KINDS = (
    "meeting_convened", "meeting_changed", "meeting_cancelled", "meeting_soon", "vote_opened",
    "verbale_published", "consultation_opened", "consultation_deadline",
    "contribution_answered", "reply", "mention",
)  # fmt: skip
ITEM_FIELDS = tuple(f"item-{n}-{k}" for n in range(3) for k in ("title", "theme", "minutes"))
MATERIAL_FIELDS = tuple(f"material-{n}-{k}" for n in range(2) for k in ("title", "url"))
CONVENE = ("title", "description", "zones", "starts_at", "place", "video_url", "quorum",
           "public", "secretary", *ITEM_FIELDS, *MATERIAL_FIELDS, "body", "chair",
           "vice_chair", "session_number", "session_type", "call", "notice_date",
           "notice_protocol")  # fmt: skip
BODY = ("name", "kind", "zones", "members", "counting", "majority", "majority_num",
        "majority_den", "majority_of_members", "quorum_num", "quorum_den", "quorum_above",
        "second_call_quorum_num", "second_call_quorum_den", "second_call_quorum_above",
        "show_theme", "active")  # fmt: skip
LEGAL = ("body_it", "body_en", "version", "conformity", "drafted_on", "reviewed_on",
         "assessment", "feedback_email", "feedback_url", "agid_url")  # fmt: skip

# A field's kind by its name; any other field is free text.
KINDS: dict[str, st.SearchStrategy[bytes]] = {
    "starts_at": v.datetime_values(),
    "deadline": v.datetime_values(),
    "drafted_on": v.date_values(),
    "reviewed_on": v.date_values(),
    "notice_date": v.date_values(),
    **dict.fromkeys(
        (
            "zones",
            "themes",
            "keep",
            "quorum",
            "item_id",
            "comune_id",
            "zone",
            "comune",
            "post",
            "version",
            "item-0-theme",
            "item-1-theme",
            "item-2-theme",
            "item-0-minutes",
            "item-1-minutes",
            "item-2-minutes",
            "body",
            "session_number",
            "call",
            "majority_num",
            "majority_den",
            "quorum_num",
            "quorum_den",
            "second_call_quorum_num",
            "second_call_quorum_den",
        ),
        v.number_values(),
    ),
    "kind": v.enum_values("comuni", "people"),
    "counting": v.enum_values("abstainers_vote", "abstainers_apart"),
    "majority": v.enum_values("simple", "absolute", "qualified", "double"),
    "session_type": v.enum_values("ordinaria", "straordinaria"),
    "method": v.enum_values("appello_nominale", "elettronico", "segreto"),
    "role": v.enum_values(*ROLE_WORDS),
    "status": v.enum_values(*STATUS_WORDS),
    "choice": v.enum_values(*CHOICE_WORDS),
    "direction": v.enum_values("up", "down"),
    "action": v.enum_values("preview", "save", "reset"),  # a body's verbale template
    "lang": v.enum_values("it", "en"),
    "level": v.enum_values("all", "mentions", "none", "follow", "mute"),
    "follow": v.enum_values("1", "0", "on", "off"),
    **dict.fromkeys(
        (
            "active",
            "public",
            "secret",
            "value",
            "publish_names",
            "confirmed",
            "without_quorum",
            "majority_of_members",
            "quorum_above",
            "second_call_quorum_above",
            "show_theme",
        ),
        v.enum_values("1"),
    ),
    **dict.fromkeys(NOTIFICATION_KINDS, v.enum_values(*MODE_WORDS)),
    "List-Unsubscribe": v.enum_values("One-Click"),
    "email": st.one_of(
        st.sampled_from([b"sindaco.susa@demo.collab.it", b"nobody@example.org", b"a@b", b"@"]),
        v.text_values(),
    ),
}


@dataclass(frozen=True)
class Spec:
    """How to fuzz one unsafe route.

    ``body``: "form" (url-encoded), "upload" (multipart with ``files``) or
    "message" (either: a new thread or a reply). ``as_anonymous``: the route
    is for people who are not logged in, or would end the fuzzing client's
    session (logout): it runs with a client of its own. ``last``: the route
    changes the world the other routes need (closes the meeting, moves a
    comune): it is fuzzed after them.
    """

    fields: tuple[str, ...] = ()
    body: str = "form"
    files: tuple[str, ...] = ()
    as_anonymous: bool = False
    last: bool = False


SPECS: dict[str, Spec] = {
    "/login": Spec(("email", "password", "next"), as_anonymous=True),
    "/logout": Spec(as_anonymous=True),
    "/account/password": Spec(("current", "new", "confirm")),
    "/password/forgot": Spec(("email",), as_anonymous=True),
    "/password/reset/{token}": Spec(("new", "confirm"), as_anonymous=True),
    "/language": Spec(("lang", "next")),
    "/account/email": Spec(("email", "password")),
    "/account/email/confirm/{token}": Spec(),
    "/account/sessions/end": Spec(("session",), last=True),
    "/account/sessions/end-others": Spec(last=True),
    "/meetings/new": Spec(CONVENE),
    "/meetings/{id:id}/edit": Spec(CONVENE),
    "/meetings/{id:id}/open": Spec(last=True),
    "/meetings/{id:id}/cancel": Spec(("confirmed",), last=True),
    "/meetings/{id:id}/close": Spec(("confirmed",), last=True),
    "/meetings/{id:id}/item": Spec(("item_id",)),
    "/meetings/{id:id}/public": Spec(("value",)),
    "/meetings/{id:id}/checkin": Spec(("comune_id",)),
    "/meetings/{id:id}/guest": Spec(),
    "/meetings/{id:id}/checkout": Spec(),
    "/meetings/{id:id}/delegate": Spec(("email",)),
    "/meetings/{id:id}/hand": Spec(),
    "/meetings/{id:id}/hand/withdraw": Spec(),
    "/meetings/{id:id}/floor/{request_id:id}/grant": Spec(),
    "/meetings/{id:id}/floor/end": Spec(),
    "/meetings/{id:id}/items/{item_id:id}/notes": Spec(("notes",)),
    "/meetings/{id:id}/votes": Spec(
        ("motion", "point", "secret", "text", "method", "without_quorum")
    ),
    "/meetings/{id:id}/votes/{vote_id:id}/ballot": Spec(("choice",)),
    "/meetings/{id:id}/votes/{vote_id:id}/close": Spec(("confirmed",), last=True),
    "/account/calendar": Spec(),
    "/account/calendar/revoke": Spec(),
    "/meetings/{id:id}/verbale": Spec(("source",)),
    "/meetings/{id:id}/verbale/publish": Spec(("confirmed",)),
    "/meetings/{id:id}/verbale/signed": Spec(body="upload", files=("signed",)),
    "/meetings/{id:id}/items/{item:id}/files": Spec(body="upload", files=("files",)),
    "/metro/{theme:str}/new": Spec(("title", "body"), body="message", files=("files",)),
    "/metro/{theme:str}/follow": Spec(("follow",)),
    "/zones/{number:id}/{theme:str}/new": Spec(("title", "body"), body="message", files=("files",)),
    "/zones/{number:id}/{theme:str}/follow": Spec(("follow",)),
    "/threads/{id:id}/reply": Spec(("body",), body="message", files=("files",)),
    "/threads/{id:id}/pin": Spec(("value",)),
    "/threads/{id:id}/close": Spec(("value",)),
    "/threads/{id:id}/read": Spec(("post",)),
    "/threads/{id:id}/follow": Spec(("level",)),
    "/posts/{id:id}/edit": Spec(("body",)),
    "/posts/{id:id}/delete": Spec(),
    "/posts/{id:id}/hide": Spec(("reason",)),
    "/posts/{id:id}/restore": Spec(),
    "/admin/users/new": Spec(("email", "name", "role", "comune", "password")),
    "/admin/users/{id:id}": Spec(("role", "comune", "active"), last=True),
    "/admin/themes": Spec(("name", "name_en", "slug")),
    "/admin/themes/{id:id}": Spec(("name", "name_en", "slug"), last=True),
    "/admin/themes/{id:id}/move": Spec(("direction",)),
    "/admin/themes/{id:id}/active": Spec(("active",), last=True),
    "/admin/comuni/import": Spec(body="upload", files=("file",), last=True),
    "/admin/comuni/{id:id}": Spec(("name", "zone", "population"), last=True),
    "/admin/zones/{number:id}": Spec(("name", "name_en")),
    "/admin/bodies/{id:id}/verbale": Spec(("action", "source")),
    "/admin/bodies/new": Spec(BODY),
    "/admin/bodies/{id:id}": Spec(BODY, last=True),
    "/admin/legal/{kind:str}": Spec(LEGAL),
    "/admin/mail/{id:id}/resend": Spec(),
    "/admin/users/{id:id}/bounce/clear": Spec(),
    "/consultations/new": Spec(
        ("title", "body", "deadline", "zones", "themes", "publish_names"),
        body="upload",
        files=("files",),
    ),
    "/consultations/{id:id}/edit": Spec(("title", "body", "themes")),
    "/consultations/{id:id}/extend": Spec(("deadline",)),
    "/consultations/{id:id}/drafts": Spec(body="upload", files=("files",)),
    "/consultations/{id:id}/delegate": Spec(("email",)),
    "/consultations/{id:id}/contributions": Spec(("body",), body="upload", files=("files",)),
    "/contributions/{id:id}/edit": Spec(("body", "keep"), body="upload", files=("files",)),
    "/contributions/{id:id}/status": Spec(("status", "answer")),
    "/library/{theme:str}/new": Spec(("title", "description"), body="upload", files=("file",)),
    "/library/{theme:str}/follow": Spec(("follow",)),
    "/documents/{id:id}/versions": Spec(("note",), body="upload", files=("file",)),
    "/notifications/read-all": Spec(),
    "/notifications/{id:id}/read": Spec(),
    "/account/notifications": Spec(NOTIFICATION_KINDS),
    "/unsubscribe/{token:str}": Spec(("List-Unsubscribe",), as_anonymous=True),
}

# Query parameters the GET pages read.
QUERY_FIELDS = ("page", "q", "status", "version", "saved", "show", "next", "zone", "theme",
                "what", "error", "reset")  # fmt: skip


@dataclass(frozen=True)
class World:
    """Names the app knows, so that some paths reach real objects."""

    slugs: tuple[str, ...]  # theme slugs
    kinds: tuple[str, ...]  # legal page kinds
    tokens: tuple[str, ...]  # public meeting links and the like
    protected: frozenset[int] = frozenset()  # user ids the fuzzing clients log in as
    # Real ids: by the segment before an {id} ("meetings", "users"), else by
    # the parameter's name ("item_id", "vote_id", "number").
    ids: dict[str, tuple[int, ...]] = field(default_factory=dict)


@dataclass
class Probe:
    """One request: who sends it, and its bytes."""

    who: str
    method: str
    url: str
    headers: dict[str, str] = field(default_factory=dict)
    content: bytes | None = None
    # Where the CSRF token goes: "header", "field" (url-encoded, first),
    # "part" (multipart: CSRF_PLACEHOLDER in the body), "query" or "none".
    csrf: str = "header"

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(repr(self))  # hypothesis prints a failing example so, shortened

    def __repr__(self) -> str:
        body = self.content if self.content is None or len(self.content) < 400 else (
            self.content[:400] + b"...(%d bytes)" % len(self.content)
        )  # fmt: skip
        url = self.url if len(self.url) < 300 else f"{self.url[:300]}...({len(self.url)} chars)"
        return f"Probe({self.who}, {self.method} {url}, {self.headers}, {body!r}, {self.csrf})"


CSRF_PLACEHOLDER = b"csrf-token-goes-here"

_PARAM = re.compile(r"\{(\w+)(?::(\w+))?\}")


def _path_value(
    name: str, convertor: str | None, world: World, section: str
) -> st.SearchStrategy[str]:
    if convertor == "id":
        key = section if name == "id" else name
        real = world.ids.get(key, ())
        odd = st.one_of(st.integers(min_value=1, max_value=40), st.sampled_from([0, 999_999_999]))
        if key == "users":
            # Leave alone the accounts the clients are logged in as (a
            # deactivated mayor would turn every later request into a redirect).
            real = tuple(n for n in real if n not in world.protected)
            odd = odd.filter(lambda n: n not in world.protected)
        ids = st.one_of(st.sampled_from(real), st.sampled_from(real), odd) if real else odd
        return ids.map(str)
    names = {"theme": world.slugs, "kind": world.kinds, "token": world.tokens}.get(name, ())
    # Cut to a length a client can send (httpx refuses URLs past 64 KiB).
    nasty = v.text_values().map(lambda b: quote_from_bytes(b[:1000], safe="") or "x")
    return st.one_of(st.sampled_from(names), nasty) if names else nasty


def paths(path: str, world: World) -> st.SearchStrategy[str]:
    """The route's path with each parameter filled in, often with a real object."""
    parts = _PARAM.split(path)
    # split gives [text, name, convertor, text, name, convertor, ..., text]
    pieces: list[st.SearchStrategy[str]] = []
    for i in range(0, len(parts), 3):
        pieces.append(st.just(parts[i]))
        if i + 1 < len(parts):
            # An {id} is named by the segment before it: /meetings/{id}, /admin/users/{id}.
            section = parts[i].rstrip("/").rsplit("/", 1)[-1]
            pieces.append(_path_value(parts[i + 1], parts[i + 2], world, section))
    return st.tuples(*pieces).map("".join)


def _fields(names: tuple[str, ...]) -> st.SearchStrategy[list[tuple[bytes, bytes]]]:
    """Each field present once (often), missing, or twice; sometimes an unknown one."""

    def one(name: str) -> st.SearchStrategy[list[tuple[bytes, bytes]]]:
        value = KINDS.get(name, v.text_values())
        key = name.encode()
        return st.one_of(
            st.builds(lambda x: [(key, x)], value),
            st.builds(lambda x: [(key, x)], value),
            st.just([]),
            st.builds(lambda x, y: [(key, x), (key, y)], value, value),
        )

    extra = st.lists(st.tuples(v.text_values(), v.text_values()), max_size=2)
    return st.tuples(*(one(n) for n in names), extra).map(
        lambda groups: [pair for group in groups for pair in group]
    )


def _urlencoded(pairs: list[tuple[bytes, bytes]]) -> bytes:
    return "&".join(
        f"{quote_from_bytes(k, safe='')}={quote_from_bytes(x, safe='')}" for k, x in pairs
    ).encode()


_BOUNDARY = "fuzzboundary7MA4YWxkTrZu0gW"


def _multipart(
    pairs: list[tuple[bytes, bytes]], files: list[tuple[bytes, bytes, bytes, bytes]]
) -> bytes:
    out = []
    for key, value in pairs:
        out.append(b"--%s\r\nContent-Disposition: form-data; name=\"%s\"\r\n\r\n%s\r\n" % (
            _BOUNDARY.encode(), key.replace(b'"', b""), value))  # fmt: skip
    for key, name, kind, data in files:
        out.append(
            b'--%s\r\nContent-Disposition: form-data; name="%s"; filename="%s"\r\n'
            b"Content-Type: %s\r\n\r\n%s\r\n"
            % (_BOUNDARY.encode(), key, name.replace(b'"', b"").replace(b"\r\n", b""), kind, data)
        )
    return b"".join(out) + b"--%s--\r\n" % _BOUNDARY.encode()


def _file_parts(
    names: tuple[str, ...],
) -> st.SearchStrategy[list[tuple[bytes, bytes, bytes, bytes]]]:
    if not names:
        return st.just([])
    part = st.tuples(
        st.sampled_from([n.encode() for n in names]),
        st.one_of(st.sampled_from([b"a.pdf", b"", b"..", b"x.exe", b"delibera.docx"]),
                  v.text_values().map(lambda b: b[:300])),
        st.sampled_from([b"application/pdf", b"text/plain", b"text/csv", b"image/png",
                         b"application/octet-stream", b"\xff"]),
        st.one_of(
            st.sampled_from([b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF",
                             b"istat;nome;zona\n001191;Pinerolo;5\n", b"\x89PNG\r\n\x1a\n", b""]),
            st.binary(max_size=200),
        ),
    )  # fmt: skip
    return st.lists(part, max_size=3)


@st.composite
def _body(draw: st.DrawFn, spec: Spec) -> tuple[dict[str, str], bytes | None, str]:
    """(headers, content, where the CSRF token goes) for the spec's body."""
    pairs = draw(_fields(spec.fields))
    shapes = {"form": ["form"], "upload": ["multipart"], "message": ["form", "multipart"]}
    shape = draw(st.sampled_from([*shapes[spec.body], *shapes[spec.body], "json", "raw", "none",
                                  "wrong-type"]))  # fmt: skip
    if shape == "form":
        where = draw(st.sampled_from(["header", "field"]))
        return ({"Content-Type": "application/x-www-form-urlencoded"}, _urlencoded(pairs), where)
    if shape == "multipart":
        # Upload forms send the token as their first text part, as browsers do.
        where = draw(st.sampled_from(["part", "part", "header", "query"]))
        leading = [(b"csrf_token", CSRF_PLACEHOLDER)] if where == "part" else []
        content = _multipart(leading + pairs, draw(_file_parts(spec.files)))
        if draw(st.integers(min_value=0, max_value=5)) == 0 and len(content) > 10:
            content = content[: draw(st.integers(min_value=1, max_value=len(content) - 1))]
        boundary = draw(st.sampled_from([_BOUNDARY, _BOUNDARY, _BOUNDARY, _BOUNDARY, "", "other"]))
        kind = "multipart/form-data" + (f"; boundary={boundary}" if boundary else "")
        return {"Content-Type": kind}, content, where
    if shape == "json":
        doc = {k.decode("utf-8", "surrogateescape"): x.decode("utf-8", "surrogateescape")
               for k, x in pairs}  # fmt: skip
        content = json.dumps(draw(st.sampled_from([doc, [doc], "x", None]))).encode()
        return {"Content-Type": "application/json"}, content, "header"
    if shape == "raw":
        return {"Content-Type": "text/plain"}, draw(v.text_values()), "header"
    if shape == "wrong-type":
        # A url-encoded body that says it is something else, and the reverse.
        kind = draw(
            st.sampled_from(
                [
                    "multipart/form-data",
                    "application/xml",
                    "",
                    "application/x-www-form-urlencoded; charset=latin-1",
                ]
            )
        )
        return {"Content-Type": kind}, _urlencoded(pairs), "header"
    return {}, None, draw(st.sampled_from(["header", "none"]))


@st.composite
def probes(draw: st.DrawFn, method: str, path: str, world: World, spec: Spec | None) -> Probe:
    """A hostile request to one route, sent by one of the logged-in clients."""
    if spec and spec.as_anonymous:
        who = "anonymous"
    elif path.startswith("/admin"):
        who = draw(st.sampled_from(["admin", "admin", "admin", "staff", "mayor"]))
    else:
        who = draw(st.sampled_from(["admin", "staff", "staff", "mayor", "mayor", "mayor_susa"]))
    url = draw(paths(path, world))
    query = draw(st.lists(st.tuples(st.sampled_from(QUERY_FIELDS), v.number_values()), max_size=2))
    if query:
        url += "?" + _urlencoded([(k.encode(), x[:2000]) for k, x in query]).decode()
    headers = {"HX-Request": "true"} if draw(st.booleans()) else {}
    if method == "GET" or spec is None:
        return Probe(who, method, url, headers)
    extra, content, csrf = draw(_body(spec))
    return Probe(who, method, url, {**headers, **extra}, content, csrf)
