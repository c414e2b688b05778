"""The rest of the consultations and documents story, in Chromium.

Staff review and answer the contribution of Pinerolo: its row changes state
live on the sindaco's consultation page, and the answer reaches the
contribution's page live. Staff download the open data. Staff
keep a form in a theme's library: it arrives live on a technician's library
page, and its second version on the document's page, where the first one still
downloads. A reply with an attachment reaches another reader of the thread
live, and the attachment downloads with the bytes sent.

Selectors rely on ids, form actions and data-testid attributes; visible text is
checked where it is the point (the answer, Italian labels).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable

import pytest
from playwright.sync_api import FilePayload, Page, expect

from tests.browser.conftest import NO_RELOAD_MARKER, Session, assert_no_reload, login_session
from tests.browser.test_consultation_live import (
    LIVE_TIMEOUT_MS,
    MAYOR,
    RECEIPT_URL,
    STAFF,
    TECHNICIAN,
    _open_consultation,
    _pdf,
    _png,
)

pytestmark = pytest.mark.slow

THEME = "/zones/5/trasporti-mobilita"
THREAD_URL = re.compile(r"/threads/(\d+)")
DOCUMENT_URL = re.compile(r"/documents/(\d+)$")
KB = 1024


def _submit(page: Page, url: str, text: str, pdf: bytes) -> int:
    """The sindaco sends the comune's contribution; its id."""
    page.goto(url)
    form = f'form[hx-post="{url}/contributions"]'
    page.fill("#contribution-body", text)
    page.set_input_files(
        f"{form} input[type=file]",
        files=[FilePayload(name="parere.pdf", mimeType="application/pdf", buffer=pdf)],
    )
    page.click(f"{form} [type=submit]")
    page.wait_for_url(RECEIPT_URL)
    match = RECEIPT_URL.search(page.url)
    assert match, page.url
    return int(match.group(1))


def _move(staff: Page, contribution_id: int, status: str, answer: str = "") -> None:
    staff.goto(f"/contributions/{contribution_id}")
    form = staff.locator('[data-testid="status-form"]')
    form.locator("#status").select_option(status)
    if answer:
        form.locator("#answer-text").fill(answer)
    with staff.expect_navigation():
        form.locator("[type=submit]").click()


def _fetch(session: Session, href: str) -> bytes:
    """The bytes behind a download link, fetched with the session's cookies."""
    response = session.page.request.get(href)
    assert response.status == 200, (href, response.status)
    assert response.headers["content-disposition"].startswith("attachment;")
    return response.body()


