"""The audit log: one call records who did what to which object."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from collab.models import AuditLog, User

__all__ = ["audit"]


def audit(
    session: AsyncSession,
    actor: User | None,
    action: str,
    obj: Any,
    **detail: Any,
) -> None:
    """Add an audit row to the current transaction (it commits with the change)."""
    session.add(
        AuditLog(
            actor_id=actor.id if actor is not None else None,
            action=action,
            object_type=type(obj).__tablename__ if hasattr(obj, "__tablename__") else str(obj),
            object_id=str(getattr(obj, "id", "") or ""),
            detail=detail,
        )
    )
