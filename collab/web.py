"""Request helpers shared by every route module: user, locale, render, redirect.

This is the only place that turns templates and domain errors into responses.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlsplit

from starlette.convertors import Convertor, register_url_convertor
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import HTTPConnection, Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.types import Message

from collab import sessions
from collab.bounds import check_date
from collab.cookies import LANG_COOKIE
from collab.db import Database, UnitOfWork
from collab.errors import ActionError
from collab.i18n import LOCALES, N_, translations
from collab.models import User
from collab.permissions import Action, can
from collab.services import services
from collab.settings import Settings
from collab.templating import ROME

__all__ = [
    "ERROR_TITLES",
    "LoginRequired",
    "attempt",
    "csrf_token",
    "current_user",
    "db",
    "error_response",
    "field",
    "form",
    "is_htmx",
    "locale_of",
    "login_url",
    "page_number",
    "redirect",
    "register_convertors",
    "render",
    "require_user",
    "rome_to_utc",
    "safe_next",
    "session_key",
    "session_uid",
    "settings",
    "translate",
    "unavailable_response",
    "upload_form",
]

CSRF_SESSION_KEY = "csrf"
MAX_FORM_BYTES = 256 * 1024


class IdConvertor(Convertor[int]):
    """``{name:id}`` in a route: a database id (or zone number) of at most 9 digits.

    Ids are INTEGER columns: PostgreSQL refuses a parameter above 2**31 - 1
    (and SQLite one above 2**63 - 1) with an error, so a longer number in a URL
    would be a 500 instead of a 404. Such a URL matches no route at all.
    """

    regex = "[0-9]{1,9}"

    def convert(self, value: str) -> int:
        return int(value)

    def to_string(self, value: int) -> str:
        return str(int(value))


def register_convertors() -> None:
    """Make ``{name:id}`` known to route paths (``create_app`` calls this
    before it builds the routes; idempotent)."""
    register_url_convertor("id", IdConvertor())


class LoginRequired(Exception):
    """The request needs a logged-in user; answered with a redirect to /login."""


def db(conn: HTTPConnection) -> Database:
    return services(conn).db


def settings(conn: HTTPConnection) -> Settings:
    return services(conn).settings


def is_htmx(request: HTTPConnection) -> bool:
    return request.headers.get("hx-request") == "true"


def locale_of(conn: HTTPConnection) -> str:
    chosen = conn.cookies.get(LANG_COOKIE)
    if chosen in LOCALES:
        return chosen
    return settings(conn).default_locale


def translate(conn: HTTPConnection, error: ActionError) -> str:
    text = translations(locale_of(conn)).gettext(error.message)
    return text % error.params if error.params else text


def csrf_token(conn: HTTPConnection) -> str:
    """The session's CSRF token, created on first use ("" outside a session)."""
    if "session" not in conn.scope:
        return ""
    token = conn.session.get(CSRF_SESSION_KEY)
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        conn.session[CSRF_SESSION_KEY] = token
    return token


async def session_uid(conn: HTTPConnection) -> int | None:
    """The user the session names (who may still turn out not to be valid).

    A request's session was read with it; a socket's is read here (see
    :mod:`collab.session_cookie`).
    """
    found = conn.scope.get(sessions.SCOPE_KEY)
    if not isinstance(found, sessions.Current):
        return None
    if conn.scope["type"] == "websocket" and found.key is not None:
        again = await sessions.reload(db(conn), found.key, settings(conn).session_max_age)
        return again.user_id if again is not None else None
    return found.user_id


def session_key(conn: HTTPConnection) -> str | None:
    """The id of the session row the cookie names (not yet checked), or None."""
    found = conn.scope.get(sessions.SCOPE_KEY)
    return found.key if isinstance(found, sessions.Current) else None


