"""Loops that run until cancelled end even when a library swallows the cancel.

Some libraries catch the ``CancelledError`` thrown into a task while it waits
on them and return as if nothing happened (redis-py 8.2's commands do, on
Python 3.11, when the cancel lands in a narrow window around a reply). The
task's cancel request stays counted (``Task.cancelling()``) but nothing
raises any more: a ``while True`` loop of a socket's heartbeat would then
beat for ever, and the worker's graceful shutdown would wait for it for ever.
Such a loop calls :func:`checkpoint` once per round.
"""

from __future__ import annotations

import asyncio

__all__ = ["checkpoint"]


def checkpoint() -> None:
    """Raise ``CancelledError`` if this task was cancelled and is still running."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError
