"""A live frame that lands during a click, or during its request, in a real browser.

A frame replaces a meeting room's region whole (static/js/live.js). Two
members of a body of people check in from their own browsers, as in
test_meeting_bodies.py; on the second member's page the frame of the first
one's check-in is held back by the test and let through at the exact moment
that matters, the way a busy server (the meeting's "within the hour"
reminders going out to every invited person) delays it:

- between the press of the "Check in" button and the click: the frame took
  the button away from under the pointer and the click went to no form, so
  the member was never checked in (test_meeting_bodies.py failed so, once,
  on a loaded CI machine). The frame now waits for the click;
- while the check-in's request is on its way: the frame replaced the region
  the request came from, and htmx had only a detached element to put its
  answer in; an error answer (a check-in made meanwhile from another tab)
  was lost. The frame now waits for the answer, then is applied.

Either way the page ends showing the member's true state.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from datetime import datetime, timedelta

import pytest
from playwright.sync_api import Page, Route, expect

from collab.templating import ROME
from tests.browser.conftest import TIMEOUT_MS, Session, assert_no_reload, login_session
from tests.browser.test_meeting import _click
from tests.browser.test_meeting_bodies import (
    ADMIN,
    IVREA,
    NAMES,
    STAFF,
    SUSA,
    ZONE,
    Sitting,
    _convene,
    _create_body,
    _live,
    _people,
)

pytestmark = pytest.mark.slow

_numbers = itertools.count(1)

# Installed on a page: holds back the next frame that replaces the attendance
# region (before live.js sees it, and before the ws extension would swap it
# itself); window.__release() hands it to live.js as the socket would.
HOLD_NEXT_ATTENDANCE_FRAME = """
(() => {
  window.__held = null;
  document.addEventListener("htmx:wsBeforeMessage", (event) => {
    const message = event.detail.message;
    if (window.__held !== null || !message.includes('data-id="room-attendance"')) return;
    window.__held = message;
    event.preventDefault();
    event.stopImmediatePropagation();
  }, true);
  window.__release = () => {
    const live = document.getElementById("live");
    htmx.trigger(live, "htmx:wsBeforeMessage", {message: window.__held});
  };
})();
"""
RELEASE_ON_MOUSEDOWN = """
document.addEventListener("mousedown", () => window.__release(), {capture: true, once: true})
"""


def _meeting(open_session: Callable[..., Session]) -> str:
    """A body of people (test_meeting_bodies.py's council, under a name of its
    own) and a meeting of it, convened: the room's URL."""
    n = next(_numbers)
    body = f"Consiglio della prova dei clic {n}"
    admin = login_session(open_session, ADMIN)
    _create_body(admin.page, body, _people)
    staff = login_session(open_session, STAFF)
    sitting = Sitting(
        title=f"Seduta della prova dei clic {n}", body=body, number=n, call=1,
        protocol=f"{900 + n}/2026", items=("Orari delle linee",), zones=(ZONE,),
    )  # fmt: skip
    notice = (datetime.now(ROME) - timedelta(days=6)).date().isoformat()
    return _convene(staff.page, sitting, notice, vice=SUSA)


def _until(page: Page, done: Callable[[], bool], what: str) -> None:
    """Poll from here (the page's CSP refuses the string predicates of
    ``wait_for_function``), letting Playwright's events in meanwhile."""
    deadline = time.monotonic() + TIMEOUT_MS / 1000
    while not done():
        assert time.monotonic() < deadline, what
        page.wait_for_timeout(50)


def _until_held(page: Page) -> None:
    _until(page, lambda: page.evaluate("window.__held !== null"), "no attendance frame came")


def _present(page: Page) -> None:
    """The page shows both members present, and the viewer's own way out."""
    expect(page.locator('[data-testid="checkout"]')).to_be_visible()
    present = page.locator('#room-attendance [data-testid="present"] li')
    expect(present).to_have_count(2)
    expect(present.filter(has_text=NAMES[SUSA])).to_have_count(1)
    expect(present.filter(has_text=NAMES[IVREA])).to_have_count(1)


def test_a_frame_between_press_and_click_does_not_swallow_the_click(
    open_session: Callable[..., Session],
) -> None:
    room = _meeting(open_session)
    susa = login_session(open_session, SUSA)
    ivrea = login_session(open_session, IVREA)
    for session in (susa, ivrea):
        session.page.goto(room)
        _live(session.page)
    page = ivrea.page
    page.evaluate(HOLD_NEXT_ATTENDANCE_FRAME)

    _click(susa.page, "checkin")
    expect(susa.page.locator('[data-testid="checkout"]')).to_be_visible()
    _until_held(page)
    # Susa's check-in reaches Ivrea's page as the button goes down.
    page.evaluate(RELEASE_ON_MOUSEDOWN)
    _click(page, "checkin")

    _present(page)
    _present(susa.page)
    assert_no_reload(page)
    for session in (susa, ivrea):
        session.watcher.assert_clean()


def test_a_frame_during_the_request_leaves_its_answer_a_place(
    open_session: Callable[..., Session],
) -> None:
    room = _meeting(open_session)
    susa = login_session(open_session, SUSA)
    ivrea = login_session(open_session, IVREA)
    other_tab = ivrea.context.new_page()
    page = ivrea.page
    for tab in (susa.page, page, other_tab):
        tab.goto(room)
        _live(tab)
    _click(susa.page, "checkin")
    for tab in (page, other_tab):  # Susa's check-in has reached both tabs
        expect(tab.locator('#room-attendance [data-testid="present"]')).to_contain_text(NAMES[SUSA])

    page.evaluate(HOLD_NEXT_ATTENDANCE_FRAME)
    # Ivrea checks in from another tab; this page does not know it yet.
    _click(other_tab, "checkin")
    expect(other_tab.locator('[data-testid="checkout"]')).to_be_visible()
    _until_held(page)

    held: list[Route] = []

    def hold(route: Route) -> None:
        held.append(route)

    page.route("**/guest", hold)
    guest_url = room + "/guest"
    ivrea.watcher.expect_error_status(guest_url)
    _click(page, "checkin")
    _until(page, lambda: bool(held), "the check-in was not sent")
    # The other tab's check-in arrives while this one's request is on its way.
    page.evaluate("window.__release()")
    held[0].continue_()

    alert = page.locator("#alerts [role=alert]")
    expect(alert).to_contain_text("Sei già registrato a questa riunione.")
    _present(page)
    assert_no_reload(page)
    problems = [p for p in ivrea.watcher.problems if "409" not in p]
    assert not problems, problems
