"""The iCalendar export of meetings: lines, folding, escaping, and a parse of the result.

The ``icalendar`` package is not a dependency, so :func:`_parse` is a small
reader that checks what a strict one would: CRLF, octet-limited lines,
``NAME[;param=value]:value`` content lines and balanced BEGIN/END.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from collab.meetings.ics import calendar, filename, meeting_event
from collab.meetings.models import AgendaItem, Meeting, MeetingState
from collab.models import Theme, User, Zone

URL = "https://collab.example.it/meetings/7"
NOW = datetime(2026, 11, 1, 8, 30, tzinfo=UTC)
ROME = ZoneInfo("Europe/Rome")

CONTENT_LINE = re.compile(
    r"""^(?P<name>[A-Za-z0-9-]+)"""
    r"""(?P<params>(?:;[A-Za-z0-9-]+=(?:"[^"]*"|[^";:,]*)(?:,(?:"[^"]*"|[^";:,]*))*)*)"""
    r""":(?P<value>.*)$"""
)


def _meeting(**changes: object) -> Meeting:
    fields: dict[str, object] = {
        "id": 7,
        "title": "Giornata di sintesi ZO 5",
        "description": "",
        "place": "Sala consiliare, Pinerolo",
        "video_url": "",
        "starts_at": datetime(2026, 11, 24, 10, 0, tzinfo=ROME),  # 09:00 UTC
        "state": MeetingState.CONVOCATA,
        "created_at": datetime(2026, 10, 1, 12, 0, tzinfo=UTC),
        "convened_by": User(name="Segreteria CMTo"),
    }
    fields.update(changes)
    return Meeting(**fields)


def _items() -> list[AgendaItem]:
    # Given out of order: the export sorts them by position.
    return [
        AgendaItem(position=2, title="Trasporti", theme=Theme(name="Mobilità"), minutes=25),
        AgendaItem(position=1, title="Parere sul Piano", theme=Theme(name="Piano"), minutes=20),
    ]


def _zones() -> list[Zone]:
    return [Zone(number=6, name="Valli Susa e Sangone"), Zone(number=5, name="Pinerolese")]


def _event(
    meeting: Meeting | None = None,
    *,
    items: list[AgendaItem] | None = None,
    zones: list[Zone] | None = None,
    url: str = URL,
    now: datetime = NOW,
    sequence: int = 0,
) -> list[str]:
    return meeting_event(
        meeting or _meeting(),
        _items() if items is None else items,
        _zones() if zones is None else zones,
        url,
        now,
        sequence=sequence,
    )


def _unfold(text: str) -> list[str]:
    assert text.endswith("\r\n")
    return text[:-2].replace("\r\n ", "").split("\r\n")


def _unescape(value: str) -> str:
    return re.sub(r"\\([\\;,nN])", lambda m: "\n" if m[1] in "nN" else m[1], value)


def _props(lines: list[str]) -> dict[str, str]:
    """Name to raw value, for the properties of one event (each appears once here)."""
    return dict(line.split(":", 1) for line in lines if not line.startswith(("BEGIN", "END")))


def _parse(text: str) -> list[tuple[str, str, str]]:
    """(name, params, value) of each content line, after checking the framing."""
    raw = text.encode()
    assert raw.endswith(b"\r\n")
    bare = raw.replace(b"\r\n", b"")
    assert b"\r" not in bare and b"\n" not in bare, "a bare CR or LF"
    for physical in raw[:-2].split(b"\r\n"):
        assert len(physical) <= 75, physical
        physical.decode()  # a multi-byte character cut in two would fail here
    parsed = []
    stack: list[str] = []
    for line in _unfold(text):
        match = CONTENT_LINE.match(line)
        assert match, f"not a content line: {line!r}"
        name, value = match["name"].upper(), match["value"]
        if name == "BEGIN":
            stack.append(value)
        elif name == "END":
            assert stack and stack.pop() == value, f"END:{value} without its BEGIN"
        else:
            assert stack, f"{name} outside any component"
        parsed.append((name, match["params"], value))
    assert not stack, f"not closed: {stack}"
    return parsed


def test_times_in_utc() -> None:
    props = _props(_event())
    assert props["DTSTART"] == "20261124T090000Z"
    assert props["DTEND"] == "20261124T094500Z"  # 20 + 25 minutes of agenda
    assert props["DTSTAMP"] == "20261101T083000Z"
    assert props["CREATED"] == "20261001T120000Z"


def test_an_empty_agenda_lasts_an_hour() -> None:
    props = _props(_event(items=[]))
    assert props["DTEND"] == "20261124T100000Z"


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        _event(_meeting(starts_at=datetime(2026, 11, 24, 10, 0)))


def test_uid_is_stable_and_comes_from_the_host() -> None:
    first = _props(_event())
    later = _props(_event(now=NOW + timedelta(days=3), sequence=2, items=[]))
    assert first["UID"] == later["UID"] == "meeting-7@collab.example.it"
    assert later["SEQUENCE"] == "2" and first["SEQUENCE"] == "0"
    port = _props(_event(url="https://Collab.Example.it:8443/meetings/7"))
    assert port["UID"] == "meeting-7@collab.example.it"


def test_relative_url_is_refused() -> None:
    with pytest.raises(ValueError, match="absolute"):
        _event(url="/meetings/7")


@pytest.mark.parametrize(
    ("state", "status"),
    [
        (MeetingState.CONVOCATA, "CONFIRMED"),
        (MeetingState.IN_CORSO, "CONFIRMED"),
        (MeetingState.CHIUSA, "CONFIRMED"),
        (MeetingState.ANNULLATA, "CANCELLED"),
    ],
)
def test_status(state: MeetingState, status: str) -> None:
    assert _props(_event(_meeting(state=state)))["STATUS"] == status


def test_description_agenda_and_video() -> None:
    meeting = _meeting(description="Convocazione.", video_url="https://meet.example.it/zo5")
    props = _props(_event(meeting))
    assert _unescape(props["DESCRIPTION"]) == (
        "Convocazione.\n\n"
        "Ordine del giorno:\n"
        "1. Parere sul Piano (Piano, 20 min)\n"
        "2. Trasporti (Mobilità, 25 min)\n\n"
        "Collegamento video: https://meet.example.it/zo5"
    )
    assert _unescape(props["LOCATION"]) == "Sala consiliare, Pinerolo"
    assert props["URL"] == URL
    assert props["CATEGORIES"] == "ZO 5 Pinerolese,ZO 6 Valli Susa e Sangone"


def test_location_falls_back_to_the_video_link() -> None:
    meeting = _meeting(place="", video_url="https://meet.example.it/zo5")
    props = _props(_event(meeting, items=[]))
    assert props["LOCATION"] == "https://meet.example.it/zo5"
    assert _unescape(props["DESCRIPTION"]) == "Collegamento video: https://meet.example.it/zo5"


def test_no_description_without_content() -> None:
    props = _props(_event(_meeting(place=""), items=[], zones=[]))
    assert "DESCRIPTION" not in props and "LOCATION" not in props and "CATEGORIES" not in props


def test_escaping() -> None:
    title = "Bilancio, piano; e altro\\varie"
    description = "Prima riga;\r\nseconda, con virgola\nterza"
    text = calendar([_event(_meeting(title=title, description=description), items=[])], "ZO")
    props = dict((name, value) for name, _params, value in _parse(text))
    assert props["SUMMARY"] == "Bilancio\\, piano\\; e altro\\\\varie"
    assert _unescape(props["SUMMARY"]) == title
    assert _unescape(props["DESCRIPTION"]) == "Prima riga;\nseconda, con virgola\nterza"
    assert "\n" not in props["DESCRIPTION"]


def test_folding_keeps_characters_whole() -> None:
    title = "Perché la città più è unità, è ‘qualità’: " * 6 + "😀" * 20
    text = calendar([_event(_meeting(title=title), items=[])], "Riunioni")
    physical = text.encode().split(b"\r\n")[:-1]
    assert len(physical) > len(_unfold(text)), "nothing was folded"
    assert all(len(line) <= 75 for line in physical)
    for line in physical:
        line.decode()  # strict: a character cut in two raises
    summary = next(v for n, _p, v in _parse(text) if n == "SUMMARY")
    assert _unescape(summary) == title


@pytest.mark.parametrize("length", [74, 75, 76, 149, 150, 151])
def test_folding_at_the_limit(length: int) -> None:
    line = "X-TEST:" + "a" * (length - len("X-TEST:"))
    body = calendar([[line]], "c").split("\r\n")[6:-2]
    assert "".join([body[0], *(p.removeprefix(" ") for p in body[1:])]) == line
    assert len(body) == (1 if length <= 75 else 2 if length <= 149 else 3)
    assert all(len(p.encode()) <= 75 for p in body)
    assert all(p.startswith(" ") for p in body[1:])


def test_crlf_everywhere() -> None:
    text = calendar([_event(), _event(_meeting(id=8))], "Riunioni")
    assert text.endswith("\r\n")
    assert text.count("\n") == text.count("\r\n") == text.count("\r")


def test_calendar_parses() -> None:
    text = calendar(
        [_event(), _event(_meeting(id=8, state=MeetingState.ANNULLATA))], "Riunioni, ZO 5"
    )
    lines = _parse(text)
    names = [name for name, _params, _value in lines]
    assert names[:6] == ["BEGIN", "VERSION", "PRODID", "CALSCALE", "METHOD", "X-WR-CALNAME"]
    assert dict((n, v) for n, _p, v in lines[:6])["PRODID"] == "-//collab//meetings//IT"
    assert lines[5][2] == "Riunioni\\, ZO 5"
    assert names.count("BEGIN") == 3 and names[-1] == "END"
    assert [v for n, _p, v in lines if n == "UID"] == [
        "meeting-7@collab.example.it",
        "meeting-8@collab.example.it",
    ]


def test_an_unescaped_line_break_is_refused() -> None:
    with pytest.raises(ValueError, match="line break"):
        calendar([["SUMMARY:two\nlines"]], "c")


def test_filename() -> None:
    assert filename(_meeting(id=7)) == "riunione-7.ics"
    assert filename(_meeting(id=7)).isascii()
