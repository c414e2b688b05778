"""Logging in: growing delays per (account, client) and per client, no lockout.

Locking an account after a few failures lets anyone lock a mayor out before
a vote. Instead, failures slow down *the client that makes them*:

- per (account, client IP): after ``LOGIN_MAX_FAILURES_ACCOUNT`` failures,
  each further attempt from that client for that account must wait
  1 s, 2 s, 4 s... after the last failure, up to ``LOGIN_MAX_DELAY``. A
  successful login from that client starts its count again;
- per client IP, whatever the account (password spraying): the same after
  ``LOGIN_MAX_FAILURES_IP`` failures.

The right password from another client always works. Failures count for
``LOGIN_THROTTLE_WINDOW`` seconds. Every attempt is a ``login_attempt`` row,
so the counts hold across workers, and admins read them on /admin/logins.
The attempt is written (``pending``) and committed *before* it is judged,
on the attempts recorded before it, and before the password is checked:
parallel guesses at one account see each other and cannot outrun the
delays (the per-client count takes only finished failures, so that people
behind one NAT who log in at the same moment do not slow each other).

Domain code: no Starlette here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from collab.accounts.actions import authenticate, normalize_email
from collab.audit import audit
from collab.db import Database
from collab.errors import Throttled
from collab.i18n import N_
from collab.models import LoginAttempt, User, utcnow
from collab.settings import Settings

__all__ = [
    "FAILED",
    "LoginPolicy",
    "LoginResult",
    "check_login_wait",
    "delay_after",
    "do_login",
    "throttled",
]

PENDING, OK, WRONG, REFUSED = "pending", "ok", "wrong", "refused"
#: Outcomes that count as failures (a pending one may be a guess under way).
FAILED = (PENDING, WRONG)
BASE_DELAY = 1.0  # seconds: the first wait; each further failure doubles it


@dataclass(frozen=True)
class LoginPolicy:
    """The throttle's numbers (from :class:`Settings`)."""

    free_failures: int  # per (account, client) before attempts must wait
    free_failures_ip: int  # per client, across accounts
    window: timedelta  # how long a failure counts
    max_delay: float  # seconds

    @classmethod
    def from_settings(cls, settings: Settings) -> LoginPolicy:
        return cls(
            free_failures=settings.login_max_failures_account,
            free_failures_ip=settings.login_max_failures_ip,
            window=timedelta(seconds=settings.login_throttle_window),
            max_delay=float(settings.login_max_delay),
        )


@dataclass(frozen=True)
class LoginResult:
    """The user who logged in, or None; ``wait``: seconds the client must
    still wait (the password was not checked) or 0."""

    user: User | None
    wait: float = 0.0


def delay_after(failures: int, free: int, max_delay: float) -> float:
    """Seconds to wait after the last of ``failures`` before the next attempt."""
    if failures < free:
        return 0.0
    return float(min(max_delay, BASE_DELAY * 2.0 ** min(failures - free, 62)))


async def _failures(
    session: AsyncSession,
    since: datetime,
    outcomes: tuple[str, ...],
    *conditions: ColumnElement[bool],
) -> tuple[int, datetime | None]:
    row = (
        await session.execute(
            select(func.count(), func.max(LoginAttempt.at)).where(
                LoginAttempt.outcome.in_(outcomes), LoginAttempt.at >= since, *conditions
            )
        )
    ).one()
    return int(row[0] or 0), row[1]


async def check_login_wait(
    session: AsyncSession,
    email: str,
    ip: str,
    policy: LoginPolicy,
    now: datetime,
    before: int | None = None,
) -> float:
    """Seconds this client must wait before trying ``email`` again (0: go ahead).

    ``before``: the id of the attempt being decided; only earlier ones count.
    """
    since = now - policy.window
    earlier = [LoginAttempt.id < before] if before is not None else []
    last_ok = await session.scalar(
        select(func.max(LoginAttempt.at)).where(
            LoginAttempt.email == email,
            LoginAttempt.ip == ip,
            LoginAttempt.outcome == OK,
            *earlier,
        )
    )
    pair_since = max(since, last_ok) if last_ok is not None else since
    # An attempt still being checked counts against its account: guesses sent
    # in parallel cannot outrun the delays. Per client only finished ones
    # count: people behind one NAT logging in at once are not slowed down.
    pair, pair_last = await _failures(
        session, pair_since, FAILED, LoginAttempt.email == email, LoginAttempt.ip == ip, *earlier
    )
    client, client_last = await _failures(session, since, (WRONG,), LoginAttempt.ip == ip, *earlier)
    wait = 0.0
    for count, last, free in (
        (pair, pair_last, policy.free_failures),
        (client, client_last, policy.free_failures_ip),
    ):
        if last is not None and count >= free:
            until = last + timedelta(seconds=delay_after(count, free, policy.max_delay))
            wait = max(wait, (until - now).total_seconds())
    return wait


def throttled(wait: float) -> Throttled:
    """The refusal, saying how long to wait (rounded up)."""
    if wait <= 90:
        return Throttled(
            N_("Too many failed attempts from this connection. Try again in %(seconds)d s."),
            seconds=max(1, math.ceil(wait)),
        )
    return Throttled(
        N_("Too many failed attempts from this connection. Try again in %(minutes)d min."),
        minutes=math.ceil(wait / 60),
    )


async def do_login(
    database: Database, email: str, password: str, ip: str, policy: LoginPolicy
) -> LoginResult:
    """Check the throttle, then the password (off the event loop); record the attempt."""
    email, ip = normalize_email(email)[:254], ip[:64]
    # Recorded first, then judged on the attempts recorded before it: of a
    # burst sent in parallel, each one sees those ahead of it.
    async with database.transaction() as uow:
        attempt = LoginAttempt(email=email, ip=ip, at=utcnow(), outcome=PENDING)
        uow.session.add(attempt)
    async with database.session() as session:
        wait = await check_login_wait(session, email, ip, policy, utcnow(), before=attempt.id)
    if wait > 0:
        async with database.transaction() as uow:
            await uow.session.execute(
                update(LoginAttempt).where(LoginAttempt.id == attempt.id).values(outcome=REFUSED)
            )
        return LoginResult(None, wait)
    # No connection is held while the password is checked (it may queue for the pool).
    user = await authenticate(database, email, password)
    async with database.transaction() as uow:
        await uow.session.execute(
            update(LoginAttempt)
            .where(LoginAttempt.id == attempt.id)
            .values(outcome=OK if user is not None else WRONG)
        )
        if user is not None:
            audit(uow.session, user, "user.login", user, ip=ip)
    return LoginResult(user)
