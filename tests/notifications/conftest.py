"""These tests drive the notifications' mailer themselves (or check states it
would change): the app's own mailer and sender tasks are stopped."""

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
