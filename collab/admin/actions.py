"""Admin writes on the reference data: themes, comuni, zones, the comuni import.

Zones, comuni and themes are data an administrator edits (comuni move between
zones, themes come and go), never code. ``check_*`` validates and raises
:class:`collab.errors.ActionError`; ``do_*`` changes data inside the caller's
unit of work and writes an audit row with what was before and after.
"""

from __future__ import annotations

import re
import unicodedata

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from collab.audit import audit
from collab.db import UnitOfWork
from collab.errors import ActionError, NotFound, PermissionDenied
from collab.i18n import N_
from collab.importer import ImportReport, import_comuni, parse_population
from collab.models import Comune, Theme, User, Zone
from collab.permissions import Action, can
from collab.realtime.events import UserChanged

__all__ = [
    "check_admin",
    "check_name",
    "check_name_en",
    "check_slug",
    "do_create_theme",
    "do_import_comuni",
    "do_move_theme",
    "do_rename_zone",
    "do_set_theme_active",
    "do_update_comune",
    "do_update_theme",
    "slugify",
]

MAX_NAME = 120
MAX_SLUG = 80
SLUG_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")


def check_admin(actor: User | None) -> None:
    """Only administrators change reference data (``actor`` None: the command line)."""
    if actor is not None and not can(actor, Action.MANAGE):
        raise PermissionDenied(
            N_("Only administrators can manage users, comuni, zones and themes.")
        )


def check_name(name: str, field: str = "name") -> str:
    """A display name: spaces collapsed, 1 to 120 characters."""
    name = " ".join(name.split())
    if not name or len(name) > MAX_NAME:
        raise ActionError(N_("Enter the name (at most 120 characters)."), field=field)
    return name


def check_name_en(name: str | None, field: str = "name_en") -> str | None:
    """An optional English name: spaces collapsed, at most 120 characters; empty is None."""
    name = " ".join((name or "").split())
    if len(name) > MAX_NAME:
        raise ActionError(
            N_("Enter the English name in at most 120 characters, or leave it empty."),
            field=field,
        )
    return name or None


def slugify(name: str) -> str:
    """The URL form of a name: ``"Più verde, più sana"`` -> ``"piu-verde-piu-sana"``."""
    ascii_only = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_only.lower()).strip("-")
    # Cut at a word boundary when the name is very long.
    return slug[:MAX_SLUG].rstrip("-")


def check_slug(slug: str) -> str:
    slug = slug.strip()
    if not SLUG_RE.match(slug) or len(slug) > MAX_SLUG:
        raise ActionError(
            N_(
                "The address may contain only lowercase letters without accents, digits "
                "and single hyphens (at most 80 characters)."
            ),
            field="slug",
        )
    return slug


def _slug_taken(slug: str) -> ActionError:
    return ActionError(
        N_("The address %(slug)s is already used by another theme."), field="slug", slug=slug
    )


async def _check_theme_unique(
    uow: UnitOfWork, name: str, slug: str, theme_id: int | None, name_en: str | None = None
) -> None:
    # Themes are a few dozen at most: compare in Python, where casefold() knows
    # accents (SQLite's lower() only folds ASCII).
    others = await uow.session.scalars(select(Theme).where(Theme.id != (theme_id or 0)))
    for other in others.all():
        if other.slug == slug:
            raise _slug_taken(slug)
        if other.name.casefold() == name.casefold():
            raise ActionError(N_("A theme with this name already exists."), field="name")
        if name_en and other.name_en and other.name_en.casefold() == name_en.casefold():
            raise ActionError(N_("A theme with this English name already exists."), field="name_en")


async def _flush_theme(uow: UnitOfWork, slug: str) -> None:
    """Write now, so that a concurrent twin hits the unique slug here, as a 422."""
    try:
        await uow.session.flush()
    except IntegrityError:
        raise _slug_taken(slug) from None


async def _get_theme(uow: UnitOfWork, theme_id: int) -> Theme:
    theme = await uow.session.get(Theme, theme_id)
    if theme is None:
        raise NotFound(N_("This theme does not exist."))
    return theme


async def _ordered_themes(uow: UnitOfWork) -> list[Theme]:
    stmt = select(Theme).order_by(Theme.position, Theme.name, Theme.id)
    return list((await uow.session.scalars(stmt)).all())


async def do_create_theme(
    uow: UnitOfWork, actor: User | None, *, name: str, slug: str, name_en: str | None = None
) -> Theme:
    """A new active theme, last in order; ``slug`` empty means derived from the name."""
    check_admin(actor)
    name = check_name(name)
    english = check_name_en(name_en)
    slug = check_slug(slug or slugify(name))
    await _check_theme_unique(uow, name, slug, None, english)
    last = await uow.session.scalar(select(func.max(Theme.position)))
    theme = Theme(name=name, name_en=english, slug=slug, position=(last or 0) + 1, active=True)
    uow.session.add(theme)
    await _flush_theme(uow, slug)
    detail = {"name": name, "slug": slug, "position": theme.position}
    if english:
        detail["name_en"] = english
    audit(uow.session, actor, "theme.created", theme, **detail)
    return theme


