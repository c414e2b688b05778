"""Server-side sessions: who a browser's cookie logs in, and ending that.

A session is a :class:`collab.models.WebSession` row; the cookie carries a
random token (:func:`collab.tokens.new_token`) and the row's id is its
SHA-256, so a copy of the database resumes no session. Ending a session
deletes its row: the next request with the cookie, on any worker, is
anonymous, and the user's open sockets are told to check again at once
(a :class:`collab.realtime.events.UserChanged` on their topic closes the
ended ones with 4401).

Expiry slides: a session lives ``SESSION_MAX_AGE`` seconds from its
``last_seen``, which a request moves forward at most every
:data:`TOUCH_EVERY` (so that a page view costs one primary-key read, not a
write). An anonymous visitor's session (its CSRF token) lives at most
:data:`ANONYMOUS_IDLE`. Domain code: no Starlette here (the cookie is
:mod:`collab.session_cookie`'s).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from collab.db import Database, UnitOfWork
from collab.models import Comune, User, WebSession, Zone, utcnow
from collab.prepared import Entity, Prepared
from collab.realtime.events import UserChanged
from collab.tokens import digest, new_token, well_formed

__all__ = [
    "ANONYMOUS_IDLE",
    "SCOPE_KEY",
    "TOUCH_EVERY",
    "Current",
    "active_sessions",
    "do_end",
    "do_end_sessions",
    "do_prune",
    "do_save",
    "do_start",
    "load",
    "reload",
]

TOUCH_EVERY = timedelta(seconds=60)
# Where the ASGI scope holds a connection's :class:`Current`.
SCOPE_KEY = "collab.session"
ANONYMOUS_IDLE = timedelta(days=1)


@dataclass
class Current:
    """The session of one request or socket, as the middleware found it.

    ``key`` None: no session row (yet). ``token`` is set when a new cookie
    must go out with the response (a login, a visitor's first session);
    ``ended`` when the row was deleted and the cookie must go.
    """

    key: str | None = None
    user_id: int | None = None
    user: User | None = None
    saved: dict[str, Any] = field(default_factory=dict)
    last_seen: datetime | None = None
    token: str | None = None
    ended: bool = False


def lifetime(user_id: int | None, max_age: int) -> timedelta:
    """How long a session lives after its ``last_seen``."""
    whole = timedelta(seconds=max_age)
    return whole if user_id is not None else min(whole, ANONYMOUS_IDLE)


async def load(
    db: Database, token: str, max_age: int, now: datetime | None = None
) -> Current | None:
    """The live session ``token`` names, with its active user; None when there
    is none (never was, ended, expired, or its user was deactivated).

    One query on the primary key (the user joined to it), outside any ORM
    session (:meth:`collab.db.Database.read`).
    """
    if not well_formed(token):
        return None  # ours are URL-safe base64 (and PostgreSQL refuses NUL)
    return await reload(db, digest(token), max_age, now)


# Every request with a cookie runs it: one prepared statement (collab/prepared.py),
# and the user with its comune and zone built from the row as the ORM's joined
# load would (a third of a request's time went to that loading).
_USER, _COMUNE, _ZONE = Entity(User), Entity(Comune), Entity(Zone)
_RELOAD = Prepared(
    select(
        WebSession.user_id,
        WebSession.last_seen,
        WebSession.data,
        *_USER.columns,
        *_COMUNE.columns,
        *_ZONE.columns,
    )
    .select_from(WebSession)
    .outerjoin(User, User.id == WebSession.user_id)
    .outerjoin(Comune, Comune.id == User.comune_id)
    .outerjoin(Zone, Zone.id == Comune.zone_id)
    .where(WebSession.id == bindparam("key"))
)
_ACTIVE = _USER.keys.index("active")


def _user_of(values: tuple[Any, ...]) -> User | None:
    """The session's user (detached, as after the read's session), with its
    comune and zone; None when the row has none, or an inactive one."""
    user_values = values[: len(_USER)]
    if user_values[_USER.primary[0]] is None or not user_values[_ACTIVE]:
        return None
    user: User = _USER.build(user_values)
    comune_values = values[len(_USER) : len(_USER) + len(_COMUNE)]
    comune = None
    if comune_values[_COMUNE.primary[0]] is not None:
        comune = _COMUNE.build(comune_values)
        _COMUNE.relate(comune, "zone", _ZONE.build(values[len(_USER) + len(_COMUNE) :]))
    _USER.relate(user, "comune", comune)
    return user


async def reload(
    db: Database, key: str, max_age: int, now: datetime | None = None
) -> Current | None:
    """:func:`load` by the row's id (a socket checking its session again)."""
    rows = await db.read(_RELOAD, {"key": key})
    if not rows:
        return None
    user_id, last_seen, data, *rest = rows[0]
    now = now or utcnow()
    if last_seen + lifetime(user_id, max_age) <= now:
        return None
    user = None
    if user_id is not None:
        user = _user_of(tuple(rest))
        if user is None:
            return None
    return Current(key=key, user_id=user_id, user=user, saved=dict(data or {}), last_seen=last_seen)


