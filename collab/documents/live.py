"""The forms library, live: the topic kind ``library:N`` (a theme's forms:
whoever reads the metropolitan boards) and the frames of ``document.*``
events (:mod:`collab.documents.frames`)."""

from __future__ import annotations

from collab.db import Database
from collab.documents.frames import LibraryFrames
from collab.models import Theme, User
from collab.permissions import Action, can
from collab.realtime.registry import LiveFeature, TopicKind, Zones

__all__ = ["feature"]


async def _zones(db: Database, theme_id: int) -> Zones | None:
    """The library is metropolitan. Themes are deactivated, never deleted:
    one found stays found (the engine remembers it)."""
    async with db.session() as session:
        theme = await session.get(Theme, theme_id)
    return None if theme is None else frozenset({None})


def _may_follow(user: User, zones: Zones) -> bool:
    return can(user, Action.READ, None)


feature = LiveFeature(
    name="documents",
    topics=(TopicKind("library", _zones, _may_follow),),
    frames={"document": LibraryFrames},
)
