"""Who may do what in a consultation, from the permission table and the consultation.

The table (:mod:`collab.permissions`) says what a role may do in consultations
addressed to its own zone or to others; these helpers add what only the
consultation knows: which comune a user contributes for (their own, or the one
whose sindaco named them delegate for this consultation).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable

from collab.consultations.models import ConsultationDelegate
from collab.models import User
from collab.permissions import Action, can_in_zones

__all__ = ["contributing_comune", "may_contribute_own", "may_manage", "may_read"]


def may_read(user: User | None, zone_ids: Collection[int]) -> bool:
    """Members of an addressed zone, CMTo staff and admins read a consultation,
    its drafts and every contribution to it (with their documents)."""
    return can_in_zones(user, Action.READ, zone_ids)


def may_manage(user: User | None, zone_ids: Collection[int]) -> bool:
    """Open, extend and answer: CMTo staff."""
    return can_in_zones(user, Action.CONSULT, zone_ids)


def may_contribute_own(user: User | None, zone_ids: Collection[int]) -> bool:
    """A sindaco (or portavoce) of a comune of an addressed zone: their own comune's voice."""
    return can_in_zones(user, Action.CONTRIBUTE, zone_ids)


def contributing_comune(
    user: User | None,
    zone_ids: Collection[int],
    delegates: Iterable[ConsultationDelegate] = (),
) -> int | None:
    """The comune ``user`` submits a contribution for, or None.

    A delegate submits for the comune that named them; otherwise a sindaco (or
    portavoce, a mayor too) for their own comune when its zone is addressed.
    """
    if user is None or not user.active:
        return None
    for delegate in delegates:
        if delegate.user_id == user.id:
            return delegate.comune_id
    if user.comune_id is None or not may_contribute_own(user, zone_ids):
        return None
    return user.comune_id
