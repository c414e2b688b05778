"""Models to JSON-safe dicts for the API. Pure: no queries, no requests.

Nothing here emits personal data: no user ids, names or emails, only the
objects themselves and the comuni they speak for.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from collab.consultations.models import Consultation, Contribution
from collab.documents.models import Document, StoredFile
from collab.models import Comune, Theme, Zone
from collab.search.engine import Hit

__all__ = [
    "JSON",
    "comune_json",
    "consultation_json",
    "contribution_json",
    "document_json",
    "file_json",
    "hit_json",
    "iso",
    "receipt",
    "theme_json",
    "zone_json",
]

JSON = dict[str, Any]


def iso(value: datetime | None) -> str | None:
    """``value`` as ISO 8601 in UTC with a ``Z`` suffix (None stays None)."""
    if value is None:
        return None
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def zone_json(zone: Zone) -> JSON:
    """``name`` is the canonical (Italian) name; ``name_en`` the English one, or null."""
    return {"id": zone.id, "number": zone.number, "name": zone.name, "name_en": zone.name_en}


def theme_json(theme: Theme) -> JSON:
    """``name`` is the canonical (Italian) name; ``name_en`` the English one, or null."""
    return {"id": theme.id, "slug": theme.slug, "name": theme.name, "name_en": theme.name_en}


def comune_json(comune: Comune) -> JSON:
    return {"id": comune.id, "istat_code": comune.istat_code, "name": comune.name}


def file_json(stored: StoredFile) -> JSON:
    """A stored file and its download URL (the ``/files/{id}/{name}`` route)."""
    return {
        "id": stored.id,
        "name": stored.name,
        "content_type": stored.content_type,
        "size": stored.size,
        "sha256": stored.sha256,
        "url": f"/files/{stored.id}/{quote(stored.name)}",
    }


def receipt(consultation_id: int, number: int) -> str:
    """The receipt a comune is given on submission, e.g. ``12-0003``."""
    return f"{consultation_id}-{number:04d}"


def consultation_json(
    consultation: Consultation,
    *,
    zones: Sequence[Zone],
    themes: Sequence[Theme],
    contribution_count: int,
    now: datetime,
) -> JSON:
    """The summary shown in lists; the detail adds ``body_html`` and ``documents``."""
    return {
        "id": consultation.id,
        "title": consultation.title,
        "deadline": iso(consultation.deadline),
        "open": consultation.open_at(now),
        "publish_names": consultation.publish_names,
        "edited_at": iso(consultation.edited_at),
        "zones": [zone_json(z) for z in zones],
        "themes": [theme_json(t) for t in themes],
        "contribution_count": contribution_count,
        "url": f"/consultations/{consultation.id}",
    }


def contribution_json(
    contribution: Contribution, body_html: str, files: Sequence[StoredFile]
) -> JSON:
    """A contribution with the text and files of its current version."""
    return {
        "id": contribution.id,
        "number": contribution.number,
        "receipt": receipt(contribution.consultation_id, contribution.number),
        "comune": comune_json(contribution.comune),
        "status": contribution.status.value,
        "version": contribution.version,
        "submitted_at": iso(contribution.submitted_at),
        "updated_at": iso(contribution.updated_at),
        "answered_at": iso(contribution.answered_at),
        "answer_html": contribution.answer_html,
        "body_html": body_html,
        "documents": [file_json(f) for f in files],
    }


def document_json(document: Document, versions: Sequence[StoredFile]) -> JSON:
    """A library document, its current file and every version (oldest first)."""
    current = next((f for f in versions if f.version == document.version), None)
    return {
        "id": document.id,
        "title": document.title,
        "description": document.description,
        "version": document.version,
        "updated_at": iso(document.updated_at),
        "current": file_json(current) if current is not None else None,
        "versions": [
            {
                "version": f.version,
                "note": f.note,
                "created_at": iso(f.created_at),
                "file": file_json(f),
            }
            for f in versions
        ],
    }


def hit_json(hit: Hit, places: dict[str, dict[int, JSON]]) -> JSON:
    """A search result; ``places``: the zones, themes and comuni of the page by id.

    ``snippet_html`` is HTML: the item's text escaped, the words found in
    ``<mark>`` tags (empty for an item without text, a thread's title).
    """
    return {
        "kind": hit.kind,
        "id": hit.object_id,
        "title": hit.title,
        "context": hit.context,
        "url": hit.url,
        "created_at": iso(hit.created_at),
        "zone": places["zone"].get(hit.zone_id) if hit.zone_id is not None else None,
        "theme": places["theme"].get(hit.theme_id) if hit.theme_id is not None else None,
        "comune": places["comune"].get(hit.comune_id) if hit.comune_id is not None else None,
        "snippet_html": hit.snippet,
    }
