"""Voting bodies: who meets and votes, and by which rules (admins manage them).

A body of comuni (an *assemblea dei sindaci*) has zones, whose comuni are its
members; a body of people (a council, a commission, a *tavolo tecnico*) has
named members with their title, in order. ``check_body`` refuses every bad
field at once (:class:`~collab.errors.InvalidFields`, one error per field);
``do_create_body`` and ``do_update_body`` write inside the caller's unit of
work, with an audit row. A member taken off a body is kept as inactive (their
ballots in past votes still name them), and comes back as the same row.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import TypeVar

from sqlalchemy import delete, func, select

from collab.admin.actions import check_admin
from collab.audit import audit
from collab.db import UnitOfWork
from collab.errors import ActionError, InvalidFields, NotFound
from collab.i18n import N_
from collab.meetings.models import (
    BodyKind,
    BodyMember,
    BodyZone,
    Counting,
    Majority,
    Meeting,
    VotingBody,
)
from collab.models import User, Zone

__all__ = [
    "BodyForm",
    "MemberLine",
    "check_body",
    "do_create_body",
    "do_update_body",
    "parse_members",
]

E = TypeVar("E", bound=enum.StrEnum)

MAX_MEMBERS = 200
MAX_TITLE = 120
MAX_FRACTION = 100  # numerators and denominators: 1/2, 2/3, 3/5, 51/100...


@dataclass(frozen=True)
class MemberLine:
    email: str
    title: str = ""


@dataclass(frozen=True)
class BodyForm:
    """A body's form, as parsed (numbers that do not parse are 0: refused)."""

    name: str
    kind: str
    zone_ids: list[int] = field(default_factory=list)
    members: list[MemberLine] = field(default_factory=list)
    counting: str = Counting.ABSTAINERS_APART.value
    majority: str = Majority.SIMPLE.value
    majority_num: int = 2
    majority_den: int = 3
    majority_of_members: bool = False
    quorum_num: int = 1
    quorum_den: int = 2
    quorum_above: bool = True
    second_call_quorum_num: int = 1
    second_call_quorum_den: int = 3
    second_call_quorum_above: bool = False
    show_theme: bool = False
    active: bool = True


def parse_members(text: str) -> list[MemberLine]:
    """One member per line, "e-mail, title" (the title optional), in order."""
    lines = []
    for line in text.splitlines():
        email, _, title = line.partition(",")
        if email.strip() or title.strip():
            lines.append(MemberLine(email.strip().lower(), " ".join(title.split())))
    return lines


def _enum(kind: type[E], value: str) -> E | None:
    try:
        return kind(value)
    except ValueError:
        return None


def _fraction(num: int, den: int, name: str, problems: list[ActionError]) -> None:
    if not (1 <= num <= den <= MAX_FRACTION):
        problems.append(ActionError(
            N_("Give a fraction between 1/100 and 1, as two whole numbers."), field=name
        ))  # fmt: skip


async def check_body(
    uow: UnitOfWork, form: BodyForm, body: VotingBody | None = None
) -> tuple[BodyForm, list[User]]:
    """The form with clean values and the members' users (in order), or
    :class:`InvalidFields` with every field refused."""
    problems: list[ActionError] = []
    name = " ".join(form.name.split())
    if not 3 <= len(name) <= 200:
        problems.append(ActionError(N_("The name must be 3 to 200 characters long."),
                                    field="name"))  # fmt: skip
    else:
        taken = select(VotingBody.id).where(func.lower(VotingBody.name) == name.lower())
        if body is not None:
            taken = taken.where(VotingBody.id != body.id)
        if await uow.session.scalar(taken) is not None:
            problems.append(ActionError(N_("Another body has this name."), field="name"))
    kind = _enum(BodyKind, form.kind)
    if kind is None:
        problems.append(ActionError(N_("Choose whether the members are comuni or people."),
                                    field="kind"))  # fmt: skip
    elif body is not None and kind != body.kind and await _has_meetings(uow, body.id):
        problems.append(ActionError(
            N_("This body has meetings: its members cannot change from comuni to people "
               "or back."), field="kind",
        ))  # fmt: skip
    users: list[User] = []
    if kind == BodyKind.COMUNI:
        zones = set(await uow.session.scalars(select(Zone.id).where(Zone.id.in_(form.zone_ids))))
        if not form.zone_ids or zones != set(form.zone_ids):
            problems.append(ActionError(N_("Choose the zones whose comuni are members."),
                                        field="zones"))  # fmt: skip
    elif kind == BodyKind.PEOPLE:
        users = await _check_members(uow, form.members, problems)
    if _enum(Counting, form.counting) is None:
        problems.append(ActionError(N_("Choose how abstentions are counted."), field="counting"))
    majority = _enum(Majority, form.majority)
    if majority is None:
        problems.append(ActionError(N_("Choose what carries a vote."), field="majority"))
    elif majority == Majority.DOUBLE and kind == BodyKind.PEOPLE:
        problems.append(ActionError(
            N_("A double majority (comuni and population) is for a body of comuni."),
            field="majority",
        ))  # fmt: skip
    elif majority == Majority.QUALIFIED:
        _fraction(form.majority_num, form.majority_den, "majority_fraction", problems)
        if 2 * form.majority_num <= form.majority_den and not any(
            p.field == "majority_fraction" for p in problems
        ):
            problems.append(ActionError(N_("A qualified majority is more than half."),
                                        field="majority_fraction"))  # fmt: skip
    _fraction(form.quorum_num, form.quorum_den, "quorum", problems)
    _fraction(form.second_call_quorum_num, form.second_call_quorum_den, "second_call_quorum",
              problems)  # fmt: skip
    if problems:
        raise InvalidFields(problems)
    clean = BodyForm(**{**form.__dict__, "name": name,
                        "zone_ids": sorted(set(form.zone_ids)) if kind == BodyKind.COMUNI else [],
                        "members": form.members if kind == BodyKind.PEOPLE else []})  # fmt: skip
    return clean, users


