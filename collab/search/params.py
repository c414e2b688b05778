"""What a search asks, read from a URL's parameters: one reading for the page and the API.

``/search`` (:mod:`collab.search.pages`) and ``/api/v1/search``
(:mod:`collab.api.routes`) take the same parameters (docs/search.md) and
refuse the same values with the same messages: a filter that names nothing
raises :class:`BadFilter`, a query that cannot be searched
:class:`collab.search.text.QueryError`. Messages are msgids, translated by
the caller. No Starlette here: the parameters come as a mapping.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from collab.bounds import EARLIEST, LATEST
from collab.i18n import N_
from collab.models import Comune, Theme, User, Zone
from collab.search.documents import KINDS
from collab.search.engine import SORTS, Filters
from collab.templating import ROME

__all__ = ["FILTERS", "BadFilter", "raw_filters", "read_filters"]

FILTERS = ("kind", "zone", "theme", "comune", "author", "from", "to", "sort")
BAD_DATE = N_("Give dates as year-month-day, e.g. 2026-03-31.")


class BadFilter(ValueError):
    """A filter names nothing: its msgid, for the person."""


def raw_filters(params: Mapping[str, str]) -> dict[str, str]:
    """Every filter of :data:`FILTERS` as given (trimmed, at most 100 characters; "" if absent)."""
    return {name: params.get(name, "").strip()[:100] for name in FILTERS}


def _day(raw: str) -> date:
    try:
        day = date.fromisoformat(raw)
    except ValueError:
        raise BadFilter(BAD_DATE) from None
    if not EARLIEST <= day <= LATEST:
        raise BadFilter(BAD_DATE)
    return day


def _rome_midnight(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=ROME)


async def _one(session: AsyncSession, column: Any, where: Any, message: str) -> int:
    found = await session.scalar(select(column).where(where))
    if found is None:
        raise BadFilter(message)
    return int(found)


async def read_filters(session: AsyncSession, raw: dict[str, str]) -> Filters:
    """The filters of ``raw`` (:func:`raw_filters`); :class:`BadFilter` when one names nothing."""
    values: dict[str, Any] = {}
    if raw["kind"]:
        if raw["kind"] not in KINDS:
            raise BadFilter(N_("There is no such kind of result."))
        values["kind"] = raw["kind"]
    number = raw["zone"]
    if number:
        if not (number.isascii() and number.isdigit() and len(number) <= 3):
            raise BadFilter(N_("There is no such zone."))
        values["zone_id"] = await _one(
            session, Zone.id, Zone.number == int(number), N_("There is no such zone.")
        )
    if raw["theme"]:
        values["theme_id"] = await _one(
            session, Theme.id, Theme.slug == raw["theme"][:80], N_("There is no such theme.")
        )
    if raw["comune"]:
        values["comune_id"] = await _one(
            session,
            Comune.id,
            Comune.istat_code == raw["comune"][:6],
            N_("There is no such comune."),
        )
    author = raw["author"]
    if author:
        if not (author.isascii() and author.isdigit() and len(author) <= 9):
            raise BadFilter(N_("There is no such person."))
        values["author_id"] = await _one(
            session, User.id, User.id == int(author), N_("There is no such person.")
        )
    since = _day(raw["from"]) if raw["from"] else None
    until = _day(raw["to"]) if raw["to"] else None
    if since and until and since > until:
        raise BadFilter(N_("The first day comes after the last one."))
    if since:
        values["since"] = _rome_midnight(since)
    if until:
        values["until"] = _rome_midnight(until + timedelta(days=1))
    if raw["sort"]:
        if raw["sort"] not in SORTS:
            raise BadFilter(N_("Sort by relevance or by date."))
        values["sort"] = raw["sort"]
    return Filters(**values)
