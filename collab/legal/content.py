"""What a legal page says: its texts rendered safe, its placeholders, its fields.

A page that nobody has saved yet shows collab's **template text**
(``collab/legal/defaults/<kind>.<locale>.md``): complete in structure, with
``[da completare: ...]`` (``[to be completed: ...]`` in English) wherever the
administration must put its own facts (the controller's name, the DPO's
contact...). A page is a template for as long as any such marker is left in
either text, or, for the accessibility statement, a required field is empty:
the page then says so in a banner, and the markers are highlighted.

Domain code: no Starlette here.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import Any

from collab.i18n import N_
from collab.legal.models import LegalKind, LegalPage, LegalPageRevision
from collab.markup import render_markdown, sanitize_html
from collab.models import User

__all__ = [
    "ASSESSMENT_LABELS",
    "CONFORMITY_LABELS",
    "CONFORMITY_SENTENCES",
    "MAX_TEXT",
    "PLACEHOLDER",
    "Assessment",
    "Conformity",
    "LegalView",
    "Statement",
    "count_placeholders",
    "render_text",
    "template_text",
    "view_of",
    "view_of_revision",
]

MAX_TEXT = 40_000  # characters per language: the longest privacy notices are half that
# A placeholder left for the administration, in either language.
PLACEHOLDER = re.compile(r"\[(?:da completare|to be completed):[^\]\n]*\]")
DEFAULTS = Path(__file__).resolve().parent / "defaults"


def render_text(source: str) -> str:
    """Markdown to safe HTML, with every placeholder in a ``<mark>``.

    The marks are added to sanitized HTML and the result is sanitized again
    (with ``mark`` allowed): a marker inside a link's title stays plain text.
    """
    html = render_markdown(source)
    marked = PLACEHOLDER.sub(lambda m: f"<mark>{m.group(0)}</mark>", html)
    return sanitize_html(marked, extra_tags=frozenset({"mark"}))


def count_placeholders(*sources: str) -> int:
    return sum(len(PLACEHOLDER.findall(source)) for source in sources)


@cache
def template_text(kind: LegalKind, locale: str) -> str:
    """collab's template text of ``kind`` in ``locale`` (``it`` or ``en``)."""
    return (DEFAULTS / f"{kind.value}.{locale}.md").read_text(encoding="utf-8")


@cache
def _template_html(kind: LegalKind, locale: str) -> str:
    return render_text(template_text(kind, locale))


# --- the accessibility statement's fields (AgID's model) ----------------------------


class Conformity(enum.StrEnum):
    """How far the site meets the requirements (UNI CEI EN 301549, WCAG 2.1 AA)."""

    COMPLIANT = "compliant"
    PARTIAL = "partially_compliant"
    NON_COMPLIANT = "non_compliant"


class Assessment(enum.StrEnum):
    """How the conformity was assessed."""

    SELF = "self"
    THIRD_PARTY = "third_party"


CONFORMITY_LABELS: dict[Conformity, str] = {
    Conformity.COMPLIANT: N_("compliant"),
    Conformity.PARTIAL: N_("partially compliant"),
    Conformity.NON_COMPLIANT: N_("not compliant"),
}
CONFORMITY_SENTENCES: dict[Conformity, str] = {
    Conformity.COMPLIANT: N_(
        "This website is compliant with the requirements of Annex A to the UNI CEI EN "
        "301549 standard (WCAG 2.1, level AA), as Law 4/2004 and AgID's guidelines require."
    ),
    Conformity.PARTIAL: N_(
        "This website is partially compliant with the requirements of Annex A to the UNI "
        "CEI EN 301549 standard (WCAG 2.1, level AA), because of the non-conformities "
        "listed below."
    ),
    Conformity.NON_COMPLIANT: N_(
        "This website is not compliant with the requirements of Annex A to the UNI CEI EN "
        "301549 standard (WCAG 2.1, level AA): the non-conformities are listed below."
    ),
}
ASSESSMENT_LABELS: dict[Assessment, str] = {
    Assessment.SELF: N_("a self-assessment made directly by the administration"),
    Assessment.THIRD_PARTY: N_("an assessment made by a third party"),
}


def _date(value: Any) -> date | None:
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            return None
    return None


