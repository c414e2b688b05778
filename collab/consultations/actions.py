"""Consultations: open, extend, submit and edit a contribution, review and answer it.

Every write about a consultation starts with :func:`lock_consultation` (an
UPDATE of ``consultation.revision``), which serializes the writes of one
consultation on SQLite and PostgreSQL alike: two mayors submitting at the same
instant get consecutive receipt numbers, and a submission racing the deadline
sees the deadline of the row it locked. The deadline is checked on the server
against the database's consultation, never against the page the user saw.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from collab.audit import audit
from collab.consultations import notices, rules
from collab.consultations.models import (
    Consultation,
    ConsultationDelegate,
    ConsultationTheme,
    ConsultationZone,
    Contribution,
    ContributionVersion,
    Status,
)
from collab.consultations.queries import ConsultationView, load_consultation
from collab.db import UnitOfWork, bump_revision
from collab.documents import files
from collab.documents.models import StoredFile
from collab.documents.upload import FILES_PER_FORM, Upload, check_count
from collab.errors import ActionError, Conflict, NotFound, PermissionDenied
from collab.i18n import N_
from collab.markup import render_markdown
from collab.models import Theme, User, Zone, utcnow
from collab.realtime.events import (
    ConsultationOpened,
    ConsultationUpdated,
    ContributionAnswered,
    ContributionSubmitted,
    ContributionUpdated,
)

__all__ = [
    "NEXT",
    "Opening",
    "check_add_drafts",
    "check_edit",
    "check_submit",
    "do_add_drafts",
    "do_edit",
    "do_extend",
    "do_name_delegate",
    "do_open",
    "do_revise",
    "do_set_status",
    "do_submit",
    "lock_consultation",
]

MAX_BODY = 50_000
MAX_FILES = FILES_PER_FORM["consultation"]  # drafts at a time, files of one version
CLOSED = N_("The deadline of this consultation has passed: contributions are closed.")
ALREADY_SENT = N_("Your comune has already sent its contribution: edit it instead.")
ANSWERED = N_("This contribution has been answered: it can no longer be changed.")
NO_CONSULTATION = N_("This consultation does not exist.")
NO_CONTRIBUTION = N_("This contribution does not exist.")
NOT_CONTRIBUTOR = N_(
    "Only the sindaco of a comune of the consulted zones, or the delegate they named, "
    "can send the comune's contribution."
)
NOT_STAFF = N_("Only CMTo staff can do this.")
# Where a contribution may go from each status (staff's review).
NEXT: dict[Status, frozenset[Status]] = {
    Status.RECEIVED: frozenset({Status.UNDER_REVIEW}),
    Status.UNDER_REVIEW: frozenset({Status.ACCEPTED, Status.PARTLY_ACCEPTED, Status.NOT_ACCEPTED}),
    # An answer may be corrected (same or another answer) or reopened.
    Status.ACCEPTED: frozenset(
        {Status.UNDER_REVIEW, Status.ACCEPTED, Status.PARTLY_ACCEPTED, Status.NOT_ACCEPTED}
    ),
    Status.PARTLY_ACCEPTED: frozenset(
        {Status.UNDER_REVIEW, Status.ACCEPTED, Status.PARTLY_ACCEPTED, Status.NOT_ACCEPTED}
    ),
    Status.NOT_ACCEPTED: frozenset(
        {Status.UNDER_REVIEW, Status.ACCEPTED, Status.PARTLY_ACCEPTED, Status.NOT_ACCEPTED}
    ),
}


@dataclass
class Opening:
    """What staff fill in to open a consultation."""

    title: str = ""
    body: str = ""
    deadline: datetime | None = None
    zone_ids: list[int] = field(default_factory=list)
    theme_ids: list[int] = field(default_factory=list)
    publish_names: bool = False


def _title(raw: str) -> str:
    title = " ".join(raw.split())
    if not 3 <= len(title) <= 200:
        raise ActionError(N_("The title must be from 3 to 200 characters long."), field="title")
    return title


def _body(raw: str, field_name: str = "body", minimum: int = 3) -> str:
    body = raw.strip()
    if len(body) < minimum:
        raise ActionError(
            N_("Write the text (at least %(n)d characters)."), field=field_name, n=minimum
        )
    if len(body) > MAX_BODY:
        raise ActionError(N_("The text is too long."), field=field_name)
    return body


def _future(deadline: datetime | None, now: datetime) -> datetime:
    if deadline is None:
        raise ActionError(N_("Give the deadline: day and time."), field="deadline")
    if deadline <= now + timedelta(minutes=5):
        raise ActionError(N_("The deadline must be in the future."), field="deadline")
    if deadline > now + timedelta(days=3 * 365):
        raise ActionError(N_("The deadline is too far away."), field="deadline")
    return deadline


def _zones(view: ConsultationView) -> tuple[int, ...]:
    return tuple(sorted(view.zone_ids))


async def do_open(
    uow: UnitOfWork, user: User, form: Opening, drafts: Sequence[Upload]
) -> Consultation:
    """Open a consultation of some zones (and themes) with its drafts; staff only."""
    title = _title(form.title)
    body = _body(form.body, minimum=10)
    zone_ids = sorted(set(form.zone_ids))
    if not zone_ids:
        raise ActionError(N_("Choose at least one zone."), field="zones")
    if not rules.may_manage(user, zone_ids):
        raise PermissionDenied(NOT_STAFF)
    found = set(await uow.session.scalars(select(Zone.id).where(Zone.id.in_(zone_ids))))
    if found != set(zone_ids):
        raise ActionError(N_("Choose at least one zone."), field="zones")
    theme_ids = await _active_themes(uow, form.theme_ids)
    check_count(len(drafts), MAX_FILES)
    now = utcnow()
    consultation = Consultation(
        title=title, body_source=body, body_html=render_markdown(body),
        deadline=_future(form.deadline, now), created_by_id=user.id, created_at=now,
        updated_at=now, revision=0, last_number=0, publish_names=form.publish_names,
    )  # fmt: skip
    uow.session.add(consultation)
    await uow.session.flush()
    uow.session.add_all(
        ConsultationZone(consultation_id=consultation.id, zone_id=z) for z in zone_ids
    )
    uow.session.add_all(
        ConsultationTheme(consultation_id=consultation.id, theme_id=t) for t in theme_ids
    )
    for upload in drafts:
        await files.keep(uow.session, upload, user, consultation_id=consultation.id)
    await uow.session.flush()
    audit(
        uow.session, user, "consultation.opened", consultation, zones=zone_ids,
        deadline=consultation.deadline.isoformat(), drafts=[u.sha256 for u in drafts],
        publish_names=form.publish_names,
    )  # fmt: skip
    uow.record(ConsultationOpened(None, consultation.id, tuple(zone_ids)))
    await notices.notify_opened(uow, user, consultation, zone_ids)
    return consultation


async def lock_consultation(uow: UnitOfWork, consultation_id: int) -> ConsultationView:
    """Take the consultation's lock (bump its revision) and load it afresh."""
    if not await bump_revision(uow.session, Consultation, consultation_id):
        raise NotFound(N_("This consultation does not exist."))
    view = await load_consultation(uow.session, consultation_id)
    assert view is not None
    await uow.session.refresh(view.consultation)
    return view


