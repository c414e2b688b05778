"""The legal pages: public to everyone, edited by administrators, every version kept.

The accessibility statement, the privacy notice and the cookie statement are
linked from every page's footer; until an administrator saves them they show
collab's template text with a banner and its placeholders highlighted. HTML is
checked by parsing.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from babel.dates import format_timedelta
from bs4 import BeautifulSoup, Tag
from sqlalchemy import select

from collab.db import Database
from collab.demo import load_demo
from collab.legal.content import MAX_TEXT, template_text
from collab.legal.facts import LANG_COOKIE, SESSION_COOKIE, cookies, login_attempt_seconds
from collab.legal.models import LegalKind, LegalPage, LegalPageRevision
from collab.models import AuditLog
from collab.settings import Settings
from tests.conftest import WORLD_USERS, World, email
from tests.helpers import Client, italian, parse, snapshot

LoginAs = Callable[[str], Awaitable[Client]]
ROOT = Path(__file__).resolve().parent.parent
NON_ADMINS = [key for key, (role, _) in WORLD_USERS.items() if role != "admin"]
TITLES = {
    "accessibility": "Accessibility statement",
    "privacy": "Privacy notice",
    "cookies": "Cookie policy",
}
AGID = "https://form.agid.gov.it/"


def one(soup: BeautifulSoup | Tag, selector: str) -> Tag:
    node = soup.select_one(selector)
    assert node is not None, f"{selector!r} not found"
    return node


def words(node: Tag) -> str:
    return " ".join(node.get_text(" ").split())


def ok(response: httpx.Response) -> BeautifulSoup:
    assert response.status_code == 200, (response.status_code, response.text[:500])
    return parse(response)


def span(seconds: int, locale: str = "it") -> str:
    return format_timedelta(timedelta(seconds=seconds), threshold=1.0, locale=locale)


async def pages(db: Database) -> list[LegalPage]:
    async with db.session() as session:
        return list((await session.scalars(select(LegalPage).order_by(LegalPage.id))).all())


async def legal_revisions(db: Database) -> list[LegalPageRevision]:
    async with db.session() as session:
        stmt = select(LegalPageRevision).order_by(LegalPageRevision.id)
        return list((await session.scalars(stmt)).all())


async def save(client: Client, kind: str, **fields: str) -> httpx.Response:
    data = {"version": "0", "body_en": "", **fields}
    return await client.post(f"/admin/legal/{kind}", data)


# --- public pages ---------------------------------------------------------------------


async def test_footer_links_every_legal_page_for_anonymous_visitors(
    client: Client, settings: Settings
) -> None:
    home = ok(await client.get("/"))
    links = one(home, 'footer nav[data-testid="legal-links"]').select("a")
    assert [a["href"] for a in links] == [f"/legal/{kind}" for kind in TITLES]
    assert [words(a) for a in links] == [italian(title) for title in TITLES.values()]
    # The footer keeps its language form.
    assert one(home, 'footer form[action="/language"] select[name="lang"]')
    for kind, title in TITLES.items():
        page = ok(await client.get(f"/legal/{kind}"))
        assert words(one(page, "h1")) == italian(title)
        # Never saved: the template text, said plainly, with its placeholders marked.
        assert words(one(page, '[data-testid="legal-updated"]')) == italian(
            "This is collab's template text: the administration has not saved this page yet."
        )
        banner = one(page, '[data-testid="legal-template"]')
        assert italian("Example text, to be completed by the administration") in words(banner)
        text = one(page, '[data-testid="legal-text"]')
        assert text["lang"] == "it"
        marks = [words(m) for m in text.select("mark")]
        assert marks and all(m.startswith("[da completare:") for m in marks)
        # The same footer on every legal page.
        assert len(page.select('footer [data-testid="legal-links"] a')) == 3


async def test_accessibility_statement_follows_agids_model(client: Client) -> None:
    page = ok(await client.get("/legal/accessibility"))
    conformity = one(page, '[data-testid="legal-conformity"]')
    assert words(one(conformity, "h2")) == italian("Conformity status")
    assert words(one(conformity, "mark")) == italian("[to be completed: conformity status]")
    drafting = one(page, '[data-testid="legal-drafting"]')
    assert len(drafting.select("mark")) == 3  # drafted, reviewed, how it was assessed
    feedback = one(page, '[data-testid="legal-feedback"]')
    assert words(one(feedback, "mark")) == italian(
        "[to be completed: e-mail address or form for reports]"
    )
    enforcement = one(page, '[data-testid="legal-enforcement"]')
    assert one(enforcement, '[data-testid="legal-agid-form"]')["href"] == AGID
    # The administration's text sits between the status and the fixed sections.
    headings = [words(h) for h in page.select("article h2")]
    assert headings == [
        italian("Conformity status"), "Contenuti non accessibili", "Informazioni sul sito",
        "Informazioni sulla struttura", italian("How this statement was prepared"),
        italian("Feedback and contact information"), italian("Enforcement procedure"),
    ]  # fmt: skip


async def test_cookie_table_names_every_cookie_with_its_duration(
    client: Client, settings: Settings
) -> None:
    page = ok(await client.get("/legal/cookies"))
    table = one(page, '[data-testid="legal-cookies"] table')
    rows = {str(row["data-cookie"]): row for row in table.select("tr[data-cookie]")}
    assert set(rows) == {SESSION_COOKIE, LANG_COOKIE}
    session_cells = [words(td) for td in rows[SESSION_COOKIE].select("td")]
    assert session_cells[2] == italian(
        "%(duration)s from the last request", duration=span(settings.session_max_age)
    )
    assert [words(td) for td in rows[LANG_COOKIE].select("td")][2] == span(365 * 24 * 3600)
    # No consent banner: the text says why.
    assert "non è richiesto il consenso" in words(one(page, '[data-testid="legal-text"]'))


async def test_privacy_notice_gives_the_configured_retention_periods(
    client: Client, settings: Settings
) -> None:
    page = ok(await client.get("/legal/privacy"))
    table = one(page, '[data-testid="legal-retention"] table')
    periods = [words(row.select("td")[0]) for row in table.select("tbody tr")]
    assert span(settings.session_max_age) in periods
    assert span(login_attempt_seconds(settings)) in periods
    assert span(settings.event_log_days * 24 * 3600) in periods
    text = words(one(page, '[data-testid="legal-text"]'))
    for needed in ("Titolare del trattamento", "Responsabile della protezione dei dati",
                   "Garante per la protezione dei dati personali", "art. 77"):  # fmt: skip
        assert needed in text


async def test_every_cookie_the_site_sets_is_in_the_statement(
    client: Client, world: World, settings: Settings
) -> None:
    """Whatever a visit does (pages, login, language, logout), the only cookies
    set are the statement's; and no code sets one by another name."""
    declared = {c.name for c in cookies(settings)}
    seen: set[str] = set()

    def collect(response: httpx.Response) -> None:
        for header in response.headers.get_list("set-cookie"):
            seen.add(header.split("=", 1)[0].strip())

    for url in ("/", "/legal/privacy", "/login", "/m/nessuno"):
        collect(await client.get(url))
    collect(await client.post("/login", {"email": email("sindaco5"), "password": "x" * 12}))
    collect(await client.post("/language", {"lang": "en", "next": "/"}))
    await client.login(email("sindaco5"))
    collect(await client.get("/zones/5"))
    collect(await client.post("/logout"))
    assert seen == declared
    setters = {
        (str(path.relative_to(ROOT)), name)
        for path in (ROOT / "collab").rglob("*.py")
        for name in re.findall(
            r"(?:set_cookie\(\s*|session_cookie=)(\w+)", path.read_text(encoding="utf-8")
        )
    }
    assert setters == {
        ("collab/accounts/routes.py", "LANG_COOKIE"), ("collab/app.py", "SESSION_COOKIE"),
    }  # fmt: skip


