"""Meetings as iCalendar (RFC 5545) events, for a calendar application to import.

Pure functions on loaded objects: :func:`meeting_event` writes the content
lines of one meeting, unfolded and with every TEXT value already escaped, and
:func:`calendar` wraps any number of them in a VCALENDAR, folding each line at
75 octets and ending it with CRLF. Times are written in UTC, so no VTIMEZONE
is needed. The words in the description (agenda, video call, minutes) are
translatable, Italian by default.

Feeds and downloads are ``METHOD:PUBLISH``. An invitation sent by e-mail
(RFC 5546, iTIP) is ``METHOD:REQUEST`` (a cancellation ``METHOD:CANCEL``)
and names its ORGANIZER and the ATTENDEE it is sent to.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from collab.i18n import translations
from collab.meetings.models import AgendaItem, Meeting, MeetingState
from collab.meetings.verbale import AGENDA, MIN_ONLY, VIDEO_CALL  # the same wording
from collab.models import Zone

__all__ = ["METHODS", "calendar", "filename", "meeting_event"]

PRODID = "-//collab//meetings//IT"
LINE_OCTETS = 75  # RFC 5545 3.1: without the CRLF, and with a continuation's leading space
DEFAULT_MINUTES = 60  # the length of a meeting whose agenda is empty
METHODS = ("PUBLISH", "REQUEST", "CANCEL")
STATUSES = ("CONFIRMED", "CANCELLED")

# RFC 5545 3.3.11: TEXT may hold no control character but HTAB (newlines are
# escaped as "\n" before this is applied).
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


def _text(value: str) -> str:
    """A TEXT value, escaped (RFC 5545 3.3.11)."""
    value = value.replace("\r\n", "\n").replace("\r", "\n")
    value = value.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
    return _CONTROL.sub("", value.replace("\n", "\\n"))


def _address(prop: str, name: str, email: str, params: str = "") -> str:
    """A CAL-ADDRESS property (ORGANIZER, ATTENDEE): ``mailto:`` with a quoted CN.

    A parameter value may hold no DQUOTE nor control character (RFC 5545 3.1).
    """
    if not email or any(c in email for c in '\r\n"<>:; '):
        raise ValueError(f"not an e-mail address: {email!r}")
    cn = _CONTROL.sub("", name.replace("\r", "").replace("\n", " ")).replace('"', "'")
    return f'{prop};CN="{cn}"{params}:mailto:{email}'


def _utc(moment: datetime) -> str:
    """A DATE-TIME in UTC ("form #2"); a naive datetime is refused, not guessed."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"naive datetime: {moment!r}")
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def _fold(line: str) -> str:
    """``line`` folded so that no physical line is longer than 75 octets.

    A cut never falls inside a UTF-8 sequence: it moves back past
    continuation bytes (``10xxxxxx``) to the start of the character.
    """
    data = line.encode()
    chunks: list[bytes] = []
    start, room = 0, LINE_OCTETS
    while len(data) - start > room:
        end = start + room
        while data[end] & 0xC0 == 0x80:
            end -= 1
        chunks.append(data[start:end])
        start, room = end, LINE_OCTETS - 1  # the leading space takes one octet
    chunks.append(data[start:])
    return "\r\n ".join(chunk.decode() for chunk in chunks)


def _description(meeting: Meeting, items: list[AgendaItem], locale: str, video: bool) -> str:
    _ = translations(locale).gettext
    parts: list[str] = []
    if meeting.description.strip():
        parts.append(meeting.description.strip())
    if items:
        agenda = [f"{_(AGENDA)}:"]
        for number, item in enumerate(items, start=1):
            length = _(MIN_ONLY) % {"min": item.minutes}
            agenda.append(f"{number}. {item.title} ({item.theme.label(locale)}, {length})")
        parts.append("\n".join(agenda))
    if video and meeting.video_url:
        parts.append(f"{_(VIDEO_CALL)}: {meeting.video_url}")
    return "\n\n".join(parts)


