"""The rows of a consultation's list, each rendered once per process, locale and content.

A consultation's page shows up to 50 rows, the same for every reader (staff
and the comuni of its zones see one list), and a row changes only when its
contribution does; rendering them was most of the page's time. The row is
the macro ``contribution_row`` of ``consultations/_macros.html``, rendered
here for the page and for the live push alike, and kept under
:func:`row_key`: the locale and every value the macro shows. A kept row is
therefore never stale: any change makes a new key, and the old entry ages
out of the LRU. Whoever makes the row show something more must add it to
the key.

With templates that reload (development), nothing is kept.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable, Sequence
from weakref import WeakKeyDictionary

from jinja2 import Environment
from markupsafe import Markup

from collab.consultations.queries import ContributionRow, ContributionView
from collab.i18n import LOCALES
from collab.templating import Templates

__all__ = ["MAX_ROWS", "rendered_row", "rendered_rows", "row_key"]

# Rows kept per process (about half a KB each): the pages of the few
# consultations open at a time, in every locale, with room to spare.
MAX_ROWS = 4000

_kept: WeakKeyDictionary[Templates, OrderedDict[Hashable, Markup]] = WeakKeyDictionary()


def row_key(locale: str, item: ContributionRow | ContributionView) -> Hashable:
    """Everything the row shows, with the locale it is written in."""
    c = item.contribution
    return (
        locale, c.id, c.consultation_id, c.number, c.comune.name, c.status,
        c.submitted_at, c.version, c.updated_at, item.file_count,
    )  # fmt: skip


def rendered_row(
    templates: Templates, locale: str, item: ContributionRow | ContributionView
) -> Markup:
    """The row's HTML, from the cache when the same row was rendered before."""
    env = templates.envs.get(locale) or templates.envs[LOCALES[0]]
    if env.auto_reload:
        return _render(env, item)
    kept = _kept.setdefault(templates, OrderedDict())
    key = row_key(locale, item)
    html = kept.get(key)
    if html is None:
        html = kept[key] = _render(env, item)
        if len(kept) > MAX_ROWS:
            kept.popitem(last=False)
    else:
        kept.move_to_end(key)
    return html


def _render(env: Environment, item: ContributionRow | ContributionView) -> Markup:
    # The macros' module without a context: Jinja makes it once per environment.
    row: Markup = env.get_template("consultations/_macros.html").module.contribution_row(item)  # type: ignore[attr-defined]
    return row


def rendered_rows(
    templates: Templates, locale: str, items: Sequence[ContributionRow | ContributionView]
) -> list[Markup]:
    return [rendered_row(templates, locale, item) for item in items]
