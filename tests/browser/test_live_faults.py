"""A renderer failure in the live engine, seen from a real browser.

The hub prepares each event before fanning it out (``Hub._fan_out``); a
preparation that raises is retried, and after ``MAX_ATTEMPTS`` the topic's
pages get a reset frame and take their content afresh. tests/realtime/test_hub.py checks this
with fake sockets; here a real uvicorn runs the app of
``tests/browser/faulty.py``, whose ``prepare`` fails for the events of a post
whose text holds a marker, and Chromium shows what a person would see:

- a failure that happens once costs nothing: every reply appears live, in
  order, once, on the same socket, without a reload;
- an event that never renders resets its topic: the thread page takes its
  content afresh in place (live.js), without a reload, on the same socket,
  keeping the reply being typed and its focus, and shows every reply, that
  one too, in order, once; later replies arrive live. The zone page that
  follows the board of the same replies (``zone:5``) is not reset, nor
  reloaded, and applies every reply.

The mayor writes over plain HTTP with the session of a browser context, so
that no page of theirs follows the thread; the
technician's pages are the ones watched, down to the frames their sockets
receive.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pytest
from playwright.sync_api import Page, WebSocket, expect

from collab.realtime.topics import MAX_ATTEMPTS
from tests.browser.conftest import (
    NO_RELOAD_MARKER,
    TIMEOUT_MS,
    LiveServer,
    Session,
    Watcher,
    assert_no_reload,
    login_session,
    serving,
)
from tests.browser.faulty import FAIL_ALWAYS, FAIL_ONCE, INJECTED
from tests.dbs import Template

pytestmark = pytest.mark.slow

MAYOR = "sindaco.pinerolo@demo.collab.it"
TECHNICIAN = "tecnico.luserna@demo.collab.it"  # zone 5 too
ZONE = "/zones/5"
BOARD_TOPIC = "zone:5"
THEME = "/zones/5/trasporti-mobilita"
# The hub gives up after MAX_ATTEMPTS tries, the later ones by its poll (every
# 2 s): a reset comes a few seconds after the post, more on a busy machine.
RESET_TIMEOUT_MS = 30_000
RESET = re.compile(r'<template data-reset="([^"]*)">')
ENVELOPE = re.compile(r'<template data-topic="([^"]*)" data-seq="(\d+)"')


@pytest.fixture(scope="module")
def live_server(
    db_template: Template, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    """This module's server (overrides conftest's): the faulty app, demo data."""
    with serving(
        db_template, tmp_path_factory.mktemp("faulty"), factory="tests.browser.faulty:create_app"
    ) as server:
        yield server


@dataclass
class Writer:
    """A user who posts with plain form posts (303 answers), no page open."""

    session: Session
    csrf: str

    @classmethod
    def login(cls, open_session: Callable[..., Session], email: str) -> Writer:
        session = login_session(open_session, email)
        csrf = session.page.locator('input[name="csrf_token"]').first.get_attribute("value")
        assert csrf
        session.page.goto("about:blank")  # no live page of theirs
        return cls(session, csrf)

    def _post(self, url: str, form: dict[str, str]) -> str:
        response = self.session.context.request.post(
            url, form={"csrf_token": self.csrf, **form}, max_redirects=0
        )
        assert response.status == 303, (url, response.status, response.text()[:500])
        return response.headers["location"]

    def start_thread(self, title: str, body: str) -> int:
        location = self._post(f"{THEME}/new", {"title": title, "body": body})
        match = re.fullmatch(r"/threads/(\d+)", location)
        assert match, location
        return int(match.group(1))

    def reply(self, thread_id: int, text: str) -> str:
        """The id of the new post (``post-N``)."""
        location = self._post(f"/threads/{thread_id}/reply", {"body": text, "page": ""})
        match = re.search(r"#(post-\d+)$", location)
        assert match, location
        return match.group(1)


@dataclass
class Sockets:
    """The text frames each websocket of a page received; a reload opens a new one."""

    frames: list[list[str]] = field(default_factory=list)

    def attach(self, page: Page) -> None:
        page.on("websocket", self._opened)

    def _opened(self, ws: WebSocket) -> None:
        frames: list[str] = []
        self.frames.append(frames)
        ws.on("framereceived", lambda payload: frames.append(_text(payload)))

    def resets(self, socket: int | None = None) -> list[str]:
        return [m.group(1) for f in self._of(socket) for m in RESET.finditer(f)]

    def seqs(self, topic: str, socket: int | None = None) -> list[int]:
        found = (m for f in self._of(socket) for m in ENVELOPE.finditer(f))
        return [int(m.group(2)) for m in found if m.group(1) == topic]

    def _of(self, socket: int | None) -> list[str]:
        chosen = self.frames if socket is None else [self.frames[socket]]
        return [f for frames in chosen for f in frames]


def _text(payload: str | bytes) -> str:
    return payload if isinstance(payload, str) else payload.decode()


def _posts(page: Page) -> list[tuple[str, str]]:
    """(id, text) of each post of the thread, in page order."""
    posts: list[list[str]] = page.locator("#posts > article.post").evaluate_all(
        "els => els.map(e => [e.id, e.querySelector('.post-body').textContent.trim()])"
    )
    return [(post_id, text) for post_id, text in posts]


def _topics(page: Page) -> dict[str, int | None]:
    value = page.locator("#live").get_attribute("data-topics")
    assert value is not None
    topics: dict[str, int | None] = json.loads(value)
    return topics


def _wait_seq(page: Page, topic: str, seq: int, timeout_ms: int = TIMEOUT_MS) -> None:
    """Wait until ``page`` has applied the event ``seq`` of ``topic``."""
    deadline = time.monotonic() + timeout_ms / 1000
    while (_topics(page)[topic] or 0) < seq:
        assert time.monotonic() < deadline, (_topics(page), topic, seq)
        page.wait_for_timeout(50)


def _expect_posts(page: Page, expected: list[tuple[str, str]]) -> None:
    """Wait until the thread shows exactly ``expected``: these posts, in this order, once."""
    expect(page.locator("#posts > article.post")).to_have_count(len(expected))
    assert _posts(page) == expected
    for post_id, _ in expected:
        expect(page.locator(f'[id="{post_id}"]')).to_have_count(1)


def _log_lines(server: LiveServer, needle: str) -> list[str]:
    return [line for line in server.log.read_text(errors="replace").splitlines() if needle in line]


def _open_thread(s: Session, thread_id: int) -> tuple[Sockets, int]:
    """The thread's page, followed live; its sockets and the topic's seq it shows."""
    sockets = Sockets()
    sockets.attach(s.page)
    s.page.goto(f"/threads/{thread_id}")
    expect(s.page.locator("#posts > article.post")).to_have_count(1)
    s.page.evaluate(NO_RELOAD_MARKER)
    seq = _topics(s.page)[f"thread:{thread_id}"]
    assert isinstance(seq, int)
    return sockets, seq


def test_a_prepare_that_fails_once_loses_nothing(
    open_session: Callable[..., Session], live_server: LiveServer
) -> None:
    mayor = Writer.login(open_session, MAYOR)
    tech = login_session(open_session, TECHNICIAN)
    opening = "Chi ha le chiavi del magazzino comunale?"
    thread_id = mayor.start_thread("Magazzino di Luserna", opening)
    topic = f"thread:{thread_id}"
    sockets, seq = _open_thread(tech, thread_id)
    first = tech.page.locator("#posts > article.post").first.get_attribute("id")
    assert first

    texts = [
        "Le ha il custode, fino alle 18.",
        f"Dopo le 18 chiamate la polizia locale. {FAIL_ONCE}",
        "Grazie, ci passo domani.",
    ]
    replies = [mayor.reply(thread_id, text) for text in texts]

    # All three live, in order, once each: the failed one was retried (when
    # the next reply revealed the gap, or by the poll), nothing reloaded.
    _expect_posts(tech.page, [(first, opening), *zip(replies, texts, strict=True)])
    _wait_seq(tech.page, topic, seq + 3)
    failed = seq + 2
    assert sockets.seqs(topic) == [seq + 1, failed, seq + 3]  # one socket, in order, once
    assert sockets.resets() == []
    assert len(sockets.frames) == 1, "the socket was dropped"
    assert_no_reload(tech.page)

    # The fault did happen, once, and the hub logged it once with the event id.
    injected = _log_lines(live_server, f"{INJECTED}: {FAIL_ONCE} of {topic}#{failed} ")
    assert len(injected) == 1, injected
    assert f"(post {replies[1].removeprefix('post-')})" in injected[0]
    logged = _log_lines(live_server, f"rendering {topic}#{failed} failed; will retry")
    assert len(logged) == 1, live_server.failure_logs()
    assert not _log_lines(live_server, f"event {topic}#"), "the hub gave up"

    # Later replies flow as usual.
    later = "Il custode conferma."
    later_id = mayor.reply(thread_id, later)
    _expect_posts(
        tech.page, [(first, opening), *zip(replies, texts, strict=True), (later_id, later)]
    )
    assert sockets.seqs(topic) == [seq + 1, failed, seq + 3, seq + 4]
    assert len(sockets.frames) == 1
    assert_no_reload(tech.page)
    mayor.session.watcher.assert_clean()
    tech.watcher.assert_clean()


def test_an_event_that_never_renders_refreshes_its_page_in_place(
    open_session: Callable[..., Session], live_server: LiveServer
) -> None:
    mayor = Writer.login(open_session, MAYOR)
    tech = login_session(open_session, TECHNICIAN)
    opening = "Segnalate qui le buche sulla SP 161."
    thread_id = mayor.start_thread("Buche sulla SP 161", opening)
    topic = f"thread:{thread_id}"

    # The same user follows the zone's board on a second page: the replies'
    # board events (zone:5) must all arrive there, none reset.
    board = tech.context.new_page()
    board_watcher = Watcher()
    board_watcher.attach(board)
    board_sockets = Sockets()
    board_sockets.attach(board)
    board.goto(ZONE)
    board.evaluate(NO_RELOAD_MARKER)
    board_seq = _topics(board)[BOARD_TOPIC]
    assert isinstance(board_seq, int)
    row = board.locator(f"#thread-{thread_id}")
    expect(row).to_have_count(1)

    sockets, seq = _open_thread(tech, thread_id)
    first = tech.page.locator("#posts > article.post").first.get_attribute("id")
    assert first
    # The technician is writing a reply when the reset comes.
    draft = "Confermo, passo io a vedere"
    box = tech.page.locator("#reply-body")
    box.click()
    box.type(draft)
    texts = [
        "Una buca profonda al km 3, direzione Pinerolo.",
        f"Un'altra al km 5, vicino al ponte. {FAIL_ALWAYS}",
        "Segnalato anche alla Città metropolitana.",
    ]
    replies = [mayor.reply(thread_id, text) for text in texts]
    failed = seq + 2

    # The reset came, and the page took its content afresh in place: every
    # reply, the one that could not be rendered live too, in order, once;
    # no reload, the same socket, the draft and its focus kept.
    expected = [(first, opening), *zip(replies, texts, strict=True)]
    deadline = time.monotonic() + RESET_TIMEOUT_MS / 1000
    while not sockets.resets():
        assert time.monotonic() < deadline, "no reset"
        tech.page.wait_for_timeout(100)
    _expect_posts(tech.page, expected)
    _wait_seq(tech.page, topic, seq + 3)
    assert sockets.resets() == [topic], sockets.frames
    assert sockets.seqs(topic)[:1] == [seq + 1]  # then the reset, not the failed one
    assert failed not in sockets.seqs(topic)
    assert_no_reload(tech.page)
    assert len(sockets.frames) == 1, "the socket was dropped"
    expect(box).to_have_value(draft)
    expect(box).to_be_focused()
    injected = _log_lines(live_server, f"{INJECTED}: {FAIL_ALWAYS} of {topic}#{failed} ")
    assert [line.rsplit(" ", 1)[1] for line in injected] == [
        str(n) for n in range(1, MAX_ATTEMPTS + 1)
    ], injected
    gave_up = _log_lines(live_server, f"event {topic}#{failed}: still failing after")
    assert len(gave_up) == 1, live_server.failure_logs()

    # Later replies arrive live, on the same socket; the draft is still there
    # and goes out as the technician's reply.
    later = "La squadra strade interviene giovedì."
    later_id = mayor.reply(thread_id, later)
    _expect_posts(tech.page, [*expected, (later_id, later)])
    _wait_seq(tech.page, topic, seq + 4)
    assert len(sockets.frames) == 1
    assert sockets.resets() == [topic]
    box.press("End")
    tech.page.get_by_role("button", name="Invia risposta").click()
    expect(tech.page.locator("#posts > article.post").last).to_contain_text(draft)
    assert_no_reload(tech.page)

    # The board followed every reply (the failing one's board event too),
    # without a reset or a reload.
    _wait_seq(board, BOARD_TOPIC, board_seq + 5)
    expect(row.locator(".badge")).to_contain_text(re.compile(r"\b6\b"))
    assert board_sockets.resets() == []
    assert len(board_sockets.frames) == 1
    assert_no_reload(board)
    for s in (mayor.session, tech):
        s.watcher.assert_clean()
    board_watcher.assert_clean()
