"""These tests drive the notifications' mailer themselves (or check states it
would change): the app's own mailer and sender tasks are stopped
(``tests.helpers.quiet_db``)."""

from __future__ import annotations

from tests.helpers import quiet_db

__all__ = ["quiet_db"]
