"""The sessions page (``/account/sessions``): where one is logged in, and
ending a session or every other one at once. See :mod:`collab.sessions`."""

from __future__ import annotations

import re

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from collab import session_cookie, web
from collab.errors import NotFound
from collab.i18n import N_
from collab.sessions import active_sessions, do_end, do_end_sessions

__all__ = ["device", "routes"]

PAGE = "/account/sessions"
UNKNOWN_SESSION = NotFound(N_("This session has already ended."))

# Checked in order: Edge and Opera say "Chrome" too, Chrome says "Safari".
_BROWSERS = (
    ("Edge", re.compile(r"\bEdg(e|A|iOS)?/")),
    ("Opera", re.compile(r"\bOPR/|\bOpera\b")),
    ("Firefox", re.compile(r"\bFirefox/|\bFxiOS/")),
    ("Chrome", re.compile(r"\bChrome/|\bCriOS/")),
    ("Safari", re.compile(r"\bSafari/")),
)
_SYSTEMS = (
    ("Android", re.compile(r"\bAndroid\b")),
    ("iOS", re.compile(r"\b(iPhone|iPad|iPod)\b")),
    ("Windows", re.compile(r"\bWindows\b")),
    ("macOS", re.compile(r"\bMac OS X\b|\bMacintosh\b")),
    ("Linux", re.compile(r"\bLinux\b|\bX11\b")),
)


def device(user_agent: str) -> tuple[str | None, str | None]:
    """The browser and the operating system a User-Agent names (None: not known)."""
    browser = next((name for name, pattern in _BROWSERS if pattern.search(user_agent)), None)
    system = next((name for name, pattern in _SYSTEMS if pattern.search(user_agent)), None)
    return browser, system


async def sessions_page(request: Request) -> Response:
    user = await web.require_user(request)
    async with web.db(request).session() as session:
        rows = await active_sessions(session, user.id, web.settings(request).session_max_age)
    this = session_cookie.current(request).key
    listed = [
        {"row": row, "device": device(row.user_agent), "this": row.id == this} for row in rows
    ]
    ended = request.query_params.get("ended")
    return await web.render(
        request,
        "accounts/sessions.html",
        {"sessions": listed, "ended": ended if ended in ("one", "others") else None},
    )


async def end_session(request: Request) -> Response:
    user = await web.require_user(request)
    data = await web.form(request)
    key = web.field(data, "session")
    this = session_cookie.current(request).key
    if key == this:
        await session_cookie.end(request)  # ending this one is logging out
        return web.redirect(request, "/")
    async with web.db(request).transaction() as uow:
        ended = await do_end(uow, key, user_id=user.id) if len(key) == 64 else False
    if not ended:
        raise UNKNOWN_SESSION
    return web.redirect(request, f"{PAGE}?ended=one")


async def end_others(request: Request) -> Response:
    user = await web.require_user(request)
    async with web.db(request).transaction() as uow:
        await do_end_sessions(uow, user.id, keep=session_cookie.current(request).key)
    return web.redirect(request, f"{PAGE}?ended=others")


def routes() -> list[BaseRoute]:
    """This module's URL map."""
    return [
        Route(PAGE, sessions_page, methods=["GET"]),
        Route(f"{PAGE}/end", end_session, methods=["POST"]),
        Route(f"{PAGE}/end-others", end_others, methods=["POST"]),
    ]