async def _readable(uow: UnitOfWork, user: User, consultation_id: int) -> ConsultationView:
    view = await lock_consultation(uow, consultation_id)
    if not rules.may_read(user, view.zone_ids):
        raise NotFound(N_("This consultation does not exist."))
    return view


async def do_extend(
    uow: UnitOfWork, user: User, consultation_id: int, deadline: datetime | None
) -> ConsultationView:
    """Move the deadline later (also reopening a closed consultation); staff only."""
    view = await _readable(uow, user, consultation_id)
    if not rules.may_manage(user, view.zone_ids):
        raise PermissionDenied(NOT_STAFF)
    new = _future(deadline, utcnow())
    old = view.consultation.deadline
    if new <= old:
        raise ActionError(
            N_("The new deadline must be later than the current one."), field="deadline"
        )
    view.consultation.deadline = new
    view.consultation.updated_at = utcnow()
    audit(uow.session, user, "consultation.extended", view.consultation,
          old=old.isoformat(), new=new.isoformat())  # fmt: skip
    uow.record(ConsultationUpdated(None, consultation_id, _zones(view)))
    return view


async def _active_themes(uow: UnitOfWork, theme_ids: Sequence[int]) -> list[int]:
    wanted = sorted(set(theme_ids))
    found = set(
        await uow.session.scalars(select(Theme.id).where(Theme.id.in_(wanted), Theme.active))
    )
    if found != set(wanted):
        raise ActionError(N_("Choose themes in use."), field="themes")
    return wanted


