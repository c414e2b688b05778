"""Meeting writes notify people (collab/meetings/notices.py): the app's own
notification mailer and mail sender are stopped, so rows a test compares
(``snapshot``) change only by the writes it makes, and the invitation tests
drive a mailer of their own."""

from __future__ import annotations

import pytest
from starlette.applications import Starlette

from collab.db import Database


@pytest.fixture
async def db(app: Starlette) -> Database:
    services = app.state.services
    await services.notices.stop()
    await services.mail.stop()
    database: Database = services.db
    return database