async def current_user(conn: HTTPConnection) -> User | None:
    """The logged-in, active user, or None. Loaded once per request.

    A request's comes with its session (:mod:`collab.session_cookie` read
    both in one query); a socket reads its session again at each check,
    since logout, a password change or a deactivation may end it while the
    socket stays open.
    """
    if hasattr(conn.state, "user"):
        cached: User | None = conn.state.user
        return cached
    found = conn.scope.get(sessions.SCOPE_KEY)
    user = None
    if isinstance(found, sessions.Current) and found.key is not None:
        if conn.scope["type"] == "websocket":
            again = await sessions.reload(db(conn), found.key, settings(conn).session_max_age)
            user = again.user if again is not None else None
        else:
            user = found.user
    conn.state.user = user
    return user


async def require_user(conn: HTTPConnection) -> User:
    user = await current_user(conn)
    if user is None:
        raise LoginRequired()
    return user


async def form(request: Request, max_fields: int = 100) -> FormData:
    """The submitted form; a body that is too large is refused (413), one with
    more than ``max_fields`` fields too (400: a form with rows raises it)."""
    length = request.headers.get("content-length")
    if length and length.isascii() and length.isdigit() and int(length) > MAX_FORM_BYTES:
        raise HTTPException(413)
    return await request.form(max_files=0, max_fields=max_fields, max_part_size=MAX_FORM_BYTES)


async def upload_form(request: Request, max_bytes: int) -> FormData:
    """A multipart form with one file, its whole body at most ``max_bytes`` (else 413).

    The body is read with that bound before it is parsed, so neither a lying
    ``Content-Length`` nor a chunked upload can make the server spool more.
    The CSRF middleware has found the token in the header or in the body's
    first field (never in the URL). The caller closes the form
    (``await data.close()``) to drop the spooled file.
    """
    length = request.headers.get("content-length")
    if length and length.isascii() and length.isdigit() and int(length) > max_bytes:
        raise HTTPException(413)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            raise HTTPException(413)
        chunks.append(chunk)
    body = b"".join(chunks)
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return await Request(request.scope, replay).form(
        max_files=1, max_fields=20, max_part_size=MAX_FORM_BYTES
    )


def field(data: FormData, name: str) -> str:
    value = data.get(name, "")
    # NUL never means anything in a form, and PostgreSQL refuses it in text
    # columns (the write would fail with a 500): drop it at the door.
    return value.replace("\x00", "") if isinstance(value, str) else ""


def rome_to_utc(raw: str, field_name: str) -> datetime | None:
    """A ``datetime-local`` value read as Turin's wall time, in UTC (None when empty)."""
    raw = raw.strip()
    if not raw:
        return None
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is not None or "T" not in raw:
        raise ActionError(
            N_("Give the date and time as day, month, year, hours and minutes."),
            field=field_name,
        )
    # Before the conversion: a year-1 wall time has no UTC equivalent.
    check_date(moment.date(), field_name)
    return moment.replace(tzinfo=ROME).astimezone(UTC)


# For a page whose URL holds a secret (a reset or confirmation link, a public
# meeting link, an unsubscribe link): the token does not leave the site in a
# Referer. Not "no-referrer": with it browsers send "Origin: null" on the
# page's own form posts, which the CSRF check rightly refuses as cross-origin.
SECRET_URL_HEADERS = {"Referrer-Policy": "same-origin"}


def page_number(request: Request) -> int:
    raw = request.query_params.get("page", "1")
    # isascii(): str.isdigit() also says yes to "²", which int() refuses.
    return int(raw) if raw.isascii() and raw.isdigit() and 0 < len(raw) < 7 else 1


def safe_next(target: str | None, default: str = "/") -> str:
    """A local path to go back to; anything else (other hosts, schemes) becomes ``default``."""
    if not target:
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return default
    if "\\" in target:
        return default
    return target


def login_url(conn: HTTPConnection) -> str:
    path = conn.url.path + (f"?{conn.url.query}" if conn.url.query else "")
    return "/login?next=" + quote(path, safe="/")


