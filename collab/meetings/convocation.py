"""A convocation as the convening form gives it, and its checks.

:func:`check_convocation` refuses every bad field at once
(:class:`~collab.errors.InvalidFields`): the title, zones, date, place,
agenda and materials, and the session's heading as the verbale states it:
the body that meets, its chair and vice chair, the session's number, type
(ordinaria / straordinaria) and call, and the notice's date and protocol
number. :func:`collab.meetings.actions.do_convene` and ``do_edit`` write it.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from collab.db import UnitOfWork
from collab.errors import ActionError, InvalidFields, PermissionDenied
from collab.i18n import N_
from collab.meetings.models import BodyKind, BodyMember, BodyZone, SessionType, VotingBody
from collab.meetings.rules import may_read
from collab.models import Theme, User, utcnow
from collab.permissions import Action, can

__all__ = [
    "MAX_ITEMS",
    "MAX_MATERIALS",
    "AgendaLine",
    "Convocation",
    "check_convocation",
    "check_title",
    "user_by_email",
]

MAX_ITEMS = 30
MAX_MATERIALS = 30
MAX_PROTOCOL = 60
ROME = ZoneInfo("Europe/Rome")  # the notice's date is Turin's


@dataclass(frozen=True)
class AgendaLine:
    title: str
    theme_id: int
    minutes: int = 15


@dataclass(frozen=True)
class Convocation:
    """A convening form's values, as parsed (not yet checked).

    With a body of comuni the body's zones are convened (with any chosen
    besides); ``chair_email`` empty: the convener chairs. ``session_number``
    and ``call`` 0 (or ``session_type`` unknown): typed but not a number
    (or a type), refused on their field.
    """

    title: str
    zone_ids: list[int]
    starts_at: datetime | None
    items: list[AgendaLine]
    description: str = ""
    place: str = ""
    video_url: str = ""
    quorum: int | None = None
    public: bool = False
    materials: list[tuple[str, str]] = field(default_factory=list)  # (title, url)
    secretary_email: str = ""  # who takes the notes and writes the verbale
    body_id: int | None = None
    chair_email: str = ""
    vice_chair_email: str = ""
    session_number: int | None = None
    session_type: str = SessionType.ORDINARIA.value
    call: int = 1
    notice_date: date | None = None
    notice_protocol: str = ""


def _check_url(url: str, field_name: str) -> str:
    url = url.strip()
    if (url and not (url.startswith("https://") or url.startswith("http://"))) or len(url) > 500:
        raise ActionError(N_("The address must start with https:// or http://."), field=field_name)
    if any(c.isspace() for c in url):
        raise ActionError(N_("The address must start with https:// or http://."), field=field_name)
    return url


def check_title(title: str, field_name: str = "title") -> str:
    title = " ".join(title.split())
    if len(title) < 3:
        raise ActionError(N_("The title must be at least 3 characters long."), field=field_name)
    if len(title) > 200:
        raise ActionError(N_("The title must be at most 200 characters long."), field=field_name)
    return title


async def user_by_email(uow: UnitOfWork, email: str) -> User | None:
    return await uow.session.scalar(select(User).where(User.email == email.strip().lower()))


async def check_convocation(
    uow: UnitOfWork, user: User, form: Convocation, *, kept_zones: Collection[int] = (),
    kept_body: int | None = None,
) -> Convocation:  # fmt: skip
    """The convocation with clean values, or the error of every field refused:
    :class:`~collab.errors.InvalidFields` (a form shows them all at once), whose
    own message and field are the first's. A zone ``user`` may not convene is
    a 403 at once. Rows are named ``item-<n>`` and ``material-<n>`` (from 0).

    ``kept_zones``: zones an edited meeting convenes already, which its chair
    may keep even when they are not theirs to convene (a joint meeting);
    ``kept_body``: its body, which it keeps even when no longer in use.
    """
    problems: list[ActionError] = []

    def checked(check: Callable[[], str], fallback: str) -> str:
        try:
            return check()
        except ActionError as error:
            problems.append(error)
            return fallback

    title = checked(lambda: check_title(form.title), form.title)
    body, zone_ids = await _check_body(uow, user, form, kept_zones, kept_body, problems)
    if not zone_ids:
        problems.append(ActionError(N_("Choose at least one zone."), field="zones"))
    for zone_id in form.zone_ids:
        if zone_id not in kept_zones and not can(user, Action.CONVENE, zone_id):
            raise PermissionDenied(N_("You may convene meetings of your own zone only."))
    if form.starts_at is None:
        problems.append(
            ActionError(N_("Give the date and time of the meeting."), field="starts_at")
        )
    elif form.starts_at < utcnow() - timedelta(days=1):
        problems.append(ActionError(N_("The meeting cannot start in the past."), field="starts_at"))
    if not form.place.strip() and not form.video_url.strip():
        problems.append(ActionError(N_("Give a place, a video-call link, or both."), field="place"))
    elif len(form.place) > 200:
        problems.append(ActionError(N_("The place is too long."), field="place"))
    video_url = checked(lambda: _check_url(form.video_url, "video_url"), "")
    if len(form.description) > 5000:
        problems.append(ActionError(N_("The description is too long."), field="description"))
    items = await _check_items(uow, form, problems)
    if form.quorum is not None and body is not None:
        problems.append(ActionError(N_("The body's rules set the quorum: leave it empty."),
                                    field="quorum"))  # fmt: skip
    elif form.quorum is not None and not 1 <= form.quorum <= 1000:
        problems.append(ActionError(N_("The quorum must be a number of comuni."), field="quorum"))
    materials = []
    for n, (m_title, m_url) in enumerate(form.materials):
        row = f"material-{n}"
        clean_title = checked(lambda: check_title(m_title, row), m_title)  # noqa: B023
        clean_url = checked(lambda: _check_url(m_url, row), m_url)  # noqa: B023
        if not clean_url:
            problems.append(ActionError(N_("Each material needs an address."), field=row))
        materials.append((clean_title, clean_url))
    secretary_email = form.secretary_email.strip().lower()
    if secretary_email:
        secretary = await user_by_email(uow, secretary_email)
        if secretary is None or not secretary.active or not may_read(secretary, zone_ids):
            problems.append(ActionError(
                N_("The secretary must be a user who can follow the meeting."), field="secretary"
            ))  # fmt: skip
    chair, vice = await _check_chairs(uow, form, body, zone_ids, problems)
    protocol = " ".join(form.notice_protocol.split())
    _check_heading(form, protocol, problems)
    if problems:
        raise InvalidFields(problems)
    return Convocation(
        title=title, zone_ids=zone_ids, starts_at=form.starts_at, items=items,
        description=form.description.strip(), place=" ".join(form.place.split()),
        video_url=video_url, quorum=form.quorum, public=form.public, materials=materials,
        secretary_email=secretary_email, body_id=body.id if body else None,
        chair_email=chair, vice_chair_email=vice, session_number=form.session_number,
        session_type=form.session_type, call=form.call, notice_date=form.notice_date,
        notice_protocol=protocol,
    )  # fmt: skip


async def _check_body(
    uow: UnitOfWork, user: User, form: Convocation, kept_zones: Collection[int],
    kept_body: int | None, problems: list[ActionError],
) -> tuple[VotingBody | None, list[int]]:  # fmt: skip
    """The body chosen (None: none) and the zones convened: those chosen, and
    for a body of comuni its own zones, which ``user`` must be able to convene."""
    zones = set(form.zone_ids)
    if form.body_id is None:
        return None, sorted(zones)
    body = await uow.session.get(VotingBody, form.body_id)
    if body is None or not (body.active or body.id == kept_body):
        problems.append(ActionError(N_("Choose a body in use."), field="body"))
        return None, sorted(zones)
    if body.kind == BodyKind.COMUNI:
        own = set(await uow.session.scalars(
            select(BodyZone.zone_id).where(BodyZone.body_id == body.id)
        ))  # fmt: skip
        if any(z not in kept_zones and not can(user, Action.CONVENE, z) for z in own - zones):
            problems.append(ActionError(
                N_("You may not convene this body: its comuni include zones not yours."),
                field="body",
            ))  # fmt: skip
        zones |= own
    return body, sorted(zones)


async def _check_chairs(
    uow: UnitOfWork, form: Convocation, body: VotingBody | None, zone_ids: list[int],
    problems: list[ActionError],
) -> tuple[str, str]:  # fmt: skip
    """The chair's and the vice chair's emails: users who can follow the meeting."""
    members: set[int] = set()
    if body is not None and body.kind == BodyKind.PEOPLE:
        members = set(await uow.session.scalars(
            select(BodyMember.user_id).where(BodyMember.body_id == body.id, BodyMember.active)
        ))  # fmt: skip
    emails = []
    for name, raw in (("chair", form.chair_email), ("vice_chair", form.vice_chair_email)):
        email = raw.strip().lower()
        emails.append(email)
        if not email:
            continue
        person = await user_by_email(uow, email)
        if person is None or not person.active:
            problems.append(ActionError(N_("%(email)s is not an active user."), field=name,
                                        email=email))  # fmt: skip
        elif not may_read(person, zone_ids) and person.id not in members:
            problems.append(ActionError(
                N_("The chair and the vice chair must be users who can follow the meeting: "
                   "of a convened zone, CMTo staff, or members of the body."), field=name,
            ))  # fmt: skip
    if emails[1] and emails[1] == emails[0]:
        problems.append(ActionError(N_("The vice chair must be someone other than the chair."),
                                    field="vice_chair"))  # fmt: skip
    return emails[0], emails[1]


def _check_heading(form: Convocation, protocol: str, problems: list[ActionError]) -> None:
    if form.session_number is not None and not 1 <= form.session_number <= 9999:
        problems.append(ActionError(N_("The session number is a whole number from 1 to 9999."),
                                    field="session_number"))  # fmt: skip
    if form.session_type not in {t.value for t in SessionType}:
        problems.append(ActionError(N_("Choose an ordinary or an extraordinary session."),
                                    field="session_type"))  # fmt: skip
    if form.call not in (1, 2):
        problems.append(ActionError(N_("Choose the first or the second call."), field="call"))
    if (
        form.notice_date is not None
        and form.starts_at is not None
        and form.notice_date > form.starts_at.astimezone(ROME).date()
    ):
        problems.append(ActionError(N_("The notice cannot be dated after the meeting."),
                                    field="notice_date"))  # fmt: skip
    if len(protocol) > MAX_PROTOCOL:
        problems.append(ActionError(N_("The protocol number is at most 60 characters long."),
                                    field="notice_protocol"))  # fmt: skip


async def _check_items(
    uow: UnitOfWork, form: Convocation, problems: list[ActionError]
) -> list[AgendaLine]:
    """The agenda's clean lines; what is wrong goes to ``problems``, one per row."""
    if not form.items:
        problems.append(ActionError(N_("The agenda needs at least one item."), field="items"))
    if len(form.items) > MAX_ITEMS or len(form.materials) > MAX_MATERIALS:
        problems.append(ActionError(N_("Too many agenda items or materials."), field="items"))
        return []
    themes = {
        t.id: t
        for t in await uow.session.scalars(
            select(Theme).where(Theme.id.in_([i.theme_id for i in form.items]))
        )
    }
    items = []
    for n, line in enumerate(form.items):
        row = f"item-{n}"
        theme = themes.get(line.theme_id)
        try:
            if theme is None or not theme.active:
                raise ActionError(N_("Each agenda item needs a theme in use."), field=row)
            if not 1 <= line.minutes <= 480:
                raise ActionError(N_("An agenda item lasts from 1 to 480 minutes."), field=row)
            items.append(AgendaLine(check_title(line.title, row), line.theme_id, line.minutes))
        except ActionError as error:
            problems.append(error)
    return items
