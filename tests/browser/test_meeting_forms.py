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

from tests.browser.conftest import NO_RELOAD_MARKER, Session, assert_no_reload
from tests.browser.scene import ROLES, Scene

pytestmark = pytest.mark.slow

PORTAVOCE = str(ROLES["portavoce"])  # chairs the scene's meetings of ZO 5
STAFF = str(ROLES["staff"])  # convenes any zone


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


# Each label of a field one types in (checkboxes are drawn by their label) and
# its field: the boxes, as the browser lays them out, with their overlap.
LABEL_BOXES = """(form) => [...form.querySelectorAll('label[for]')].flatMap((label) => {
  const field = document.getElementById(label.htmlFor);
  if (!field || field.type === 'checkbox' || field.closest('template')) return [];
  const a = label.getBoundingClientRect(), b = field.getBoundingClientRect();
  const x = Math.min(a.right, b.right) - Math.max(a.left, b.left);
  const y = Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top);
  return [{label: label.textContent.trim(), field: field.id, width: a.width, x, y}];
})"""

# What the form would send: the rows' fields, in order.
ROW_FIELDS = """(form) => [...new FormData(form).entries()]
  .filter(([name]) => /^item-\\d+-title$/.test(name))
  .map(([name, value]) => name + '=' + value)"""


@pytest.mark.parametrize("width", [375, 1280])
def test_convening_labels_never_cover_their_fields(
    open_session: Callable[..., Session], width: int
) -> None:
    staff = open_session(viewport={"width": width, "height": 900})
    staff.login(STAFF)
    page = staff.page
    page.goto("/meetings/new")
    page.locator("#add-item").click()  # a second agenda row, laid out as the first
    page.fill("#title", "Assemblea dei sindaci")
    page.fill("#item-0-title", "Parere sul Piano strategico metropolitano")
    form = page.locator('[data-testid="convene-form"]')
    boxes = form.evaluate(LABEL_BOXES)
    assert len(boxes) >= 12, boxes  # title ... the two rows' three fields each
    overlapping = [b for b in boxes if b["x"] > 0 and b["y"] > 0]
    assert not overlapping, overlapping
    assert all(b["width"] > 0 for b in boxes), boxes
    staff.watcher.assert_clean()


def test_agenda_rows_are_added_moved_and_removed_in_place(
    open_session: Callable[..., Session],
) -> None:
    staff = open_session()
    staff.login(STAFF)
    page = staff.page
    page.goto("/meetings/new")
    page.evaluate(NO_RELOAD_MARKER)
    form = page.locator('[data-testid="convene-form"]')
    rows = form.locator('ol[data-rows="item"] > li')
    expect(rows).to_have_count(1)
    page.fill("#item-0-title", "Primo punto")
    for title in ("Secondo punto", "Terzo punto"):
        page.locator("#add-item").click()
        new = rows.last.locator("input").first
        expect(new).to_be_focused()  # the new row's title
        new.fill(title)
    expect(rows).to_have_count(3)
    expect(page.locator('label[for="item-2-title"]')).to_have_text("Punto 3")

    # The third row goes up: the button keeps the focus, names follow the order.
    move_up = rows.nth(2).locator('[data-row-action="up"]')
    move_up.click()
    expect(rows.nth(1).locator('[data-row-action="up"]')).to_be_focused()
    assert form.evaluate(ROW_FIELDS) == [
        "item-0-title=Primo punto",
        "item-1-title=Terzo punto",
        "item-2-title=Secondo punto",
    ]
    expect(page.locator('label[for="item-1-title"]')).to_have_text("Punto 2")
    assert page.locator("#item-1-title").input_value() == "Terzo punto"

    # The first row is removed: focus goes to the row that took its place.
    rows.first.locator('[data-row-action="remove"]').click()
    expect(rows).to_have_count(2)
    expect(page.locator("#item-0-title")).to_be_focused()
    assert form.evaluate(ROW_FIELDS) == ["item-0-title=Terzo punto", "item-1-title=Secondo punto"]
    expect(page.locator('label[for="item-0-title"]')).to_have_text("Punto 1")
    assert_no_reload(page)  # all in place
    staff.watcher.assert_clean()
