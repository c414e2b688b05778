"""The draft of a meeting's verbale, written from the record when it closes.

The secretary gets Markdown to edit, not a blank page. The record comes in
as plain values (:class:`Record`), so this module knows nothing of the
database: the body and its session (number, type, call), date, times and
place, the convocation (notice date and protocol), the agenda, the body's
members present and absent and who was there without a vote, each point
with its notes, speakers and votes (OGGETTO, the dispositivo, how the vote
was taken, the roll-call line, the majority and the outcome), the chair's
actions as the meeting log has them, and the signature blocks.

The text is laid out by a Jinja2 template run in a sandbox
(:mod:`collab.meetings.verbale_template`): the body's own, which admins
edit, or the default one (``templates/meetings/verbale_draft.txt``),
translatable, following Italian council practice.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from collab.i18n import N_, translations
from collab.meetings.models import SessionType, VoteMethod
from collab.meetings.tally import (
    Outcome,
    double_line,
    majority_line,
    outcome_text,
    roll_call,
)
from collab.templating import local_time

__all__ = [
    "AGENDA",
    "TIME_SPAN",
    "TITLE",
    "VIDEO_CALL",
    "Attendee",
    "Guest",
    "ItemRecord",
    "LogEntry",
    "Record",
    "Speech",
    "VoteRecord",
    "draft",
    "duration",
    "log_text",
    "method_text",
]

Gettext = Callable[[str], str]


@dataclass(frozen=True)
class Speech:
    speaker: str
    comune: str | None
    seconds: int
    at: datetime | None = None  # when they were given the floor


@dataclass(frozen=True)
class VoteRecord:
    motion: str  # the OGGETTO
    outcome: Outcome
    point: str = ""
    text: str = ""  # the dispositivo (Markdown, as the chair typed it)
    method: VoteMethod = VoteMethod.ROLL_CALL
    opened_at: datetime | None = None
    closed_at: datetime | None = None
    without_quorum: bool = False  # opened without the quorum, after confirming
    opened_by: str = ""
    closed_by: str = ""


@dataclass(frozen=True)
class ItemRecord:
    title: str
    theme: str
    notes: str = ""  # Markdown, as the secretary typed it
    speeches: list[Speech] = field(default_factory=list)
    votes: list[VoteRecord] = field(default_factory=list)


@dataclass(frozen=True)
class Attendee:
    """A member of the body present at the meeting."""

    name: str  # the comune, or the person
    who: str = ""  # a comune: who checked it in (the sindaco or a delegate)
    title: str = ""  # a person: their title in the body
    left_at: datetime | None = None  # when they left before the close


@dataclass(frozen=True)
class Guest:
    """Someone present without a vote."""

    name: str
    role: str = ""
    zone: str = ""


@dataclass(frozen=True)
class LogEntry:
    """One line of the meeting's log (``MeetingLog``)."""

    at: datetime
    actor: str
    action: str
    detail: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Record:
    title: str
    zones: list[str]  # "ZO 5 Pinerolese"
    opened_at: datetime
    closed_at: datetime
    chair: str
    secretary: str = ""
    place: str = ""
    video_url: str = ""
    present: list[Attendee] = field(default_factory=list)
    absent: list[str] = field(default_factory=list)  # members: comuni or people
    guests: list[Guest] = field(default_factory=list)  # present without a vote
    quorum: int = 0  # members present required
    items: list[ItemRecord] = field(default_factory=list)
    materials: list[str] = field(default_factory=list)
    # The body and the session (a meeting without a body: "", defaults).
    body: str = ""
    by_people: bool = False  # members are named people, not comuni
    show_theme: bool = False
    session_number: int | None = None
    session_type: SessionType = SessionType.ORDINARIA
    call: int = 1
    notice_date: date | None = None
    notice_protocol: str = ""
    chair_title: str = ""
    vice_chair: str = ""
    vice_chair_title: str = ""
    secretary_title: str = ""
    # At the opening: members present and required (Meeting.opening), if recorded.
    opening_present: int | None = None
    log: list[LogEntry] = field(default_factory=list)

    @property
    def members(self) -> int:
        return len(self.present) + len(self.absent)