async def do_revise(
    uow: UnitOfWork, user: User, consultation_id: int, form: Opening
) -> ConsultationView:
    """Correct the title, the text or the themes of an open consultation; staff only.

    The zones, the deadline (see :func:`do_extend`) and ``publish_names`` stay:
    the comuni's rights and what they were told depend on them. The page then
    says when the text was changed; the audit row keeps the previous one.
    """
    view = await _readable(uow, user, consultation_id)
    if not rules.may_manage(user, view.zone_ids):
        raise PermissionDenied(NOT_STAFF)
    consultation = view.consultation
    if not consultation.open_at(utcnow()):
        raise Conflict(N_("This consultation is closed: extend the deadline to change it."))
    title, body = _title(form.title), _body(form.body, minimum=10)
    theme_ids = await _active_themes(uow, form.theme_ids)
    old_themes = sorted(t.id for t in view.themes)
    if (title, body, theme_ids) == (consultation.title, consultation.body_source, old_themes):
        return view
    previous = {"title": consultation.title, "body": consultation.body_source,
                "themes": old_themes}  # fmt: skip
    consultation.title, consultation.body_source = title, body
    consultation.body_html = render_markdown(body)
    if theme_ids != old_themes:
        await uow.session.execute(
            delete(ConsultationTheme).where(ConsultationTheme.consultation_id == consultation_id)
        )
        uow.session.add_all(
            ConsultationTheme(consultation_id=consultation_id, theme_id=t) for t in theme_ids
        )
    consultation.edited_at = consultation.updated_at = utcnow()
    audit(uow.session, user, "consultation.revised", consultation, previous=previous,
          themes=theme_ids)  # fmt: skip
    uow.record(ConsultationUpdated(None, consultation_id, _zones(view)))
    return view


# -- before an upload is read -----------------------------------------------------------
# The upload routes call these before the first byte of the body: who may not
# write there, or may not now, uploads nothing. Read without the lock; the
# ``do_*`` check all of it again under the lock, which is what counts.


async def _read(session: AsyncSession, user: User, consultation_id: int) -> ConsultationView:
    view = await load_consultation(session, consultation_id)
    if view is None or not rules.may_read(user, view.zone_ids):
        raise NotFound(NO_CONSULTATION)
    return view


async def check_add_drafts(session: AsyncSession, user: User, consultation_id: int) -> None:
    """Staff of the consultation's zones only (see :func:`do_add_drafts`)."""
    view = await _read(session, user, consultation_id)
    if not rules.may_manage(user, view.zone_ids):
        raise PermissionDenied(NOT_STAFF)


async def check_submit(session: AsyncSession, user: User, consultation_id: int) -> None:
    """Who may send the comune's first contribution, while open (see :func:`do_submit`)."""
    view = await _read(session, user, consultation_id)
    comune_id = _comune_of(user, view)
    _require_open(view)
    if any(c.contribution.comune_id == comune_id for c in view.contributions):
        raise Conflict(ALREADY_SENT)


