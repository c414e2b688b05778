"""Meeting pages: the list of meetings a user follows, the convening form, and
the same form to edit a meeting that has not started.

The form's raw values live in :class:`ConveneForm`, so a refused submission
re-renders exactly what the user typed; :meth:`ConveneForm.convocation` turns
them into the domain's :class:`~collab.meetings.actions.Convocation` (a value
that cannot even be parsed, a date or a number, is an ``ActionError`` on its
field) and :func:`collab.meetings.actions.do_convene` checks the rest.
"""

from __future__ import annotations

from dataclasses import dataclass, field
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
from collab.errors import ActionError, PermissionDenied
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

AGENDA_ROWS = 8  # rows offered by the form; blank ones are ignored
MATERIAL_ROWS = 4
DEFAULT_MINUTES = "15"


@dataclass
class ConveneForm:
    """The convening form as typed: strings, so it can be shown again unchanged."""

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
        zone_ids = {
            int(v)
            for v in data.getlist("zones")
            if isinstance(v, str) and v.isascii() and v.isdigit()
        }
        items = [
            {k: web.field(data, f"item-{n}-{k}").strip() for k in ("title", "theme", "minutes")}
            for n in range(actions.MAX_ITEMS)
        ]
        materials = [
            {k: web.field(data, f"material-{n}-{k}").strip() for k in ("title", "url")}
            for n in range(actions.MAX_MATERIALS)
        ]
        return cls(
            title=web.field(data, "title"), description=web.field(data, "description"),
            zone_ids={z for z in zone_ids if z < 2**31}, starts_at=web.field(data, "starts_at"),
            place=web.field(data, "place"), video_url=web.field(data, "video_url"),
            quorum=web.field(data, "quorum").strip(), public=web.field(data, "public") == "1",
            secretary=web.field(data, "secretary").strip(), items=items, materials=materials,
        )._padded()  # fmt: skip

    def _padded(self) -> ConveneForm:
        """Blank rows dropped (they mean nothing), then blank ones added up to the minimum."""
        self.items = [i for i in self.items if i.get("title")]
        self.items += [
            {"title": "", "theme": "", "minutes": DEFAULT_MINUTES}
            for _ in range(max(AGENDA_ROWS - len(self.items), 1))
        ]
        self.materials = [m for m in self.materials if any(m.values())]
        self.materials += [
            {"title": "", "url": ""} for _ in range(max(MATERIAL_ROWS - len(self.materials), 1))
        ]
        return self

    def convocation(self) -> Convocation:
        """The domain's value; an ``ActionError`` on a date or number that does not parse."""
        items = [
            AgendaLine(row["title"], _number(row["theme"]) or 0, _minutes(row["minutes"]))
            for row in self.items
            if row["title"]
        ]
        quorum = None
        if self.quorum:
            quorum = _number(self.quorum)
            if quorum is None:
                raise ActionError(N_("The quorum must be a number of comuni."), field="quorum")
        return Convocation(
            title=self.title, zone_ids=sorted(self.zone_ids),
            starts_at=_rome_to_utc(self.starts_at), items=items,
            description=self.description, place=self.place,
            video_url=self.video_url, quorum=quorum, public=self.public,
            materials=[(m["title"], m["url"]) for m in self.materials if any(m.values())],
            secretary_email=self.secretary,
        )  # fmt: skip


def _number(raw: str) -> int | None:
    return int(raw) if raw.isascii() and raw.isdigit() and len(raw) < 10 else None


def _minutes(raw: str) -> int:
    value = _number(raw or DEFAULT_MINUTES)
    if value is None:
        raise ActionError(N_("An agenda item lasts from 1 to 480 minutes."), field="items")
    return value


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
    return {"zones": zones, "themes": themes}


async def convene_page(request: Request) -> Response:
    user = await web.require_user(request)
    choices = await _form_choices(request, user)
    return await web.render(request, "meetings/new.html", {**choices, "form": ConveneForm.blank()})


async def convene(request: Request) -> Response:
    user = await web.require_user(request)
    choices = await _form_choices(request, user)
    values = ConveneForm.from_data(await web.form(request))
    created: list[Meeting] = []

    async def write(uow: UnitOfWork) -> None:
        convocation = values.convocation()
        await _check_zones_exist(uow, convocation.zone_ids)
        created.append(await actions.do_convene(uow, user, convocation))

    error = await web.attempt(request, write)
    if error is not None:
        return await web.render(
            request, "meetings/new.html", {**choices, "form": values, **error}, status_code=422
        )
    return web.redirect(request, f"/meetings/{created[0].id}")


async def _check_zones_exist(uow: UnitOfWork, zone_ids: list[int]) -> None:
    """A zone id that names no zone (a forged form) is bad input, not a 500."""
    found = set(await uow.session.scalars(select(Zone.id).where(Zone.id.in_(zone_ids))))
    if found != set(zone_ids):
        raise ActionError(N_("Choose at least one zone."), field="zones")


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
    values = ConveneForm.from_data(await web.form(request))

    async def write(uow: UnitOfWork) -> None:
        convocation = values.convocation()
        await _check_zones_exist(uow, convocation.zone_ids)
        await actions.do_edit(uow, user, room.meeting.id, convocation)

    error = await web.attempt(request, write)
    if error is not None:
        return await web.render(
            request, "meetings/new.html", {**choices, "form": values, **error}, status_code=422
        )
    return web.redirect(request, f"/meetings/{room.meeting.id}")


def routes() -> list[BaseRoute]:
    """This module's URL map (built by ``create_app``, after the ``id`` convertor)."""
    return [
        Route("/meetings", meetings_list, methods=["GET"]),
        Route("/meetings/new", convene_page, methods=["GET"]),
        Route("/meetings/new", convene, methods=["POST"]),
        Route("/meetings/{id:id}/edit", edit_page, methods=["GET"]),
        Route("/meetings/{id:id}/edit", edit, methods=["POST"]),
    ]
