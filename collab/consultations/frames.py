"""Frames of consultation events, once per event and locale.

A consultation event goes to the consultation's topic (``consultation:N``:
its page) and to the board of every zone it addresses (``zone:N``: the zone
page's list of consultations). ``prepare`` loads the consultation (and the
contribution) once per event per process; every viewer of a topic sees the
same rows, so the only variant is the locale:

    <template data-topic="consultation:3" data-seq="7" data-announce="..."></template>
    <template data-op="append" data-target="#contributions" data-id="contribution-9">...</template>
    <template data-op="replace" data-target="#consultation-summary" ...>...</template>
    <template data-op="replace" data-target="#awaited-count" ...>...</template>
    <template data-op="replace" data-target="#awaited-list" ...>...</template>

The comuni still awaited are pushed only after a new contribution or a change
of the consultation, the only events that change them. When staff change the
consultation (``consultation.updated``), its heading (``#consultation-title``)
and what it asks with its drafts (``#consultation-ask``) are replaced too.
A contribution's change of state also replaces, on the contribution's own page
(which follows the same topic), its badge (``#contribution-status-N``), the
answer (``#contribution-answer-N``) and, once answered, the comune's edit form
(``#contribution-edit-N``, only where the page shows it).
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any

from collab.consultations.models import STATUS_LABELS, Consultation
from collab.consultations.queries import (
    ConsultationView,
    ContributionView,
    awaited_comuni,
    contribution_view,
    views_of,
)
from collab.consultations.rows import rendered_row
from collab.db import Database
from collab.documents.files import files_of
from collab.i18n import N_, translations
from collab.models import utcnow
from collab.realtime.frames import frame, op
from collab.realtime.log import LoggedEvent
from collab.templating import Templates

__all__ = ["ConsultationFrames", "ConsultationPrepared"]

NEW_CONTRIBUTION = N_("New contribution from %(comune)s")
CHANGED_CONTRIBUTION = N_("%(comune)s changed its contribution")
REVIEWED_CONTRIBUTION = N_("The contribution of %(comune)s is now: %(status)s")
# The events that change which comuni are awaited (a new contribution) or how
# they are called (an extension may reopen the consultation): only these load
# the list and push it; a review or an edit leaves it as it was.
AWAITED_CHANGES = frozenset({"contribution.submitted", "consultation.updated"})


@dataclass(frozen=True)
class ConsultationPrepared:
    item: LoggedEvent
    view: ConsultationView | None
    contribution: ContributionView | None = None


class ConsultationFrames:
    def __init__(self, templates: Templates, database: Database) -> None:
        self.templates = templates
        self.db = database

    async def prepare(self, item: LoggedEvent) -> ConsultationPrepared:
        event = item.event
        async with self.db.session() as session:
            consultation = await session.get(Consultation, event.get("consultation_id"))
            if consultation is None:
                return ConsultationPrepared(item, None)
            (view,) = await views_of(session, [consultation])
            contribution = None
            if item.topic.startswith("consultation:"):
                if event.get("type") in AWAITED_CHANGES:
                    await awaited_comuni(session, view)
                if event.get("type") == "consultation.updated":  # its text and drafts too
                    view.drafts = (await files_of(session, "consultation_id", [consultation.id]))[
                        consultation.id
                    ]
                if "contribution_id" in event:
                    contribution = await contribution_view(session, event["contribution_id"])
        return ConsultationPrepared(item, view, contribution)

    def basis(self, prepared: ConsultationPrepared) -> Hashable:
        return prepared.item.topic.partition(":")[0]

    def variant(self, prepared: ConsultationPrepared, subscriber: Any) -> Hashable:
        return (subscriber.locale,)

    def render(self, prepared: ConsultationPrepared, variant: Hashable) -> str:
        assert isinstance(variant, tuple)
        locale: str = variant[0]
        item, view = prepared.item, prepared.view
        ops: list[str] = []
        announce = ""
        if view is not None:
            context = {"view": view, "now": utcnow()}
            if item.topic.startswith("zone:"):
                card_id = f"consultation-card-{view.consultation.id}"
                html = self._render("consultations/_card.html", locale, **context)
                ops.append(op("place", f'[data-consultation-list="{item.topic}"]', card_id, html))
            else:
                summary = self._render("consultations/_summary.html", locale, **context)
                ops.append(op("replace", "#consultation-summary", "consultation-summary", summary))
                if item.event["type"] == "consultation.updated":
                    heading = self._render("consultations/_title.html", locale, **context)
                    ops.append(op("replace", "#consultation-title", "consultation-title", heading))
                    ask = self._render("consultations/_ask.html", locale, **context)
                    ops.append(op("replace", "#consultation-ask", "consultation-ask", ask))
                if item.event["type"] in AWAITED_CHANGES:
                    for part in ("count", "list"):
                        template = f"consultations/_awaited_{part}.html"
                        html = self._render(template, locale, **context)
                        ops.append(op("replace", f"#awaited-{part}", f"awaited-{part}", html))
                announce = self._contribution_ops(prepared, locale, ops)
        return frame(item, announce, ops)

    def _contribution_ops(self, prepared: ConsultationPrepared, locale: str, ops: list[str]) -> str:
        """The contribution's row on the consultation page; the announcement for it."""
        found = prepared.contribution
        if found is None:
            return ""
        element_id = f"contribution-{found.contribution.id}"
        html: str = rendered_row(self.templates, locale, found)  # the page's row, kept too
        kind = prepared.item.event["type"]
        ops.append(op("append" if kind == "contribution.submitted" else "replace",
                       "#contributions", element_id, html))  # fmt: skip
        if kind != "contribution.submitted":
            # The contribution's own page: its state, the answer and, once
            # answered, the comune's edit form (where shown) closed.
            contribution = found.contribution
            for part in ("status", "answer"):
                html = self._render("consultations/_contribution_state.html", locale,
                                    contribution=contribution, part=part)  # fmt: skip
                target = f"contribution-{part}-{contribution.id}"
                ops.append(op("replace", f"#{target}", target, html))
            if contribution.status.answered:
                html = self._render("consultations/_contribution_closed.html", locale,
                                    contribution=contribution)  # fmt: skip
                target = f"contribution-edit-{contribution.id}"
                ops.append(op("replace", f"#{target}", target, html))
        gettext = translations(locale).gettext
        comune = found.contribution.comune.name
        if kind == "contribution.answered":
            status = gettext(STATUS_LABELS[found.contribution.status])
            return gettext(REVIEWED_CONTRIBUTION) % {"comune": comune, "status": status}
        msgid = NEW_CONTRIBUTION if kind == "contribution.submitted" else CHANGED_CONTRIBUTION
        return gettext(msgid) % {"comune": comune}

    def _render(self, template: str, locale: str, **context: Any) -> str:
        base: dict[str, Any] = {"csrf_token": "", "htmx": True, "user": None}
        return self.templates.render(template, locale, {**base, **context})