async def check_edit(session: AsyncSession, user: User, contribution_id: int) -> None:
    """Who may send a new version, while open and unanswered (see :func:`do_edit`)."""
    found = await session.get(Contribution, contribution_id)
    if found is None:
        raise NotFound(NO_CONTRIBUTION)
    view = await _read(session, user, found.consultation_id)
    if _comune_of(user, view) != found.comune_id:
        raise PermissionDenied(NOT_CONTRIBUTOR)
    _require_open(view)
    if found.status.answered:
        raise Conflict(ANSWERED)


async def do_add_drafts(
    uow: UnitOfWork, user: User, consultation_id: int, drafts: Sequence[Upload]
) -> ConsultationView:
    """Attach more drafts to the consultation; staff only."""
    view = await _readable(uow, user, consultation_id)
    if not rules.may_manage(user, view.zone_ids):
        raise PermissionDenied(NOT_STAFF)
    if not drafts:
        raise ActionError(N_("Choose at least one file."), field="files")
    for upload in drafts:
        await files.keep(uow.session, upload, user, consultation_id=consultation_id)
    view.consultation.updated_at = utcnow()
    audit(uow.session, user, "consultation.drafts", view.consultation,
          files=[u.sha256 for u in drafts])  # fmt: skip
    uow.record(ConsultationUpdated(None, consultation_id, _zones(view)))
    return view


def _comune_of(user: User, view: ConsultationView) -> int:
    comune_id = rules.contributing_comune(user, view.zone_ids, view.delegates)
    if comune_id is None:
        raise PermissionDenied(NOT_CONTRIBUTOR)
    return comune_id


def _require_open(view: ConsultationView) -> None:
    if not view.open_at(utcnow()):
        raise Conflict(CLOSED)


async def _new_version(
    uow: UnitOfWork, user: User, contribution: Contribution, number: int, body: str,
    uploads: Sequence[Upload], kept: Sequence[StoredFile] = (),
) -> ContributionVersion:  # fmt: skip
    version = ContributionVersion(
        contribution_id=contribution.id, number=number, body_source=body,
        body_html=render_markdown(body), created_by_id=user.id, created_at=utcnow(),
    )  # fmt: skip
    uow.session.add(version)
    await uow.session.flush()
    for old in kept:
        uow.session.add(files.copy_file(old, contribution_version_id=version.id))
    for upload in uploads:
        await files.keep(uow.session, upload, user, contribution_version_id=version.id)
    await uow.session.flush()
    return version


async def do_submit(
    uow: UnitOfWork, user: User, consultation_id: int, body: str, uploads: Sequence[Upload]
) -> Contribution:
    """Send the comune's contribution (version 1) and give it its receipt number."""
    view = await _readable(uow, user, consultation_id)
    comune_id = _comune_of(user, view)
    _require_open(view)
    text = _body(body)
    check_count(len(uploads), MAX_FILES)
    if any(c.contribution.comune_id == comune_id for c in view.contributions):
        raise Conflict(ALREADY_SENT)
    consultation = view.consultation
    consultation.last_number += 1
    now = utcnow()
    contribution = Contribution(
        consultation_id=consultation.id, comune_id=comune_id, number=consultation.last_number,
        status=Status.RECEIVED, version=1, submitted_by_id=user.id, submitted_at=now,
        updated_at=now,
    )  # fmt: skip
    uow.session.add(contribution)
    await uow.session.flush()
    await _new_version(uow, user, contribution, 1, text, uploads)
    audit(uow.session, user, "contribution.submitted", contribution, consultation=consultation.id,
          number=contribution.number, files=[u.sha256 for u in uploads])  # fmt: skip
    uow.record(ContributionSubmitted(None, consultation.id, _zones(view), contribution.id))
    return contribution


