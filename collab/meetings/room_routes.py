"""The live meeting room: its page and its controls (the public page: :mod:`room_public`).

Every control is a small POST form. Without JavaScript it answers 303 back to
the room; with htmx it answers the region the form belongs to, and every other
region out of band (``hx-swap-oob``), so the page is right even before the
websocket frame of the same change arrives. Bad input (an ``ActionError``
422) shows its message in the form's region with status 422 (the whole page
for a plain post); 403, 404 and 409 go to the app's error handlers.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from collab import web
from collab.db import UnitOfWork
from collab.errors import ActionError
from collab.i18n import N_
from collab.meetings import actions, attendance, confirm, floor, minutes, room_public, voting
from collab.meetings.actions import get_readable_room
from collab.meetings.room_views import REGIONS, region_context, view_for
from collab.models import User
from collab.realtime.events import meeting_topic
from collab.realtime.log import last_seqs

__all__ = ["room_page", "routes"]

Write = Callable[[UnitOfWork, User, FormData], Awaitable[object]]
NOT_ON_AGENDA = N_("This item is not on the agenda of this meeting.")
NOT_CONVENED = N_("This comune does not belong to the convened zones.")


def _meeting_id(request: Request) -> int:
    meeting_id: int = request.path_params["id"]
    return meeting_id


def _number(data: FormData, name: str, message: str) -> int:
    raw = web.field(data, name).strip()
    if not (raw.isascii() and raw.isdigit() and len(raw) < 10):
        raise ActionError(message, field=name)
    return int(raw)


async def _context(request: Request, user: User, live: bool = False) -> dict[str, Any]:
    """The room as ``user`` sees it; with ``live``, the topic's seq read first."""
    meeting_id = _meeting_id(request)
    async with web.db(request).session() as session:
        # Before the content, as thread pages do: an event committed between
        # the two reads is then replayed, never missed.
        topics = await last_seqs(session, [meeting_topic(meeting_id)]) if live else {}
        room = await get_readable_room(session, user, meeting_id)
    return {**region_context(view_for(user, room), web.locale_of(request)), "live_topics": topics}


async def room_page(request: Request) -> Response:
    user = await web.require_user(request)
    return await web.render(request, "meetings/room.html", await _context(request, user, True))


async def _regions(request: Request, user: User, first: str, status: int = 200,
                   **extra: Any) -> Response:  # fmt: skip
    """``first`` in place (the form's region), the others out of band unless it failed."""
    context = {**await _context(request, user), **extra}
    regions = [first] if status != 200 else [first, *(r for r in REGIONS if r != first)]
    return await web.render(
        request, "meetings/_room_regions.html", {**context, "regions": regions}, status
    )


async def _act(request: Request, region: str, write: Write,
               keep: Callable[[FormData], dict[str, Any]] | None = None) -> Response:  # fmt: skip
    """Run one control's write; answer as the module docstring says."""
    user = await web.require_user(request)
    data = await web.form(request)

    async def run(uow: UnitOfWork) -> None:
        await write(uow, user, data)

    error = await web.attempt(request, run)
    if error is not None:
        extra = {**error, "error_region": region, **(keep(data) if keep else {})}
        if web.is_htmx(request):
            return await _regions(request, user, region, 422, **extra)
        context = {**await _context(request, user, True), **extra}
        return await web.render(request, "meetings/room.html", context, 422)
    if web.is_htmx(request):
        return await _regions(request, user, region)
    return web.redirect(request, f"/meetings/{_meeting_id(request)}")


def _path(request: Request, name: str) -> int:
    value: int = request.path_params[name]
    return value


# -- the chair ------------------------------------------------------------------------


async def open_meeting(request: Request) -> Response:
    mid = _meeting_id(request)
    return await _act(request, "controls", lambda uow, user, _: actions.do_open(uow, user, mid))


async def cancel_meeting(request: Request) -> Response:
    if (ask := await confirm.ask_unless_confirmed(request, confirm.CANCEL)) is not None:
        return ask
    mid = _meeting_id(request)
    return await _act(request, "controls", lambda uow, user, _: actions.do_cancel(uow, user, mid))


async def close_meeting(request: Request) -> Response:
    if (ask := await confirm.ask_unless_confirmed(request, confirm.CLOSE)) is not None:
        return ask
    mid, locale = _meeting_id(request), web.locale_of(request)
    return await _act(
        request, "controls", lambda uow, user, _: minutes.do_close(uow, user, mid, locale)
    )


async def set_item(request: Request) -> Response:
    mid = _meeting_id(request)

    async def write(uow: UnitOfWork, user: User, data: FormData) -> object:
        return await actions.do_set_item(uow, user, mid, _number(data, "item_id", NOT_ON_AGENDA))

    return await _act(request, "controls", write)


async def set_public(request: Request) -> Response:
    mid = _meeting_id(request)

    async def write(uow: UnitOfWork, user: User, data: FormData) -> object:
        return await actions.do_set_public(uow, user, mid, web.field(data, "value") == "1")

    return await _act(request, "controls", write)


async def grant_floor(request: Request) -> Response:
    mid, rid = _meeting_id(request), _path(request, "request_id")
    return await _act(
        request, "floor", lambda uow, user, _: floor.do_grant_floor(uow, user, mid, rid)
    )


async def end_floor(request: Request) -> Response:
    mid = _meeting_id(request)
    return await _act(request, "floor", lambda uow, user, _: floor.do_end_floor(uow, user, mid))


