"""Who may do what, per zone: the one authorization table of collab.

The table maps (action, role) to the *relations* to a zone in which the action
is allowed. ``docs/permissions.md`` mirrors it and ``tests/test_permissions.py``
walks every cell through real HTTP requests. Change all three together.
"""

from __future__ import annotations

import enum
from collections.abc import Collection

from collab.models import Role, User

__all__ = [
    "MEETING_ACTIONS",
    "TABLE",
    "Action",
    "Relation",
    "can",
    "can_in_zones",
    "meeting_relation",
    "relation",
]


class Action(enum.StrEnum):
    READ = "read"  # read a board, its threads and posts
    POST = "post"  # start a thread, reply
    EDIT_OWN = "edit_own"  # edit or delete one's own post
    MODERATE = "moderate"  # hide a post with a reason, pin, close
    MANAGE = "manage"  # users, comuni, zones, themes (not zone-bound)
    CONVENE = "convene"  # convene a meeting of a zone, chair it, write its verbale
    VOTE = "vote"  # check one's own comune in to a meeting and vote for it
    CONSULT = "consult"  # open a consultation of zones, extend it, answer its contributions
    CONTRIBUTE = "contribute"  # submit (and edit) one's own comune's contribution


class Relation(enum.StrEnum):
    """How the object's zone relates to the user."""

    OWN_ZONE = "own_zone"  # the zone of the user's comune
    OTHER_ZONE = "other_zone"  # any other zone
    METRO = "metro"  # metropolitan (all-zone) threads: no zone


OWN, OTHER, METRO = Relation.OWN_ZONE, Relation.OTHER_ZONE, Relation.METRO
ANY = frozenset({OWN, OTHER, METRO})
NONE: frozenset[Relation] = frozenset()
COMUNE_BOARDS = frozenset({OWN, METRO})
MEETING_ZONES = frozenset({OWN, OTHER})

# CMTo users (staff, admin) have no comune, hence no "own zone": every zone
# is OTHER_ZONE for them, so their rows grant ANY.
TABLE: dict[Action, dict[Role, frozenset[Relation]]] = {
    Action.READ: {
        Role.SINDACO: COMUNE_BOARDS,
        Role.TECNICO: COMUNE_BOARDS,
        Role.PORTAVOCE: COMUNE_BOARDS,
        Role.STAFF: ANY,
        Role.ADMIN: ANY,
    },
    Action.POST: {
        Role.SINDACO: COMUNE_BOARDS,
        Role.TECNICO: COMUNE_BOARDS,
        Role.PORTAVOCE: COMUNE_BOARDS,
        Role.STAFF: ANY,
        Role.ADMIN: ANY,
    },
    Action.EDIT_OWN: {
        Role.SINDACO: COMUNE_BOARDS,
        Role.TECNICO: COMUNE_BOARDS,
        Role.PORTAVOCE: COMUNE_BOARDS,
        Role.STAFF: ANY,
        Role.ADMIN: ANY,
    },
    Action.MODERATE: {
        Role.SINDACO: NONE,
        Role.TECNICO: NONE,
        Role.PORTAVOCE: frozenset({OWN}),
        Role.STAFF: ANY,
        Role.ADMIN: ANY,
    },
    Action.MANAGE: {
        Role.SINDACO: NONE,
        Role.TECNICO: NONE,
        Role.PORTAVOCE: NONE,
        Role.STAFF: NONE,
        Role.ADMIN: ANY,
    },
    # Meetings belong to zones, never to the metropolitan board: for them the
    # relation is OWN_ZONE when one of the convened zones is the user's.
    Action.CONVENE: {
        Role.SINDACO: NONE,
        Role.TECNICO: NONE,
        Role.PORTAVOCE: frozenset({OWN}),
        Role.STAFF: MEETING_ZONES,
        Role.ADMIN: NONE,
    },
    # Only for the user's own comune; a delegate the sindaco names for one
    # meeting votes too, whatever their role (collab.meetings.rules).
    Action.VOTE: {
        Role.SINDACO: frozenset({OWN}),
        Role.TECNICO: NONE,
        Role.PORTAVOCE: frozenset({OWN}),
        Role.STAFF: NONE,
        Role.ADMIN: NONE,
    },
    # Consultations, like meetings, are addressed to zones: OWN_ZONE when one
    # of them is the user's. A delegate the sindaco names for one consultation
    # contributes too, whatever their role (collab.consultations.rules).
    Action.CONSULT: {
        Role.SINDACO: NONE,
        Role.TECNICO: NONE,
        Role.PORTAVOCE: NONE,
        Role.STAFF: MEETING_ZONES,
        Role.ADMIN: NONE,
    },
    Action.CONTRIBUTE: {
        Role.SINDACO: frozenset({OWN}),
        Role.TECNICO: NONE,
        Role.PORTAVOCE: frozenset({OWN}),
        Role.STAFF: NONE,
        Role.ADMIN: NONE,
    },
}

# Actions on objects addressed to a set of zones (meetings, consultations).
MEETING_ACTIONS = frozenset({Action.CONVENE, Action.VOTE, Action.CONSULT, Action.CONTRIBUTE})


def relation(user: User, zone_id: int | None) -> Relation:
    """The relation of ``user`` to an object in ``zone_id`` (None = metropolitan)."""
    if zone_id is None:
        return METRO
    if user.zone_id is not None and user.zone_id == zone_id:
        return OWN
    return OTHER


def can(user: User | None, action: Action, zone_id: int | None = None) -> bool:
    """True when ``user`` may do ``action`` on an object in ``zone_id``.

    Anonymous and deactivated users may do nothing here (public meetings
    come with their own rules).
    """
    if user is None or not user.active:
        return False
    return relation(user, zone_id) in TABLE[action][user.role]


def meeting_relation(user: User, zone_ids: Collection[int]) -> Relation:
    """The relation of ``user`` to a meeting of ``zone_ids``: own zone if one is theirs."""
    if user.zone_id is not None and user.zone_id in zone_ids:
        return OWN
    return OTHER


def can_in_zones(user: User | None, action: Action, zone_ids: Collection[int]) -> bool:
    """True when ``user`` may do ``action`` on a meeting of ``zone_ids``."""
    if user is None or not user.active or not zone_ids:
        return False
    return meeting_relation(user, zone_ids) in TABLE[action][user.role]
