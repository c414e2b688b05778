"""Security middleware: CSRF on every unsafe request, and response headers.

CSRF: a per-session token (``collab.web.csrf_token``) must come back with
every POST/PUT/PATCH/DELETE, either in the ``X-CSRF-Token`` header (htmx sends
it on every request, see ``templates/base.html``) or in the ``csrf_token``
form field of the body. Never in the URL: a query string ends up in access
logs and proxies' histories, so one there is ignored. Multipart bodies are
never buffered (uploads stream): for them the middleware reads only the
leading text parts, at most :data:`MULTIPART_PREFIX` bytes and never into a
file, looking for the token (upload forms send it as their first field), and
hands what it read on to the app untouched. A cross-origin ``Origin`` header
is refused outright.
"""

from __future__ import annotations

import secrets
from urllib.parse import parse_qs, urlsplit

from python_multipart.multipart import parse_options_header
from starlette.datastructures import Headers, MutableHeaders
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from collab.cookies import SESSION_COOKIE
from collab.i18n import N_, translations
from collab.sessions import SCOPE_KEY
from collab.web import (
    CSRF_SESSION_KEY,
    MAX_FORM_BYTES,
    error_response,
    is_htmx,
    locale_of,
    login_url,
)

__all__ = ["CSRFMiddleware", "SecurityHeadersMiddleware"]

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
CSRF_FAILED = N_(
    "Your session has expired or the form is no longer valid. Reload the page and try again."
)


class _TooLarge(Exception):
    pass


async def _read_body(receive: Receive) -> tuple[bytes, list[Message]]:
    chunks: list[bytes] = []
    messages: list[Message] = []
    size = 0
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_FORM_BYTES:
            raise _TooLarge()
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks), messages


# How far into a multipart body the token is looked for: ample for the text
# fields an upload form puts before it, far from a file's worth.
MULTIPART_PREFIX = 16 * 1024
_MORE = ""  # the prefix read so far ends before the answer (no token is empty)


def _multipart_token(prefix: bytes, boundary: bytes) -> str | None:
    """The ``csrf_token`` field among the leading text parts of ``prefix``:
    the token, None (absent before a file part, or not multipart as announced),
    or ``_MORE`` when more of the body is needed to tell."""
    delimiter = b"--" + boundary
    if not prefix.startswith(delimiter):
        return _MORE if len(prefix) < len(delimiter) and delimiter.startswith(prefix) else None
    at = len(delimiter)
    while True:
        if prefix[at : at + 2] != b"\r\n":
            return _MORE if len(prefix) < at + 2 else None  # "--": the body's end
        head_end = prefix.find(b"\r\n\r\n", at + 2)
        if head_end < 0:
            return _MORE
        name, is_file = None, False
        for line in prefix[at + 2 : head_end].split(b"\r\n"):
            key, _, value = line.partition(b":")
            if key.strip().lower() == b"content-disposition":
                _, options = parse_options_header(value.strip())
                name, is_file = options.get(b"name"), b"filename" in options
        if is_file:
            return None  # the token comes before any file, or not at all
        end = prefix.find(b"\r\n" + delimiter, head_end + 4)
        if end < 0:
            return _MORE
        if name == b"csrf_token":
            return prefix[head_end + 4 : end].decode("latin-1")
        at = end + 2 + len(delimiter)


async def _read_multipart_token(
    receive: Receive, boundary: bytes
) -> tuple[str | None, list[Message]]:
    """Receive just enough of the body to find its token; the messages, for replay."""
    prefix = b""
    messages: list[Message] = []
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            return None, messages
        prefix += message.get("body", b"")[: MULTIPART_PREFIX + 1 - len(prefix)]
        found = _multipart_token(prefix[:MULTIPART_PREFIX], boundary)
        if found != _MORE:
            return found, messages
        if len(prefix) >= MULTIPART_PREFIX or not message.get("more_body", False):
            return None, messages


