"""Live fragments carry the theme and zone names of each viewer's language.

A frame is rendered once per event and view variant, and the locale is part of
every variant: an Italian and an English socket on the same topic get the
same event, each with its own names (the English ones when set).
"""

from __future__ import annotations

import pytest
from bs4 import BeautifulSoup

from tests.realtime.test_ws import Browser, browser, frames, head, subscribe

__all__ = ["browser"]  # the fixture, shared with the websocket tests

TECH5 = "tecnico.luserna@demo.collab.it"  # ZO 5
MAYOR = "sindaco.pinerolo@demo.collab.it"  # ZO 5
SUSA = "sindaco.susa@demo.collab.it"  # ZO 6
STAFF = "staff@demo.collab.it"


def _op(frame: BeautifulSoup, prefix: str) -> BeautifulSoup:
    """The content of the frame's operation whose element id starts with ``prefix``."""
    for node in frame.select("template[data-op]"):
        if str(node["data-id"]).startswith(prefix):
            return BeautifulSoup(node.decode_contents(), "html.parser")
    pytest.fail(f"no operation on {prefix}*")


def _text(soup: BeautifulSoup, selector: str) -> str:
    node = soup.select_one(selector)
    assert node is not None, selector
    return " ".join(node.get_text(" ").split())


def test_board_frames_name_the_theme_in_each_language(browser: Browser) -> None:
    browser.login(TECH5)
    with browser.client.websocket_connect("/ws") as italian:
        subscribe(italian, {"zone:5": None})
        browser.client.cookies.set("lang", "en")
        with browser.client.websocket_connect("/ws") as english:
            subscribe(english, {"zone:5": None})
            browser.login(MAYOR)
            browser.new_thread(title="Coincidenze dei bus")  # on trasporti-mobilita
            (it_frame,) = frames(italian, 1)
            (en_frame,) = frames(english, 1)
    assert head(it_frame) == head(en_frame)
    assert _text(_op(it_frame, "theme-row-"), "td a") == "Trasporti e mobilità"
    assert _text(_op(en_frame, "theme-row-"), "td a") == "Transport and mobility"
    assert "Trasporti e mobilità" in _text(_op(it_frame, "thread-"), "li")
    assert "Transport and mobility" in _text(_op(en_frame, "thread-"), "li")


def test_meeting_frames_name_zones_and_themes_in_each_language(browser: Browser) -> None:
    browser.login(SUSA)
    with browser.client.websocket_connect("/ws") as italian:
        subscribe(italian, {"meeting:1": None})
        browser.client.cookies.set("lang", "en")
        with browser.client.websocket_connect("/ws") as english:
            subscribe(english, {"meeting:1": None})
            browser.login(STAFF)
            assert browser.post("/meetings/1/open", {}).status_code == 303
            (it_frame,) = frames(italian, 1)
            (en_frame,) = frames(english, 1)
    it_status, en_status = _op(it_frame, "room-status"), _op(en_frame, "room-status")
    assert _text(it_status, '[data-testid="room-zones"]') == (
        "ZO 5 Pinerolese, ZO 6 Valli di Susa e Sangone"
    )
    assert _text(en_status, '[data-testid="room-zones"]') == (
        "ZO 5 Pinerolese, ZO 6 Susa and Sangone Valleys"
    )
    # The demo's first item is on the Piano strategico's third axis.
    it_theme = _text(_op(it_frame, "room-agenda"), "li div.small").split(" · ")[0]
    en_theme = _text(_op(en_frame, "room-agenda"), "li div.small").split(" · ")[0]
    assert it_theme == "Torino metropoli più mobile, accessibile e collegata"
    assert en_theme == "A more mobile, accessible and connected Turin metropolis"
