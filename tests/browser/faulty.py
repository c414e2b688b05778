"""Test-only app factory: the real app, whose live renderer fails on demand.

``uvicorn --factory tests.browser.faulty:create_app`` (see
``tests/browser/test_live_faults.py``). The hub's renderer prepares each event
once per process before fanning it out; here its ``prepare`` raises for the
events of a post whose text holds a marker, so a test picks the failing event
by what it posts, without restarting the server:

- :data:`FAIL_ONCE`: the first preparation of each such event raises, the
  retry works (a database blip);
- :data:`FAIL_ALWAYS`: every preparation raises (a bug in a template), so the
  hub gives up after ``MAX_ATTEMPTS`` and sends its pages a reset.

Only the thread's event of the post fails: the board's event of the same
reply (``zone:N``) carries no post and goes through untouched. Each injected
failure is logged (``injected fault: ...``) for the test to count.
"""

from __future__ import annotations

import logging
from collections import Counter
from typing import Any

from starlette.applications import Starlette

from collab import app as real_app
from collab.forums.live import ForumPrepared
from collab.realtime.log import LoggedEvent
from collab.realtime.render import Delegated

__all__ = ["FAIL_ALWAYS", "FAIL_ONCE", "INJECTED", "InjectedFault", "create_app"]

logger = logging.getLogger(__name__)

FAIL_ONCE = "FAULT-ONCE"
FAIL_ALWAYS = "FAULT-ALWAYS"
INJECTED = "injected fault"  # starts every log line of an injected failure


class InjectedFault(RuntimeError):
    pass


def _marker(prepared: Any) -> str | None:
    if not isinstance(prepared, Delegated) or not isinstance(prepared.prepared, ForumPrepared):
        return None
    post = prepared.prepared.post
    if post is None:
        return None
    for marker in (FAIL_ALWAYS, FAIL_ONCE):
        if marker in post.source:
            return marker
    return None


def create_app() -> Starlette:
    app = real_app.create_app()
    hub = app.state.services.hub
    real_prepare = hub.renderer.prepare
    attempts: Counter[tuple[str, int]] = Counter()

    async def prepare(item: LoggedEvent) -> Any:
        # The real work first: the fault stands for one at its end (the
        # attachments' query, say), and the marker is read from the post it loaded.
        prepared = await real_prepare(item)
        marker = _marker(prepared)
        if marker is None:
            return prepared
        key = (item.topic, item.seq)
        attempts[key] += 1
        if marker == FAIL_ONCE and attempts[key] > 1:
            return prepared
        post = prepared.prepared.post
        logger.warning(
            "%s: %s of %s#%d (post %d), attempt %d",
            INJECTED, marker, item.topic, item.seq, post.id, attempts[key],
        )  # fmt: skip
        raise InjectedFault(f"{marker} {item.topic}#{item.seq}")

    # The hub calls ``renderer.prepare`` on the live path, and its Replays kept
    # the bound method for replays after a reconnect: both fail alike.
    hub.renderer.prepare = prepare
    hub.replays._prepare = prepare
    return app
