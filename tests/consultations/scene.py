"""A consultation to work with: opened by staff for zone 5 through the action."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from collab.consultations import actions
from collab.consultations.models import Consultation
from collab.db import Database
from collab.models import Theme, User, Zone, utcnow

PDF = b"%PDF-1.4\n1 0 obj\n<<>>\nendobj\ntrailer\n<<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x00" * 64
CSV = b"comune;anno;valore\nPinerolo;2026;3\n"


async def open_consultation(
    db: Database,
    staff: User,
    zones: tuple[int, ...] = (5,),
    days: float = 7,
    publish_names: bool = False,
) -> Consultation:
    """Open a consultation of the zones numbered ``zones`` with a deadline in ``days``."""
    async with db.transaction() as uow:
        zone_ids = list(await uow.session.scalars(select(Zone.id).where(Zone.number.in_(zones))))
        theme = await uow.session.scalar(select(Theme.id).order_by(Theme.position).limit(1))
        form = actions.Opening(
            title="Parere sul Piano strategico",
            body="La zona esprima il parere obbligatorio sul PSM 2027-2029.",
            deadline=utcnow() + timedelta(days=days),
            zone_ids=zone_ids,
            theme_ids=[theme] if theme else [],
            publish_names=publish_names,
        )
        return await actions.do_open(uow, staff, form, [])


async def expire(db: Database, consultation_id: int) -> None:
    """Put the deadline in the past (as time would)."""
    async with db.transaction() as uow:
        await uow.session.execute(
            update(Consultation)
            .where(Consultation.id == consultation_id)
            .values(deadline=utcnow() - timedelta(minutes=1))
        )