def meeting_event(
    meeting: Meeting,
    items: Iterable[AgendaItem],
    zones: Iterable[Zone],
    url: str,
    now: datetime | None = None,
    *,
    sequence: int = 0,
    locale: str = "it",
    video: bool = True,
    status: str | None = None,
    organizer: tuple[str, str] | None = None,
    attendee: tuple[str, str] | None = None,
) -> list[str]:
    """The VEVENT of ``meeting``: its content lines, unfolded, TEXT values escaped.

    ``url`` is the absolute address of the meeting's page; its host makes the
    UID (``meeting-<id>@<host>``), the same at every export, so a calendar
    updates the event instead of adding a copy. ``sequence`` must grow each
    time the meeting changes in a way a calendar should show (time, place,
    cancellation); the caller keeps it. ``items`` are the agenda items and
    ``zones`` the convened zones; both are sorted here. ``now`` (default: the
    current time) is the DTSTAMP. ``video=False`` leaves the video-call link
    out (a public feed: only members see it, as on the meeting's page).
    ``status`` (CONFIRMED or CANCELLED) defaults to the meeting's state.
    ``organizer`` and ``attendee`` are (name, e-mail) pairs, for an invitation.
    """
    host = urlsplit(url).hostname
    if not host:
        raise ValueError(f"not an absolute URL: {url!r}")
    if sequence < 0:
        raise ValueError(f"negative sequence: {sequence}")
    agenda = sorted(items, key=lambda item: item.position)
    # The schema does not forbid a negative length; DTEND must not precede DTSTART.
    minutes = sum(max(item.minutes, 0) for item in agenda) or DEFAULT_MINUTES
    if status is None:
        status = "CANCELLED" if meeting.state == MeetingState.ANNULLATA else "CONFIRMED"
    if status not in STATUSES:
        raise ValueError(f"unknown status: {status!r}")
    if now is None:
        now = datetime.now(UTC)
    lines = [
        "BEGIN:VEVENT",
        f"UID:{_text(f'meeting-{meeting.id}@{host}')}",
        f"DTSTAMP:{_utc(now)}",
        f"DTSTART:{_utc(meeting.starts_at)}",
        f"DTEND:{_utc(meeting.starts_at + timedelta(minutes=minutes))}",
        f"SEQUENCE:{sequence}",
        f"STATUS:{status}",
        f"SUMMARY:{_text(meeting.title)}",
    ]
    if organizer is not None:
        lines.append(_address("ORGANIZER", *organizer))
    if attendee is not None:
        params = ";CUTYPE=INDIVIDUAL;ROLE=REQ-PARTICIPANT;PARTSTAT=NEEDS-ACTION;RSVP=FALSE"
        lines.append(_address("ATTENDEE", *attendee, params))
    if meeting.created_at is not None:  # set on insert: absent on an unsaved object
        lines.append(f"CREATED:{_utc(meeting.created_at)}")
    location = meeting.place or (meeting.video_url if video else "")
    if location:
        lines.append(f"LOCATION:{_text(location)}")
    description = _description(meeting, agenda, locale, video)
    if description:
        lines.append(f"DESCRIPTION:{_text(description)}")
    # A URI value is not TEXT: commas and semicolons in it stay as they are.
    lines.append(f"URL:{url}")
    names = [
        f"ZO {zone.number} {zone.label(locale)}" for zone in sorted(zones, key=lambda z: z.number)
    ]
    if names:
        lines.append("CATEGORIES:" + ",".join(map(_text, names)))
    lines.append("END:VEVENT")
    return lines


def calendar(events: Iterable[list[str]], name: str, *, method: str = "PUBLISH") -> str:
    """A VCALENDAR of ``events`` (from :func:`meeting_event`), ready to serve.

    ``method``: PUBLISH for a feed or a download, REQUEST for an invitation or
    its update, CANCEL for a cancellation (:data:`METHODS`).

    Each content line is folded at 75 octets and ends with CRLF. A line that
    still holds a line break was not escaped, and is refused.
    """
    if method not in METHODS:
        raise ValueError(f"unknown method: {method!r}")
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        f"PRODID:{PRODID}",
        "CALSCALE:GREGORIAN",
        f"METHOD:{method}",
        f"X-WR-CALNAME:{_text(name)}",
    ]
    for event in events:
        lines += event
    lines.append("END:VCALENDAR")
    for line in lines:
        if "\r" in line or "\n" in line:
            raise ValueError(f"line break in a content line: {line!r}")
    return "".join(_fold(line) + "\r\n" for line in lines)


def filename(meeting: Meeting) -> str:
    """The name of the downloaded file: ASCII only, safe in a Content-Disposition."""
    return f"riunione-{meeting.id}.ics"
