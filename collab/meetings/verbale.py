"""The draft of a meeting's verbale, written from the record when it closes.

The secretary gets Markdown to edit, not a blank page: date and place, who
chaired, the convened zones, present and absent comuni (and who was present
without a vote), each agenda item with its notes, who spoke and for how long,
each vote with its roll-call line and result, and the materials. The record
comes in as plain values (:class:`Record`), so this module knows nothing of
the database; the wording is translatable, Italian by default.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from collab.i18n import N_, translations
from collab.meetings.tally import Outcome, outcome_text, roll_call
from collab.templating import local_time

__all__ = ["ItemRecord", "Record", "Speech", "VoteRecord", "draft", "duration"]

Gettext = Callable[[str], str]
Ngettext = Callable[[str, str, int], str]


@dataclass(frozen=True)
class Speech:
    speaker: str
    comune: str | None
    seconds: int


@dataclass(frozen=True)
class VoteRecord:
    motion: str
    outcome: Outcome
    point: str = ""


@dataclass(frozen=True)
class ItemRecord:
    title: str
    theme: str
    notes: str = ""  # Markdown, as the secretary typed it
    speeches: list[Speech] = field(default_factory=list)
    votes: list[VoteRecord] = field(default_factory=list)


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
    present: list[tuple[str, str]] = field(default_factory=list)  # (comune, who checked in)
    absent: list[str] = field(default_factory=list)  # comuni
    guests: list[str] = field(default_factory=list)  # present without a vote
    quorum: int = 0
    items: list[ItemRecord] = field(default_factory=list)
    materials: list[str] = field(default_factory=list)


MIN_SEC = N_("%(min)d min %(sec)d s")
MIN_ONLY = N_("%(min)d min")
SEC_ONLY = N_("%(sec)d s")
ATTENDANCE = N_("Attendance")
COMUNI_PRESENT = N_("Comuni present")
NONE = N_("none")
COMUNI_ABSENT = N_("Comuni absent")
PRESENT_WITHOUT_A_VOTE = N_("Present without a vote")
QUORUM_REACHED = N_("Quorum %(num)d: reached")
QUORUM_MISSED = N_("Quorum %(num)d: not reached")
SECRET_VOTE = N_("secret vote")
OPEN_VOTE = N_("open vote")
VOTE = N_("Vote")
RESULT = N_("Result")
SPEAKERS = N_("Speakers")
TITLE = N_("Minutes")
DATE = N_("Date")
TIME_SPAN = N_("from %(start)s to %(end)s")
PLACE = N_("Place")
VIDEO_CALL = N_("Video call")
CONVENED_ZONES = N_("Convened zones")
CHAIR = N_("Chair")
SECRETARY = N_("Secretary")
AGENDA = N_("Agenda")
MATERIALS = N_("Materials")

_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]<>#|])")


def _md(text: str) -> str:
    """Plain text (a name, a title) inside Markdown: no accidental formatting."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text.replace("\n", " "))


def duration(seconds: int, gettext: Gettext) -> str:
    minutes, secs = divmod(max(seconds, 0), 60)
    if minutes and secs:
        return gettext(MIN_SEC) % {"min": minutes, "sec": secs}
    if minutes:
        return gettext(MIN_ONLY) % {"min": minutes}
    return gettext(SEC_ONLY) % {"sec": secs}


def _attendance(record: Record, _: Gettext) -> list[str]:
    lines = [f"## {_(ATTENDANCE)}", ""]
    total = len(record.present) + len(record.absent)
    lines.append(
        f"**{_(COMUNI_PRESENT)}** ({len(record.present)}/{total}): "
        + ("; ".join(f"{_md(comune)} ({_md(who)})" for comune, who in record.present) or _(NONE))
    )
    lines.append("")
    lines.append(
        f"**{_(COMUNI_ABSENT)}** ({len(record.absent)}): "
        + (", ".join(_md(c) for c in record.absent) or _(NONE))
    )
    if record.guests:
        lines += ["", f"**{_(PRESENT_WITHOUT_A_VOTE)}**: " + ", ".join(map(_md, record.guests))]
    if record.quorum:
        held = len(record.present) >= record.quorum
        text = _(QUORUM_REACHED) if held else _(QUORUM_MISSED)
        lines += ["", text % {"num": record.quorum}]
    return [*lines, ""]


def _vote(vote: VoteRecord, _: Gettext, ngettext: Ngettext) -> list[str]:
    title = _md(vote.motion) + (f" — {_md(vote.point)}" if vote.point else "")
    kind = _(SECRET_VOTE) if vote.outcome.secret else _(OPEN_VOTE)
    result = outcome_text(vote.outcome, _)
    return [
        f"**{_(VOTE)}** ({kind}): {title}",
        "",
        roll_call(vote.outcome, _, ngettext) + ".",
        "",
        f"**{_(RESULT)}**: {result}.",
        "",
    ]


def _item(number: int, item: ItemRecord, _: Gettext, ngettext: Ngettext) -> list[str]:
    lines = [f"### {number}. {_md(item.title)}", "", f"*{_md(item.theme)}*", ""]
    if item.notes.strip():
        lines += [item.notes.strip(), ""]
    if item.speeches:
        spoke = "; ".join(
            f"{_md(s.speaker)}"
            + (f" ({_md(s.comune)})" if s.comune else "")
            + f", {duration(s.seconds, _)}"
            for s in item.speeches
        )
        lines += [f"**{_(SPEAKERS)}**: {spoke}.", ""]
    for vote in item.votes:
        lines += _vote(vote, _, ngettext)
    return lines


def draft(record: Record, locale: str = "it") -> str:
    """The verbale's first draft, in Markdown."""
    _ = translations(locale).gettext
    day = local_time(record.opened_at, "EEEE d MMMM y", locale)
    start = local_time(record.opened_at, "HH:mm", locale)
    end = local_time(record.closed_at, "HH:mm", locale)
    lines = [
        f"# {_(TITLE)}: {_md(record.title)}",
        "",
        f"**{_(DATE)}**: {day}, " + _(TIME_SPAN) % {"start": start, "end": end},
    ]
    if record.place:
        lines += ["", f"**{_(PLACE)}**: {_md(record.place)}"]
    if record.video_url:
        lines += ["", f"**{_(VIDEO_CALL)}**: <{record.video_url}>"]
    lines += [
        "",
        f"**{_(CONVENED_ZONES)}**: " + ", ".join(map(_md, record.zones)),
        "",
        f"**{_(CHAIR)}**: {_md(record.chair)}"
        + (f" — **{_(SECRETARY)}**: {_md(record.secretary)}" if record.secretary else ""),
        "",
    ]
    lines += _attendance(record, _)
    lines += [f"## {_(AGENDA)}", ""]
    for number, item in enumerate(record.items, start=1):
        lines += _item(number, item, _, translations(locale).ngettext)
    if record.materials:
        lines += [f"## {_(MATERIALS)}", ""] + [f"- {_md(m)}" for m in record.materials] + [""]
    return "\n".join(lines).rstrip() + "\n"
