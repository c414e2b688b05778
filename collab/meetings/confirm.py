"""Confirmation before the irreversible steps of a meeting: closing it, cancelling
it, closing a vote, publishing the verbale.

Each of these POST routes acts only when its form carries ``confirmed=1``.
With JavaScript the button opens a ``<dialog>`` (``static/js/confirm.js``)
whose form sends that field; without it the button is a GET form that leads to
the page this module serves at the same address, which says what will happen
and posts the step with the field. A POST without the field (an old page, a
forged request) answers with that same page instead of acting (with htmx: a
redirect to it). The page checks what the step itself checks (who may, in
which state), in the same order, so it reveals nothing the step would not.
The wording of each step lives in ``templates/meetings/_confirm_texts.html``,
shared by the dialog and the page.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from collab import web
from collab.errors import ActionError, Conflict
from collab.i18n import N_
from collab.meetings.actions import (
    get_readable_room,
    require_chair,
    require_presiding,
    require_state,
)
from collab.meetings.minutes import check_editable_verbale
from collab.meetings.models import MeetingState
from collab.meetings.room import Room
from collab.models import User

__all__ = ["CONFIRMED", "Step", "ask_unless_confirmed", "routes"]

CONFIRMED = "confirmed"  # the field that makes a step's POST act


@dataclass(frozen=True)
class Step:
    """One irreversible step: its kind (``_confirm_texts.html``), its checks, and
    what it is about (the meeting's title, or the vote's motion)."""

    kind: str
    check: Callable[[Request, User, Room], str]
    back: str = ""  # the page to go back to, under the meeting's address


def _close(request: Request, user: User, room: Room) -> str:
    # As collab.meetings.minutes.do_close.
    require_presiding(user, room)
    if room.meeting.state != MeetingState.IN_CORSO:
        raise Conflict(N_("Only a meeting in progress can be closed."))
    if room.open_vote is not None:
        raise Conflict(N_("A vote is still open: close it first."))
    return room.meeting.title


def _cancel(request: Request, user: User, room: Room) -> str:
    # As collab.meetings.actions.do_cancel.
    require_chair(user, room)
    require_state(room, MeetingState.CONVOCATA)
    return room.meeting.title


def _close_vote(request: Request, user: User, room: Room) -> str:
    # As collab.meetings.voting.do_close_vote.
    require_presiding(user, room)
    vote_id: int = request.path_params["vote_id"]
    view = next((v for v in room.votes if v.vote.id == vote_id), None)
    if view is None:
        raise ActionError(N_("This vote does not belong to this meeting."), field="vote")
    if not view.is_open:
        raise Conflict(N_("This vote is closed."))
    return view.vote.motion


def _publish(request: Request, user: User, room: Room) -> str:
    check_editable_verbale(user, room)  # what do_publish_verbale checks first
    return room.meeting.title


CLOSE = Step("close", _close)
CANCEL = Step("cancel", _cancel)
CLOSE_VOTE = Step("close-vote", _close_vote)
PUBLISH = Step("publish", _publish, back="/verbale")


async def _checked(request: Request, step: Step) -> tuple[User, Room, str]:
    user = await web.require_user(request)
    async with web.db(request).session() as session:
        room = await get_readable_room(session, user, request.path_params["id"])
    return user, room, step.check(request, user, room)


async def _page(request: Request, step: Step) -> Response:
    _user, room, subject = await _checked(request, step)
    base = f"/meetings/{room.meeting.id}"
    return await web.render(
        request,
        "meetings/confirm.html",
        {"kind": step.kind, "meeting": room.meeting, "subject": subject,
         "action": request.url.path, "back": base + step.back},
    )  # fmt: skip


async def ask_unless_confirmed(request: Request, step: Step) -> Response | None:
    """``None`` when the posted form confirms the step; else the answer that asks
    (the confirmation page, or for htmx a redirect to it), after the step's checks."""
    if web.field(await web.form(request), CONFIRMED) == "1":
        return None
    if web.is_htmx(request):
        await _checked(request, step)
        return Response(status_code=200, headers={"HX-Redirect": request.url.path})
    return await _page(request, step)


def _get(step: Step) -> Callable[[Request], object]:
    async def page(request: Request) -> Response:
        return await _page(request, step)

    return page


def routes() -> list[BaseRoute]:
    """The confirmation pages, at the addresses their steps are posted to."""
    return [
        Route("/meetings/{id:id}/close", _get(CLOSE), methods=["GET"]),
        Route("/meetings/{id:id}/cancel", _get(CANCEL), methods=["GET"]),
        Route("/meetings/{id:id}/votes/{vote_id:id}/close", _get(CLOSE_VOTE), methods=["GET"]),
        Route("/meetings/{id:id}/verbale/publish", _get(PUBLISH), methods=["GET"]),
    ]
