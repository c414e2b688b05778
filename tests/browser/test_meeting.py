"""A live meeting in a real browser: the chair drives, a mayor takes part, a
member of the other zone and an anonymous visitor on the public link follow.

The demo's joint meeting of ZO 5 and ZO 6 (convened by the CMTo staff) is
opened, the chair attaches a document to the first item (members get it
live, the public page does not list it), the mayor of Pinerolo checks the
comune in, asks for the floor and gets it (the speaking timer runs on every
page), the chair moves through the
agenda and opens a vote on a parere, the mayor votes from their own page, the
tally and the frozen roll-call line reach the followers without a reload; the
meeting is closed, the verbale published, and its page and PDF carry the
roll-call line.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable

import pytest
from playwright.sync_api import FilePayload, Locator, Page, expect
from pypdf import PdfReader

from tests.browser.conftest import NO_RELOAD_MARKER, Session, assert_no_reload, login_session

pytestmark = pytest.mark.slow

STAFF = "staff@demo.collab.it"
MAYOR = "sindaco.pinerolo@demo.collab.it"  # Pinerolo, ZO 5
FOLLOWER = "sindaco.susa@demo.collab.it"  # Susa, ZO 6
TITLE = "Giornata di sintesi del Pinerolese e delle Valli di Susa e Sangone"
ROOM = re.compile(r"/meetings/(\d+)$")
MARKER = NO_RELOAD_MARKER
MOTION = "Parere favorevole sul Piano strategico metropolitano"


def _click(page: Page, testid: str) -> None:
    page.locator(f'[data-testid="{testid}"] [type="submit"]').first.click()


def _confirm(page: Page, testid: str) -> None:
    """An irreversible step: its button opens the dialog, focused on "Go back"; confirm."""
    _click(page, testid)
    expect(page.locator("#confirm-dialog")).to_be_visible()
    expect(page.locator('[data-testid="confirm-dialog-cancel"]')).to_be_focused()
    page.locator('[data-testid="confirm-dialog-submit"]').click()


def _current(page: Page) -> Locator:
    """The agenda item under discussion (marked aria-current)."""
    return page.locator('#room-agenda li[aria-current="step"]')


def _live(page: Page) -> None:
    """Wait until the page's socket is subscribed, then mark the page."""
    expect(page.locator("#live")).to_have_count(1)
    page.wait_for_timeout(300)  # the subscription goes out on wsOpen
    page.evaluate(MARKER)