async def _check_members(
    uow: UnitOfWork, lines: list[MemberLine], problems: list[ActionError]
) -> list[User]:
    if not lines:
        problems.append(ActionError(N_("A body of people needs at least one member."),
                                    field="members"))  # fmt: skip
        return []
    if len(lines) > MAX_MEMBERS:
        problems.append(ActionError(N_("A body has at most 200 members."), field="members"))
        return []
    found = {
        u.email: u
        for u in await uow.session.scalars(
            select(User).where(User.email.in_([line.email for line in lines]))
        )
    }
    users: list[User] = []
    for n, line in enumerate(lines, start=1):
        user = found.get(line.email)
        if user is None or not user.active:
            problems.append(ActionError(
                N_("Line %(line)d: %(email)s is not an active user."), field="members",
                line=n, email=line.email,
            ))  # fmt: skip
        elif user in users:
            problems.append(ActionError(N_("Line %(line)d: %(email)s is listed twice."),
                                        field="members", line=n, email=line.email))  # fmt: skip
        elif len(line.title) > MAX_TITLE:
            problems.append(ActionError(N_("Line %(line)d: the title is too long."),
                                        field="members", line=n))  # fmt: skip
        else:
            users.append(user)
    return users


async def _has_meetings(uow: UnitOfWork, body_id: int) -> bool:
    found = await uow.session.scalar(select(Meeting.id).where(Meeting.body_id == body_id).limit(1))
    return found is not None


def _apply(body: VotingBody, clean: BodyForm) -> None:
    body.name, body.kind = clean.name, BodyKind(clean.kind)
    body.counting, body.majority = Counting(clean.counting), Majority(clean.majority)
    body.majority_num, body.majority_den = clean.majority_num, clean.majority_den
    body.majority_of_members = clean.majority_of_members
    body.quorum_num, body.quorum_den = clean.quorum_num, clean.quorum_den
    body.quorum_above = clean.quorum_above
    body.second_call_quorum_num = clean.second_call_quorum_num
    body.second_call_quorum_den = clean.second_call_quorum_den
    body.second_call_quorum_above = clean.second_call_quorum_above
    body.show_theme, body.active = clean.show_theme, clean.active


async def _set_members(
    uow: UnitOfWork, body: VotingBody, clean: BodyForm, users: list[User]
) -> None:
    """Zones and members become the form's; members taken off turn inactive."""
    await uow.session.execute(delete(BodyZone).where(BodyZone.body_id == body.id))
    uow.session.add_all(BodyZone(body_id=body.id, zone_id=z) for z in clean.zone_ids)
    rows = {
        m.user_id: m
        for m in await uow.session.scalars(select(BodyMember).where(BodyMember.body_id == body.id))
    }
    for old in rows.values():
        old.active = False
    for position, (user, line) in enumerate(zip(users, clean.members, strict=True), start=1):
        row = rows.get(user.id)
        if row is None:
            row = BodyMember(body_id=body.id, user_id=user.id)
            uow.session.add(row)
        row.title, row.position, row.active = line.title, position, True
    await uow.session.flush()


def _detail(clean: BodyForm) -> dict[str, object]:
    return {"name": clean.name, "kind": clean.kind, "zones": clean.zone_ids,
            "members": [m.email for m in clean.members], "counting": clean.counting,
            "majority": clean.majority, "active": clean.active}  # fmt: skip


async def do_create_body(uow: UnitOfWork, actor: User | None, form: BodyForm) -> VotingBody:
    check_admin(actor)
    clean, users = await check_body(uow, form)
    body = VotingBody(verbale_template="")
    _apply(body, clean)
    uow.session.add(body)
    await uow.session.flush()
    await _set_members(uow, body, clean, users)
    audit(uow.session, actor, "body.created", body, **_detail(clean))
    return body


async def do_update_body(
    uow: UnitOfWork, actor: User | None, body_id: int, form: BodyForm
) -> VotingBody:
    check_admin(actor)
    body = await uow.session.get(VotingBody, body_id)
    if body is None:
        raise NotFound(N_("This body does not exist."))
    clean, users = await check_body(uow, form, body)
    _apply(body, clean)
    await _set_members(uow, body, clean, users)
    audit(uow.session, actor, "body.updated", body, **_detail(clean))
    return body
