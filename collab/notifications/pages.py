"""The bell, the notifications page, one's notification settings, unsubscribing."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from babel.dates import format_date
from sqlalchemy import select
from starlette.requests import HTTPConnection, Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from collab import web
from collab.errors import NotFound
from collab.i18n import N_, translations
from collab.models import User, utcnow
from collab.notifications import actions
from collab.notifications.kinds import KINDS, Kind, describe
from collab.notifications.models import Mode, Notification, NotificationSetting
from collab.notifications.queries import bell_state, notifications_page, place_names
from collab.notifications.unsubscribe import read_token
from collab.realtime.events import user_topic
from collab.templating import ROME

__all__ = ["bell_context", "routes"]

TODAY = N_("Today")
YESTERDAY = N_("Yesterday")
MODE_LABELS = {
    Mode.IMMEDIATELY: N_("E-mail at once"),
    Mode.DIGEST: N_("Daily digest"),
    Mode.APP: N_("Only here"),
    Mode.NEVER: N_("Never"),
}
BAD_LINK = N_("This link is not valid: copy it whole from the e-mail, or change your settings.")


async def bell_context(conn: HTTPConnection, user: User) -> dict[str, Any]:
    """The bell of every page: the unread count, and the user's topic with
    the seq the count reflects (read first: an event after it is replayed)."""
    topic = user_topic(user.id)
    async with web.db(conn).session() as session:
        seq, unread = await bell_state(session, user.id, topic)
    return {"unread_notifications": unread, "own_topics": {topic: seq}}


@dataclass(frozen=True)
class Item:
    notification: Notification
    text: str
    place: str


@dataclass(frozen=True)
class Day:
    label: str
    items: list[Item]


def _days(items: list[Item], locale: str, now: datetime) -> list[Day]:
    gettext = translations(locale).gettext
    today = now.astimezone(ROME).date()
    days: list[Day] = []
    for item in items:
        date = item.notification.created_at.astimezone(ROME).date()
        if date == today:
            label = gettext(TODAY)
        elif date == today - timedelta(days=1):
            label = gettext(YESTERDAY)
        else:
            label = format_date(date, format="full", locale=locale)
        if not days or days[-1].label != label:
            days.append(Day(label, []))
        days[-1].items.append(item)
    return days


async def _items(
    request: Request, notifications: Sequence[Notification], locale: str
) -> list[Item]:
    gettext = translations(locale).gettext
    async with web.db(request).session() as session:
        places = await place_names(session, notifications, locale)
    return [
        Item(
            n,
            describe(n.kind, n.title, n.actor.name if n.actor else None, n.params, gettext),
            places[(n.zone_id, n.theme_id)],
        )
        for n in notifications
    ]


async def notifications_list(request: Request) -> Response:
    user = await web.require_user(request)
    unread_only = request.query_params.get("show") == "unread"
    locale = web.locale_of(request)
    async with web.db(request).session() as session:
        page = await notifications_page(session, user.id, web.page_number(request), unread_only)
    items = await _items(request, page.items, locale)
    context = {
        "page": page,
        "days": _days(items, locale, utcnow()),
        "unread_only": unread_only,
        "base": "/notifications?show=unread" if unread_only else "/notifications",
    }
    return await web.render(request, "notifications/list.html", context)


async def open_notification(request: Request) -> Response:
    """Mark it read and go where it points (the link of the bell's list and
    of e-mail: read on one device is read on the others)."""
    user = await web.require_user(request)
    async with web.db(request).transaction() as uow:
        notification = await actions.do_mark_read(uow, user, request.path_params["id"])
    return RedirectResponse(web.safe_next(notification.url), status_code=303)


async def mark_read(request: Request) -> Response:
    user = await web.require_user(request)
    async with web.db(request).transaction() as uow:
        notification = await actions.do_mark_read(uow, user, request.path_params["id"])
    if web.is_htmx(request):
        locale = web.locale_of(request)
        (item,) = await _items(request, [notification], locale)
        return await web.render(request, "notifications/_item.html", {"item": item})
    return web.redirect(request, "/notifications")


async def mark_all_read(request: Request) -> Response:
    user = await web.require_user(request)
    async with web.db(request).transaction() as uow:
        await actions.do_mark_all_read(uow, user)
    return web.redirect(request, "/notifications")


# -- settings ---------------------------------------------------------------------


async def _modes(request: Request, user: User) -> dict[str, str]:
    async with web.db(request).session() as session:
        rows = await session.execute(
            select(NotificationSetting.kind, NotificationSetting.mode).where(
                NotificationSetting.user_id == user.id
            )
        )
        chosen = {kind: mode.value for kind, mode in rows}
    return {kind.value: chosen.get(kind.value, KINDS[kind].default.value) for kind in Kind}


def _settings_context(modes: dict[str, str]) -> dict[str, Any]:
    return {
        "kinds": [(kind.value, KINDS[kind]) for kind in Kind],
        "modes": modes,
        "mode_labels": [(mode.value, label) for mode, label in MODE_LABELS.items()],
    }


async def settings_page(request: Request) -> Response:
    user = await web.require_user(request)
    context = _settings_context(await _modes(request, user))
    context["saved"] = request.query_params.get("saved") == "1"
    return await web.render(request, "notifications/settings.html", context)


async def save_settings(request: Request) -> Response:
    user = await web.require_user(request)
    data = await web.form(request)
    choices = {kind.value: web.field(data, kind.value) for kind in Kind}

    async def write(uow: Any) -> None:
        await actions.do_set_modes(uow, user, choices)

    error = await web.attempt(request, write)
    if error is not None:
        context = {**_settings_context(await _modes(request, user)), **error}
        return await web.render(request, "notifications/settings.html", context, status_code=422)
    return web.redirect(request, "/account/notifications?saved=1")


# -- one-click unsubscribe (RFC 8058) ---------------------------------------------------


def _token(request: Request) -> tuple[int, Kind]:
    found = read_token(web.settings(request).secret_key, request.path_params["token"])
    if found is None:
        raise NotFound(BAD_LINK)
    return found


async def unsubscribe_page(request: Request) -> Response:
    """A page with one button: mail scanners follow links, so GET changes nothing."""
    _, kind = _token(request)
    context = {"kind": KINDS[kind], "token": request.path_params["token"], "done": False}
    return await web.render(
        request,
        "notifications/unsubscribe.html",
        context,
        headers=web.SECRET_URL_HEADERS,
    )


async def unsubscribe(request: Request) -> Response:
    """The one-click POST of a mail client (``List-Unsubscribe=One-Click``), or
    the page's button: no login, no CSRF token (the signed link is enough)."""
    user_id, kind = _token(request)
    async with web.db(request).transaction() as uow:
        if not await actions.do_unsubscribe(uow, user_id, kind):
            raise NotFound(BAD_LINK)
    data = await web.form(request)
    if data.get("List-Unsubscribe") == "One-Click":
        return PlainTextResponse("OK")
    context = {"kind": KINDS[kind], "token": request.path_params["token"], "done": True}
    return await web.render(
        request,
        "notifications/unsubscribe.html",
        context,
        headers=web.SECRET_URL_HEADERS,
    )


def routes() -> list[BaseRoute]:
    """This module's URL map (built by ``create_app``, after the ``id`` convertor)."""
    get, post = ["GET"], ["POST"]
    return [
        Route("/notifications", notifications_list, methods=get),
        Route("/notifications/read-all", mark_all_read, methods=post),
        Route("/notifications/{id:id}", open_notification, methods=get),
        Route("/notifications/{id:id}/read", mark_read, methods=post),
        Route("/account/notifications", settings_page, methods=get),
        Route("/account/notifications", save_settings, methods=post),
        Route("/unsubscribe/{token:str}", unsubscribe_page, methods=get),
        Route("/unsubscribe/{token:str}", unsubscribe, methods=post),
    ]
