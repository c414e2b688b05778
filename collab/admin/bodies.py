"""Admin pages for voting bodies: the list, a new body, a body's rules and members.

The form shows every refused field at once, each message next to its field,
and keeps what was typed (:mod:`collab.meetings.bodies` checks it).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from collab import web
from collab.admin.actions import check_admin
from collab.errors import ActionError, InvalidFields, NotFound
from collab.i18n import N_
from collab.meetings.bodies import BodyForm, do_create_body, do_update_body, parse_members
from collab.meetings.models import (
    BodyKind,
    BodyMember,
    BodyZone,
    Counting,
    Majority,
    Meeting,
    VotingBody,
)
from collab.models import User, Zone

__all__ = ["routes"]

CHECKBOXES = ("majority_of_members", "quorum_above", "second_call_quorum_above",
              "show_theme", "active")  # fmt: skip
NUMBERS = ("majority_num", "majority_den", "quorum_num", "quorum_den",
           "second_call_quorum_num", "second_call_quorum_den")  # fmt: skip


async def _admin(request: Request) -> User:
    user = await web.require_user(request)
    check_admin(user)
    return user


def _number(raw: str) -> int:
    raw = raw.strip()
    return int(raw) if raw.isascii() and raw.isdigit() and len(raw) < 6 else 0


def _values(data: FormData) -> dict[str, Any]:
    """What was typed, as the form shows it again."""
    values: dict[str, Any] = {
        k: web.field(data, k) for k in ("name", "kind", "counting", "majority", "members", *NUMBERS)
    }
    values.update({k: web.field(data, k) == "1" for k in CHECKBOXES})
    values["zones"] = {
        int(v)
        for v in data.getlist("zones")
        if isinstance(v, str) and v.isascii() and v.isdigit() and len(v) < 10
    }
    return values


def _form(values: dict[str, Any]) -> BodyForm:
    fields: dict[str, Any] = {k: _number(values[k]) for k in NUMBERS}
    fields.update({k: values[k] for k in CHECKBOXES})
    return BodyForm(
        name=values["name"], kind=values["kind"], zone_ids=sorted(values["zones"]),
        members=parse_members(values["members"]), counting=values["counting"],
        majority=values["majority"], **fields,
    )  # fmt: skip


async def _values_of(request: Request, body: VotingBody) -> dict[str, Any]:
    async with web.db(request).session() as session:
        zones = set(
            await session.scalars(select(BodyZone.zone_id).where(BodyZone.body_id == body.id))
        )
        members = list(
            await session.scalars(
                select(BodyMember)
                .where(BodyMember.body_id == body.id, BodyMember.active)
                .order_by(BodyMember.position, BodyMember.id)
            )
        )
    lines = [f"{m.user.email}, {m.title}" if m.title else m.user.email for m in members]
    values: dict[str, Any] = {
        "name": body.name, "kind": body.kind.value, "counting": body.counting.value,
        "majority": body.majority.value, "members": "\n".join(lines), "zones": zones,
    }  # fmt: skip
    values.update({k: str(getattr(body, k)) for k in NUMBERS})
    values.update({k: bool(getattr(body, k)) for k in CHECKBOXES})
    return values


async def _page(
    request: Request, values: dict[str, Any], body: VotingBody | None = None,
    errors: dict[str, str] | None = None,
) -> Response:  # fmt: skip
    async with web.db(request).session() as session:
        zones = list(await session.scalars(select(Zone).order_by(Zone.number)))
    context = {"values": values, "body": body, "zones": zones, "errors": errors or {},
               "kinds": list(BodyKind), "countings": list(Counting),
               "majorities": list(Majority)}  # fmt: skip
    return await web.render(
        request, "admin/body_form.html", context, status_code=422 if errors else 200
    )


async def _save(request: Request, actor: User, body: VotingBody | None) -> Response:
    values = _values(await web.form(request))
    form = _form(values)
    try:
        async with web.db(request).transaction() as uow:
            if body is None:
                await do_create_body(uow, actor, form)
            else:
                await do_update_body(uow, actor, body.id, form)
    except ActionError as exc:
        if exc.status != 422:
            raise
        errors: dict[str, str] = {}
        for error in exc.errors if isinstance(exc, InvalidFields) else [exc]:
            message = web.translate(request, error)
            field = error.field or "form"
            errors[field] = f"{errors[field]} {message}" if field in errors else message
        return await _page(request, values, body, errors)
    return web.redirect(request, "/admin/bodies")


async def bodies_page(request: Request) -> Response:
    await _admin(request)
    members = (
        select(BodyMember.body_id, func.count().label("n"))
        .where(BodyMember.active)
        .group_by(BodyMember.body_id)
        .subquery()
    )
    meetings = select(Meeting.body_id, func.count().label("n")).group_by(Meeting.body_id).subquery()
    async with web.db(request).session() as session:
        rows = list(
            await session.execute(
                select(VotingBody, func.coalesce(members.c.n, 0), func.coalesce(meetings.c.n, 0))
                .outerjoin(members, members.c.body_id == VotingBody.id)
                .outerjoin(meetings, meetings.c.body_id == VotingBody.id)
                .order_by(VotingBody.active.desc(), VotingBody.name)
            )
        )
        zones: dict[int, list[int]] = {}
        for body_id, number in await session.execute(
            select(BodyZone.body_id, Zone.number)
            .join(Zone, Zone.id == BodyZone.zone_id)
            .order_by(Zone.number)
        ):
            zones.setdefault(body_id, []).append(number)
    return await web.render(request, "admin/bodies.html", {"rows": rows, "zones": zones})


async def new_body_page(request: Request) -> Response:
    await _admin(request)
    blank = BodyForm(name="", kind=BodyKind.COMUNI.value)
    values: dict[str, Any] = {k: str(getattr(blank, k)) for k in NUMBERS}
    values.update({k: getattr(blank, k) for k in CHECKBOXES})
    values.update(name="", kind="", counting=blank.counting, majority=blank.majority,
                  members="", zones=set())  # fmt: skip
    return await _page(request, values)


async def create_body(request: Request) -> Response:
    actor = await _admin(request)
    return await _save(request, actor, None)


async def _body(request: Request) -> VotingBody:
    async with web.db(request).session() as session:
        body = await session.get(VotingBody, request.path_params["id"])
    if body is None:
        raise NotFound(N_("This body does not exist."))
    return body


async def edit_body_page(request: Request) -> Response:
    await _admin(request)
    body = await _body(request)
    return await _page(request, await _values_of(request, body), body)


async def update_body(request: Request) -> Response:
    actor = await _admin(request)
    return await _save(request, actor, await _body(request))


def routes() -> list[BaseRoute]:
    """This module's URL map (built by ``create_app``, after the ``id`` convertor)."""
    return [
        Route("/admin/bodies", bodies_page, methods=["GET"]),
        Route("/admin/bodies/new", new_body_page, methods=["GET"]),
        Route("/admin/bodies/new", create_body, methods=["POST"]),
        Route("/admin/bodies/{id:id}", edit_body_page, methods=["GET"]),
        Route("/admin/bodies/{id:id}", update_body, methods=["POST"]),
    ]