async def test_english_interface(client: Client, login_as: LoginAs) -> None:
    client.http.cookies.set("lang", "en")
    page = ok(await client.get("/legal/privacy"))
    assert words(one(page, "h1")) == "Privacy notice"
    text = one(page, '[data-testid="legal-text"]')
    assert text["lang"] == "en"  # the template has its English text
    assert one(text, "mark").get_text().startswith("[to be completed:")
    assert page.select_one('[data-testid="legal-language-note"]') is None
    # Saved with an Italian text only: the English interface shows it, marked Italian.
    admin = await login_as("admin")
    assert (await save(admin, "privacy", body_it="## Titolare\n\nCittà metropolitana.")).is_redirect
    page = ok(await client.get("/legal/privacy"))
    text = one(page, '[data-testid="legal-text"]')
    assert text["lang"] == "it" and words(one(text, "h2")) == "Titolare"
    assert words(one(page, '[data-testid="legal-language-note"]')) == (
        "This page is available in Italian only."
    )


async def test_unknown_legal_page_is_404(client: Client, login_as: LoginAs) -> None:
    for url in ("/legal/nope", "/legal/PRIVACY", "/legal/"):
        response = await client.get(url)
        assert response.status_code == 404, url
        assert parse(response).html["lang"] == "it"  # type: ignore[index]
    admin = await login_as("admin")
    for url in ("/admin/legal/nope", "/admin/legal/nope/history",
                "/admin/legal/privacy/versions/1"):  # fmt: skip
        assert (await admin.get(url)).status_code == 404, url
    assert (await save(admin, "nope", body_it="x")).status_code == 404


