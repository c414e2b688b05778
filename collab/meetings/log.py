"""The meeting's own record (:class:`MeetingLog`): chair actions and attendance,
with who did what and when, for the verbale.

Each entry is written in the same transaction as the change it records, by the
action that makes it. ``detail`` is JSON: ids and names as they were then (a
comune renamed later is still named as it was at the meeting), never more than
the verbale needs. The actions (``action`` column):

- ``opened``: the meeting opened; detail: ``members``, ``present``,
  ``required``, ``held`` (the opening's quorum, as ``Meeting.opening``);
- ``item``: the chair moved to an agenda item; detail: ``item_id``, ``title``;
- ``vote_opened``: detail: ``vote_id``, ``motion``, ``without_quorum``,
  ``present``, ``required``;
- ``vote_closed``: detail: ``vote_id`` (written by the close);
- ``closed``: the meeting closed;
- ``check_in``, ``left``, ``back``: a member (a comune, or a person of a
  body of people) or a guest arrived, left, came back; detail: ``comune``
  (its name) or ``member`` (the person's), ``user`` (who), ``guest`` (bool).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from collab.db import UnitOfWork
from collab.meetings.models import MeetingLog
from collab.models import User, utcnow

__all__ = ["ATTENDANCE", "CHAIR_ACTIONS", "log"]

CHAIR_ACTIONS = ("opened", "item", "vote_opened", "vote_closed", "closed")
ATTENDANCE = ("check_in", "left", "back")


def log(
    uow: UnitOfWork, meeting_id: int, actor: User | None, action: str,
    at: datetime | None = None, **detail: Any,
) -> MeetingLog:  # fmt: skip
    """Add the entry ``action`` to meeting ``meeting_id``'s record, now (or ``at``)."""
    if action not in CHAIR_ACTIONS and action not in ATTENDANCE:
        raise ValueError(f"unknown meeting log action {action!r}")
    entry = MeetingLog(
        meeting_id=meeting_id, at=at or utcnow(), actor_id=actor.id if actor else None,
        action=action, detail=detail,
    )  # fmt: skip
    uow.session.add(entry)
    return entry