async def do_edit(
    uow: UnitOfWork, user: User, contribution_id: int, body: str,
    uploads: Sequence[Upload], keep_file_ids: Sequence[int],
) -> Contribution:  # fmt: skip
    """A new version of the comune's contribution, until the deadline; older versions stay."""
    found = await uow.session.get(Contribution, contribution_id)
    if found is None:
        raise NotFound(N_("This contribution does not exist."))
    view = await _readable(uow, user, found.consultation_id)
    # Read again under the lock: the view's versions and files are, the row is refreshed.
    await uow.session.refresh(found)
    current = next(c for c in view.contributions if c.contribution.id == contribution_id)
    contribution = current.contribution
    if _comune_of(user, view) != contribution.comune_id:
        raise PermissionDenied(NOT_CONTRIBUTOR)
    _require_open(view)
    if contribution.status.answered:
        raise Conflict(ANSWERED)
    text = _body(body)
    kept = [f for f in current.files if f.id in set(keep_file_ids)]
    check_count(len(kept) + len(uploads), MAX_FILES)
    contribution.version += 1
    contribution.updated_at = utcnow()
    await _new_version(uow, user, contribution, contribution.version, text, uploads, kept)
    audit(uow.session, user, "contribution.edited", contribution, version=contribution.version,
          files=[f.sha256 for f in kept] + [u.sha256 for u in uploads])  # fmt: skip
    uow.record(
        ContributionUpdated(
            None, view.consultation.id, _zones(view), contribution.id, contribution.version
        )
    )
    return contribution


async def do_set_status(
    uow: UnitOfWork, user: User, contribution_id: int, status: str, answer: str
) -> Contribution:
    """Staff move a contribution through review; the three outcomes need a written answer."""
    found = await uow.session.get(Contribution, contribution_id)
    if found is None:
        raise NotFound(N_("This contribution does not exist."))
    view = await _readable(uow, user, found.consultation_id)
    if not rules.may_manage(user, view.zone_ids):
        raise PermissionDenied(NOT_STAFF)
    contribution = found
    await uow.session.refresh(contribution)
    try:
        target = Status(status)
    except ValueError:
        raise ActionError(N_("Choose a state."), field="status") from None
    if target not in NEXT[contribution.status]:
        raise Conflict(N_("A contribution cannot go from this state to that one."))
    before = contribution.status
    if target.answered:
        text = _body(answer, "answer", minimum=10)
        contribution.answer_source = text
        contribution.answer_html = render_markdown(text)
        contribution.answered_by_id = user.id
        contribution.answered_at = utcnow()
    contribution.status = target
    answer_text = contribution.answer_source if target.answered else ""
    audit(
        uow.session, user, "contribution.status", contribution, before=before.value,
        after=target.value, answer=answer_text,
    )  # fmt: skip
    uow.record(
        ContributionAnswered(
            None, view.consultation.id, _zones(view), contribution.id, target.value
        )
    )
    await notices.notify_status(
        uow, user, view.consultation, view.zone_ids, view.delegates, contribution
    )
    return contribution


async def do_name_delegate(
    uow: UnitOfWork, user: User, consultation_id: int, email: str
) -> ConsultationDelegate | None:
    """The sindaco names who sends the contribution for the comune (empty: nobody)."""
    view = await _readable(uow, user, consultation_id)
    if user.comune_id is None or not rules.may_contribute_own(user, view.zone_ids):
        raise PermissionDenied(NOT_CONTRIBUTOR)
    existing = next((d for d in view.delegates if d.comune_id == user.comune_id), None)
    email = email.strip().lower()
    if not email:
        if existing is not None:
            await uow.session.delete(existing)
            audit(uow.session, user, "consultation.delegate", view.consultation, delegate="")
        return None
    person = await uow.session.scalar(select(User).where(User.email == email))
    if person is None or not person.active or person.comune_id != user.comune_id:
        raise ActionError(N_("The delegate must be a user of your comune."), field="email")
    if person.id == user.id:
        raise ActionError(N_("The delegate must be someone else."), field="email")
    if existing is None:
        existing = ConsultationDelegate(
            consultation_id=consultation_id, comune_id=user.comune_id, user_id=person.id,
            named_by_id=user.id,
        )  # fmt: skip
        uow.session.add(existing)
    else:
        existing.user_id, existing.named_by_id = person.id, user.id
    audit(uow.session, user, "consultation.delegate", view.consultation, delegate=email)
    return existing
