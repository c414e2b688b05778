"""Property-based fuzzing of the websocket's one JSON message, the subscription.

A logged-in mayor (zone 5) opens ``/ws`` and sends one hostile first frame:
any JSON value, subscriptions with real, foreign and made-up topics and
sequence numbers of every type, text that is no JSON, a binary frame. The
socket either stays open (a subscription it may have) or closes with one of
the protocol's codes (4400 malformed, 4403 a topic it may not follow, 4401);
never 1011 (something failed under us) or a dropped connection.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import anyio
import pytest
from bs4 import BeautifulSoup
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from collab.app import create_app
from collab.db import Database
from collab.demo import DEMO_PASSWORD, load_demo
from collab.settings import Settings, load_settings
from tests.dbs import Template

pytestmark = pytest.mark.fuzz

PROTOCOL_CODES = {4400, 4401, 4403}
# An open socket says nothing until an event: this long without a close is "open".
OPEN_AFTER = 0.3
EXAMPLES = max(15, int(os.environ.get("FUZZ_EXAMPLES", "500")) // 40)

TOPICS = st.one_of(
    st.sampled_from(
        ["zone:5", "zone:9", "metro", "thread:1", "thread:4", "meeting:1", "consultation:1",
         "user:3", "user:1", "board:5:trasporti-mobilita", "thread:\u00b2", "thread:-1",
         "thread:99999999999999999999", "zone:", ":", ""]
    ),
    st.text(max_size=40),
)  # fmt: skip
SEQS = st.one_of(
    st.none(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.text(max_size=10),
    st.lists(st.integers(), max_size=2),
)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


@st.composite
def first_frames(draw: st.DrawFn) -> str | bytes:
    """A first frame: mostly subscription-shaped, sometimes anything at all."""
    shape = draw(st.sampled_from(["subscribe", "subscribe", "typed", "json", "text", "bytes"]))
    if shape == "subscribe":
        topics = draw(st.dictionaries(TOPICS, SEQS, max_size=4))
        return json.dumps({"type": "subscribe", "topics": topics})
    if shape == "typed":
        message = {"type": draw(JSON), "topics": draw(JSON)}
        if draw(st.booleans()):
            message.pop(draw(st.sampled_from(["type", "topics"])))
        return json.dumps(message)
    if shape == "json":
        return json.dumps(draw(JSON))
    if shape == "text":
        return draw(st.text(max_size=200))
    return draw(st.binary(max_size=100))


@pytest.fixture(scope="module")
def mayor(db_template: Template, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """A test client logged in as the mayor of Pinerolo, on the demo world."""
    tmp: Path = tmp_path_factory.mktemp("wsfuzz")
    url = db_template.new_database(tmp)
    base = load_settings({"COLLAB_ENV": "test", "DATA_DIR": str(tmp), "SECRET_KEY": "w" * 40})
    app_settings: Settings = replace(base, database_url=url)

    async def demo() -> None:
        db = Database(url)
        await load_demo(db)
        await db.dispose()

    asyncio.run(demo())
    with TestClient(create_app(app_settings)) as client:
        page = client.get("/login").text
        node = BeautifulSoup(page, "html.parser").select_one('input[name="csrf_token"]')
        assert node is not None
        response = client.post(
            "/login",
            data={"email": "sindaco.pinerolo@demo.collab.it", "password": DEMO_PASSWORD,
                  "csrf_token": str(node["value"])},
            follow_redirects=False,
        )  # fmt: skip
        assert response.status_code == 303, response.text
        yield client
    db_template.drop_database(url)


async def _receive_within(rx: Any, seconds: float) -> Any:
    with anyio.fail_after(seconds):
        return await rx.receive()


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(frame=first_frames())
def test_a_first_frame_never_breaks_the_socket(mayor: TestClient, frame: str | bytes) -> None:
    with mayor.websocket_connect("/ws") as ws:
        if isinstance(frame, bytes):
            ws.send_bytes(frame)
        else:
            ws.send_text(frame)
        try:
            message = ws.portal.call(_receive_within, ws._send_rx, OPEN_AFTER)
        except TimeoutError:
            return  # still open: a subscription the mayor may have
        if message["type"] == "websocket.close":
            assert message.get("code") in PROTOCOL_CODES, f"closed {message} for {frame!r:.300}"
        else:
            assert message["type"] == "websocket.send", message


def test_the_socket_closes_with_a_protocol_code(mayor: TestClient) -> None:
    """The property's two outcomes both happen (the test above is not vacuous)."""
    with mayor.websocket_connect("/ws") as ws:
        ws.send_text('{"type": "subscribe", "topics": {"zone:9": null}}')
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_text()
    assert closed.value.code == 4403
    with mayor.websocket_connect("/ws") as ws:
        ws.send_text('{"type": "subscribe", "topics": {"zone:5": null}}')
        with pytest.raises(TimeoutError):
            ws.portal.call(_receive_within, ws._send_rx, OPEN_AFTER)
