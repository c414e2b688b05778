"""Test helpers: a logged-in client that speaks CSRF, and HTML parsing."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import httpx
import pytest
from bs4 import BeautifulSoup
from sqlalchemy import event, select
from starlette.applications import Starlette

from collab.db import Database
from collab.i18n import translations
from collab.models import Base

PASSWORD = "password-di-prova"


@asynccontextmanager
async def capture_events(db: Database) -> AsyncIterator[list[Any]]:
    """Record every event ``db`` hands to ``after_commit`` while the block runs.

    The recorder wraps the hook already installed (the realtime publisher, if
    any), so publishing still happens; the list only grows after a commit, so
    a write that rolled back leaves it untouched.
    """
    seen: list[Any] = []
    previous = db.after_commit

    async def record(events: Sequence[Any]) -> None:
        seen.extend(events)
        if previous is not None:
            await previous(events)

    db.after_commit = record
    try:
        yield seen
    finally:
        db.after_commit = previous


def italian(msgid: str, **params: Any) -> str:
    """The Italian text of a message id; fails when the catalog has no translation."""
    text = translations("it").gettext(msgid)
    assert text != msgid, f"no Italian translation for {msgid!r}"
    return text % params if params else text


def italian_n(singular: str, plural: str, num: int) -> str:
    """The Italian text of a plural message (``%(num)d`` filled in)."""
    text = translations("it").ngettext(singular, plural, num)
    assert text not in (singular, plural), f"no Italian translation for {singular!r}"
    return text % {"num": num}


_CSRF_FIELD = re.compile(r'<input\b[^>]*\bname="csrf_token"[^>]*>')
_VALUE = re.compile(r'\bvalue="([^"]*)"')


def parse(response: httpx.Response) -> BeautifulSoup:
    """The response's HTML, parsed: tests check structure, never substrings."""
    return BeautifulSoup(response.text, "html.parser")


def text_of(response: httpx.Response, selector: str) -> str:
    node = parse(response).select_one(selector)
    assert node is not None, f"{selector!r} not in the page"
    return " ".join(node.get_text(" ").split())


# Written by reading too (a visitor's first CSRF token, ``last_seen``): not
# what a refused write may have changed. tests/test_sessions.py checks it.
UNSNAPSHOTTED = frozenset({"web_session"})


async def snapshot(db: Database) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table (but :data:`UNSNAPSHOTTED`), in key order:
    compare two to prove nothing changed."""
    tables: dict[str, list[tuple[Any, ...]]] = {}
    async with db.session() as session:
        for table in Base.metadata.sorted_tables:
            if table.name in UNSNAPSHOTTED:
                continue
            order = list(table.primary_key.columns) or list(table.columns)
            rows = await session.execute(select(table).order_by(*order))
            tables[table.name] = [tuple(row) for row in rows]
    return tables


class Client:
    """An httpx client on the ASGI app that fetches and sends the CSRF token."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http
        self.token: str | None = None

    async def get(self, url: str, **kwargs: Any) -> httpx.Response:
        response = await self.http.get(url, **kwargs)
        self._remember_token(response)
        return response

    def _remember_token(self, response: httpx.Response) -> None:
        if "text/html" in response.headers.get("content-type", ""):
            # The first csrf_token field, read with a regular expression: a
            # full parse of every page the suite asks for cost it minutes.
            field = _CSRF_FIELD.search(response.text)
            value = _VALUE.search(field.group(0)) if field else None
            # An empty one: a page rendered without the session (the database
            # was out of reach), which says nothing about the token.
            if value is not None and value.group(1):
                self.token = value.group(1)

    async def csrf(self) -> str:
        if self.token is None:
            await self.get("/")  # every page carries the token (the language form)
        assert self.token
        return self.token

    async def post(
        self, url: str, data: dict[str, str] | None = None, htmx: bool = False, **kwargs: Any
    ) -> httpx.Response:
        token = await self.csrf()
        headers = dict(kwargs.pop("headers", {}))
        if htmx:
            headers["HX-Request"] = "true"
            headers["X-CSRF-Token"] = token
            payload = dict(data or {})
        else:
            payload = {"csrf_token": token, **(data or {})}
        response = await self.http.post(url, data=payload, headers=headers, **kwargs)
        self._remember_token(response)
        return response

    async def upload(
        self,
        url: str,
        data: dict[str, Any] | None = None,
        files: list[tuple[str, tuple[str, bytes, str]]] | None = None,
        htmx: bool = False,
    ) -> httpx.Response:
        """A multipart post as upload forms send it: the CSRF token the first field
        (with htmx, the header), never in the URL."""
        token = await self.csrf()
        headers = {"HX-Request": "true", "X-CSRF-Token": token} if htmx else {}
        fields = dict(data or {}) if htmx else {"csrf_token": token, **(data or {})}
        # No file at all still goes as multipart: an empty file input, as browsers send it.
        empty = [("none", ("", b"", "application/octet-stream"))]
        response = await self.http.post(url, data=fields, files=files or empty, headers=headers)
        self._remember_token(response)
        return response

    async def login(self, email: str, password: str = PASSWORD) -> httpx.Response:
        response = await self.post("/login", {"email": email, "password": password})
        assert response.status_code == 303, response.text
        self.token = None  # a new session has a new token
        await self.csrf()
        return response

    async def logout(self) -> None:
        await self.post("/logout")
        self.token = None


@pytest.fixture(name="db")
async def quiet_db(app: Starlette) -> Database:
    """The app's database with its notification fan-out, mailer and mail
    sender stopped.

    Writes notify people, and those tasks change notification and outbox rows
    in the background: a module that compares ``snapshot`` s, or drives a
    mailer or fan-out of its own, imports this to override ``db``.
    """
    services = app.state.services
    await services.fanout.stop()
    await services.notices.stop()
    await services.mail.stop()
    database: Database = services.db
    return database


@contextmanager
def statements(db: Database) -> Iterator[list[str]]:
    """The SQL ``db`` runs for this task while the block does, whitespace folded.

    Only the entering task's statements: a request made through the test
    client runs in it (httpx's ASGI transport calls the app in the caller's
    task), while the app's background workers (the mailer, the notification
    fan-out, housekeeping) run in tasks of their own and may query at any
    moment, which would make a count flaky.
    """
    seen: list[str] = []
    task = asyncio.current_task()

    def record(conn: object, cursor: object, statement: str, *args: object) -> None:
        if asyncio.current_task() is task:
            seen.append(" ".join(statement.split()))

    engine = db.engine.sync_engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)