# --- administration ----------------------------------------------------------------


async def test_admin_saves_versions_keeps_the_previous_and_audits(
    login_as: LoginAs, db: Database, world: World, client: Client
) -> None:
    admin = await login_as("admin")
    listing = ok(await admin.get("/admin/legal"))
    assert one(listing, '.nav-tabs a[href="/admin/legal"]')["class"] == ["nav-link", "active"]
    rows = listing.select('[data-testid="legal-pages"] tbody tr')
    assert [r["data-kind"] for r in rows] == list(TITLES)
    form = ok(await admin.get("/admin/legal/cookies"))
    # Never saved: the form starts from the template, version 0.
    assert one(form, 'input[name="version"]')["value"] == "0"
    assert one(form, "textarea#body_it").get_text() == template_text(LegalKind.COOKIES, "it")

    first = "Solo **cookie tecnici**: [da completare: verifica del proxy]"
    assert (await save(admin, "cookies", body_it=first)).headers["location"] == "/legal/cookies"
    page = ok(await client.get("/legal/cookies"))
    assert one(page, '[data-testid="legal-template"]')  # a marker is left
    second = "Solo **cookie tecnici**, verificati anche sul proxy."
    response = await save(admin, "cookies", body_it=second, body_en="Technical only.",
                          version="1")  # fmt: skip
    assert response.status_code == 303
    page = ok(await client.get("/legal/cookies"))
    assert page.select_one('[data-testid="legal-template"]') is None
    assert words(one(page, '[data-testid="legal-text"] strong')) == "cookie tecnici"
    updated = words(one(page, '[data-testid="legal-updated"]'))
    assert italian("version %(number)d", number=2) in updated
    assert one(page, '[data-testid="legal-updated"] time')["datetime"]

    (stored,) = await pages(db)
    assert (stored.kind, stored.version, stored.body_it, stored.body_en) == (
        LegalKind.COOKIES, 2, second, "Technical only.",
    )  # fmt: skip
    assert stored.updated_by_id == world["admin"].id
    (previous,) = await legal_revisions(db)
    assert (previous.version, previous.body_it, previous.edited_by_id) == (
        1, first, world["admin"].id,
    )  # fmt: skip
    async with db.session() as session:
        audits = (await session.scalars(
            select(AuditLog).where(AuditLog.action == "legal.updated").order_by(AuditLog.id)
        )).all()  # fmt: skip
    assert [(a.actor_id, a.detail["kind"], a.detail["version"]) for a in audits] == [
        (world["admin"].id, "cookies", 1), (world["admin"].id, "cookies", 2),
    ]  # fmt: skip

    history = ok(await admin.get("/admin/legal/cookies/history"))
    versions = history.select('[data-testid="legal-versions"] tbody tr')
    assert [r["data-version"] for r in versions] == ["2", "1"]
    old = ok(await admin.get("/admin/legal/cookies/versions/1"))
    assert "[da completare: verifica del proxy]" in words(one(old, '[data-testid="legal-text"]'))
    assert one(old, '[data-testid="legal-old-version"]')
    assert (await admin.get("/admin/legal/cookies/versions/3")).status_code == 404

    # Saving the same text again makes no new version.
    before = await snapshot(db)
    response = await save(admin, "cookies", body_it=second, body_en="Technical only.",
                          version="2")  # fmt: skip
    assert response.status_code == 303
    assert await snapshot(db) == before


