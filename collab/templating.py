"""Jinja2 environments, one per locale, with the filters the templates use."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_datetime, format_timedelta
from babel.numbers import format_decimal
from jinja2 import Environment, FileSystemLoader, select_autoescape

from collab.i18n import LOCALES, translations
from collab.settings import DEFAULT_UPLOAD_MAX_BYTES

__all__ = ["ROME", "STATIC_DIR", "TEMPLATE_DIR", "Templates", "local_time"]

TEMPLATE_DIR = Path(__file__).resolve().parent.parent / "templates"
STATIC_DIR = Path(__file__).resolve().parent.parent / "static"
ROME = ZoneInfo("Europe/Rome")


def local_time(value: datetime | None, fmt: str, locale: str) -> str:
    """``value`` (aware) as people in Turin read it, in ``locale`` (Babel pattern ``fmt``)."""
    if value is None:
        return ""
    return format_datetime(value.astimezone(ROME), format=fmt, locale=locale)


def file_size(size: int, locale: str) -> str:
    """``532 B``, ``12 kB``, ``3,4 MB`` (units of 1024, as the size limit is given)."""
    for unit, scale in (("GB", 1024**3), ("MB", 1024**2), ("kB", 1024)):
        if size >= scale:
            return f"{format_decimal(round(size / scale, 1), locale=locale)} {unit}"
    return f"{size} B"


class Templates:
    """Renders a template in a locale. Pure: knows nothing of requests.

    ``extras`` are what the features add for their templates (globals, and
    filters under ``filters``): :func:`collab.features.template_extras`.
    ``reload``: look at each template's file on every use and recompile it
    when it changed (development); off, a template is read once per process,
    and every ``get_template`` and ``{% import %}`` is a dictionary look-up
    instead of a ``stat`` of the file.
    """

    def __init__(
        self,
        directory: Path = TEMPLATE_DIR,
        upload_max_bytes: int = DEFAULT_UPLOAD_MAX_BYTES,
        extras: Mapping[str, Any] | None = None,
        *,
        reload: bool = False,
    ) -> None:
        self.envs = {locale: self._make_env(directory, locale, reload) for locale in LOCALES}
        extras = dict(extras or {})
        filters = extras.pop("filters", {})
        for env in self.envs.values():
            # Upload forms state the limit, in pages and in pushed fragments alike.
            env.globals["upload_max_bytes"] = upload_max_bytes
            env.globals.update(extras)
            env.filters.update(filters)

    @staticmethod
    def _make_env(directory: Path, locale: str, reload: bool) -> Environment:
        env = Environment(
            loader=FileSystemLoader(directory),
            auto_reload=reload,
            autoescape=select_autoescape(["html", "xml"]),
            extensions=["jinja2.ext.i18n"],
            trim_blocks=True,
            lstrip_blocks=True,
        )
        env.install_gettext_translations(translations(locale), newstyle=True)  # type: ignore[attr-defined]

        # Minutes are enough for people; the exact instant is in <time datetime>.
        def when(value: datetime | None, fmt: str = "d MMM y, HH:mm") -> str:
            return local_time(value, fmt, locale)

        env.filters["when"] = when
        env.filters["day"] = lambda v, fmt="d MMMM y": format_date(v, fmt, locale) if v else ""
        # A period from the settings, in words: "14 giorni", "15 minutes".
        env.filters["duration"] = lambda seconds: format_timedelta(
            timedelta(seconds=seconds), threshold=1.0, locale=locale
        )
        env.filters["isotime"] = lambda v: v.isoformat() if v else ""
        env.filters["filesize"] = lambda n: file_size(n, locale)
        env.filters["number"] = lambda n: format_decimal(n, locale=locale)  # 1.000 / 1,000
        # A theme's or zone's name in this locale (its English name when set).
        env.filters["localized"] = lambda named: named.label(locale)
        env.globals["locale"] = locale
        return env

    def warm(self) -> int:
        """Compile every template of every locale now; how many were compiled.

        Run once as a worker starts, so that its first pages (which, after a
        restart, come with every page's socket rejoining) do not also wait for
        Jinja to parse and compile what they use.
        """
        count = 0
        for env in self.envs.values():
            for name in env.list_templates(filter_func=lambda n: not n.startswith(".")):
                env.get_template(name)
                count += 1
        return count

    def render(self, name: str, locale: str, context: dict[str, Any]) -> str:
        env = self.envs.get(locale) or self.envs[LOCALES[0]]
        return env.get_template(name).render(context)