async def render(
    request: HTTPConnection,
    template: str,
    context: dict[str, Any] | None = None,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    """Render a page or a partial (names starting with ``_``) for this request."""
    user = await current_user(request)
    full = {
        "request": request,
        "user": user,
        "csrf_token": csrf_token(request),
        "htmx": is_htmx(request),
        "can": lambda action, zone_id=None: can(user, Action(action), zone_id),
        "path": request.url.path,
        **(context or {}),
    }
    if user is not None and not template.rpartition("/")[2].startswith("_"):
        # A whole page: the header's parts each feature adds (the bell).
        for hook in services(request).page_hooks:
            full.update(await hook(request, user))
    html = services(request).templates.render(template, locale_of(request), full)
    return HTMLResponse(html, status_code=status_code, headers=headers)


async def attempt(
    request: HTTPConnection, write: Callable[[UnitOfWork], Awaitable[object]]
) -> dict[str, Any] | None:
    """Run ``write`` in a transaction; on bad input (422) return the form's error context.

    Any other error (403, 404, 409...) propagates to the exception handlers.
    """
    try:
        async with db(request).transaction() as uow:
            await write(uow)
    except ActionError as exc:
        if exc.status != 422:
            raise
        return {"error": translate(request, exc), "error_field": exc.field}
    return None


def redirect(request: HTTPConnection, url: str) -> Response:
    """After a successful write: 303 for a form post, ``HX-Redirect`` for htmx."""
    if is_htmx(request):
        return Response(status_code=200, headers={"HX-Redirect": url})
    return RedirectResponse(url, status_code=303)


ERROR_TITLES = {
    400: N_("Bad request"),
    403: N_("Access denied"),
    404: N_("Page not found"),
    405: N_("Method not allowed"),
    409: N_("Not possible now"),
    413: N_("Request too large"),
    415: N_("File type not accepted"),
    422: N_("Invalid data"),
    429: N_("Too many requests"),
    500: N_("Internal error"),
    503: N_("Service unavailable"),
    507: N_("Not enough disk space"),
}
ERROR_MESSAGES = {
    400: N_("The request could not be understood."),
    403: N_("You do not have permission to see or do this."),
    404: N_("The page you are looking for does not exist or has been moved."),
    405: N_("This address does not accept this kind of request."),
    413: N_("What you sent is too large."),
    415: N_("The content of the file is not one of the accepted types."),
    429: N_("Too many requests: wait a moment and try again."),
    500: N_("Something went wrong on our side. Nothing was changed; please try again."),
    503: N_(
        "The service is briefly unavailable: nothing you sent was saved. "
        "Try again in a few seconds."
    ),
}
RETRY_AFTER = 5  # seconds a client is told to wait after a 503


async def error_response(
    request: HTTPConnection, status: int, message: str | None = None
) -> HTMLResponse:
    """An Italian (or English) error page, or a fragment for htmx requests.

    ``message`` is already translated; without it the status's default is used.
    """
    gettext = translations(locale_of(request)).gettext
    title = gettext(ERROR_TITLES.get(status, ERROR_TITLES[400]))
    text = message or gettext(ERROR_MESSAGES.get(status, ERROR_MESSAGES[400]))
    if is_htmx(request):
        # Shown in the page's alert area whatever element made the request.
        return await render(
            request,
            "errors/_alert.html",
            {"title": title, "message": text},
            status_code=status,
            headers={"HX-Retarget": "#alerts", "HX-Reswap": "innerHTML"},
        )
    return await render(
        request, "errors/error.html", {"title": title, "message": text, "status": status},
        status_code=status,
    )  # fmt: skip


async def unavailable_response(request: HTTPConnection) -> HTMLResponse:
    """503 while the database is out of reach. The page is rendered without
    asking the database who is logged in (it would fail again): the header
    shows no user for this one answer."""
    if not hasattr(request.state, "user"):
        request.state.user = None
    response = await error_response(request, 503)
    response.headers["Retry-After"] = str(RETRY_AFTER)
    return response