# Shared with the verbale's page header and the calendar (same wording).
TITLE = N_("Minutes")
TIME_SPAN = N_("from %(start)s to %(end)s")
AGENDA = N_("Agenda")
VIDEO_CALL = N_("Video call")

MIN_SEC = N_("%(min)d min %(sec)d s")
MIN_ONLY = N_("%(min)d min")
SEC_ONLY = N_("%(sec)d s")

METHODS = {
    VoteMethod.ROLL_CALL: N_("openly, by roll call"),
    VoteMethod.ELECTRONIC: N_("openly, by electronic voting system"),
    VoteMethod.SECRET: N_("by secret ballot"),
}

# The meeting log's entries as the verbale states them (collab/meetings/log.py
# names the actions): the chair's, with "%(actor)s" who did it, ...
CHAIR_TEXTS = {
    "opened": N_("%(actor)s opens the session"),
    "item": N_("%(actor)s moves to the item: %(title)s"),
    "vote_opened": N_("%(actor)s opens the vote on: %(motion)s"),
    "vote_opened_without_quorum": N_(
        "%(actor)s opens the vote on: %(motion)s, without the quorum, after confirming it"
    ),
    "vote_closed": N_("%(actor)s closes the vote on: %(motion)s"),
    "closed": N_("%(actor)s closes the session"),
}
# ... and who came and went once the session was open, "%(who)s".
ATTENDANCE_TEXTS = {
    "check_in": N_("%(who)s enters"),
    "left": N_("%(who)s leaves"),
    "back": N_("%(who)s comes back"),
}
LOG_TEXTS = {**CHAIR_TEXTS, **ATTENDANCE_TEXTS}

_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]<>#|])")


