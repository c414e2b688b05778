"""Templates are read once per process, except in development, where an
edited template shows on the next page (what ``make run`` users expect)."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import pytest

from collab.app import create_app
from collab.settings import Settings
from collab.templating import Templates


def _edit(path: Path, text: str) -> None:
    """Rewrite a template, its modification time visibly later."""
    path.write_text(text)
    later = path.stat().st_mtime + 10
    os.utime(path, (later, later))


@pytest.mark.parametrize(("reload", "after"), [(False, "prima"), (True, "dopo")])
def test_an_edited_template_is_reread_only_when_reloading(
    tmp_path: Path, reload: bool, after: str
) -> None:
    page = tmp_path / "page.html"
    page.write_text("prima")
    templates = Templates(tmp_path, reload=reload)
    assert templates.render("page.html", "it", {}) == "prima"
    _edit(page, "dopo")
    assert templates.render("page.html", "it", {}) == after


def test_templates_reload_by_default_nowhere() -> None:
    assert all(not env.auto_reload for env in Templates().envs.values())


@pytest.mark.parametrize(("env", "reload"), [("development", True), ("production", False),
                                             ("test", False)])  # fmt: skip
def test_only_development_reloads_templates(settings: Settings, env: str, reload: bool) -> None:
    app = create_app(replace(settings, env=env))
    envs = app.state.services.templates.envs.values()
    assert [e.auto_reload for e in envs] == [reload] * len(envs)
