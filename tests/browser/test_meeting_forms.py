"""The meeting pages' forms in a real browser: the confirmation dialog of the
irreversible steps (and its page without JavaScript), and the convening form
(agenda rows added, removed and moved; labels clear of their fields at phone
and desktop widths).

Nothing here is confirmed or submitted for real: the scene is shared by the
module's tests (tests/browser/test_meeting.py runs a meeting to its end).
"""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import Session
from tests.browser.scene import ROLES, Scene

pytestmark = pytest.mark.slow

PORTAVOCE = str(ROLES["portavoce"])  # chairs the scene's meetings of ZO 5


def _room(scene: Scene) -> str:
    return f"/meetings/{scene.meeting_live}"


def _open_dialog(page: Page) -> None:
    page.locator('[data-testid="close-vote"] [type="submit"]').click()
    expect(page.locator("#confirm-dialog")).to_be_visible()


def test_the_dialog_asks_and_going_back_changes_nothing(
    open_session: Callable[..., Session], scene: Scene
) -> None:
    chair = open_session()
    chair.login(PORTAVOCE)
    page = chair.page
    page.goto(_room(scene))
    motion = page.locator('[data-testid="open-vote"] [data-testid="motion"]')
    expect(motion).to_be_visible()

    _open_dialog(page)
    dialog = page.locator("#confirm-dialog")
    expect(dialog.locator("h2")).to_have_text("Chiudere la votazione?")
    expect(dialog).to_contain_text("La votazione non potrà essere riaperta.")
    expect(page.locator('[data-testid="confirm-dialog-submit"]')).to_have_text(
        "Chiudi la votazione"
    )
    # Focus starts on the harmless choice and stays in the modal dialog.
    expect(page.locator('[data-testid="confirm-dialog-cancel"]')).to_be_focused()
    page.keyboard.press("Tab")
    expect(page.locator('[data-testid="confirm-dialog-submit"]')).to_be_focused()
    # Escape closes it; focus goes back to the button that opened it.
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(page.locator('[data-testid="close-vote"] button')).to_be_focused()

    _open_dialog(page)
    page.locator('[data-testid="confirm-dialog-cancel"]').click()
    expect(dialog).to_be_hidden()
    expect(page.locator('[data-testid="close-vote"] button')).to_be_focused()
    page.reload()
    expect(motion).to_be_visible()  # the vote is still open
    chair.watcher.assert_clean()


def test_without_javascript_the_button_leads_to_a_page(
    open_session: Callable[..., Session], scene: Scene
) -> None:
    chair = open_session(java_script=False)
    chair.login(PORTAVOCE)
    page = chair.page
    page.goto(_room(scene))
    with page.expect_navigation():
        page.locator('[data-testid="close-vote"] [type="submit"]').click()
    assert re.search(rf"/meetings/{scene.meeting_live}/votes/\d+/close\??$", page.url), page.url
    expect(page.locator('[data-testid="confirm-title"]')).to_have_text("Chiudere la votazione?")
    expect(page.locator('[data-testid="confirm-subject"]')).to_have_text(
        "Parere favorevole sul Piano strategico"
    )
    expect(page.locator('[data-testid="confirm-form"] [type="submit"]')).to_have_text(
        "Chiudi la votazione"
    )
    with page.expect_navigation():
        page.locator('[data-testid="confirm-back"]').click()
    expect(page.locator('[data-testid="open-vote"] [data-testid="motion"]')).to_be_visible()
    chair.watcher.assert_clean()
