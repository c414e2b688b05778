"""Input bounds shared by every form: the dates a person could mean.

A date far outside them is a typing slip or a probe, never a meeting or a
deadline; refusing it at the door also keeps it away from arithmetic that
fails outside ``datetime``'s range (a year-1 date in Turin's time zone has no
UTC equivalent: ``OverflowError``, a 500). Every date or date-time field of
a form goes through :func:`check_date`.
"""

from __future__ import annotations

from datetime import date

from collab.errors import ActionError
from collab.i18n import N_

__all__ = ["EARLIEST", "LATEST", "OUT_OF_RANGE", "check_date"]

EARLIEST = date(2000, 1, 1)
LATEST = date(2100, 12, 31)
OUT_OF_RANGE = N_("Give a date between %(earliest)s and %(latest)s.")


def check_date(value: date, field: str | None) -> date:
    """``value`` if it lies in ``EARLIEST..LATEST``; else a 422 on ``field``."""
    if not EARLIEST <= value <= LATEST:
        raise ActionError(
            OUT_OF_RANGE, field=field,
            earliest=EARLIEST.strftime("%d/%m/%Y"), latest=LATEST.strftime("%d/%m/%Y"),
        )  # fmt: skip
    return value
