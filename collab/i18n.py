"""Translations: English message ids, an Italian catalog, Italian by default.

Catalogs are the ``.po`` files under ``collab/translations``; they are
compiled in memory at start-up, so no binary ``.mo`` file is kept in the repo.
Domain code marks its user-facing messages with :func:`N_` and the web layer
translates them with the request's locale.
"""

from __future__ import annotations

import gettext
import io
from functools import cache
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

__all__ = ["LOCALES", "N_", "translations"]

LOCALES = ("it", "en")
CATALOG_DIR = Path(__file__).parent / "translations"


def N_(message: str) -> str:
    """Mark ``message`` for extraction; it is translated where it is shown."""
    return message


@cache
def translations(locale: str) -> gettext.NullTranslations:
    """The compiled catalog for ``locale`` (English is the source language)."""
    path = CATALOG_DIR / locale / "LC_MESSAGES" / "messages.po"
    if locale == "en" or not path.exists():
        return gettext.NullTranslations()
    with path.open("rb") as fp:
        catalog = read_po(fp, locale=locale)
    buf = io.BytesIO()
    write_mo(buf, catalog)
    buf.seek(0)
    return Translations(buf)
