"""Saving a legal page: checked, versioned, audited. Administrators only.

``do_save_page`` keeps the version it replaces as a :class:`LegalPageRevision`
(who wrote it and when), writes an audit row (``legal.updated``) and refuses,
as a :class:`collab.errors.Conflict`, a form loaded before someone else's
save: the form carries the version it was loaded with, and the row is only
updated while it still has that version (``UPDATE ... WHERE version = ?``),
so of two administrators saving at once, one wins and the other is told.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from collab.accounts.actions import EMAIL_RE
from collab.admin.actions import check_admin
from collab.audit import audit
from collab.bounds import check_date
from collab.db import UnitOfWork
from collab.errors import ActionError, Conflict, NotFound
from collab.i18n import N_
from collab.legal.content import (
    MAX_TEXT,
    Assessment,
    Conformity,
    LegalView,
    Statement,
    render_text,
    view_of,
)
from collab.legal.models import LegalKind, LegalPage, LegalPageRevision
from collab.models import User, utcnow

__all__ = [
    "LegalForm",
    "check_kind",
    "check_statement",
    "check_text",
    "do_save_page",
    "get_page",
    "load_view",
    "revisions",
]

ROME = ZoneInfo("Europe/Rome")
AGID_FORM = "https://form.agid.gov.it/"
MAX_URL = 500
CHANGED_MEANWHILE = N_(
    "Someone else saved this page while you were editing it. Your text is below, not "
    "saved: compare it with the version saved meanwhile; saving again replaces it."
)


@dataclass(frozen=True)
class LegalForm:
    """The edit form as typed: strings, so a refused save shows them again unchanged."""

    body_it: str = ""
    body_en: str = ""
    version: str = "0"  # the version the form was loaded with ("0": the template text)
    conformity: str = ""
    drafted_on: str = ""
    reviewed_on: str = ""
    assessment: str = ""
    feedback_email: str = ""
    feedback_url: str = ""
    agid_url: str = ""


def check_kind(raw: str) -> LegalKind:
    """The page named by an address; any other name is a 404."""
    try:
        return LegalKind(raw)
    except ValueError:
        raise NotFound(N_("This page does not exist.")) from None


def check_text(source: str, field: str, *, required: bool) -> str:
    """A Markdown text: line endings made plain, at most :data:`MAX_TEXT` characters."""
    text = source.replace("\r\n", "\n").replace("\r", "\n").strip()
    if required and not text:
        raise ActionError(N_("Write the text of the page in Italian."), field=field)
    if len(text) > MAX_TEXT:
        raise ActionError(
            N_("The text is too long: at most %(max)d characters, this one has %(n)d."),
            field=field, max=MAX_TEXT, n=len(text),
        )  # fmt: skip
    return text


def _check_date(raw: str, field: str, today: date) -> date | None:
    raw = raw.strip()
    if not raw:
        return None
    try:
        value = date.fromisoformat(raw)
    except ValueError:
        value = None
    if value is None or len(raw) != 10:
        raise ActionError(N_("Give the date as day, month and year."), field=field)
    if value > today:
        raise ActionError(N_("The date cannot be in the future."), field=field)
    check_date(value, field)
    return value


def _check_url(raw: str, field: str, prefix: str = "") -> str:
    url = raw.strip()
    if not url:
        return ""
    if len(url) > MAX_URL or any(c.isspace() for c in url):
        raise ActionError(N_("The address must start with https:// or http://."), field=field)
    if prefix and not url.startswith(prefix):
        raise ActionError(
            N_("The address of the statement on AgID's platform starts with %(prefix)s."),
            field=field, prefix=prefix,
        )  # fmt: skip
    if not url.startswith(("https://", "http://")):
        raise ActionError(N_("The address must start with https:// or http://."), field=field)
    return url


def check_statement(form: LegalForm, today: date) -> Statement:
    """The accessibility statement's fields; each may be left empty while the
    statement is still a draft (the page then says it is to be completed)."""
    conformity = form.conformity.strip()
    if conformity and conformity not in {c.value for c in Conformity}:
        raise ActionError(N_("Choose the conformity status from the list."), field="conformity")
    assessment = form.assessment.strip()
    if assessment and assessment not in {a.value for a in Assessment}:
        raise ActionError(N_("Choose how the site was assessed."), field="assessment")
    drafted = _check_date(form.drafted_on, "drafted_on", today)
    reviewed = _check_date(form.reviewed_on, "reviewed_on", today)
    if drafted and reviewed and reviewed < drafted:
        raise ActionError(
            N_("The last review cannot come before the statement was drafted."),
            field="reviewed_on",
        )
    email = form.feedback_email.strip()
    if email and (not EMAIL_RE.match(email) or len(email) > 254):
        raise ActionError(N_("Enter a valid email address."), field="feedback_email")
    return Statement(
        conformity=Conformity(conformity) if conformity else None,
        drafted_on=drafted,
        reviewed_on=reviewed,
        assessment=Assessment(assessment) if assessment else None,
        feedback_email=email,
        feedback_url=_check_url(form.feedback_url, "feedback_url"),
        agid_url=_check_url(form.agid_url, "agid_url", AGID_FORM),
    )


def _version(raw: str) -> int:
    raw = raw.strip()
    if not re.fullmatch(r"[0-9]{1,9}", raw):
        raise ActionError(N_("The form is incomplete: open the page again."), field="version")
    return int(raw)


async def get_page(session: AsyncSession, kind: LegalKind) -> LegalPage | None:
    page: LegalPage | None = await session.scalar(select(LegalPage).where(LegalPage.kind == kind))
    return page


async def load_view(session: AsyncSession, kind: LegalKind) -> LegalView:
    return view_of(kind, await get_page(session, kind))


async def revisions(session: AsyncSession, page: LegalPage) -> list[LegalPageRevision]:
    """The previous versions of ``page``, newest first."""
    stmt = (
        select(LegalPageRevision)
        .where(LegalPageRevision.page_id == page.id)
        .order_by(LegalPageRevision.version.desc())
    )
    return list((await session.scalars(stmt)).all())


async def do_save_page(
    uow: UnitOfWork, actor: User | None, kind: LegalKind, form: LegalForm,
    today: date | None = None,
) -> LegalPage:  # fmt: skip
    """Save ``kind``'s text as a new version (nothing when nothing changed).

    ``actor`` None is the system (``collab demo``). Raises ``ActionError``
    (422) on bad input and ``Conflict`` (409) when the page was saved by
    someone else after ``form.version``.
    """
    check_admin(actor)
    body_it = check_text(form.body_it, "body_it", required=True)
    body_en = check_text(form.body_en, "body_en", required=False)
    today = today or datetime.now(ROME).date()
    facts = check_statement(form, today).to_facts() if kind is LegalKind.ACCESSIBILITY else {}
    expected = _version(form.version)
    session = uow.session
    page = await get_page(session, kind)
    if page is None:
        return await _create(uow, actor, kind, expected, body_it, body_en, facts)
    if page.version != expected:
        raise Conflict(CHANGED_MEANWHILE)
    if (page.body_it, page.body_en, page.facts) == (body_it, body_en, facts):
        return page
    previous = LegalPageRevision(
        page_id=page.id, version=page.version, body_it=page.body_it, html_it=page.html_it,
        body_en=page.body_en, html_en=page.html_en, facts=dict(page.facts),
        edited_by_id=page.updated_by_id, created_at=page.updated_at,
    )  # fmt: skip
    now = utcnow()
    result = await session.execute(
        update(LegalPage)
        .where(LegalPage.id == page.id, LegalPage.version == expected)
        .values(
            version=expected + 1, body_it=body_it, html_it=render_text(body_it),
            body_en=body_en, html_en=render_text(body_en) if body_en else "", facts=facts,
            updated_at=now, updated_by_id=actor.id if actor else None,
        )
        .execution_options(synchronize_session=False)
    )  # fmt: skip
    if getattr(result, "rowcount", 0) != 1:  # saved by someone else since we read it
        raise Conflict(CHANGED_MEANWHILE)
    session.add(previous)
    await session.refresh(page)
    audit(session, actor, "legal.updated", page, kind=kind.value, version=page.version,
          english=bool(body_en))  # fmt: skip
    return page


async def _create(
    uow: UnitOfWork, actor: User | None, kind: LegalKind, expected: int,
    body_it: str, body_en: str, facts: dict[str, object],
) -> LegalPage:  # fmt: skip
    """The first save of a page (until then it showed the template text)."""
    if expected != 0:
        raise Conflict(CHANGED_MEANWHILE)
    page = LegalPage(
        kind=kind, version=1, body_it=body_it, html_it=render_text(body_it), body_en=body_en,
        html_en=render_text(body_en) if body_en else "", facts=facts, updated_at=utcnow(),
        updated_by_id=actor.id if actor else None,
    )  # fmt: skip
    uow.session.add(page)
    try:
        await uow.session.flush()
    except IntegrityError:  # another administrator's first save came first
        raise Conflict(CHANGED_MEANWHILE) from None
    audit(uow.session, actor, "legal.updated", page, kind=kind.value, version=1,
          english=bool(body_en))  # fmt: skip
    return page
