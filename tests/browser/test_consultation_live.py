"""A consultation in a real browser: staff open it for ZO 5 with a PDF draft;
the sindaco of Pinerolo sends the comune's contribution with a large PDF and a
PNG through the htmx upload form (progress bar shown, up to 100%) and lands on
the receipt, whose SHA-256 values are those of the bytes sent; the tecnico of
Luserna, on the consultation page, sees the contribution arrive live without a
reload. Bad input: no second contribution form, and a file over the size limit
refused before anything is sent.

Selectors rely on ids, form actions and data-testid attributes; visible text is
compared only where the brief asks for it (the Italian UI).
"""

from __future__ import annotations

import hashlib
import re
import struct
import zlib
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import FilePayload, Page, expect

from tests.browser.conftest import (
    NO_RELOAD_MARKER,
    Session,
    assert_no_reload,
    login_session,
)

pytestmark = pytest.mark.slow

STAFF = "staff@demo.collab.it"
MAYOR = "sindaco.pinerolo@demo.collab.it"  # ZO 5
PORTAVOCE = "portavoce.pinerolese@demo.collab.it"  # ZO 5, sends for Cumiana
TECHNICIAN = "tecnico.luserna@demo.collab.it"  # ZO 5, not a mayor
CONSULTATION_URL = re.compile(r"/consultations/(\d+)$")
RECEIPT_URL = re.compile(r"/contributions/(\d+)/receipt$")
LIVE_TIMEOUT_MS = 5_000
MB = 1024 * 1024


def _pdf(size: int) -> bytes:
    """A PDF of ``size`` bytes: a minimal document padded with a comment."""
    head = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n%"
    tail = b"\n%%EOF\n"
    return head + b"x" * (size - len(head) - len(tail)) + tail


def _png() -> bytes:
    """A valid 1x1 PNG."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00\xff\x80\x00")
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


# Reports to the test (``window.__reportProgress``, exposed by Playwright, so
# the values survive the navigation to the receipt) whether the upload bar of
# ``selector`` is visible and each value it shows; a plain observer, since the
# CSP forbids 'unsafe-eval'.
WATCH_PROGRESS = """(selector) => {
    const box = document.querySelector(selector).querySelector('[data-upload-progress]');
    const bar = box.querySelector('[role=progressbar]');
    new MutationObserver(() => {
        window.__reportProgress(
            !box.classList.contains('d-none'), Number(bar.getAttribute('aria-valuenow')));
    }).observe(box, {attributes: true, subtree: true});
}"""


def _throttle_upload(page: Page, bytes_per_second: int) -> None:
    """Slow the page's uploads down (Chromium's network emulation) so that the
    progress bar has intermediate values to show."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send(
        "Network.emulateNetworkConditions",
        {
            "offline": False,
            "latency": 0,
            "downloadThroughput": -1,
            "uploadThroughput": bytes_per_second,
        },
    )


def _open_consultation(staff: Session, title: str) -> int:
    page = staff.page
    page.goto("/consultations/new")
    page.fill("#title", title)
    page.fill("#body", "Chiediamo ai comuni della zona un parere sulla bozza allegata.")
    deadline = (datetime.now() + timedelta(days=30)).replace(second=0, microsecond=0)
    page.fill("#deadline", deadline.strftime("%Y-%m-%dT%H:%M"))
    label = page.locator("label.form-check-label[for^='zone-']", has_text="Pinerolese")
    expect(label).to_have_count(1)
    label.click()  # Bootstrap Italia draws the box with the label over the input
    expect(page.locator(f"#{label.get_attribute('for')}")).to_be_checked()
    page.set_input_files(
        "#file-files",
        files=[FilePayload(name="bozza.pdf", mimeType="application/pdf", buffer=_pdf(2 * MB))],
    )
    page.click('form[hx-post="/consultations/new"] [type="submit"]')
    page.wait_for_url(CONSULTATION_URL)
    match = CONSULTATION_URL.search(page.url)
    assert match, page.url
    expect(page.locator("#consultation-drafts")).to_contain_text("bozza.pdf")
    return int(match.group(1))