def test_a_meeting_live_from_opening_to_verbale(open_session: Callable[..., Session]) -> None:
    chair = login_session(open_session, STAFF)
    chair.page.goto("/meetings")
    link = chair.page.locator('a[href^="/meetings/"]', has_text=TITLE).first
    href = link.get_attribute("href")
    assert href is not None and ROOM.search(href), href
    room = href

    chair.page.goto(room)
    public_url = chair.page.locator('[data-testid="public-url"]').get_attribute("href")
    assert public_url and public_url.startswith("/m/")
    mayor = login_session(open_session, MAYOR)
    mayor.page.goto(room)
    follower = login_session(open_session, FOLLOWER)
    follower.page.goto(room)
    visitor = open_session()
    visitor.page.goto(public_url)
    expect(visitor.page.locator('[data-testid="room-title"]')).to_have_text(TITLE)
    for s in (chair, mayor, follower, visitor):
        _live(s.page)
    followers = (follower.page, visitor.page)

    # The chair opens the meeting: every page shows it in progress, on item 1.
    _click(chair.page, "open-meeting")
    for page in followers:
        expect(page.locator('[data-testid="room-state"]')).to_have_text(re.compile("In corso"))
        expect(_current(page)).to_contain_text("Piano strategico")

    # The chair attaches a document to item 1: members get it live and it
    # downloads byte for byte; the public page does not list it.
    item = _current(chair.page)
    item.locator("details > summary").click()
    attachment = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n%" + b"x" * 4096 + b"\n%%EOF\n"
    item.locator("input[type=file]").set_input_files(
        files=[FilePayload(name="relazione-psm.pdf", mimeType="application/pdf", buffer=attachment)]
    )
    item.locator('form [type="submit"]').click()
    for page in (mayor.page, follower.page):
        files = _current(page).locator('[data-testid="item-files"] a')
        expect(files).to_have_text("relazione-psm.pdf")
    href = _current(mayor.page).locator('[data-testid="item-files"] a').get_attribute("href")
    assert href
    got = mayor.context.request.get(href)
    assert got.status == 200 and got.body() == attachment
    expect(_current(visitor.page)).to_be_visible()
    expect(visitor.page.locator('[data-testid="item-files"]')).to_have_count(0)
    anonymous = visitor.context.request.get(href, max_redirects=0)  # to the login page
    assert anonymous.status in (302, 303) and "/login" in anonymous.headers["location"]

    # The chair starts writing the motion of a vote; meanwhile the mayor checks
    # Pinerolo in: the register updates everywhere, and the chair's vote form,
    # drawn again (a new copy of the region), still holds the motion typed.
    chair.page.fill("#vote-motion", MOTION)
    chair.page.evaluate("document.getElementById('room-vote').dataset.before = '1'")
    _click(mayor.page, "checkin")
    for page in followers:
        expect(page.locator('[data-testid="present"]')).to_contain_text("Pinerolo")
    expect(chair.page.locator('[data-testid="present"]')).to_contain_text("Pinerolo")
    expect(chair.page.locator("#room-vote[data-before]")).to_have_count(0)
    expect(chair.page.locator("#vote-motion")).to_have_value(MOTION)

    # A raised hand, the queue, the floor given, the timer running.
    _click(mayor.page, "raise-hand")
    expect(chair.page.locator('[data-testid="queue"]')).to_contain_text("Sindaco di Pinerolo")
    _click(chair.page, "grant")
    for page in followers:
        expect(page.locator('[data-testid="speaker-name"]')).to_contain_text("Sindaco di Pinerolo")
        expect(page.locator('[data-testid="timer"]')).not_to_have_text("00:00", timeout=4000)

    # The chair opens the vote on the parere (the motion typed before the
    # check-in and the floor); the mayor votes from their page.
    expect(chair.page.locator("#vote-motion")).to_have_value(MOTION)
    _click(chair.page, "open-vote-form")
    # One comune of the assembly's eight is present: the chair confirms.
    _click(chair.page, "quorum-confirm-form")
    expect(mayor.page.locator('[data-testid="motion"]')).to_contain_text(MOTION)
    for page in followers:
        expect(page.locator('[data-testid="motion"]')).to_contain_text(MOTION)
    _click(mayor.page, "ballot-favorevole")
    expect(mayor.page.locator('[data-testid="own-ballot"]')).to_be_visible()
    for page in followers:
        expect(page.locator('[data-testid="count-favorevole"]')).to_have_text("1")
        expect(page.locator('[data-testid="names-favorevole"]')).to_have_text("Pinerolo")

    # The chair moves on and closes the vote: the result is frozen as a roll call.
    _click(chair.page, "next-item")
    for page in followers:
        expect(_current(page)).to_contain_text("trasporto")
    _confirm(chair.page, "close-vote")
    for page in followers:
        roll_call = page.locator('[data-testid="roll-call"]').first
        expect(roll_call).to_contain_text("1 favorevole (Pinerolo)")
        expect(roll_call).to_contain_text("1 presente,")

    # Closing drafts the verbale; the room shows where it is without a reload.
    _confirm(chair.page, "close-meeting")
    for page in followers:
        expect(page.locator('[data-testid="room-state"]')).to_have_text(re.compile("Chius"))
    # The public page says it is over and shows who was there at the close, live.
    expect(visitor.page.locator('[data-testid="public-note"]')).to_contain_text("è terminata")
    expect(visitor.page.locator('[data-testid="quorum"]')).to_have_text(
        re.compile(r"^Presenti alla chiusura 1 su \d+$")
    )
    expect(visitor.page.locator('[data-testid="present"]')).to_have_text("Pinerolo")
    for page in followers:
        assert_no_reload(page)

    chair.page.goto(f"{room}/verbale")
    with chair.page.expect_navigation():
        _confirm(chair.page, "verbale-publish")
    verbale = chair.page.locator("#verbale")
    expect(verbale).to_contain_text("1 favorevole (Pinerolo)")
    pdf = chair.context.request.get(f"{room}/verbale.pdf")
    assert pdf.status == 200 and pdf.headers["content-type"] == "application/pdf"
    text = " ".join(
        " ".join((p.extract_text() or "").split()) for p in PdfReader(io.BytesIO(pdf.body())).pages
    )
    assert "1 favorevole (Pinerolo)" in text, text
    assert "1 presente," in text, text

    # The followers' pages offer the published verbale, the public one too.
    follower.page.goto(f"{room}/verbale")
    expect(follower.page.locator("#verbale")).to_contain_text("1 favorevole (Pinerolo)")
    visitor.page.goto(f"{public_url}/verbale")
    expect(visitor.page.locator("#verbale")).to_contain_text("1 favorevole (Pinerolo)")
    for s in (chair, mayor, follower, visitor):
        s.watcher.assert_clean()
