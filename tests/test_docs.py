"""Docs that cannot drift (after Datasette's ``test_docs.py``): every event type
is documented and has a renderer, every topic kind is documented."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from collab.features import LIVE_FEATURES
from collab.realtime import sessions
from collab.realtime.events import EVENT_TYPES
from collab.realtime.registry import Registry
from collab.realtime.render import event_prefix

ARCHITECTURE = (Path(__file__).resolve().parents[1] / "docs" / "architecture.md").read_text()
REGISTRY = Registry([sessions.feature, *LIVE_FEATURES])


def _events_table() -> dict[str, str]:
    """type -> topics column of the table under "### Events"."""
    section = ARCHITECTURE.split("### Events", 1)[1].split("\n## ", 1)[0].split("\n### ", 1)[0]
    rows = re.findall(r"^\| `([a-z]+\.[a-z]+)` \| ([^|]+) \|", section, re.M)
    return dict(rows)


@pytest.mark.parametrize("event_type", sorted(EVENT_TYPES))
def test_every_event_type_is_documented(event_type: str) -> None:
    assert event_type in _events_table(), (
        f"{event_type} is missing from the Events table of docs/architecture.md"
    )


@pytest.mark.parametrize("event_type", sorted(EVENT_TYPES))
def test_every_event_type_has_a_registered_renderer(event_type: str) -> None:
    assert event_prefix(event_type) in REGISTRY.frames, (
        f"no feature registers frames for {event_type!r} events"
    )


def test_the_events_table_lists_only_real_events() -> None:
    assert sorted(_events_table()) == sorted(EVENT_TYPES)


@pytest.mark.parametrize("kind", sorted(REGISTRY.kinds))
def test_every_topic_kind_is_documented(kind: str) -> None:
    assert f"`{kind}:N`" in ARCHITECTURE or f"`{kind}`" in ARCHITECTURE, kind
