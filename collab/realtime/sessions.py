"""The engine's own topic kind: ``user:N``, what changes a user's rights.

Each logged-in socket follows its user's topic (the server subscribes it; a
page cannot ask for it). A ``user.changed`` event (a new role, comune, zone or
password, a deactivation) makes every open page of that user check again, at
once, whether its session is still valid and what it may still follow, so the
heartbeat need not re-read the user every beat. The frame is no HTML: it is
:data:`RECHECK`, which :class:`collab.realtime.connection.Connection` turns
into that check instead of sending it.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import TYPE_CHECKING, Any, Final

from collab.db import Database
from collab.realtime.log import LoggedEvent
from collab.realtime.registry import LiveFeature

if TYPE_CHECKING:
    from collab.templating import Templates

__all__ = ["RECHECK", "SessionFrames", "feature"]


class _Recheck:
    def __repr__(self) -> str:
        return "RECHECK"


RECHECK: Final = _Recheck()


class SessionFrames:
    def __init__(self, templates: Templates, database: Database) -> None:
        pass

    async def prepare(self, item: LoggedEvent) -> LoggedEvent:
        return item

    def basis(self, prepared: LoggedEvent) -> Hashable:
        return None

    def variant(self, prepared: LoggedEvent, viewer: Any) -> Hashable:
        return None

    def render(self, prepared: LoggedEvent, variant: Hashable) -> _Recheck:
        return RECHECK


feature = LiveFeature(name="sessions", frames={"user": SessionFrames})
