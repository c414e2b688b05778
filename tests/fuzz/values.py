"""Hostile values for form fields, JSON bodies and path parameters.

Every value is ``bytes``: a form can carry anything on the wire, including
bytes that are not UTF-8, and the fuzz suite sends them as they are. Each kind
of field (a date, a number, a choice among a few words) mixes values the
field accepts with values just past its edges, so that a run reaches both the
code that writes and the code that refuses.
"""

from __future__ import annotations

from hypothesis import strategies as st

__all__ = ["HUGE", "date_values", "datetime_values", "enum_values", "number_values", "text_values"]

# Past MAX_FORM_BYTES (256 KiB) once it is url-encoded, and far past any
# column's length: the biggest single value a request may try.
HUGE = 300 * 1024

_utf8 = st.text(max_size=80).map(lambda s: s.encode("utf-8", "surrogatepass"))
_odd_strings = st.sampled_from(
    [
        "",
        " ",
        "\x00",
        "a\x00b",
        "\ud800",  # a lone surrogate: not encodable as UTF-8 by the book
        "\u202e\u0646\u0635",  # right-to-left override and Arabic letters
        "<script>alert(1)</script>",
        "' OR 1=1 --",
        "../../etc/passwd",
        "%00",
        "\r\nSet-Cookie: x=1",
        "¹²³",  # digits to str.isdigit(), not to int()
        "٣",
        "𝟙𝟚",
        "🙂" * 50,
    ]
).map(lambda s: s.encode("utf-8", "surrogatepass"))
_invalid_utf8 = st.sampled_from([b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\xf8\x88\x80\x80\x80"])
_huge = st.sampled_from([b"x" * 5000, b"\x00" * 3000, "é".encode() * 40000, b"y" * HUGE])


def text_values() -> st.SearchStrategy[bytes]:
    """Any text: short Unicode, odd strings, invalid UTF-8, raw bytes, and now
    and then a huge one (rarely: one huge field makes the whole form a 413)."""
    usual = st.one_of(_utf8, _odd_strings, _invalid_utf8, st.binary(max_size=40))
    return st.integers(min_value=0, max_value=39).flatmap(lambda n: _huge if n == 0 else usual)


def number_values() -> st.SearchStrategy[bytes]:
    """Numbers in and far out of range, and things that look like numbers."""
    return st.one_of(
        st.integers(min_value=-3, max_value=40).map(lambda n: str(n).encode()),
        st.integers(min_value=-(2**70), max_value=2**70).map(lambda n: str(n).encode()),
        # Digits to str.isdigit() that int() refuses (superscripts), and
        # digits of other scripts that int() takes.
        st.sampled_from([b"\xc2\xb2", "¹²".encode(), "٣".encode(), "１".encode()]),
        st.sampled_from(
            [
                b"2147483647",
                b"2147483648",
                b"9" * 9,
                b"9" * 30,
                b"1e309",
                b"NaN",
                b"-0",
                b"0x10",
                b"1.5",
                b" 7",
                b"\xd9\xa3",
                b"\xc2\xb2",
                "１".encode(),
            ]
        ),
        text_values(),
    )


def _iso_date(year: int, month: int, day: int) -> bytes:
    return f"{year:04d}-{month:02d}-{day:02d}".encode()


def date_values() -> st.SearchStrategy[bytes]:
    """``YYYY-MM-DD`` values, year 1 to 9999 and beyond, real days and not."""
    return st.one_of(
        st.builds(
            _iso_date,
            st.sampled_from([1, 2, 1000, 1969, 2026, 2027, 9998, 9999]),
            st.integers(min_value=0, max_value=13),
            st.integers(min_value=0, max_value=32),
        ),
        st.dates().map(lambda d: d.isoformat().encode()),
        st.sampled_from([b"10000-01-01", b"-0001-01-01", b"2026-13-01", b"2026-02-30"]),
        text_values(),
    )


def datetime_values() -> st.SearchStrategy[bytes]:
    """``datetime-local`` values (``YYYY-MM-DDTHH:MM``) at and past the calendar's ends."""
    return st.one_of(
        st.builds(
            lambda day, hour, minute: day + f"T{hour:02d}:{minute:02d}".encode(),
            date_values(),
            st.integers(min_value=0, max_value=25),
            st.integers(min_value=0, max_value=61),
        ),
        st.datetimes().map(lambda d: d.isoformat(timespec="minutes").encode()),
        st.sampled_from(
            [
                b"0001-01-01T00:00",
                b"9999-12-31T23:59",
                b"2026-12-31T10:00+02:00",
                b"2030-01-01T10:00:00Z",
                b"2030-01-01 10:00",
            ]
        ),
    )


def enum_values(*valid: str) -> st.SearchStrategy[bytes]:
    """One of the field's words (often), or a wrong one."""
    words = st.sampled_from([v.encode() for v in valid]) if valid else st.nothing()
    return st.one_of(words, words, st.sampled_from([b"", b"0", b"1", b"on", b"true"]),
                     text_values())  # fmt: skip
