"""Open data: a consultation's contributions as CSV and JSON, without personal data
unless the consultation publishes them.

What a comune sent is an act of the comune, published as such: its receipt
number, comune (ISTAT code and name), status, text, answer, times and the names
and SHA-256 of its files. Who sent it is personal data: ``sent_by`` (the name)
and ``sent_as`` (sindaco, portavoce or delegate) are filled only when the
consultation was opened with ``publish_names``, which every form that sends a
version says. The columns are always there, so every consultation's data has
the same shape. E-mail addresses are never exported.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from collab.consultations.queries import ConsultationView, ContributionView
from collab.models import Role, User, Zone

__all__ = ["COLUMNS", "as_csv", "as_json"]

COLUMNS = (
    "receipt", "comune_istat", "comune", "zone", "status", "version", "submitted_at",
    "updated_at", "text", "answer", "answered_at", "sent_by", "sent_as", "files",
)  # fmt: skip
# Spreadsheets run a cell that starts with these as a formula (CSV injection).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def _sent_as(user: User, comune_id: int) -> str:
    """What ``user`` sent a comune's contribution as: its sindaco or portavoce, or a delegate."""
    if user.comune_id == comune_id and user.role in (Role.SINDACO, Role.PORTAVOCE):
        return user.role.value
    return "delegate"


def _record(item: ContributionView, zones: dict[int, Zone], publish_names: bool) -> dict[str, Any]:
    c = item.contribution
    zone = zones.get(c.comune.zone_id)
    sender = item.current.created_by
    return {
        "receipt": item.receipt,
        "comune_istat": c.comune.istat_code,
        "comune": c.comune.name,
        "zone": zone.number if zone else None,
        "status": c.status.value,
        "version": c.version,
        "submitted_at": _iso(c.submitted_at),
        "updated_at": _iso(c.updated_at),
        "text": item.current.body_source,
        "answer": c.answer_source or None,
        "answered_at": _iso(c.answered_at),
        "sent_by": sender.name if publish_names else None,
        "sent_as": _sent_as(sender, c.comune_id) if publish_names else None,
        "files": [
            {"name": f.name, "content_type": f.content_type, "size": f.size, "sha256": f.sha256}
            for f in item.files
        ],
    }


def as_json(view: ConsultationView) -> dict[str, Any]:
    zones = {z.id: z for z in view.zones}
    c = view.consultation
    return {
        "consultation": {
            "id": c.id, "title": c.title, "deadline": _iso(c.deadline),
            "zones": [{"number": z.number, "name": z.name} for z in view.zones],
            "themes": [t.name for t in view.themes], "publish_names": c.publish_names,
        },
        "contributions": [_record(item, zones, c.publish_names) for item in view.contributions],
    }  # fmt: skip


def _cell(value: Any) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


def as_csv(view: ConsultationView) -> str:
    """UTF-8 text with a BOM (spreadsheets then read accents right), ``;``-separated."""
    zones = {z.id: z for z in view.zones}
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for item in view.contributions:
        record = _record(item, zones, view.consultation.publish_names)
        record["files"] = " | ".join(f"{f['name']} (sha256 {f['sha256']})" for f in record["files"])
        writer.writerow([_cell(record[column]) for column in COLUMNS])
    return "\ufeff" + out.getvalue()
