"""Meeting pages: the list of meetings a user follows, the convening form, and
the same form to edit a meeting that has not started.

The form's raw values live in :class:`~collab.meetings.convene_form.ConveneForm`,
so a refused submission re-renders exactly what the user typed.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, false, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from collab import web
from collab.db import UnitOfWork
from collab.errors import ActionError, InvalidFields, PermissionDenied
from collab.forums.queries import paginate
from collab.i18n import N_
from collab.meetings import actions
from collab.meetings.convene_form import MAX_FIELDS, ConveneForm
from collab.meetings.models import BodyMember, Meeting, MeetingState, MeetingZone, VotingBody
from collab.meetings.room import Room
from collab.models import Theme, User, Zone
from collab.permissions import TABLE, Action, Relation, can

__all__ = ["ConveneForm", "convene", "convene_page", "edit", "edit_page", "meetings_list", "routes"]


async def _meeting_zones(session: AsyncSession, meeting_ids: list[int]) -> dict[int, list[Zone]]:
    """The convened zones of each of ``meeting_ids``, by number."""
    rows = await session.execute(
        select(MeetingZone.meeting_id, Zone)
        .join(Zone, Zone.id == MeetingZone.zone_id)
        .where(MeetingZone.meeting_id.in_(meeting_ids))
        .order_by(Zone.number)
    )
    zones: dict[int, list[Zone]] = {}
    for meeting_id, zone in rows:
        zones.setdefault(meeting_id, []).append(zone)
    return zones


MEETINGS_PER_PAGE = 20  # upcoming (the soonest first) or past (the latest first)


def _readable(user: User) -> ColumnElement[bool]:
    """The meetings ``user`` may follow, as a condition on ``Meeting``: what
    ``collab.meetings.rules.may_read`` says of one meeting (the permission
    table's READ row, for a meeting of their own zone or of others only)."""
    if not user.active:
        return false()
    relations = TABLE[Action.READ][user.role]
    convened = exists().where(MeetingZone.meeting_id == Meeting.id)
    theirs = exists().where(
        MeetingZone.meeting_id == Meeting.id, MeetingZone.zone_id == user.zone_id
    )
    allowed: list[ColumnElement[bool]] = []
    if Relation.OWN_ZONE in relations and user.zone_id is not None:
        allowed.append(theirs)
    if Relation.OTHER_ZONE in relations:
        allowed.append(and_(convened, ~theirs) if user.zone_id is not None else convened)
    # As collab.meetings.actions.require_reader: the body's members, the chair, the vice.
    allowed.append(Meeting.chair_id == user.id)
    allowed.append(Meeting.vice_chair_id == user.id)
    allowed.append(
        exists().where(
            BodyMember.body_id == Meeting.body_id, BodyMember.user_id == user.id,
            BodyMember.active,
        )
    )  # fmt: skip
    return or_(*allowed)


async def meetings_list(request: Request) -> Response:
    """The meetings one may follow, as Decidim lists them: those in progress,
    then either the upcoming ones (the soonest first) or, with ``?show=past``,
    the past ones (the latest first), a page at a time, since both lists grow
    with the years (an unknown ``show`` is the default)."""
    user = await web.require_user(request)
    show_past = request.query_params.get("show") == "past"
    async with web.db(request).session() as session:
        all_zones = list(await session.scalars(select(Zone.id)))
        readable = _readable(user)
        in_progress = list(
            await session.scalars(
                select(Meeting)
                .where(readable, Meeting.state == MeetingState.IN_CORSO)
                .order_by(Meeting.starts_at, Meeting.id)
            )
        )
        if show_past:
            listed = select(Meeting).where(
                readable, Meeting.state.in_((MeetingState.CHIUSA, MeetingState.ANNULLATA))
            )
            listed = listed.order_by(Meeting.starts_at.desc(), Meeting.id.desc())
        else:
            listed = select(Meeting).where(readable, Meeting.state == MeetingState.CONVOCATA)
            listed = listed.order_by(Meeting.starts_at, Meeting.id)
        page = await paginate(session, listed, web.page_number(request), MEETINGS_PER_PAGE)
        zones = await _meeting_zones(session, [m.id for m in [*in_progress, *page.items]])
    return await web.render(
        request,
        "meetings/list.html",
        {"zones": zones, "may_convene": any(can(user, Action.CONVENE, z) for z in all_zones),
         "in_progress": in_progress, "show_past": show_past, "page": page,
         "base": "/meetings?show=past" if show_past else "/meetings"},
    )  # fmt: skip


async def _form_choices(
    request: Request, user: User, kept: set[int] | frozenset[int] = frozenset(),
    kept_body: int | None = None,
) -> dict[str, Any]:  # fmt: skip
    """The zones ``user`` may convene, or keep (``kept``: an edited meeting's),
    403 if none, the themes and the bodies in use (and ``kept_body``)."""
    async with web.db(request).session() as session:
        zones = list(await session.scalars(select(Zone).order_by(Zone.number)))
        themes = list(
            await session.scalars(select(Theme).where(Theme.active).order_by(Theme.position))
        )
        bodies = list(
            await session.scalars(
                select(VotingBody)
                .where(VotingBody.active | (VotingBody.id == kept_body))
                .order_by(VotingBody.name)
            )
        )
    zones = [z for z in zones if z.id in kept or can(user, Action.CONVENE, z.id)]
    if not zones:
        raise PermissionDenied(N_("You are not allowed to convene meetings."))
    return {"zones": zones, "themes": themes, "bodies": bodies,
            "max_items": actions.MAX_ITEMS, "max_materials": actions.MAX_MATERIALS}  # fmt: skip


async def convene_page(request: Request) -> Response:
    user = await web.require_user(request)
    choices = await _form_choices(request, user)
    return await web.render(request, "meetings/new.html", {**choices, "form": ConveneForm.blank()})


async def _submitted(request: Request) -> tuple[ConveneForm, str]:
    data = await web.form(request, max_fields=MAX_FIELDS)
    return ConveneForm.from_data(data), web.field(data, "row")


async def _refused(
    request: Request, write: Callable[[UnitOfWork], Awaitable[object]]
) -> dict[str, Any] | None:
    """Run ``write``; on bad input the form's errors, one message per field (the
    first found), in the form's order; 403, 404 and 409 go to the handlers."""
    try:
        async with web.db(request).transaction() as uow:
            await write(uow)
    except ActionError as exc:
        if exc.status != 422:
            raise
        found = exc.errors if isinstance(exc, InvalidFields) else [exc]
        errors: dict[str, str] = {}
        for error in found:
            errors.setdefault(error.field or "form", web.translate(request, error))
        return {"errors": errors}
    return None


async def _convene_or_edit(
    request: Request, user: User, values: ConveneForm, meeting_id: int | None
) -> dict[str, Any] | int:
    """Convene (or edit ``meeting_id``) from ``values``: the new meeting's id, or
    the errors to show with the form (its blank rows dropped, as numbered)."""
    values.compact()
    done: list[int] = []

    async def write(uow: UnitOfWork) -> None:
        convocation, problems = values.convocation()
        unknown = await _unknown_zones(uow, convocation.zone_ids)
        if unknown:
            problems.append(ActionError(N_("Choose at least one zone."), field="zones"))
            convocation = replace(
                convocation, zone_ids=[z for z in convocation.zone_ids if z not in unknown]
            )
        try:
            if meeting_id is None:
                done.append((await actions.do_convene(uow, user, convocation)).id)
            else:
                await actions.do_edit(uow, user, meeting_id, convocation)
                done.append(meeting_id)
        except InvalidFields as exc:
            raise InvalidFields(problems + exc.errors) from None
        if problems:
            raise InvalidFields(problems)

    errors = await _refused(request, write)
    values._padded()
    return errors if errors is not None else done[0]


async def convene(request: Request) -> Response:
    user = await web.require_user(request)
    choices = await _form_choices(request, user)
    values, row_action = await _submitted(request)
    if values.apply(row_action):
        return await web.render(request, "meetings/new.html", {**choices, "form": values})
    outcome = await _convene_or_edit(request, user, values, None)
    if isinstance(outcome, dict):
        return await web.render(
            request, "meetings/new.html", {**choices, "form": values, **outcome}, status_code=422
        )
    return web.redirect(request, f"/meetings/{outcome}")


async def _unknown_zones(uow: UnitOfWork, zone_ids: list[int]) -> set[int]:
    """Zone ids that name no zone (a forged form): bad input, not a 500."""
    found = set(await uow.session.scalars(select(Zone.id).where(Zone.id.in_(zone_ids))))
    return set(zone_ids) - found


async def _editable(request: Request, user: User) -> tuple[Room, dict[str, Any]]:
    """The meeting ``user`` may edit now (403, 404, 409) and the form's choices."""
    async with web.db(request).session() as session:
        room = await actions.get_readable_room(session, user, request.path_params["id"])
    actions.require_chair(user, room)
    actions.require_state(room, MeetingState.CONVOCATA)
    choices = await _form_choices(request, user, room.zone_ids, room.meeting.body_id)
    return room, {**choices, "meeting": room.meeting}


async def edit_page(request: Request) -> Response:
    user = await web.require_user(request)
    room, choices = await _editable(request, user)
    form = ConveneForm.of_room(room)
    return await web.render(request, "meetings/new.html", {**choices, "form": form})


async def edit(request: Request) -> Response:
    user = await web.require_user(request)
    room, choices = await _editable(request, user)
    values, row_action = await _submitted(request)
    if values.apply(row_action):
        return await web.render(request, "meetings/new.html", {**choices, "form": values})
    outcome = await _convene_or_edit(request, user, values, room.meeting.id)
    if isinstance(outcome, dict):
        return await web.render(
            request, "meetings/new.html", {**choices, "form": values, **outcome}, status_code=422
        )
    return web.redirect(request, f"/meetings/{outcome}")


def routes() -> list[BaseRoute]:
    """This module's URL map (built by ``create_app``, after the ``id`` convertor)."""
    return [
        Route("/meetings", meetings_list, methods=["GET"]),
        Route("/meetings/new", convene_page, methods=["GET"]),
        Route("/meetings/new", convene, methods=["POST"]),
        Route("/meetings/{id:id}/edit", edit_page, methods=["GET"]),
        Route("/meetings/{id:id}/edit", edit, methods=["POST"]),
    ]
