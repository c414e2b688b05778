"""Placeholder: filled in by the meetings UI work."""

from __future__ import annotations

from starlette.routing import BaseRoute

routes: list[BaseRoute] = []
