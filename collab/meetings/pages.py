"""Meeting pages: the list of meetings a user follows, the convening form, and
the same form to edit a meeting that has not started.

The form's raw values live in :class:`ConveneForm`, so a refused submission
re-renders exactly what the user typed; :meth:`ConveneForm.convocation` turns
them into the domain's :class:`~collab.meetings.actions.Convocation` (a value
that cannot even be parsed, a date or a number, is an ``ActionError`` on its
field) and :func:`collab.meetings.actions.do_convene` checks the rest.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, false, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from collab import web
from collab.db import UnitOfWork
from collab.errors import ActionError, InvalidFields, PermissionDenied
from collab.forums.queries import paginate
from collab.i18n import N_
from collab.meetings import actions
from collab.meetings.actions import AgendaLine, Convocation
from collab.meetings.models import Meeting, MeetingState, MeetingZone
from collab.meetings.room import Room
from collab.models import Theme, User, Zone
from collab.permissions import TABLE, Action, Relation, can
from collab.templating import ROME

__all__ = ["ConveneForm", "convene", "convene_page", "edit", "edit_page", "meetings_list", "routes"]

DEFAULT_MINUTES = "15"
MAX_FIELDS = 200  # the form's fields with every row it may have (actions.MAX_ITEMS...)
ROW_ACTION = re.compile(r"(add|remove|up|down)-(item|material)(?:-(\d{1,2}))?")


def _blank(kind: str) -> dict[str, str]:
    if kind == "item":
        return {"title": "", "theme": "", "minutes": DEFAULT_MINUTES}
    return {"title": "", "url": ""}


@dataclass
class ConveneForm:
    """The convening form as typed: strings, so it can be shown again unchanged.

    Its agenda and materials are rows the user adds, removes and moves: with
    JavaScript in place (``static/js/convene.js``), without it by the submit
    buttons named ``row`` (:meth:`apply`), which re-render the form as typed.
    """

    title: str = ""
    description: str = ""
    zone_ids: set[int] = field(default_factory=set)
    starts_at: str = ""  # <input type="datetime-local">: Europe/Rome wall time
    place: str = ""
    video_url: str = ""
    quorum: str = ""
    public: bool = False
    secretary: str = ""  # an email
    items: list[dict[str, str]] = field(default_factory=list)  # title, theme, minutes
    materials: list[dict[str, str]] = field(default_factory=list)  # title, url
    focus: str = ""  # the id of the field to focus after a row action

    @classmethod
    def blank(cls) -> ConveneForm:
        return cls()._padded()

    @classmethod
    def of_room(cls, room: Room) -> ConveneForm:
        """The form of a convened meeting as it stands (the fields an edit changes)."""
        meeting = room.meeting
        return cls(
            title=meeting.title, description=meeting.description, zone_ids=room.zone_ids,
            starts_at=meeting.starts_at.astimezone(ROME).strftime("%Y-%m-%dT%H:%M"),
            place=meeting.place, video_url=meeting.video_url,
            items=[{"title": i.title, "theme": str(i.theme_id), "minutes": str(i.minutes)}
                   for i in room.items],
        )._padded()  # fmt: skip

    @classmethod
    def from_data(cls, data: FormData) -> ConveneForm:
        """The form as sent, every row kept (blank ones too: one was just added)."""
        zone_ids = {
            int(v)
            for v in data.getlist("zones")
            if isinstance(v, str) and v.isascii() and v.isdigit()
        }
        items = [
            {k: web.field(data, f"item-{n}-{k}").strip() for k in ("title", "theme", "minutes")}
            for n in range(actions.MAX_ITEMS)
            if f"item-{n}-title" in data
        ]
        materials = [
            {k: web.field(data, f"material-{n}-{k}").strip() for k in ("title", "url")}
            for n in range(actions.MAX_MATERIALS)
            if f"material-{n}-title" in data
        ]
        return cls(
            title=web.field(data, "title"), description=web.field(data, "description"),
            zone_ids={z for z in zone_ids if z < 2**31}, starts_at=web.field(data, "starts_at"),
            place=web.field(data, "place"), video_url=web.field(data, "video_url"),
            quorum=web.field(data, "quorum").strip(), public=web.field(data, "public") == "1",
            secretary=web.field(data, "secretary").strip(), items=items, materials=materials,
        )  # fmt: skip

    def _padded(self) -> ConveneForm:
        """At least one row of each kind: a form always offers one to fill."""
        self.items = self.items or [_blank("item")]
        self.materials = self.materials or [_blank("material")]
        return self

    def compact(self) -> ConveneForm:
        """Blank rows dropped (they mean nothing): what is submitted, numbered as
        :func:`collab.meetings.actions.check_convocation` names the rows."""
        self.items = [i for i in self.items if i.get("title")]
        self.materials = [m for m in self.materials if any(m.values())]
        return self

    def apply(self, action: str) -> bool:
        """Add, remove or move a row as the button ``action`` says (``add-item``,
        ``remove-material-2``, ``up-item-3``...); False if it says nothing."""
        match = ROW_ACTION.fullmatch(action)
        if match is None:
            return False
        verb, kind, raw = match.groups()
        rows = self.items if kind == "item" else self.materials
        limit = actions.MAX_ITEMS if kind == "item" else actions.MAX_MATERIALS
        at = int(raw) if raw is not None else -1
        if verb == "add" and len(rows) < limit:
            rows.append(_blank(kind))
            self.focus = f"{kind}-{len(rows) - 1}-title"
        elif verb == "remove" and 0 <= at < len(rows):
            del rows[at]
            self.focus = f"add-{kind}"
        elif verb in ("up", "down") and 0 <= at < len(rows):
            to = at - 1 if verb == "up" else at + 1
            if 0 <= to < len(rows):
                rows[at], rows[to] = rows[to], rows[at]
                self.focus = f"{kind}-{to}-title"
        self._padded()
        return True

    def convocation(self) -> tuple[Convocation, list[ActionError]]:
        """The domain's value, and the errors of what does not even parse (a date).

        A number that does not parse is passed on as 0, which the domain refuses
        with the same message on the same row."""
        problems: list[ActionError] = []
        try:
            starts_at = _rome_to_utc(self.starts_at)
        except ActionError as error:
            problems.append(error)
            starts_at = None
        items = [
            AgendaLine(row["title"], _number(row["theme"]) or 0,
                       _number(row["minutes"] or DEFAULT_MINUTES) or 0)
            for row in self.items
            if row["title"]
        ]  # fmt: skip
        quorum = (_number(self.quorum) or 0) if self.quorum else None
        convocation = Convocation(
            title=self.title, zone_ids=sorted(self.zone_ids), starts_at=starts_at, items=items,
            description=self.description, place=self.place,
            video_url=self.video_url, quorum=quorum, public=self.public,
            materials=[(m["title"], m["url"]) for m in self.materials if any(m.values())],
            secretary_email=self.secretary,
        )  # fmt: skip
        return convocation, problems


def _number(raw: str) -> int | None:
    return int(raw) if raw.isascii() and raw.isdigit() and len(raw) < 10 else None


def _rome_to_utc(raw: str) -> datetime | None:
    return web.rome_to_utc(raw, "starts_at")


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
    return or_(*allowed) if allowed else false()


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
    request: Request, user: User, kept: set[int] | frozenset[int] = frozenset()
) -> dict[str, Any]:
    """The zones ``user`` may convene, or keep (``kept``: an edited meeting's),
    403 if none, and the themes in use."""
    async with web.db(request).session() as session:
        zones = list(await session.scalars(select(Zone).order_by(Zone.number)))
        themes = list(
            await session.scalars(select(Theme).where(Theme.active).order_by(Theme.position))
        )
    zones = [z for z in zones if z.id in kept or can(user, Action.CONVENE, z.id)]
    if not zones:
        raise PermissionDenied(N_("You are not allowed to convene meetings."))
    return {"zones": zones, "themes": themes,
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
    choices = await _form_choices(request, user, room.zone_ids)
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
