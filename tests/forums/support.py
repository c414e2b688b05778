"""Helpers of the forum tests: threads and replies made through the actions."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import httpx
from bs4 import BeautifulSoup, Tag
from sqlalchemy import select

from collab.db import Database
from collab.forums import actions
from collab.forums.models import Post, Thread
from collab.models import User, Zone
from tests.helpers import Client, parse

Login = Callable[[str], Awaitable[Client]]

THEME = "trasporti-mobilita"
BOARD = f"/zones/5/{THEME}"


async def start(
    db: Database, user: User, title: str = "Orari dei bus", zone_number: int | None = 5
) -> Thread:
    """A thread started directly through the actions (fast set-up)."""
    async with db.session() as session:
        theme = await actions.get_theme(session, THEME)
        zone_id = None
        if zone_number is not None:
            zone_id = await session.scalar(select(Zone.id).where(Zone.number == zone_number))
    async with db.transaction() as uow:
        return await actions.do_start_thread(uow, user, zone_id, theme, title, "Primo messaggio.")


async def reply(db: Database, user: User, thread_id: int, body: str = "Risposta.") -> Post:
    async with db.transaction() as uow:
        return await actions.do_reply(uow, user, thread_id, body)


async def post_ids(db: Database, thread_id: int) -> list[int]:
    async with db.session() as session:
        rows = await session.scalars(
            select(Post.id).where(Post.thread_id == thread_id).order_by(Post.id)
        )
        return list(rows)


def one(soup: BeautifulSoup | Tag, selector: str) -> Tag:
    node = soup.select_one(selector)
    assert node is not None, f"{selector!r} not found"
    return node


def words(node: Tag | None) -> str:
    assert node is not None
    return " ".join(node.get_text().split())


async def page(client: Client, url: str) -> BeautifulSoup:
    response = await client.get(url)
    assert response.status_code == 200, (url, response.status_code, response.text[:300])
    return parse(response)


def location(response: httpx.Response) -> str:
    assert response.status_code == 303, (response.status_code, response.text[:300])
    return response.headers["location"]
