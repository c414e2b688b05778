"""Frames of a theme's forms library (topics ``library:N``), once per event and locale.

:class:`LibraryFrames` renders ``document.*`` events (registered by
:mod:`collab.documents.live`). ``prepare`` loads the document and its current
file once per event per process; every reader sees the same row (nothing in
it depends on who looks), so the variant is the locale alone. ``render`` puts
the row (``documents/_document_row.html``) in its place in the theme page's
list and, when the event is a new version, the version
(``documents/_version_row.html``) at the top of the document page's list:

    <template data-topic="library:3" data-seq="7" data-announce="..."></template>
    <template data-op="place" data-target="[data-document-list=&#34;library:3&#34;]"
              data-id="document-12">...</template>
    <template data-op="place" data-target="#document-12-versions" data-id="file-40">...</template>

Both lists are kept in order by ``data-live-sort="activity"`` (``live.js``).
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any

from collab.db import Database
from collab.documents.library import Entry, load_entry
from collab.i18n import N_, translations
from collab.realtime.frames import frame, op
from collab.realtime.log import LoggedEvent
from collab.templating import Templates

__all__ = ["DOCUMENT_ADDED", "DOCUMENT_VERSIONED", "LibraryFrames", "LibraryPrepared"]

DOCUMENT_ADDED = N_("New document: %(title)s")
DOCUMENT_VERSIONED = N_("New version of %(title)s")


@dataclass(frozen=True)
class LibraryPrepared:
    item: LoggedEvent
    entry: Entry | None


class LibraryFrames:
    def __init__(self, templates: Templates, database: Database) -> None:
        self.templates = templates
        self.db = database

    async def prepare(self, item: LoggedEvent) -> LibraryPrepared:
        document_id = item.event.get("document_id")
        if not isinstance(document_id, int):
            return LibraryPrepared(item, None)
        async with self.db.session() as session:
            return LibraryPrepared(item, await load_entry(session, document_id))

    def basis(self, prepared: LibraryPrepared) -> Hashable:
        return "library"

    def variant(self, prepared: LibraryPrepared, subscriber: Any) -> Hashable:
        locale: str = subscriber.locale
        return (locale,)

    def render(self, prepared: LibraryPrepared, variant: Hashable) -> str:
        assert isinstance(variant, tuple)
        (locale,) = variant
        item = prepared.item
        ops: list[str] = []
        announce = ""
        entry = prepared.entry
        if entry is not None:
            document = entry.document
            gettext = translations(locale).gettext
            versioned = item.event.get("type") == "document.versioned"
            announce = gettext(DOCUMENT_VERSIONED if versioned else DOCUMENT_ADDED) % {
                "title": document.title
            }
            row = self._render("documents/_document_row.html", locale, entry=entry)
            lists = f'[data-document-list="{item.topic}"]'
            ops.append(op("place", lists, f"document-{document.id}", row))
            # An old replay's version may not be current any more: the document
            # page already lists it, or shows it after a reload.
            stored = entry.current
            if versioned and stored is not None and stored.version == item.event.get("version"):
                html = self._render(
                    "documents/_version_row.html", locale, stored=stored, document=document
                )
                target = f"#document-{document.id}-versions"
                ops.append(op("place", target, f"file-{stored.id}", html))
        return frame(item, announce, ops)

    def _render(self, template: str, locale: str, **context: Any) -> str:
        # A pushed fragment carries no CSRF token nor per-user controls.
        base: dict[str, Any] = {"csrf_token": "", "htmx": True, "user": None}
        return self.templates.render(template, locale, {**base, **context})
