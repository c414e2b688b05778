"""The bell, live: every open page of a user gets the count when a
notification arrives or is read elsewhere, and catches up after a reconnect."""

from __future__ import annotations

import json

from bs4 import BeautifulSoup

from tests.realtime.test_ws import MAYOR, TECH5, Browser, browser, frames, head, subscribe

__all__ = ["browser"]  # the fixture, shared with the socket tests


def _own(html: str) -> dict[str, int]:
    live = BeautifulSoup(html, "html.parser").select_one("#live")
    assert live is not None
    own: dict[str, int] = json.loads(str(live["data-own"]))
    return own


def _unread(html: str) -> int:
    bell = BeautifulSoup(html, "html.parser").select_one("#notif-bell")
    assert bell is not None
    return int(str(bell["data-unread"]))


def _mention(browser: Browser, thread: int, uid: int) -> None:
    """The technician mentions the mayor in a reply (the mayor gets a notification)."""
    browser.login(TECH5)
    body = f"Ne parliamo con @**Sindaco|{uid}**?"
    assert browser.post(f"/threads/{thread}/reply", {"body": body}).status_code == 303


def _bell(frame: BeautifulSoup) -> tuple[str, int]:
    topic, _ = head(frame)
    op = frame.select_one('template[data-op="replace"][data-target="#notif-bell"]')
    assert op is not None
    bell = BeautifulSoup(op.decode_contents(), "html.parser").select_one("#notif-bell")
    assert bell is not None
    return topic, int(str(bell["data-unread"]))


def test_a_notification_and_a_read_elsewhere_update_the_bell(browser: Browser) -> None:
    browser.login(TECH5)
    thread = browser.new_thread(title="Navetta", body="Apro la discussione")
    browser.login(MAYOR)
    page = browser.client.get("/account/password").text
    own, before = _own(page), _unread(page)
    (topic,) = own
    uid = int(topic.split(":")[1])
    with browser.client.websocket_connect("/ws") as ws:
        subscribe(ws, own)
        _mention(browser, thread, uid)
        (frame,) = frames(ws, 1)
        assert _bell(frame) == (topic, before + 1)
        envelope = frame.select_one("template[data-topic]")
        assert envelope is not None and "Navetta" in str(envelope["data-announce"])
        # Read on another device: this page's bell goes to zero.
        browser.login(MAYOR)
        assert browser.post("/notifications/read-all", {}).status_code == 303
        (frame,) = frames(ws, 1)
        assert _bell(frame) == (topic, 0)


def test_a_page_that_was_away_gets_what_it_missed(browser: Browser) -> None:
    browser.login(TECH5)
    thread = browser.new_thread(title="Navetta", body="Apro la discussione")
    browser.login(MAYOR)
    page = browser.client.get("/account/password").text
    own, before = _own(page), _unread(page)
    (topic,) = own
    uid = int(topic.split(":")[1])
    # While the page was away (no socket), two notifications came.
    _mention(browser, thread, uid)
    _mention(browser, thread, uid)
    browser.login(MAYOR)
    with browser.client.websocket_connect("/ws") as ws:
        subscribe(ws, own)
        got = frames(ws, 2)
    # Replayed in order; each carries the count as it is now.
    assert [head(f)[1] for f in got] == [own[topic] + 1, own[topic] + 2]
    assert [_bell(f)[1] for f in got] == [before + 2, before + 2]