async def test_accessibility_statement_fields(
    login_as: LoginAs, client: Client, db: Database
) -> None:
    admin = await login_as("admin")
    fields = {
        "body_it": "## Contenuti non accessibili\n\nNessuno noto.",
        "conformity": "partially_compliant", "drafted_on": "2025-09-15",
        "reviewed_on": "2026-03-01", "assessment": "self",
        "feedback_email": "accessibilita@cittametropolitana.torino.it",
        "feedback_url": "https://www.cittametropolitana.torino.it/segnala",
        "agid_url": "https://form.agid.gov.it/view/abc123",
    }  # fmt: skip
    assert (await save(admin, "accessibility", **fields)).status_code == 303
    page = ok(await client.get("/legal/accessibility"))
    assert page.select_one('[data-testid="legal-template"]') is None
    assert page.select("mark") == []
    badge = one(page, "[data-conformity]")
    assert badge["data-conformity"] == "partially_compliant"
    assert words(badge) == italian("partially compliant")
    times = [t["datetime"] for t in one(page, '[data-testid="legal-drafting"]').select("time")]
    assert times == ["2025-09-15", "2026-03-01"]
    mail = one(page, '[data-testid="legal-feedback-email"]')
    assert mail["href"] == "mailto:accessibilita@cittametropolitana.torino.it"
    assert one(page, '[data-testid="legal-agid-statement"]')["href"] == fields["agid_url"]
    assert one(page, '[data-testid="legal-agid-form"]')["href"] == AGID
    # The form shows the saved fields back.
    form = ok(await admin.get("/admin/legal/accessibility"))
    assert one(form, "#conformity option[selected]")["value"] == "partially_compliant"
    assert one(form, "#drafted_on")["value"] == "2025-09-15"
    # A required field emptied again: the page is a draft again.
    response = await save(admin, "accessibility", **{**fields, "assessment": "", "version": "1"})
    assert response.status_code == 303
    page = ok(await client.get("/legal/accessibility"))
    assert one(page, '[data-testid="legal-template"]')
    (stored,) = await pages(db)
    assert stored.facts["assessment"] is None and stored.facts["conformity"] == (
        "partially_compliant"
    )


BAD_STATEMENTS = [
    ({"conformity": "conforme-forse"}, "conformity", "Choose the conformity status from the list."),
    ({"assessment": "oracolo"}, "assessment", "Choose how the site was assessed."),
    ({"drafted_on": "15/09/2025"}, "drafted_on", "Give the date as day, month and year."),
    ({"drafted_on": "2999-01-01"}, "drafted_on", "The date cannot be in the future."),
    ({"drafted_on": "2025-09-15", "reviewed_on": "2025-01-01"}, "reviewed_on",
     "The last review cannot come before the statement was drafted."),
    ({"feedback_email": "non-una-mail"}, "feedback_email", "Enter a valid email address."),
    ({"feedback_url": "javascript:alert(1)"}, "feedback_url",
     "The address must start with https:// or http://."),
    ({"agid_url": "https://example.org/dichiarazione"}, "agid_url",
     "The address of the statement on AgID's platform starts with %(prefix)s."),
]  # fmt: skip


@pytest.mark.parametrize(("fields", "field", "msgid"), BAD_STATEMENTS)
async def test_bad_statement_fields_are_refused(
    login_as: LoginAs, db: Database, fields: dict[str, str], field: str, msgid: str
) -> None:
    admin = await login_as("admin")
    before = await snapshot(db)
    response = await save(admin, "accessibility", body_it="Testo.", **fields)
    assert response.status_code == 422
    page = parse(response)
    message = italian(msgid, prefix=AGID) if "%(prefix)s" in msgid else italian(msgid)
    assert words(one(page, ".alert-danger")) == message
    assert "is-invalid" in one(page, f"#{field}")["class"]
    assert await snapshot(db) == before


async def test_bad_texts_are_refused_and_kept_in_the_form(login_as: LoginAs, db: Database) -> None:
    admin = await login_as("admin")
    before = await snapshot(db)
    too_long = "a" * (MAX_TEXT + 1)
    cases = [
        ({"body_it": "   "}, "body_it", italian("Write the text of the page in Italian.")),
        ({"body_it": too_long}, "body_it", italian(
            "The text is too long: at most %(max)d characters, this one has %(n)d.",
            max=MAX_TEXT, n=MAX_TEXT + 1)),
        ({"body_it": "Testo.", "body_en": too_long}, "body_en", italian(
            "The text is too long: at most %(max)d characters, this one has %(n)d.",
            max=MAX_TEXT, n=MAX_TEXT + 1)),
        ({"body_it": "Testo.", "version": "due"}, "version",
         italian("The form is incomplete: open the page again.")),
    ]  # fmt: skip
    for fields, field, message in cases:
        response = await save(admin, "privacy", **fields)
        assert response.status_code == 422, fields
        page = parse(response)
        assert words(one(page, ".alert-danger")) == message
        if field != "version":
            assert "is-invalid" in one(page, f"textarea#{field}")["class"]
        assert one(page, "textarea#body_it").get_text() == fields["body_it"]
    assert await snapshot(db) == before


