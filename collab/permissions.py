"""Who may do what, per zone: the one authorization table of collab.

The table maps (action, role) to the *relations* to a zone in which the action
is allowed. ``docs/permissions.md`` mirrors it and ``tests/test_permissions.py``
walks every cell through real HTTP requests. Change all three together.
"""

from __future__ import annotations

import enum

from collab.models import Role, User

__all__ = ["TABLE", "Action", "Relation", "can", "relation"]


class Action(enum.StrEnum):
    READ = "read"  # read a board, its threads and posts
    POST = "post"  # start a thread, reply
    EDIT_OWN = "edit_own"  # edit or delete one's own post
    MODERATE = "moderate"  # hide a post with a reason, pin, close
    MANAGE = "manage"  # users, comuni, zones, themes (not zone-bound)


class Relation(enum.StrEnum):
    """How the object's zone relates to the user."""

    OWN_ZONE = "own_zone"  # the zone of the user's comune
    OTHER_ZONE = "other_zone"  # any other zone
    METRO = "metro"  # metropolitan (all-zone) threads: no zone


OWN, OTHER, METRO = Relation.OWN_ZONE, Relation.OTHER_ZONE, Relation.METRO
ANY = frozenset({OWN, OTHER, METRO})
NONE: frozenset[Relation] = frozenset()
COMUNE_BOARDS = frozenset({OWN, METRO})

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
}


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