def test_contribution_live(open_session: Callable[..., Session], tmp_path: Path) -> None:
    # (1) Staff open a consultation for ZO 5 Pinerolese with a PDF draft.
    staff = login_session(open_session, STAFF)
    title = "Piano della mobilità sostenibile del Pinerolese"
    consultation_id = _open_consultation(staff, title)
    url = f"/consultations/{consultation_id}"

    # (2) The tecnico of Luserna follows the consultation page.
    tech = login_session(open_session, TECHNICIAN)
    tech.page.goto(url)
    expect(tech.page.locator("h1")).to_have_text(title)
    expect(tech.page.locator("[ws-connect]")).to_have_count(1)
    expect(tech.page.locator('#contributions [data-testid="contribution"]')).to_have_count(0)
    tech.page.evaluate(NO_RELOAD_MARKER)
    # The comuni still awaited, Pinerolo among them; the tecnico opens the list.
    awaited = tech.page.locator("#awaited")
    awaited.locator("summary").click()
    expect(awaited).to_have_attribute("open", "")
    pinerolo = awaited.locator('#awaited-list li[data-istat="001191"]')
    expect(pinerolo).to_have_text("Pinerolo")
    waiting = awaited.locator("#awaited-list li").count()

    # (3) The sindaco of Pinerolo sends the contribution with a large PDF and a PNG.
    mayor = login_session(open_session, MAYOR)
    page = mayor.page
    page.goto(url)
    form_selector = f'form[hx-post="{url}/contributions"]'
    form = page.locator(form_selector)
    expect(form).to_have_count(1)
    progress = form.locator("[data-upload-progress]")
    expect(progress).to_have_class(re.compile(r"\bd-none\b"))
    page.fill("#contribution-body", "Il comune di Pinerolo chiede una corsia ciclabile in più.")
    pdf, png = _pdf(8 * MB), _png()
    sent = {"parere-pinerolo.pdf": pdf, "planimetria.png": png}
    page.set_input_files(
        f"{form_selector} input[type=file]",
        files=[
            FilePayload(name="parere-pinerolo.pdf", mimeType="application/pdf", buffer=pdf),
            FilePayload(name="planimetria.png", mimeType="image/png", buffer=png),
        ],
    )
    values: list[int] = []
    shown: list[bool] = []

    def report(visible: bool, value: int) -> None:
        shown.append(visible)
        if not values or values[-1] != value:
            values.append(value)

    page.expose_function("__reportProgress", report)
    page.evaluate(WATCH_PROGRESS, form_selector)
    _throttle_upload(page, 8 * MB)  # about a second for the 8 MB
    form.locator("[type=submit]").click()
    page.wait_for_url(RECEIPT_URL)
    print(f"\nupload progress values seen: {values}")
    assert any(shown), "the upload progress bar never appeared"
    assert values and values[-1] == 100, values
    assert any(0 < v < 100 for v in values), f"no intermediate progress: {values}"
    assert values == sorted(values), f"progress went backwards: {values}"

    # The receipt: its number and the SHA-256 of each file sent.
    expect(page.locator("h1")).to_contain_text("Ricevuta n.")
    rows = page.locator('[data-testid="receipt-file"]')
    expect(rows).to_have_count(2)
    got = {
        rows.nth(i).locator("a").inner_text().strip(): rows.nth(i)
        .locator('[data-testid="sha256"]')
        .inner_text()
        .strip()
        for i in range(2)
    }
    assert got == {name: hashlib.sha256(data).hexdigest() for name, data in sent.items()}
    match = RECEIPT_URL.search(page.url)
    assert match, page.url
    contribution_id = int(match.group(1))
    # POST/redirect/GET: the address is the receipt's own; a reload shows it again.
    page.reload()
    expect(page.locator("h1")).to_contain_text("Ricevuta n.")

    # (4) The tecnico's page shows the new contribution, live, without a reload.
    row = tech.page.locator(f"#contributions #contribution-{contribution_id}")
    expect(row).to_be_visible(timeout=LIVE_TIMEOUT_MS)
    expect(row).to_contain_text("Pinerolo")
    expect(tech.page.locator(f'[id="contribution-{contribution_id}"]')).to_have_count(1)
    expect(tech.page.locator("#no-contributions")).to_have_count(0)  # the list is no longer empty
    # Pinerolo is no longer awaited; the list the tecnico opened stays open.
    expect(pinerolo).to_have_count(0)
    expect(awaited.locator("#awaited-list li")).to_have_count(waiting - 1)
    expect(awaited.locator("#awaited-count")).to_contain_text(f"{waiting - 1} comuni su {waiting}")
    expect(awaited).to_have_attribute("open", "")
    assert_no_reload(tech.page)

    # (5) Bad input. No second contribution: the page shows the comune's one.
    page.goto(url)
    own = page.locator("#own-contribution")
    expect(own).to_contain_text("Il contributo del tuo comune")
    expect(page.locator(form_selector)).to_have_count(0)
    expect(page.locator("#contribution-body")).to_have_count(0)
    expect(own.locator(f'a[href="/contributions/{contribution_id}/receipt"]')).to_have_count(1)

    # A file over the size limit is refused before anything is sent (the
    # staff's drafts form: the same upload script and limit).
    staff.page.goto(url)
    drafts = staff.page.locator(f'form[hx-post="{url}/drafts"]')
    max_bytes = int(drafts.get_attribute("data-max-bytes") or "0")
    assert max_bytes > 0, "every upload form states the size limit"
    big = tmp_path / "troppo-grande.pdf"
    with big.open("wb") as f:
        f.write(b"%PDF-1.4\n")
        f.truncate(max_bytes + 1)
    posts: list[str] = []
    staff.page.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)
    staff.page.set_input_files("#drafts-input", str(big))
    drafts.locator("[type=submit]").click()
    alert = staff.page.locator("#alerts [role=alert]")
    expect(alert).to_contain_text("troppo-grande.pdf")
    staff.page.wait_for_timeout(300)
    assert posts == [], posts
    expect(drafts.locator("[data-upload-progress]")).to_have_class(re.compile(r"\bd-none\b"))
    expect(staff.page.locator("#consultation-drafts")).not_to_contain_text("troppo-grande.pdf")
    # The field says it too, as soon as the file is chosen.
    expect(staff.page.locator("#drafts-input")).to_have_class(re.compile(r"\bis-invalid\b"))
    expect(drafts.locator("[data-upload-problem]")).to_contain_text("troppo-grande.pdf")

    # Too many files: the mayor's edit keeps the two files sent, so nine more
    # go over the ten a version takes; leaving one out makes it fit.
    page.goto(f"/contributions/{contribution_id}")
    edit = page.locator('[data-testid="edit-form"]')
    chooser = edit.locator("input[type=file]")
    most = int(chooser.get_attribute("data-max-files") or "0")
    assert most == 10, most
    expect(edit.locator('input[name="keep"]:checked')).to_have_count(2)
    mayor_posts: list[str] = []
    page.on("request", lambda r: mayor_posts.append(r.url) if r.method == "POST" else None)
    chooser.set_input_files(
        files=[
            FilePayload(name=f"allegato-{i}.png", mimeType="image/png", buffer=png)
            for i in range(most - 1)
        ]
    )
    problem = edit.locator("[data-upload-problem]")
    expect(problem).to_have_text("Troppi file: al massimo 10 alla volta.")
    expect(chooser).to_have_attribute("aria-invalid", "true")
    edit.locator("[type=submit]").click()
    expect(page.locator("#alerts [role=alert]")).to_have_text(
        "Troppi file: al massimo 10 alla volta."
    )
    page.wait_for_timeout(300)
    assert mayor_posts == [], mayor_posts
    keep = edit.locator('input[name="keep"]').first
    keep_id = keep.get_attribute("id")
    page.locator(f'label[for="{keep_id}"]').click()  # the label is drawn over the box
    expect(keep).not_to_be_checked()
    expect(problem).to_have_text("")
    expect(chooser).not_to_have_class(re.compile(r"\bis-invalid\b"))

    for s in (staff, tech, mayor):
        s.watcher.assert_clean()


def test_contribution_without_javascript_lands_on_its_receipt(
    open_session: Callable[..., Session],
) -> None:
    """The plain form (no JavaScript) answers 303 to the receipt's own URL, so
    the address bar, a reload and the back button never send it again."""
    staff = login_session(open_session, STAFF)
    url = f"/consultations/{_open_consultation(staff, 'Calendario dei tavoli tematici')}"
    chair = open_session(java_script=False)
    chair.login(PORTAVOCE)
    page = chair.page
    page.goto(url)
    form = page.locator('[data-testid="contribution-form"]')
    form.locator("textarea[name=body]").fill("Cumiana propone due date per il primo tavolo.")
    sent: list[str] = []
    page.on("request", lambda r: sent.append(r.url) if r.method == "POST" else None)
    with page.expect_navigation():
        form.locator("[type=submit]").click()
    assert RECEIPT_URL.search(page.url), page.url
    expect(page.locator("h1")).to_contain_text("Ricevuta n.")
    page.reload()
    expect(page.locator("h1")).to_contain_text("Ricevuta n.")
    page.go_back()
    assert page.url.endswith(url), page.url
    assert len(sent) == 1, sent  # the reload and the back button sent nothing
    for s in (staff, chair):
        s.watcher.assert_clean()
