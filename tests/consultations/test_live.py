"""Consultation events over the websocket, in process: the page's row, the zone board's card."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import replace

import pytest
from bs4 import BeautifulSoup
from sqlalchemy import select
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from collab.app import create_app
from collab.db import Database
from collab.demo import load_demo
from collab.models import User, Zone
from collab.settings import Settings
from tests.consultations.scene import PDF, open_consultation
from tests.realtime.test_ws import MAYOR, TECH5, TECH9, Browser, frames, head, subscribe

STAFF = "staff@demo.collab.it"


@pytest.fixture
def scene(settings: Settings, database_url: str) -> Iterator[tuple[Browser, int, int]]:
    """The demo, a consultation of zone 5, the zone's id."""

    async def setup() -> tuple[int, int]:
        db = Database(database_url)
        await load_demo(db)
        async with db.session() as session:
            staff = await session.scalar(select(User).where(User.email == STAFF))
            zone = await session.scalar(select(Zone.id).where(Zone.number == 5))
        assert staff is not None and zone is not None
        consultation = await open_consultation(db, staff)
        await db.dispose()
        return consultation.id, zone

    consultation_id, zone_id = asyncio.run(setup())
    app = create_app(replace(settings, ws_heartbeat=1))
    with TestClient(app) as client:
        yield Browser(client), consultation_id, zone_id


def _upload(browser: Browser, url: str, body: str) -> int:
    files = [("files", ("delibera.pdf", PDF, "application/pdf"))]
    response = browser.upload(url, {"body": body}, files)
    assert response.status_code == 303, response.text
    return int(response.headers["location"].split("/")[2])


def test_a_contribution_reaches_the_page_and_the_board(scene: tuple[Browser, int, int]) -> None:
    browser, consultation_id, zone_id = scene
    browser.login(TECH5)
    with browser.client.websocket_connect("/ws") as ws:
        subscribe(ws, {f"consultation:{consultation_id}": None, f"zone:{zone_id}": None})
        browser.login(MAYOR)
        contribution = _upload(
            browser, f"/consultations/{consultation_id}/contributions", "Parere favorevole."
        )
        got = frames(ws, 2)
    by_topic = {head(f)[0]: f for f in got}
    page = by_topic[f"consultation:{consultation_id}"]
    row = page.select_one('template[data-op="append"][data-target="#contributions"]')
    assert row is not None and row["data-id"] == f"contribution-{contribution}"
    assert "Pinerolo" in row.decode_contents()
    announce = page.select_one("template[data-topic]")
    assert announce is not None and "Pinerolo" in str(announce["data-announce"])
    summary = page.select_one('template[data-target="#consultation-summary"]')
    assert summary is not None and "1 contributo ricevuto" in summary.decode_contents()
    # The comuni still awaited: Pinerolo has answered, the others of ZO 5 have not.
    awaited = page.select_one('template[data-op="replace"][data-target="#awaited-list"]')
    assert awaited is not None
    inner = BeautifulSoup(awaited.decode_contents(), "html.parser")
    names = [li.get_text(strip=True) for li in inner.find_all("li")]
    assert "Pinerolo" not in names and "Cumiana" in names
    count = page.select_one('template[data-op="replace"][data-target="#awaited-count"]')
    said = BeautifulSoup(count.decode_contents(), "html.parser").get_text(" ", strip=True)
    assert said == f"Ancora attesi: {len(names)} comuni su {len(names) + 1}"
    board = by_topic[f"zone:{zone_id}"]
    card = board.select_one("template[data-op=place]")
    assert card is not None and card["data-id"] == f"consultation-card-{consultation_id}"


def test_a_changed_text_reaches_the_page(scene: tuple[Browser, int, int]) -> None:
    browser, consultation_id, _ = scene
    browser.login(TECH5)
    with browser.client.websocket_connect("/ws") as ws:
        subscribe(ws, {f"consultation:{consultation_id}": None})
        browser.login(STAFF)
        response = browser.post(
            f"/consultations/{consultation_id}/edit",
            {
                "title": "Parere sul PSM: testo corretto",
                "body": "Il testo *corretto* della domanda.",
            },
        )
        assert response.status_code == 303, response.text
        (got,) = frames(ws, 1)
    assert head(got)[0] == f"consultation:{consultation_id}"
    title = got.select_one('template[data-op="replace"][data-target="#consultation-title"]')
    assert title is not None
    heading = BeautifulSoup(title.decode_contents(), "html.parser")
    assert heading.get_text(strip=True) == "Parere sul PSM: testo corretto"
    ask = got.select_one('template[data-op="replace"][data-target="#consultation-ask"]')
    assert ask is not None
    section = BeautifulSoup(ask.decode_contents(), "html.parser")
    assert section.select_one(".markdown em") is not None
    assert section.select_one('[data-testid="edited"]') is not None


def test_review_reaches_the_contribution_page(scene: tuple[Browser, int, int]) -> None:
    browser, consultation_id, _ = scene
    browser.login(MAYOR)
    contribution = _upload(
        browser, f"/consultations/{consultation_id}/contributions", "Parere del comune."
    )
    page = browser.client.get(f"/contributions/{contribution}")
    live = BeautifulSoup(page.text, "html.parser").select_one("[ws-connect]")
    assert live is not None  # the contribution's page follows its consultation
    with browser.client.websocket_connect("/ws") as ws:
        subscribe(ws, {f"consultation:{consultation_id}": None})
        browser.login(STAFF)
        url = f"/contributions/{contribution}/status"
        assert browser.post(url, {"status": "under_review"}).status_code == 303
        answer = "Accolto in parte: si veda la delibera."
        assert browser.post(url, {"status": "partly_accepted", "answer": answer}).status_code == 303
        # The mayor's socket also carries their bell (told of the review and the answer).
        got = frames(ws, 4)
        topic = f"consultation:{consultation_id}"
        reviewed, answered = [f for f in got if head(f)[0] == topic]

    def replaced(got: BeautifulSoup, target: str) -> BeautifulSoup | None:
        found = got.select_one(f'template[data-op="replace"][data-target="{target}"]')
        return None if found is None else BeautifulSoup(found.decode_contents(), "html.parser")

    status = replaced(reviewed, f"#contribution-status-{contribution}")
    assert status is not None and status.select_one('[data-status="under_review"]') is not None
    empty = replaced(reviewed, f"#contribution-answer-{contribution}")
    assert empty is not None and empty.select_one('[data-testid="answer"]') is None
    assert replaced(reviewed, f"#contribution-edit-{contribution}") is None  # still editable
    said = answered.select_one("template[data-topic]")
    assert said is not None and said["data-announce"] == (
        "Il contributo di Pinerolo ora è: Parzialmente accolto"
    )
    shown = replaced(answered, f"#contribution-answer-{contribution}")
    assert shown is not None and answer in shown.get_text()
    closed = replaced(answered, f"#contribution-edit-{contribution}")
    assert closed is not None and closed.select_one('[data-testid="answered-closed"]') is not None


def test_another_zone_cannot_subscribe(scene: tuple[Browser, int, int]) -> None:
    browser, consultation_id, _ = scene
    browser.login(TECH9)
    with browser.client.websocket_connect("/ws") as ws:
        subscribe(ws, {f"consultation:{consultation_id}": None})
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_text()
    assert closed.value.code == 4403