def _session_ended(scope: Scope) -> bool:
    """The request's cookie names a session that is no more (ended, expired)."""
    current = scope.get(SCOPE_KEY)
    named = bool(Request(scope).cookies.get(SESSION_COOKIE))
    return named and current is not None and current.key is None


def _same_origin(headers: Headers, scope: Scope) -> bool:
    origin = headers.get("origin")
    if not origin or origin == "null":
        return origin is None
    host = headers.get("host", "")
    return urlsplit(origin).netloc == host


# Posted by mail clients without a session: one-click unsubscribe (RFC 8058).
# The signed token in the path is what authorizes it, and all it can do is
# stop e-mail of one kind to one person.
CSRF_EXEMPT_PREFIXES = ("/unsubscribe/",)


class CSRFMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] in SAFE_METHODS
            or scope["path"].startswith(CSRF_EXEMPT_PREFIXES)
        ):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        expected = scope.get("session", {}).get(CSRF_SESSION_KEY)
        token = headers.get("x-csrf-token")
        replay: list[Message] = []
        content_type = headers.get("content-type", "")
        if content_type.startswith("application/x-www-form-urlencoded"):
            # Url-encoded forms are small: buffer them whichever way the token
            # comes, so an oversized one is refused (413) even when chunked.
            try:
                body, replay = await _read_body(receive)
            except _TooLarge:
                await self._reject(scope, send, 413)
                return
            if token is None:
                values = parse_qs(body.decode("latin-1")).get("csrf_token")
                token = values[0] if values else None
        elif token is None and content_type.lower().startswith("multipart/form-data"):
            boundary = parse_options_header(content_type)[1].get(b"boundary")
            if boundary:
                token, replay = await _read_multipart_token(receive, boundary)
        valid = (
            isinstance(expected, str)
            and isinstance(token, str)
            and secrets.compare_digest(expected.encode(), token.encode())
            and _same_origin(headers, scope)
        )
        if not valid:
            if _session_ended(scope) and _same_origin(headers, scope):
                # The form was sent from a page whose session has ended since
                # (logout elsewhere, a password change, deactivation): its
                # token ended with it. Log in again, as for any page.
                await self._to_login(scope, receive, send)
                return
            await self._reject(scope, send, 403)
            return
        if replay:
            pending = list(replay)

            async def replay_receive() -> Message:
                if pending:
                    return pending.pop(0)
                return await receive()

            await self.app(scope, replay_receive, send)
        else:
            await self.app(scope, receive, send)

    async def _to_login(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        response: Response
        if is_htmx(request):
            response = Response(status_code=401, headers={"HX-Redirect": login_url(request)})
        else:
            response = RedirectResponse(login_url(request), status_code=303)
        await response(scope, receive, send)

    async def _reject(self, scope: Scope, send: Send, status: int) -> None:
        request = Request(scope)
        message = None
        if status == 403:
            message = translations(locale_of(request)).gettext(CSRF_FAILED)
        response = await error_response(request, status, message)
        await response(scope, _noop_receive, send)


async def _noop_receive() -> Message:
    return {"type": "http.disconnect"}


# Images only from collab itself: a remote image in a post would tell its host
# the IP address of every reader (collab.markup turns one into a link).
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; "
    "frame-ancestors 'none'; base-uri 'self'; form-action 'self'; object-src 'none'"
)


class SecurityHeadersMiddleware:
    """Adds the headers every response should carry."""

    def __init__(self, app: ASGIApp, hsts: bool = False) -> None:
        self.app = app
        self.hsts = hsts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("X-Content-Type-Options", "nosniff")
                headers.setdefault("X-Frame-Options", "DENY")
                headers.setdefault("Referrer-Policy", "same-origin")
                headers.setdefault("Content-Security-Policy", CSP)
                if self.hsts:
                    headers.setdefault("Strict-Transport-Security", "max-age=31536000")
            await send(message)

        await self.app(scope, receive, send_with_headers)