def md(text: str) -> str:
    """Plain text (a name, a title) inside Markdown: no accidental formatting."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", str(text).replace("\n", " "))


def duration(seconds: int, gettext: Gettext) -> str:
    minutes, secs = divmod(max(seconds, 0), 60)
    if minutes and secs:
        return gettext(MIN_SEC) % {"min": minutes, "sec": secs}
    if minutes:
        return gettext(MIN_ONLY) % {"min": minutes}
    return gettext(SEC_ONLY) % {"sec": secs}


def method_text(method: VoteMethod, gettext: Gettext) -> str:
    """How the vote was taken: "in modo palese, per appello nominale"."""
    return gettext(METHODS[method])


class _Default(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return "?"


def _who(detail: Mapping[str, Any], actor: str) -> str:
    """Who came or went: "Pinerolo (Mario Rossi)", a person, or who acted."""
    user = str(detail.get("user") or actor)
    if detail.get("comune"):
        return f"{detail['comune']} ({user})"
    return str(detail.get("member") or user)


def log_text(entry: LogEntry, gettext: Gettext) -> str:
    """A log entry in words, or "" for what the verbale does not state."""
    action = entry.action
    if action == "vote_opened" and entry.detail.get("without_quorum"):
        action = "vote_opened_without_quorum"
    text = LOG_TEXTS.get(action)
    if text is None:
        return ""
    values = _Default({k: v for k, v in entry.detail.items() if isinstance(v, str | int)})
    values.setdefault("actor", entry.actor)
    values["who"] = _who(entry.detail, entry.actor)
    return gettext(text) % values


def draft(record: Record, locale: str = "it", template: str = "") -> str:
    """The verbale's first draft, in Markdown, by ``template`` (empty: the default one).

    A body's template that fails here (it was checked when saved, but the
    record may hold what the preview did not) gives way to the default one,
    so closing a meeting never fails on its verbale.
    """
    from collab.meetings.verbale_template import TemplateProblem, render

    if template.strip():
        try:
            return render(template, record, locale)
        except TemplateProblem:
            pass
    return render("", record, locale)


def _voters(outcome: Outcome, by_people: bool) -> str:
    """Who cast each comune's ballot, "Airasca (Mario Rossi); Cumiana (Paola Ferri)";
    "" for a secret vote or a body of people (the name is the voter's: a person
    whose own name ends in a bracket, "Portavoce ZO 5 (Cumiana)", is no comune)."""
    if outcome.secret or by_people:
        return ""
    cast = sorted(outcome.cast_by.items(), key=lambda pair: pair[0].casefold())
    return "; ".join(outcome.voter(name) for name, who in cast if who and who != name)


def context_of(record: Record, locale: str) -> dict[str, Any]:
    """The values a verbale template sees: the record with its dates and wordings
    ready to print (see :mod:`collab.meetings.verbale_template`)."""
    catalog = translations(locale)
    _, ngettext = catalog.gettext, catalog.ngettext

    def day(value: date | datetime | None) -> str:
        if value is None:
            return ""
        if isinstance(value, datetime):
            return local_time(value, "EEEE d MMMM y", locale)
        from babel.dates import format_date

        return format_date(value, "d MMMM y", locale=locale)

    def time(value: datetime | None) -> str:
        return local_time(value, "HH:mm", locale) if value else ""

    def vote(v: VoteRecord) -> dict[str, Any]:
        return {
            "motion": v.motion, "point": v.point, "text": Markdown(v.text.strip()),
            "method": v.method.value, "method_text": method_text(v.method, _),
            "secret": v.outcome.secret, "roll_call": roll_call(v.outcome, _, ngettext),
            "majority": majority_line(v.outcome, _, ngettext) if v.outcome.members else "",
            "double": double_line(v.outcome, _, ngettext, locale),
            "voters": _voters(v.outcome, record.by_people),
            "result": outcome_text(v.outcome, _), "approved": v.outcome.approved,
            "quorum": v.outcome.quorum, "present": len(v.outcome.present),
            "quorum_held": v.outcome.quorum_held, "without_quorum": v.without_quorum,
            "opened": time(v.opened_at), "closed": time(v.closed_at),
            "opened_by": v.opened_by, "closed_by": v.closed_by,
        }  # fmt: skip

    def speech(s: Speech) -> dict[str, Any]:
        return {"speaker": s.speaker, "comune": s.comune or "", "at": time(s.at),
                "length": duration(s.seconds, _)}  # fmt: skip

    items = [
        {"number": n, "title": i.title, "theme": i.theme, "notes": Markdown(i.notes.strip()),
         "speeches": [speech(s) for s in i.speeches], "votes": [vote(v) for v in i.votes]}
        for n, i in enumerate(record.items, start=1)
    ]  # fmt: skip
    log = [
        {"time": time(e.at), "text": text}
        for e in record.log
        if e.action in CHAIR_TEXTS and (text := log_text(e, _))
    ]
    # Arrivals before the opening are the attendance list; leaving at the close is the close.
    movements = [
        {"time": time(e.at), "text": text}
        for e in record.log
        if e.action in ATTENDANCE_TEXTS
        and record.opened_at < e.at < record.closed_at
        and (text := log_text(e, _))
    ]
    present = [
        {"name": a.name, "who": a.who if a.who != a.name else "", "title": a.title,
         "left": time(a.left_at)}
        for a in record.present
    ]  # fmt: skip
    return {
        "body": {"name": record.body, "by_people": record.by_people,
                 "show_theme": record.show_theme},
        "meeting": {
            "title": record.title, "zones": record.zones, "number": record.session_number,
            "type": record.session_type.value, "call": record.call,
            "date": day(record.opened_at), "opened": time(record.opened_at),
            "closed": time(record.closed_at), "place": record.place,
            "video_url": record.video_url, "notice_date": day(record.notice_date),
            "notice_protocol": record.notice_protocol,
        },
        "chair": {"name": record.chair, "title": record.chair_title},
        "vice_chair": {"name": record.vice_chair, "title": record.vice_chair_title},
        "secretary": {"name": record.secretary, "title": record.secretary_title},
        "members": record.members,
        "present": present,
        "absent": record.absent,
        "guests": [{"name": g.name, "role": g.role, "zone": g.zone} for g in record.guests],
        "quorum": record.quorum,
        "opening_present": (
            record.opening_present if record.opening_present is not None else len(record.present)
        ),
        "items": items,
        "log": log,
        "movements": movements,
        "materials": record.materials,
    }  # fmt: skip


class Markdown(str):
    """Text that is Markdown already (notes, a dispositivo): printed as it is."""

    __slots__ = ()