async def do_start(
    uow: UnitOfWork,
    user_id: int | None,
    *,
    user_agent: str,
    ip: str,
    data: dict[str, Any],
    replaces: str | None = None,
) -> str:
    """A new session (``user_id`` None: an anonymous visitor's); returns the
    cookie's token. The session ``replaces`` names (the visitor's before a
    login) is deleted: a login never keeps a session id an attacker may
    have planted."""
    if replaces is not None:
        await uow.session.execute(delete(WebSession).where(WebSession.id == replaces))
    token = new_token()
    now = utcnow()
    uow.session.add(
        WebSession(
            id=digest(token),
            user_id=user_id,
            created_at=now,
            last_seen=now,
            user_agent=user_agent[:255],
            ip=ip[:64],
            data=data,
        )
    )
    return token


async def do_save(uow: UnitOfWork, key: str, data: dict[str, Any], seen: datetime | None) -> None:
    """Store the session's data, and move ``last_seen`` to ``seen`` (when given)."""
    values: dict[str, Any] = {"data": data}
    if seen is not None:
        values["last_seen"] = seen
    await uow.session.execute(update(WebSession).where(WebSession.id == key).values(**values))


def _notify(uow: UnitOfWork, user_id: int) -> None:
    # One recheck per user and write is enough (a password change records
    # its own UserChanged through this).
    if not any(isinstance(e, UserChanged) and e.user_id == user_id for e in uow.events):
        uow.record(UserChanged(None, user_id))


async def do_end(uow: UnitOfWork, key: str, *, user_id: int | None = None) -> bool:
    """End the session ``key`` (only if it is ``user_id``'s, when given);
    False when there was none. Its sockets close at once."""
    found = await uow.session.get(WebSession, key)
    if found is None or (user_id is not None and found.user_id != user_id):
        return False
    await uow.session.execute(delete(WebSession).where(WebSession.id == key))
    if found.user_id is not None:
        _notify(uow, found.user_id)
    return True


async def do_end_sessions(uow: UnitOfWork, user_id: int, *, keep: str | None = None) -> int:
    """End every session of ``user_id`` but ``keep``; returns how many ended.

    Records the :class:`UserChanged` that closes their sockets.
    """
    stmt = delete(WebSession).where(WebSession.user_id == user_id)
    if keep is not None:
        stmt = stmt.where(WebSession.id != keep)
    result = await uow.session.execute(stmt)
    _notify(uow, user_id)
    return int(getattr(result, "rowcount", 0) or 0)


async def active_sessions(
    session: AsyncSession, user_id: int, max_age: int, now: datetime | None = None
) -> list[WebSession]:
    """``user_id``'s live sessions, the most recently seen first."""
    since = (now or utcnow()) - timedelta(seconds=max_age)
    rows = await session.scalars(
        select(WebSession)
        .where(WebSession.user_id == user_id, WebSession.last_seen > since)
        .order_by(WebSession.last_seen.desc(), WebSession.created_at.desc())
    )
    return list(rows.all())


async def do_prune(uow: UnitOfWork, max_age: int, now: datetime | None = None) -> int:
    """Delete the expired sessions (housekeeping); returns how many went."""
    now = now or utcnow()
    result = await uow.session.execute(
        delete(WebSession).where(
            or_(
                WebSession.last_seen <= now - lifetime(1, max_age),
                (WebSession.user_id.is_(None))
                & (WebSession.last_seen <= now - lifetime(None, max_age)),
            )
        )
    )
    return int(getattr(result, "rowcount", 0) or 0)
