"""Shared set-up for meetings of voting bodies: a body, and a meeting of it."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from collab.db import Database
from collab.meetings import actions
from collab.meetings.bodies import BodyForm, MemberLine, do_create_body
from collab.meetings.convocation import AgendaLine, Convocation
from collab.meetings.models import Meeting, VotingBody
from collab.models import Theme, User, utcnow
from tests.meetings.scene import zone_ids

__all__ = ["body_meeting", "make_body"]


async def make_body(
    db: Database, name: str, *, zones: tuple[int, ...] = (),
    people: tuple[tuple[User, str], ...] = (), **rules: Any,
) -> VotingBody:  # fmt: skip
    """A body of the comuni of ``zones`` (numbers), or of ``people`` (user, title)."""
    form = BodyForm(
        name=name, kind="people" if people else "comuni", zone_ids=await zone_ids(db, *zones),
        members=[MemberLine(user.email, title) for user, title in people],
    )  # fmt: skip
    async with db.transaction() as uow:
        return await do_create_body(uow, None, replace(form, **rules))


async def body_meeting(
    db: Database, by: User, body: VotingBody, zones: tuple[int, ...] = (), **heading: Any
) -> Meeting:
    """A meeting of ``body`` convened by ``by`` (zones: besides the body's own)."""
    async with db.session() as session:
        themes = list(await session.scalars(select(Theme).order_by(Theme.position).limit(2)))
    form = Convocation(
        title=f"Seduta: {body.name}", zone_ids=await zone_ids(db, *zones),
        starts_at=utcnow() + timedelta(hours=1),
        items=[AgendaLine(f"Punto {n + 1}: {t.name}", t.id, 20) for n, t in enumerate(themes)],
        place="Sala del Consiglio metropolitano, Torino", body_id=body.id, **heading,
    )  # fmt: skip
    async with db.transaction() as uow:
        return await actions.do_convene(uow, by, form)