async def test_markdown_is_sanitized(login_as: LoginAs, client: Client) -> None:
    admin = await login_as("admin")
    body = (
        "<script>alert(1)</script>\n\n[clic](javascript:alert(2)) "
        '[titolo](https://example.org "[da completare: x]")\n\n'
        "<img src=x onerror=alert(3)>"
    )
    assert (await save(admin, "privacy", body_it=body)).status_code == 303
    text = one(ok(await client.get("/legal/privacy")), '[data-testid="legal-text"]')
    assert text.select("script, img") == []
    # The javascript: link is not made a link at all.
    assert [a.get("href") for a in text.select("a")] == ["https://example.org"]
    assert not any(attr.startswith("on") for tag in text.find_all(True) for attr in tag.attrs)
    # A marker inside an attribute stays text: no element is made inside it.
    assert text.select("a mark") == [] and text.select("mark") == []
    assert "<script>" in text.get_text()  # shown, as text


async def test_a_save_that_lost_a_race_is_409_and_keeps_the_text(
    login_as: LoginAs, db: Database
) -> None:
    first, second = await login_as("admin"), await login_as("admin")
    assert (await save(first, "privacy", body_it="Versione di chi arriva prima.")).is_redirect
    before = await snapshot(db)
    response = await save(second, "privacy", body_it="Versione di chi arriva dopo.")
    assert response.status_code == 409
    page = parse(response)
    assert words(one(page, ".alert-danger")) == italian(
        "Someone else saved this page while you were editing it. Your text is below, not "
        "saved: compare it with the version saved meanwhile; saving again replaces it."
    )
    assert one(page, "textarea#body_it").get_text() == "Versione di chi arriva dopo."
    assert one(page, 'input[name="version"]')["value"] == "1"
    assert one(page, '[data-testid="legal-conflict"] a')["href"] == "/legal/privacy"
    assert await snapshot(db) == before
    # Saving again, knowingly, replaces the other version (which is kept).
    again = await save(second, "privacy", body_it="Versione di chi arriva dopo.", version="1")
    assert again.status_code == 303
    assert [p.version for p in await pages(db)] == [2]
    assert [r.body_it for r in await legal_revisions(db)] == ["Versione di chi arriva prima."]


async def test_only_admins_edit(
    login_as: LoginAs, db: Database, new_client: Callable[[], Client]
) -> None:
    users = {key: await login_as(key) for key in NON_ADMINS}
    admin, anonymous = await login_as("admin"), new_client()
    await admin.csrf()
    before = await snapshot(db)
    for key, user in users.items():
        for url in ("/admin/legal", "/admin/legal/privacy", "/admin/legal/privacy/history"):
            response = await user.get(url)
            assert response.status_code == 403, (key, url)
            assert words(one(parse(response), "h1")) == italian("Access denied")
        assert (await save(user, "privacy", body_it="Intrusione.")).status_code == 403
    response = await anonymous.get("/admin/legal/privacy")
    assert response.status_code == 303 and response.headers["location"].startswith("/login")
    response = await save(anonymous, "privacy", body_it="Intrusione.")
    assert response.status_code == 303 and response.headers["location"].startswith("/login")
    # A wrong CSRF token is refused before anything is read.
    response = await admin.http.post(
        "/admin/legal/privacy", data={"csrf_token": "sbagliato", "body_it": "X", "version": "0"}
    )
    assert response.status_code == 403
    assert await snapshot(db) == before


async def test_demo_saves_the_template_texts(db: Database) -> None:
    assert await load_demo(db)
    stored = {p.kind: p for p in await pages(db)}
    assert set(stored) == set(LegalKind)
    for kind, page in stored.items():
        assert (page.version, page.updated_by_id) == (1, None)
        assert page.body_it == template_text(kind, "it").strip()
        assert page.body_en == template_text(kind, "en").strip()
        assert "<mark>[da completare:" in page.html_it
