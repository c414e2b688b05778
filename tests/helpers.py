"""Test helpers: a logged-in client that speaks CSRF, and HTML parsing."""

from __future__ import annotations

from typing import Any

import httpx
from bs4 import BeautifulSoup

PASSWORD = "password-di-prova"


def parse(response: httpx.Response) -> BeautifulSoup:
    """The response's HTML, parsed: tests check structure, never substrings."""
    return BeautifulSoup(response.text, "html.parser")


def text_of(response: httpx.Response, selector: str) -> str:
    node = parse(response).select_one(selector)
    assert node is not None, f"{selector!r} not in the page"
    return " ".join(node.get_text(" ").split())


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
            node = parse(response).select_one('input[name="csrf_token"]')
            if node is not None:
                self.token = str(node["value"])

    async def csrf(self) -> str:
        if self.token is None:
            await self.get("/login")
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

    async def login(self, email: str, password: str = PASSWORD) -> httpx.Response:
        response = await self.post("/login", {"email": email, "password": password})
        assert response.status_code == 303, response.text
        self.token = None  # a new session has a new token
        await self.csrf()
        return response

    async def logout(self) -> None:
        await self.post("/logout")
        self.token = None
