"""Shared set-up for meeting tests: convene a meeting of the world's zones."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from collab.db import Database
from collab.meetings import actions
from collab.meetings.actions import AgendaLine, Convocation
from collab.meetings.models import Meeting
from collab.models import Comune, Theme, User, Zone, utcnow

__all__ = ["comune_id", "convene", "zone_ids"]


async def zone_ids(db: Database, *numbers: int) -> list[int]:
    async with db.session() as session:
        rows = await session.scalars(select(Zone.id).where(Zone.number.in_(numbers)))
        return sorted(rows)


async def comune_id(db: Database, istat: str) -> int:
    async with db.session() as session:
        value = await session.scalar(select(Comune.id).where(Comune.istat_code == istat))
        assert value is not None, istat
        return value


async def convene(
    db: Database,
    by: User,
    zones: tuple[int, ...] = (5,),
    *,
    items: int = 3,
    public: bool = False,
    quorum: int | None = None,
    title: str = "Giornata di sintesi",
) -> Meeting:
    """A meeting of ``zones`` (numbers) convened by ``by``, with ``items`` agenda items."""
    async with db.session() as session:
        themes = list(await session.scalars(select(Theme).order_by(Theme.position).limit(items)))
    form = Convocation(
        title=title,
        zone_ids=await zone_ids(db, *zones),
        starts_at=utcnow() + timedelta(hours=1),
        items=[AgendaLine(f"Punto {n + 1}: {t.name}", t.id, 20) for n, t in enumerate(themes)],
        place="Sala del Consiglio, Pinerolo",
        video_url="https://meet.example.org/zo5",
        quorum=quorum,
        public=public,
        materials=[("Bozza del parere", "https://www.cittametropolitana.torino.it/psm.pdf")],
    )
    async with db.transaction() as uow:
        return await actions.do_convene(uow, by, form)
