"""The names and lifetimes of the cookies collab sets: technical ones only.

The cookie statement (:mod:`collab.legal.facts`) lists them from here, and
``tests/test_legal.py`` fails if any other cookie is ever set.
"""

from __future__ import annotations

__all__ = ["LANG_COOKIE", "LANG_COOKIE_MAX_AGE", "SESSION_COOKIE"]

SESSION_COOKIE = "collab_session"
LANG_COOKIE = "lang"
LANG_COOKIE_MAX_AGE = 365 * 24 * 3600
