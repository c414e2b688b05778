"""The wire format of a live frame: an envelope, then operations (see ``static/js/live.js``).

    <template data-topic="thread:12" data-seq="46" data-announce="..."></template>
    <template data-op="append" data-target="#posts" data-id="post-80">...</template>

Every feature's frames build theirs with :func:`frame` and :func:`op`, and the
engine's own (heartbeat, reset) are here too, so the format lives in one place.
"""

from __future__ import annotations

from collections.abc import Iterable

from markupsafe import escape

from collab.realtime.log import LoggedEvent

__all__ = ["frame", "heartbeat_frame", "op", "reset_frame"]

HEARTBEAT = '<template data-heartbeat=""></template>'


def op(kind: str, target: str, element_id: str, html: str) -> str:
    """One operation: ``kind`` is ``append``, ``place`` or ``replace``."""
    return (
        f'<template data-op="{kind}" data-target="{escape(target)}" '
        f'data-id="{escape(element_id)}">{html}</template>'
    )


def frame(item: LoggedEvent, announce: str, ops: Iterable[str]) -> str:
    """The envelope of ``item`` (its topic and seq, what to announce) and its operations."""
    envelope = (
        f'<template data-topic="{escape(item.topic)}" data-seq="{item.seq}" '
        f'data-announce="{escape(announce)}"></template>'
    )
    return envelope + "".join(ops)


def heartbeat_frame() -> str:
    return HEARTBEAT


def reset_frame(topic: str) -> str:
    """Tells the page to take its content afresh: what it missed is older than
    the log, or could not be rendered (``static/js/live.js``, ``refresh``)."""
    return f'<template data-reset="{escape(topic)}"></template>'