async def do_update_theme(
    uow: UnitOfWork, actor: User | None, theme_id: int, *, name: str, slug: str,
    name_en: str | None = None,
) -> Theme:  # fmt: skip
    """Rename a theme, change its address (its threads stay where they are) or
    its English name (``name_en`` None: left as it is; "": removed)."""
    check_admin(actor)
    theme = await _get_theme(uow, theme_id)
    name = check_name(name)
    english = theme.name_en if name_en is None else check_name_en(name_en)
    slug = check_slug(slug or slugify(name))
    await _check_theme_unique(uow, name, slug, theme.id, english)
    before: dict[str, str | None] = {"name": theme.name, "slug": theme.slug}
    after: dict[str, str | None] = {"name": name, "slug": slug}
    if english != theme.name_en:  # in the audit row only when it changes
        before["name_en"], after["name_en"] = theme.name_en, english
    if before != after:
        theme.name, theme.slug, theme.name_en = name, slug, english
        await _flush_theme(uow, slug)
        audit(uow.session, actor, "theme.updated", theme, before=before, after=after)
    return theme


async def do_move_theme(
    uow: UnitOfWork, actor: User | None, theme_id: int, direction: str
) -> Theme:
    """Swap a theme with its neighbour (``direction`` "up" or "down"); at either end, nothing."""
    check_admin(actor)
    if direction not in ("up", "down"):
        raise ActionError(N_("Choose whether to move the theme up or down."), field="direction")
    theme = await _get_theme(uow, theme_id)
    themes = await _ordered_themes(uow)
    index = themes.index(theme)
    other = index - 1 if direction == "up" else index + 1
    if not 0 <= other < len(themes):
        return theme
    themes[index], themes[other] = themes[other], themes[index]
    before = theme.position
    # Renumbered 1..n: positions stay dense even if imported data had gaps or ties.
    for position, each in enumerate(themes, start=1):
        each.position = position
    audit(
        uow.session, actor, "theme.updated", theme,
        before={"position": before}, after={"position": theme.position},
    )  # fmt: skip
    return theme


async def do_set_theme_active(
    uow: UnitOfWork, actor: User | None, theme_id: int, active: bool
) -> Theme:
    """An inactive theme leaves the zone pages and takes no new threads; old ones stay."""
    check_admin(actor)
    theme = await _get_theme(uow, theme_id)
    if theme.active != active:
        audit(
            uow.session, actor, "theme.updated", theme,
            before={"active": theme.active}, after={"active": active},
        )  # fmt: skip
        theme.active = active
    return theme


async def _zone_by_number(uow: UnitOfWork, number: int | str) -> Zone:
    text = str(number).strip()
    zone = None
    if text.isascii() and text.isdigit() and len(text) < 4:
        zone = await uow.session.scalar(select(Zone).where(Zone.number == int(text)))
    if zone is None:
        raise ActionError(N_("Choose a valid zone."), field="zone")
    return zone


async def do_update_comune(
    uow: UnitOfWork, actor: User | None, comune_id: int, *, name: str, zone_number: int | str,
    population: str | None = None,
) -> Comune:  # fmt: skip
    """Rename a comune, move it to another zone, set its population (ISTAT).

    Its users follow it: a user's zone is always derived from their comune, so
    from the next request they read and write in the new zone, not the old.
    ``population`` None leaves it as it is; "" makes it unknown.
    """
    check_admin(actor)
    comune = await uow.session.get(Comune, comune_id)
    if comune is None:
        raise NotFound(N_("This comune does not exist."))
    name = check_name(name)
    zone = await _zone_by_number(uow, zone_number)
    people = comune.population
    if population is not None:
        try:
            people = parse_population(population.strip())
        except ValueError:
            raise ActionError(N_("The population is a whole number of inhabitants."),
                              field="population") from None  # fmt: skip
    before = {"name": comune.name, "zone": comune.zone.number, "population": comune.population}
    after = {"name": name, "zone": zone.number, "population": people}
    if before != after:
        comune.population = people
        if zone.id != comune.zone_id:
            # Its users now read another zone: their open pages check again.
            users = await uow.session.scalars(select(User.id).where(User.comune_id == comune.id))
            for user_id in users:
                uow.record(UserChanged(None, user_id))
        comune.name = name
        comune.zone_id, comune.zone = zone.id, zone
        audit(uow.session, actor, "comune.updated", comune, before=before, after=after)
    return comune


async def do_rename_zone(
    uow: UnitOfWork, actor: User | None, number: int, name: str, name_en: str | None = None
) -> Zone:
    """Zones are fixed by the statute (11, by number), but their names are data.

    ``name_en`` None leaves the English name as it is; "" removes it. The audit
    row holds only what changed.
    """
    check_admin(actor)
    zone = await uow.session.scalar(select(Zone).where(Zone.number == number))
    if zone is None:
        raise NotFound(N_("This zone does not exist."))
    name = check_name(name)
    english = zone.name_en if name_en is None else check_name_en(name_en)
    now = {"name": name, "name_en": english}
    was = {"name": zone.name, "name_en": zone.name_en}
    changed = [key for key in now if now[key] != was[key]]
    if changed:
        zone.name, zone.name_en = name, english
        audit(uow.session, actor, "zone.updated", zone, before={k: was[k] for k in changed},
              after={k: now[k] for k in changed})  # fmt: skip
    return zone


async def do_import_comuni(uow: UnitOfWork, actor: User | None, data: bytes) -> ImportReport:
    """Import a comuni CSV (see :mod:`collab.importer`): all of it, or nothing on any error."""
    check_admin(actor)
    return await import_comuni(uow, data, actor=actor)