def test_review_export_library_and_attachments(open_session: Callable[..., Session]) -> None:
    staff = login_session(open_session, STAFF)
    mayor = login_session(open_session, MAYOR)
    tech = login_session(open_session, TECHNICIAN)

    # (1) The sindaco sends Pinerolo's contribution and follows the consultation.
    consultation_id = _open_consultation(staff, "Piano dei servizi scolastici del Pinerolese")
    url = f"/consultations/{consultation_id}"
    contribution_id = _submit(
        mayor.page, url, "Pinerolo propone un polo scolastico unico.", _pdf(64 * KB)
    )
    mayor.page.goto(url)
    mayor.page.evaluate(NO_RELOAD_MARKER)
    badge = mayor.page.locator(f"#contribution-{contribution_id} [data-status]")
    expect(badge).to_have_attribute("data-status", "received")

    # (2) Staff review it: the sindaco's row follows, live.
    _move(staff.page, contribution_id, "under_review")
    expect(badge).to_have_attribute("data-status", "under_review", timeout=LIVE_TIMEOUT_MS)
    expect(badge).to_have_text("In istruttoria")
    assert_no_reload(mayor.page)
    # Staff answer while the sindaco reads the contribution's page: the state,
    # the answer and the closed edit form arrive there, live.
    mayor.page.goto(f"/contributions/{contribution_id}")
    mayor.page.evaluate(NO_RELOAD_MARKER)
    expect(mayor.page.locator('[data-testid="edit-form"]')).to_have_count(1)
    expect(mayor.page.locator('[data-testid="answer"]')).to_have_count(0)
    answer = "Accolto: il polo unico entra nel piano 2027."
    _move(staff.page, contribution_id, "accepted", answer)
    state = mayor.page.locator(f"#contribution-status-{contribution_id} [data-status]")
    expect(state).to_have_attribute("data-status", "accepted", timeout=LIVE_TIMEOUT_MS)
    expect(state).to_have_text("Accolto")
    expect(mayor.page.locator('[data-testid="answer"]')).to_contain_text(answer)
    expect(mayor.page.locator('[data-testid="edit-form"]')).to_have_count(0)
    expect(mayor.page.locator('[data-testid="answered-closed"]')).to_be_visible()
    assert_no_reload(mayor.page)
    # After a reload the page says the same.
    mayor.page.reload()
    expect(mayor.page.locator('[data-testid="answer"]')).to_contain_text(answer)
    expect(mayor.page.locator('[data-testid="edit-form"]')).to_have_count(0)

    # (3) Staff download the open data: the comune and its state, nobody's e-mail.
    staff.page.goto(url)
    with staff.page.expect_download() as info:
        staff.page.click(f'a[href="{url}/export.csv"]')
    download = info.value
    assert download.suggested_filename == f"consultazione-{consultation_id}-contributi.csv"
    path = download.path()
    assert path is not None
    text = path.read_bytes().decode("utf-8-sig")
    header, row = text.splitlines()[:2]
    assert header.startswith("receipt;comune_istat;comune;zone;status")
    assert ";Pinerolo;5;accepted;" in row and answer in row
    assert "@" not in text

    # (4) A form in the library of a theme, followed by the technician.
    staff.page.goto("/library")
    first_theme = staff.page.locator('a[href^="/library/"]').first
    library = first_theme.get_attribute("href")
    assert library, "the library lists the themes"
    tech.page.goto(library)
    tech.page.evaluate(NO_RELOAD_MARKER)
    staff.page.goto(library)
    add = staff.page.locator('[data-testid="add-document-form"]')
    add.locator("#title").fill("Modulo di richiesta trasporto scolastico")
    add.locator("#description").fill("Da compilare a cura del comune.")
    first = _pdf(40 * KB)
    add.locator("input[type=file]").set_input_files(
        files=[FilePayload(name="modulo.pdf", mimeType="application/pdf", buffer=first)]
    )
    add.locator("[type=submit]").click()
    staff.page.wait_for_url(DOCUMENT_URL)
    match = DOCUMENT_URL.search(staff.page.url)
    assert match, staff.page.url
    document_id = int(match.group(1))
    row = tech.page.locator(f"#document-{document_id}")
    expect(row).to_be_visible(timeout=LIVE_TIMEOUT_MS)
    expect(row.locator('[data-testid="document-version"]')).to_have_text("1")
    expect(tech.page.locator("#no-documents")).to_have_count(0)
    assert_no_reload(tech.page)

    # A second version: the technician's document page shows it, live, on
    # top; the first still downloads, byte for byte.
    tech.page.goto(f"/documents/{document_id}")
    tech.page.evaluate(NO_RELOAD_MARKER)
    versions = tech.page.locator(f"#document-{document_id}-versions > li")
    expect(versions).to_have_count(1)
    second = _pdf(48 * KB)
    form = staff.page.locator('[data-testid="add-version-form"]')
    form.locator("input[type=file]").set_input_files(
        files=[FilePayload(name="modulo-2027.pdf", mimeType="application/pdf", buffer=second)]
    )
    form.locator("#note").fill("Aggiornato per il 2027.")
    form.locator("[type=submit]").click()
    expect(versions).to_have_count(2, timeout=LIVE_TIMEOUT_MS)
    expect(versions.first).to_have_attribute("data-version", "2")
    expect(versions.first.locator(".version-note")).to_have_text("Aggiornato per il 2027.")
    assert_no_reload(tech.page)
    by_version = {
        versions.nth(i).get_attribute("data-version"): versions.nth(i).locator(
            '[data-testid="version-download"]'
        )
        for i in range(2)
    }
    for number, data in (("1", first), ("2", second)):
        link = by_version[number].get_attribute("href")
        assert link, number
        assert _fetch(tech, link) == data
    expect(tech.page.locator('[data-version="1"] [data-testid="version-sha256"]')).to_have_text(
        hashlib.sha256(first).hexdigest()
    )

    # (5) A reply with an attachment reaches the technician's thread page live.
    mayor.page.goto(f"{THEME}/new")
    mayor.page.fill("#title", "Orari scolastici e trasporti")
    mayor.page.fill("#body", "Coordiniamo gli orari delle scuole con le corse.")
    with mayor.page.expect_navigation():
        mayor.page.click(f'form[action="{THEME}/new"] [type="submit"]')
    match = THREAD_URL.search(mayor.page.url)
    assert match, mayor.page.url
    thread = f"/threads/{match.group(1)}"
    tech.page.goto(thread)
    tech.page.evaluate(NO_RELOAD_MARKER)
    png = _png()
    mayor.page.fill("#reply-body", "In allegato la mappa delle fermate.")
    mayor.page.locator("#reply-form input[type=file]").set_input_files(
        files=[FilePayload(name="fermate.png", mimeType="image/png", buffer=png)]
    )
    mayor.page.click('#reply-form [type="submit"]')
    arrived = tech.page.locator("#posts > article.post").last
    expect(arrived.locator(".post-body")).to_have_text(
        "In allegato la mappa delle fermate.", timeout=LIVE_TIMEOUT_MS
    )
    attachment = arrived.locator('[data-testid="post-files"] a')
    expect(attachment).to_have_text("fermate.png")
    href = attachment.get_attribute("href")
    assert href
    assert _fetch(tech, href) == png
    assert_no_reload(tech.page)

    for s in (staff, mayor, tech):
        s.watcher.assert_clean()
