"""No image from another host reaches a reader's browser (issue 14, finding 9).

A remote image in a post made every reader's browser fetch it, telling its
host who read the post. The Markdown renderer now writes it as a link (its
alt text, else its address), the sanitizer drops a remote ``src`` that gets
there another way, and the Content-Security-Policy allows images from collab
only.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
from bs4 import BeautifulSoup

from collab.markup import render_markdown, sanitize_html
from tests.helpers import Client, parse

Login = Callable[[str], Awaitable[Client]]


def _soup(html: str) -> BeautifulSoup:
    return BeautifulSoup(html, "html.parser")


@pytest.mark.parametrize(
    ("source", "href", "text"),
    [
        ("![logo](https://ok.example/l.png)", "https://ok.example/l.png", "logo"),
        ('![il *logo*](http://ok.example/l.png "titolo")', "http://ok.example/l.png", "il logo"),
        ("![](https://ok.example/l.png)", "https://ok.example/l.png", "https://ok.example/l.png"),
        ("![x](//ok.example/l.png)", "//ok.example/l.png", "x"),
    ],
)
def test_a_remote_image_becomes_a_link_with_its_alt_text(source: str, href: str, text: str) -> None:
    body = _soup(render_markdown(source))
    assert body.select("img") == []
    link = body.select_one("a")
    assert link is not None
    assert (link["href"], link.get_text()) == (href, text)
    assert set(link["rel"]) >= {"nofollow", "noopener"}


def test_a_local_image_stays_an_image() -> None:
    image = _soup(render_markdown("![mappa](/documents/3/mappa.png)")).select_one("img")
    assert image is not None
    assert (image["src"], image["alt"]) == ("/documents/3/mappa.png", "mappa")


def test_a_remote_image_inside_a_link_leaves_the_link_and_its_words() -> None:
    body = _soup(render_markdown("[![banner](https://ok.example/b.png)](https://ok.example/)"))
    assert body.select("img") == []
    (link,) = body.select("a")
    assert (link["href"], link.get_text()) == ("https://ok.example/", "banner")


def test_the_sanitizer_drops_a_remote_src() -> None:
    body = _soup(sanitize_html('<img src="https://ok.example/l.png" alt="a"><img src="/x.png">'))
    assert [img.get("src") for img in body.select("img")] == [None, "/x.png"]


async def test_the_csp_allows_images_from_collab_only(client: Client) -> None:
    response = await client.get("/")
    policy = dict(
        part.strip().split(" ", 1)
        for part in response.headers["content-security-policy"].split(";")
    )
    assert policy["img-src"] == "'self' data:"


async def test_a_post_with_a_remote_image_shows_a_link(login_as: Login) -> None:
    mayor = await login_as("sindaco5")
    created = await mayor.post(
        "/zones/5/trasporti-mobilita/new",
        {"title": "Fermata", "body": "Ecco la foto: ![la fermata](https://ok.example/f.jpg)"},
    )
    assert created.status_code == 303, created.text
    page = parse(await mayor.get(created.headers["location"]))
    post = page.select_one(".post-body")
    assert post is not None
    assert post.select("img") == []
    link = post.select_one('a[href="https://ok.example/f.jpg"]')
    assert link is not None and link.get_text() == "la fermata"
