"""Issue 13's "done when", in a real browser, two people at once, with the
app's mail going to a real SMTP server (aiosmtpd) the test reads:

- staff open a consultation and the mayor's bell counts up live, on a page
  with no live region of its own; the mayor opens the notification and
  lands on the consultation;
- a mention reaches the mentioned person's bell and inbox, and not a person
  who cannot read the thread;
- a password reset works end to end through the mail.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from email.message import EmailMessage

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import NO_RELOAD_MARKER, LiveServer, Session, login_session, serving
from tests.browser.test_consultation_live import STAFF, _open_consultation
from tests.dbs import Template
from tests.smtp import SmtpServer

pytestmark = pytest.mark.slow

MAYOR = "sindaco.pinerolo@demo.collab.it"  # ZO 5
TECHNICIAN = "tecnico.luserna@demo.collab.it"  # ZO 5
OUTSIDER = "tecnico.ivrea@demo.collab.it"  # ZO 9: cannot read ZO 5's threads
LIVE_TIMEOUT_MS = 5_000
MAIL_WITHIN_S = 20.0


@pytest.fixture(scope="module")
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def live_server(
    db_template: Template, tmp_path_factory: pytest.TempPathFactory, smtp: SmtpServer
) -> Iterator[LiveServer]:
    """This module's own server: its mail goes to ``smtp``."""
    workdir = tmp_path_factory.mktemp("notify")
    with serving(db_template, workdir, extra_env={"SMTP_URL": smtp.url}) as server:
        yield server


def _mail(smtp: SmtpServer, to: str, count: int = 1) -> list[EmailMessage]:
    deadline = time.monotonic() + MAIL_WITHIN_S
    while len(smtp.messages(to)) < count:
        assert time.monotonic() < deadline, f"no mail to {to} within {MAIL_WITHIN_S}s"
        time.sleep(0.1)
    return smtp.messages(to)


def _text(message: EmailMessage) -> str:
    part = message.get_body(("plain",))
    assert part is not None
    return str(part.get_content())


def _unread(page: Page) -> int:
    return int(page.locator("#notif-bell").get_attribute("data-unread") or "0")


def test_a_new_consultation_counts_up_the_mayors_bell(
    open_session: Callable[..., Session], smtp: SmtpServer
) -> None:
    mayor = login_session(open_session, MAYOR)
    mayor.page.goto("/account/password")  # no live region: the bell's socket only
    expect(mayor.page.locator("#live[ws-connect]")).to_have_count(1)
    before = _unread(mayor.page)
    mayor.page.evaluate(NO_RELOAD_MARKER)

    earlier = len(smtp.messages(MAYOR))
    staff = login_session(open_session, STAFF)
    title = "Parere sul piano dei trasporti scolastici"
    consultation = _open_consultation(staff, title)

    bell = mayor.page.locator("#notif-bell")
    expect(bell).to_have_attribute("data-unread", str(before + 1), timeout=LIVE_TIMEOUT_MS)
    expect(bell.locator("[data-testid=notif-count]")).to_have_text(str(before + 1))
    assert mayor.page.evaluate("window.__noReload") == "still-here"
    # Announced to screen readers.
    expect(mayor.page.locator("#live-announcer")).to_contain_text(title)

    bell.click()
    mayor.page.wait_for_url(re.compile(r"/notifications$"))
    item = mayor.page.locator("[data-testid=notification].unread", has_text=title)
    expect(item).to_have_count(1)
    item.locator("a.notification-link").click()
    mayor.page.wait_for_url(re.compile(rf"/consultations/{consultation}$"))
    expect(mayor.page.locator("h1")).to_have_text(title)
    expect(mayor.page.locator("#notif-bell")).to_have_attribute("data-unread", str(before))

    # And by e-mail, at once (a convocation-like kind), in Italian.
    (message,) = [
        m for m in _mail(smtp, MAYOR, earlier + 1)[earlier:] if title in str(m["Subject"])
    ]
    assert f"/consultations/{consultation}" in _text(message)
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_a_mention_reaches_bell_and_inbox_but_not_an_outsider(
    open_session: Callable[..., Session], smtp: SmtpServer
) -> None:
    mayor = login_session(open_session, MAYOR)
    mayor.page.goto("/")
    before = _unread(mayor.page)
    mayor_id = int(
        (mayor.page.locator("#live").get_attribute("data-own") or "")
        .split('"user:')[1]
        .split('"')[0]
    )
    outsider = login_session(open_session, OUTSIDER)
    outsider.page.goto("/")
    outsider_before = _unread(outsider.page)
    outsider_id = int(
        (outsider.page.locator("#live").get_attribute("data-own") or "")
        .split('"user:')[1]
        .split('"')[0]
    )

    earlier = len(smtp.messages(MAYOR))  # the mayor's mail of the tests above
    tech = login_session(open_session, TECHNICIAN)
    page = tech.page
    page.goto("/zones/5/trasporti-mobilita/new")
    page.fill("#title", "Navetta per le scuole di Pinerolo")
    body = (
        f"Ne parliamo con @**Sindaco Pinerolo|{mayor_id}** e con @**Tecnico Ivrea|{outsider_id}**?"
    )
    page.fill("#body", body)
    page.click('form[action$="/new"] button[type="submit"]')
    page.wait_for_url(re.compile(r"/threads/\d+"))
    post = page.locator("#posts > article.post").first
    expect(post.locator(f'a.mention[href="/people/{mayor_id}"]')).to_have_count(1)
    expect(post.locator(f'a.mention[href="/people/{outsider_id}"]')).to_have_count(0)

    expect(mayor.page.locator("#notif-bell")).to_have_attribute(
        "data-unread", str(before + 1), timeout=LIVE_TIMEOUT_MS
    )
    (message,) = [
        m
        for m in _mail(smtp, MAYOR, earlier + 1)[earlier:]
        if "Navetta per le scuole di Pinerolo" in str(m["Subject"])
    ]
    assert "/threads/" in _text(message)
    # The outsider: no notification, no mail.
    time.sleep(1.0)
    outsider.page.reload()
    assert _unread(outsider.page) == outsider_before
    assert not [m for m in smtp.messages(OUTSIDER) if "Navetta" in str(m["Subject"])]


def test_password_reset_through_the_mail(
    open_session: Callable[..., Session], smtp: SmtpServer
) -> None:
    person = open_session()
    page = person.page
    earlier = len(smtp.messages(TECHNICIAN))  # notices of the tests above
    page.goto("/password/forgot")
    page.fill("#email", TECHNICIAN)
    with page.expect_navigation():
        page.click('form[action="/password/forgot"] [type="submit"]')
    links = [
        re.search(r"https?://\S+/password/reset/[A-Za-z0-9_-]+", _text(m))
        for m in _mail(smtp, TECHNICIAN, earlier + 1)[earlier:]
    ]
    (match,) = [m for m in links if m]
    link = match.group(0)
    page.goto(link[link.index("/password/reset/") :])
    new_password = "una-nuova-password-lunga"
    page.fill("#new", new_password)
    page.fill("#confirm", new_password)
    with page.expect_navigation():
        page.click('form[action^="/password/reset/"] [type="submit"]')
    assert "/login" in page.url, page.inner_text("main")
    # The old password no longer works; the new one does.
    fresh = open_session()
    fresh.login(TECHNICIAN, new_password)
    # The link worked once.
    page.goto(link[link.index("/password/reset/") :])
    assert page.locator("#new").count() == 0
