"""The page list of the browser tests (tests/browser/pages.py) covers the site:
every GET route is a listed page or says why it is not one, and every listed
URL is served by the route it claims. No browser needed."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from starlette.routing import Match, Route

from collab.app import create_app
from collab.settings import load_settings
from tests.browser.pages import NOT_PAGES, PAGES
from tests.browser.scene import ROLES, Scene


def _get_routes(tmp_path: Path) -> list[Route]:
    settings = load_settings(
        {"COLLAB_ENV": "test", "DATA_DIR": str(tmp_path), "SECRET_KEY": "t" * 40}
    )
    app = create_app(settings)
    return [r for r in app.routes if isinstance(r, Route) and "GET" in (r.methods or ())]


def _example_scene() -> Scene:
    """A scene with made-up values of the right types (no database)."""
    values = {
        f.name: 7 if f.type in ("int", int) else f"{f.name.replace('_', '-')}-x"
        for f in dataclasses.fields(Scene)
    }
    return Scene(**values)


def test_every_get_route_is_listed_or_explained(tmp_path: Path) -> None:
    routes = {r.path for r in _get_routes(tmp_path)}
    listed = {page.route for page in PAGES}
    assert not listed - routes, f"listed pages whose route no longer exists: {listed - routes}"
    assert not set(NOT_PAGES) - routes, f"NOT_PAGES names unknown routes: {set(NOT_PAGES) - routes}"
    assert not listed & set(NOT_PAGES), "a route is both a page and not a page"
    missing = sorted(routes - listed - set(NOT_PAGES))
    assert not missing, (
        f"GET routes the page tests do not visit: {missing}. Add each to PAGES in "
        "tests/browser/pages.py (with the roles that see it) or to NOT_PAGES with the reason."
    )


def test_each_listed_url_reaches_its_route(tmp_path: Path) -> None:
    routes = _get_routes(tmp_path)
    scene = _example_scene()
    for page in PAGES:
        path = page.address(scene).partition("?")[0]
        scope = {"type": "http", "method": "GET", "path": path, "root_path": ""}
        served_by = next((r.path for r in routes if r.matches(scope)[0] == Match.FULL), None)
        assert served_by == page.route, (page.name, path, served_by)


def test_names_and_roles() -> None:
    names = [page.name for page in PAGES]
    assert len(names) == len(set(names)), "page names must be unique"
    for page in PAGES:
        assert page.roles, page.name
        assert set(page.roles) <= set(ROLES), (page.name, page.roles)
    # Every role has pages to visit, and anonymous visitors see the public ones.
    for role in ROLES:
        assert any(role in page.roles for page in PAGES), role
