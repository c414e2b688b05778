"""The convening form as typed (:class:`ConveneForm`): strings, so a refused
submission re-renders exactly what the user typed; :meth:`ConveneForm.convocation`
turns them into the domain's :class:`~collab.meetings.convocation.Convocation`
(a value that cannot even be parsed, a date or a number, is an ``ActionError``
on its field) and :func:`collab.meetings.actions.do_convene` checks the rest.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime

from starlette.datastructures import FormData

from collab import web
from collab.errors import ActionError
from collab.i18n import N_
from collab.meetings import actions
from collab.meetings.convocation import AgendaLine, Convocation
from collab.meetings.room import Room
from collab.templating import ROME

__all__ = ["MAX_FIELDS", "ConveneForm"]

DEFAULT_MINUTES = "15"
MAX_FIELDS = 200  # the form's fields with every row it may have (actions.MAX_ITEMS...)
HEADING = ("body", "chair", "vice_chair", "session_number", "session_type", "call",
           "notice_date", "notice_protocol")  # fmt: skip
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
    # The session's heading: the body (its id, "" none), chair and vice chair
    # (emails; no chair: the convener), number, type, call, the notice.
    body: str = ""
    chair: str = ""
    vice_chair: str = ""
    session_number: str = ""
    session_type: str = "ordinaria"
    call: str = "1"
    notice_date: str = ""  # <input type="date">
    notice_protocol: str = ""
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
            body=str(meeting.body_id or ""), chair=meeting.chair.email if meeting.chair else "",
            vice_chair=room.vice_chair.email if room.vice_chair else "",
            session_number=str(meeting.session_number or ""),
            session_type=meeting.session_type.value, call=str(meeting.call),
            notice_date=meeting.notice_date.isoformat() if meeting.notice_date else "",
            notice_protocol=meeting.notice_protocol,
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
            # A form without them (an older page, a script): the defaults.
            **{name: web.field(data, name).strip() for name in HEADING if name in data},
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
        try:
            notice_date = date.fromisoformat(self.notice_date) if self.notice_date else None
        except ValueError:
            problems.append(ActionError(N_("Give the notice's date as a date."),
                                        field="notice_date"))  # fmt: skip
            notice_date = None
        if self.body and _number(self.body) is None:
            problems.append(ActionError(N_("Choose a body in use."), field="body"))
        convocation = Convocation(
            title=self.title, zone_ids=sorted(self.zone_ids), starts_at=starts_at, items=items,
            description=self.description, place=self.place,
            video_url=self.video_url, quorum=quorum, public=self.public,
            materials=[(m["title"], m["url"]) for m in self.materials if any(m.values())],
            secretary_email=self.secretary, body_id=_number(self.body) if self.body else None,
            chair_email=self.chair, vice_chair_email=self.vice_chair,
            session_number=(_number(self.session_number) or 0) if self.session_number else None,
            session_type=self.session_type, call=_number(self.call) or 0,
            notice_date=notice_date, notice_protocol=self.notice_protocol,
        )  # fmt: skip
        return convocation, problems


def _number(raw: str) -> int | None:
    return int(raw) if raw.isascii() and raw.isdigit() and len(raw) < 10 else None


def _rome_to_utc(raw: str) -> datetime | None:
    return web.rome_to_utc(raw, "starts_at")
