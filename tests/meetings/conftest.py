"""Meeting writes notify people (collab/meetings/notices.py): the app's own
notification mailer and mail sender are stopped (``tests.helpers.quiet_db``),
so rows a test compares change only by the writes it makes, and the
invitation tests drive a mailer of their own."""

from __future__ import annotations

from tests.helpers import quiet_db

__all__ = ["quiet_db"]