def _choice(kind: type[enum.StrEnum], value: Any) -> Any:
    return kind(value) if value in {m.value for m in kind} else None


@dataclass(frozen=True)
class Statement:
    """The accessibility statement's fields besides its text.

    ``agid_url``: the statement as published on AgID's platform
    (form.agid.gov.it), where administrations must also file it.
    """

    conformity: Conformity | None = None
    drafted_on: date | None = None
    reviewed_on: date | None = None
    assessment: Assessment | None = None
    feedback_email: str = ""
    feedback_url: str = ""
    agid_url: str = ""

    @classmethod
    def from_facts(cls, facts: Mapping[str, Any]) -> Statement:
        """Read back what :meth:`to_facts` stored (anything unreadable is left empty)."""
        return cls(
            conformity=_choice(Conformity, facts.get("conformity")),
            drafted_on=_date(facts.get("drafted_on")),
            reviewed_on=_date(facts.get("reviewed_on")),
            assessment=_choice(Assessment, facts.get("assessment")),
            feedback_email=str(facts.get("feedback_email") or ""),
            feedback_url=str(facts.get("feedback_url") or ""),
            agid_url=str(facts.get("agid_url") or ""),
        )

    def to_facts(self) -> dict[str, Any]:
        return {
            "conformity": self.conformity.value if self.conformity else None,
            "drafted_on": self.drafted_on.isoformat() if self.drafted_on else None,
            "reviewed_on": self.reviewed_on.isoformat() if self.reviewed_on else None,
            "assessment": self.assessment.value if self.assessment else None,
            "feedback_email": self.feedback_email,
            "feedback_url": self.feedback_url,
            "agid_url": self.agid_url,
        }

    @property
    def missing(self) -> list[str]:
        """The fields AgID's model requires that are still empty (by name)."""
        needed = {
            "conformity": self.conformity is not None,
            "drafted_on": self.drafted_on is not None,
            "assessment": self.assessment is not None,
            "feedback": bool(self.feedback_email or self.feedback_url),
        }
        return [name for name, present in needed.items() if not present]


# --- one page as the templates show it ---------------------------------------------


@dataclass(frozen=True)
class LegalView:
    """A legal page as shown: a saved version, or the template text (version 0)."""

    kind: LegalKind
    body_it: str
    html_it: str
    body_en: str
    html_en: str
    facts: dict[str, Any] = field(default_factory=dict)
    version: int = 0  # 0: never saved, the template text
    updated_at: datetime | None = None
    updated_by: User | None = None  # None with a version: saved by the system

    @property
    def saved(self) -> bool:
        return self.version > 0

    @property
    def statement(self) -> Statement | None:
        if self.kind is not LegalKind.ACCESSIBILITY:
            return None
        return Statement.from_facts(self.facts)

    @property
    def placeholders(self) -> int:
        return count_placeholders(self.body_it, self.body_en)

    @property
    def is_template(self) -> bool:
        """Still to be completed by the administration (the banner's condition)."""
        statement = self.statement
        return self.placeholders > 0 or (statement is not None and bool(statement.missing))

    def html_for(self, locale: str) -> tuple[str, str]:
        """The text to show with the UI in ``locale``, and its language: the
        English one when the UI is English and there is one, else the Italian."""
        if locale == "en" and self.body_en.strip():
            return self.html_en, "en"
        return self.html_it, "it"


def view_of(kind: LegalKind, page: LegalPage | None) -> LegalView:
    """The view of ``kind``'s saved ``page``, or of its template text when None."""
    if page is None:
        return LegalView(
            kind,
            template_text(kind, "it"), _template_html(kind, "it"),
            template_text(kind, "en"), _template_html(kind, "en"),
        )  # fmt: skip
    return LegalView(
        kind, page.body_it, page.html_it, page.body_en, page.html_en, dict(page.facts),
        page.version, page.updated_at, page.updated_by,
    )  # fmt: skip


def view_of_revision(kind: LegalKind, revision: LegalPageRevision) -> LegalView:
    """The view of a previous version, as it was shown while it was current."""
    return LegalView(
        kind, revision.body_it, revision.html_it, revision.body_en, revision.html_en,
        dict(revision.facts), revision.version, revision.created_at, revision.edited_by,
    )  # fmt: skip
