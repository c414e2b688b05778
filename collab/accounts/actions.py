"""Account actions: authenticate, change password, manage users (the login
throttle is :mod:`collab.accounts.throttle`).

``check_*`` validates and raises :class:`collab.errors.ActionError`;
``do_*`` changes data inside the caller's unit of work.
"""

from __future__ import annotations

import re

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from collab.accounts.passwords import (
    DUMMY_HASH,
    check_password_policy,
    hash_password,
    needs_rehash,
    verify_password,
)
from collab.audit import audit
from collab.db import Database, UnitOfWork
from collab.errors import ActionError, NotFound, PermissionDenied
from collab.i18n import LOCALES, N_
from collab.models import Comune, Role, User
from collab.permissions import Action, can
from collab.realtime.events import UserChanged
from collab.sessions import do_end_sessions

__all__ = [
    "authenticate",
    "do_change_password",
    "do_create_user",
    "do_set_locale",
    "do_update_user",
    "normalize_email",
]

EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def normalize_email(email: str) -> str:
    return email.strip().lower()


async def authenticate(database: Database, email: str, password: str) -> User | None:
    """The active user with these credentials, or None.

    The password is checked off the event loop, with no database connection
    held meanwhile; an unknown address costs the same check as a wrong password.
    """
    async with database.session() as session:
        user = await session.scalar(select(User).where(User.email == normalize_email(email)))
    if user is None:
        await verify_password(DUMMY_HASH, password)
        return None
    if not await verify_password(user.password_hash, password) or not user.active:
        return None
    if needs_rehash(user.password_hash):
        await _rehash(database, user, password)
    return user


async def _rehash(database: Database, user: User, password: str) -> None:
    """Store the password again with the current parameters (its check just passed)."""
    old = user.password_hash
    new = await hash_password(password)
    async with database.transaction() as uow:
        # Only if it did not change meanwhile (a password change, a reset).
        await uow.session.execute(
            update(User)
            .where(User.id == user.id, User.password_hash == old)
            .values(password_hash=new)
        )
    user.password_hash = new


async def do_change_password(
    uow: UnitOfWork, user: User, current: str, new: str, confirm: str, keep: str | None = None
) -> None:
    if not await verify_password(user.password_hash, current):
        raise ActionError(N_("The current password is not correct."), field="current")
    check_password_policy(new, email=user.email, name=user.name, field="new")
    if new != confirm:
        raise ActionError(N_("The two new passwords do not match."), field="confirm")
    user.password_hash = await hash_password(new)
    uow.record(UserChanged(None, user.id))
    # Every other session of this user ends (``keep``: the one changing it).
    await do_end_sessions(uow, user.id, keep=keep)
    audit(uow.session, user, "user.password_changed", user)


async def _comune_by_istat(session: AsyncSession, istat: str) -> Comune:
    comune = await session.scalar(select(Comune).where(Comune.istat_code == istat.strip()))
    if comune is None:
        raise ActionError(
            N_("No comune has ISTAT code %(code)s."), field="comune", code=istat.strip()
        )
    return comune


def _check_role_and_comune(role: str, istat: str | None) -> Role:
    try:
        parsed = Role(role)
    except ValueError:
        raise ActionError(N_("Choose a valid role."), field="role") from None
    if parsed.is_cmto and istat:
        raise ActionError(N_("CMTo staff and admins belong to no comune."), field="comune")
    if not parsed.is_cmto and not istat:
        raise ActionError(N_("This role needs the user's comune."), field="comune")
    return parsed


def _check_manager(actor: User | None) -> None:
    # actor None means the command line, run by whoever operates the server.
    if actor is not None and not can(actor, Action.MANAGE):
        raise PermissionDenied(N_("Only administrators can manage users."))


async def do_create_user(
    uow: UnitOfWork,
    actor: User | None,
    *,
    email: str,
    name: str,
    role: str,
    password: str,
    comune_istat: str | None = None,
) -> User:
    _check_manager(actor)
    email = normalize_email(email)
    if not EMAIL_RE.match(email) or len(email) > 254:
        raise ActionError(N_("Enter a valid email address."), field="email")
    name = name.strip()
    if not name or len(name) > 120:
        raise ActionError(N_("Enter the name (at most 120 characters)."), field="name")
    parsed = _check_role_and_comune(role, comune_istat)
    comune = await _comune_by_istat(uow.session, comune_istat) if comune_istat else None
    check_password_policy(password, email=email, name=name)
    if await uow.session.scalar(select(User.id).where(User.email == email)) is not None:
        raise ActionError(N_("A user with this email already exists."), field="email")
    user = User(
        email=email,
        name=name,
        role=parsed,
        comune=comune,
        comune_id=comune.id if comune else None,
        password_hash=await hash_password(password),
        active=True,
        session_epoch=0,
    )
    try:
        # A savepoint: two admins creating the same email at once meet the
        # unique constraint here, and the loser gets the form error, not a 500.
        async with uow.session.begin_nested():
            uow.session.add(user)
    except IntegrityError:
        raise ActionError(N_("A user with this email already exists."), field="email") from None
    audit(uow.session, actor, "user.created", user, email=email, role=parsed.value)
    return user


async def do_update_user(
    uow: UnitOfWork,
    actor: User | None,
    user_id: int,
    *,
    role: str,
    comune_istat: str | None,
    active: bool,
) -> User:
    """Change a user's role, comune and active flag; their sessions end."""
    _check_manager(actor)
    user = await uow.session.get(User, user_id)
    if user is None:
        raise NotFound(N_("This user does not exist."))
    parsed = _check_role_and_comune(role, comune_istat)
    comune = await _comune_by_istat(uow.session, comune_istat) if comune_istat else None
    if actor is not None and actor.id == user.id and (not active or parsed != user.role):
        raise ActionError(N_("You cannot deactivate yourself or change your own role."))
    before = {"role": user.role.value, "comune": user.comune_id, "active": user.active}
    user.role = parsed
    user.comune = comune
    user.comune_id = comune.id if comune else None
    user.active = active
    after = {"role": parsed.value, "comune": user.comune_id, "active": active}
    if before != after:
        uow.record(UserChanged(None, user.id))
        await do_end_sessions(uow, user.id)
        audit(uow.session, actor, "user.updated", user, before=before, after=after)
    return user


async def do_set_locale(uow: UnitOfWork, user_id: int, locale: str) -> None:
    """Remember the language ``user_id`` chose last: their e-mail is written in it."""
    if locale not in LOCALES:
        raise ActionError(N_("Choose a valid language."))
    await uow.session.execute(update(User).where(User.id == user_id).values(locale=locale))