def _vote_form(data: FormData) -> dict[str, Any]:
    values = {k: web.field(data, k) for k in ("motion", "point", "text", "method")}
    return {"vote_form": {**values, "secret": web.field(data, "secret") == "1"}}


async def open_vote(request: Request) -> Response:
    """Open a vote; in a body's meeting without the quorum, first ask the chair to
    confirm: the vote's region again, the form as typed and a confirmation
    (``without_quorum=1``), with htmx or without."""
    mid = _meeting_id(request)

    async def write(uow: UnitOfWork, user: User, data: FormData) -> object:
        return await voting.do_open_vote(
            uow, user, mid, web.field(data, "motion"), web.field(data, "point"),
            secret=web.field(data, "secret") == "1", text=web.field(data, "text"),
            method=web.field(data, "method"),
            without_quorum=web.field(data, "without_quorum") == "1",
        )  # fmt: skip

    try:
        return await _act(request, "vote", write, keep=_vote_form)
    except voting.QuorumMissing as missing:
        user = await web.require_user(request)
        extra = {"quorum_confirm": web.translate(request, missing),
                 **_vote_form(await web.form(request))}  # fmt: skip
        # A question, not an error (200): nothing was refused for good.
        if web.is_htmx(request):
            return await _regions(request, user, "vote", **extra)
        context = {**await _context(request, user, True), **extra}
        return await web.render(request, "meetings/room.html", context)


async def close_vote(request: Request) -> Response:
    if (ask := await confirm.ask_unless_confirmed(request, confirm.CLOSE_VOTE)) is not None:
        return ask
    mid, vid = _meeting_id(request), _path(request, "vote_id")
    return await _act(
        request, "vote", lambda uow, user, _: voting.do_close_vote(uow, user, mid, vid)
    )


# -- the secretary --------------------------------------------------------------------


async def save_notes(request: Request) -> Response:
    mid, iid = _meeting_id(request), _path(request, "item_id")

    async def write(uow: UnitOfWork, user: User, data: FormData) -> object:
        return await floor.do_save_notes(uow, user, mid, iid, web.field(data, "notes"))

    return await _act(
        request, "notes", write, keep=lambda data: {"notes_text": web.field(data, "notes")}
    )


# -- a comune's sindaco or delegate ---------------------------------------------------


async def check_in(request: Request) -> Response:
    mid = _meeting_id(request)

    async def write(uow: UnitOfWork, user: User, data: FormData) -> object:
        return await attendance.do_check_in(
            uow, user, mid, _number(data, "comune_id", NOT_CONVENED)
        )

    return await _act(request, "attendance", write)


async def cast_ballot(request: Request) -> Response:
    mid, vid = _meeting_id(request), _path(request, "vote_id")

    async def write(uow: UnitOfWork, user: User, data: FormData) -> object:
        return await voting.do_cast_ballot(uow, user, mid, vid, web.field(data, "choice"))

    return await _act(request, "vote", write)


async def name_delegate(request: Request) -> Response:
    mid = _meeting_id(request)

    async def write(uow: UnitOfWork, user: User, data: FormData) -> object:
        return await attendance.do_name_delegate(uow, user, mid, web.field(data, "email"))

    return await _act(
        request, "controls", write, keep=lambda data: {"delegate_email": web.field(data, "email")}
    )


# -- everyone who follows the meeting -------------------------------------------------


async def join_as_guest(request: Request) -> Response:
    mid = _meeting_id(request)
    return await _act(
        request, "attendance", lambda uow, user, _: attendance.do_join_as_guest(uow, user, mid)
    )


async def check_out(request: Request) -> Response:
    mid = _meeting_id(request)
    return await _act(
        request, "attendance", lambda uow, user, _: attendance.do_check_out(uow, user, mid)
    )


async def raise_hand(request: Request) -> Response:
    mid = _meeting_id(request)
    return await _act(request, "floor", lambda uow, user, _: floor.do_raise_hand(uow, user, mid))


async def withdraw_hand(request: Request) -> Response:
    mid = _meeting_id(request)
    return await _act(request, "floor", lambda uow, user, _: floor.do_withdraw_hand(uow, user, mid))


def _post(path: str, handler: Callable[[Request], Awaitable[Response]]) -> Route:
    return Route(f"/meetings/{{id:id}}{path}", handler, methods=["POST"])


def routes() -> list[BaseRoute]:
    """This module's URL map (built by ``create_app``, after the ``id`` convertor)."""
    return [
        Route("/meetings/{id:id}", room_page, methods=["GET"]),
        _post("/open", open_meeting),
        _post("/cancel", cancel_meeting),
        _post("/close", close_meeting),
        _post("/item", set_item),
        _post("/public", set_public),
        _post("/checkin", check_in),
        _post("/guest", join_as_guest),
        _post("/checkout", check_out),
        _post("/delegate", name_delegate),
        _post("/hand", raise_hand),
        _post("/hand/withdraw", withdraw_hand),
        _post("/floor/{request_id:id}/grant", grant_floor),
        _post("/floor/end", end_floor),
        _post("/items/{item_id:id}/notes", save_notes),
        _post("/votes", open_vote),
        _post("/votes/{vote_id:id}/ballot", cast_ballot),
        _post("/votes/{vote_id:id}/close", close_vote),
        *room_public.routes(),
        *confirm.routes(),
    ]
