"""How many uploads stream in at once: per user and per process.

A body of up to ten 50 MB files holds a connection, a file descriptor and
disk bandwidth for as long as it takes to arrive. :class:`UploadSlots`
(kept in :class:`collab.services.Services`, taken by
:func:`collab.uploads.upload_gate`) bounds them: one user over their share
is told to wait for their own uploads (429), and when the process is full
everyone is told to try again shortly (503).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from collab.errors import Throttled, Unavailable
from collab.i18n import N_

__all__ = ["ALL_BUSY", "YOURS_BUSY", "UploadSlots"]

YOURS_BUSY = N_(
    "You are already sending as many uploads at once as allowed (%(n)d): "
    "wait until one has finished, then try again."
)
ALL_BUSY = N_("Too many uploads are arriving right now: try again in a minute.")


@dataclass
class UploadSlots:
    """The uploads streaming in at once in this process, and per user.

    One event loop, and no ``await`` between the check and the count: two
    requests cannot both take the last slot.
    """

    running: int = 0
    per_user: dict[int | str, int] = field(default_factory=dict)

    @contextmanager
    def take(self, who: int | str, per_user: int, total: int) -> Iterator[None]:
        mine = self.per_user.get(who, 0)
        if mine >= per_user:
            raise Throttled(YOURS_BUSY, n=per_user)
        if self.running >= total:
            raise Unavailable(ALL_BUSY)
        self.running += 1
        self.per_user[who] = mine + 1
        try:
            yield
        finally:
            self.running -= 1
            left = self.per_user[who] - 1
            if left:
                self.per_user[who] = left
            else:
                del self.per_user[who]
