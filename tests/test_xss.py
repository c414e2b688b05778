"""Hostile input never becomes markup: titles are text, post bodies are safe HTML.

Every payload goes in as a thread title and as a post body through HTTP (a
plain form post and an htmx reply), then the pages are parsed: nothing that
runs script, loads a frame or restyles the page may come out of a post body,
links only point to http, https, mailto or relative URLs and carry
``rel="nofollow noopener"``, and titles read back exactly as typed.
``collab.markup.render_markdown`` gets the same list directly.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable

import httpx
import pytest
from bs4 import BeautifulSoup, Tag

from collab.markup import render_markdown
from tests.helpers import Client, parse

Login = Callable[[str], Awaitable[Client]]
BOARD = "/zones/5/trasporti-mobilita"

PAYLOADS = [
    # script elements, plain and disguised
    "<script>alert(1)</script>",
    "<SCRIPT SRC=//evil.example/x.js></SCRIPT>",
    "<scr<script>ipt>alert(1)</scr</script>ipt>",
    '"><script>alert(document.cookie)</script>',
    "'><img src=x onerror=alert(1)>",
    "</textarea><script>alert(1)</script>",
    "</title><script>alert(1)</script>",
    # event handlers
    "<img src=x onerror=alert(1)>",
    "<img src=x onerror=alert(1)//",
    "<svg onload=alert(1)>",
    "<svg><script>alert(1)</script></svg>",
    '<a href="https://ok.example" onclick="alert(1)">x</a>',
    '<div onmouseover="alert(1)">passa qui</div>',
    "<details open ontoggle=alert(1)>",
    "<body onload=alert(1)>",
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
    # dangerous URLs in Markdown links, autolinks and images
    "[clicca](javascript:alert(1))",
    "[clicca](JaVaScRiPt:alert(1))",
    "[clicca](javascript&#58;alert(1))",
    "[clicca](&#106;avascript:alert(1))",
    "[clicca](java&#x09;script:alert(1))",
    "[clicca](<javascript:alert(1)>)",
    "[clicca]( javascript:alert(1) )",
    "<javascript:alert(1)>",
    "<JAVASCRIPT:alert(1)>",
    "[clicca](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "<data:text/html,<script>alert(1)</script>>",
    "[clicca](vbscript:msgbox(1))",
    "![immagine](javascript:alert(1))",
    '![immagine](https://ok.example/a.png "x" onerror="alert(1)")',
    "[clicca][rif]\n\n[rif]: javascript:alert(1)",
    '[clicca](https://ok.example "titolo\\" onmouseover=\\"alert(1)")',
    # raw HTML that loads or restyles things
    '<iframe src="javascript:alert(1)"></iframe>',
    '<object data="evil.swf"></object><embed src="evil.swf">',
    "<style>body{display:none}</style>",
    '<p style="position:fixed;top:0">sopra tutto</p>',
    '<a href="javascript:alert(1)">x</a>',
    '<a href="jav&#x09;ascript:alert(1)">x</a>',
    '<form action="javascript:alert(1)"><button>invia</button></form>',
    '<meta http-equiv="refresh" content="0;url=javascript:alert(1)">',
    '<base href="javascript:alert(1)//">',
    "<link rel=stylesheet href=javascript:alert(1)>",
    # comments and unclosed tags
    "<!--<script>alert(1)//-->",
    "<!-- --><script>alert(1)</script><!-- -->",
    "<!--><img src=x onerror=alert(1)>-->",
    # NUL bytes (dropped from forms: PostgreSQL refuses them)
    "<scr\x00ipt>alert(1)</scr\x00ipt>",
    "[clicca](java\x00script:alert(1))",
    "<b>non chiuso <i>davvero",
    # entities, template injection: shown literally
    "&lt;script&gt;alert(1)&lt;/script&gt;",
    "{{7*7}}",
    "{% raw %}{{ config }}{% endraw %}",
    "${7*7}",
    "#{7*7}",
    "<%= 7*7 %>",
    # harmless links, which must be kept (and get rel)
    "[sito del comune](https://www.comune.pinerolo.to.it/)",
    "<mailto:ufficio@comune.example.it>",
    "[relativo](/zones/5)",
]

# Payloads whose post body must read back exactly as typed.
LITERAL = ["{{7*7}}", "{% raw %}{{ config }}{% endraw %}", "${7*7}", "#{7*7}", "<%= 7*7 %>"]

FORBIDDEN = {
    "script", "iframe", "frame", "frameset", "object", "embed", "applet", "style", "link",
    "meta", "base", "form", "input", "button", "textarea", "select", "svg", "math",
    "template", "noscript", "body", "html", "head", "title",
}  # fmt: skip
URL_ATTRIBUTES = {"href", "src", "action", "formaction", "data", "poster", "background",
                  "xlink:href", "srcset", "cite"}  # fmt: skip
SAFE_SCHEMES = {"http", "https", "mailto"}


def url_scheme(url: str) -> str | None:
    """The scheme a browser would see: tabs and newlines removed, C0 and spaces trimmed."""
    cleaned = re.sub(r"[\t\n\r]", "", url).strip("".join(map(chr, range(0x21))))
    match = re.match(r"([A-Za-z][A-Za-z0-9+.\-]*):", cleaned)
    return match[1].lower() if match else None


def check_post_body(body: Tag, payload: str) -> int:
    """Assert that one rendered post body is harmless; return how many links it has."""
    where = f"payload {payload!r}: {body}"
    for element in [body, *body.find_all(True)]:
        if element is not body:
            assert element.name not in FORBIDDEN, where
        for name, value in element.attrs.items():
            assert not name.lower().startswith("on"), where
            assert name.lower() not in {"style", "srcdoc", "formaction"}, where
            if name.lower() in URL_ATTRIBUTES:
                url = " ".join(value) if isinstance(value, list) else str(value)
                assert url_scheme(url) in {None, *SAFE_SCHEMES}, where
    links = body.find_all("a")
    for link in links:
        rel = link.get("rel") or []
        assert "nofollow" in rel and "noopener" in rel, where
    if payload in LITERAL:
        assert " ".join(body.get_text().split()) == payload, where
    return len(links)


@pytest.mark.parametrize(
    "html",
    [
        "<script>alert(1)</script>",
        "<svg></svg>",
        '<img src="x.png" onerror="alert(1)">',
        '<p style="color:red">x</p>',
        '<a href="https://ok.example">no rel</a>',
        '<a href="javascript:alert(1)" rel="nofollow noopener">x</a>',
        '<a href=" java\tscript:alert(1)" rel="nofollow noopener">x</a>',
        '<img src="data:text/html,x">',
    ],
)
def test_the_checks_catch_unsafe_html(html: str) -> None:
    """The checker is not vacuous: each of these must fail it."""
    body = BeautifulSoup(f'<div class="post-body">{html}</div>', "html.parser").div
    assert body is not None
    with pytest.raises(AssertionError):
        check_post_body(body, "x")


def check_page(page: BeautifulSoup, payload: str) -> None:
    """Whole-page checks: only our own scripts, no handler attributes anywhere."""
    for script in page.find_all("script"):
        assert str(script.get("src", "")).startswith("/static/"), payload
        assert script.get_text().strip() == "", payload
    for element in page.find_all(True):
        assert not any(name.lower().startswith("on") for name in element.attrs), payload
    for name in ("iframe", "object", "embed", "frame", "applet", "base", "meta[http-equiv]"):
        assert page.select_one(name) is None, (payload, name)


def stored(payload: str) -> str:
    """What the server keeps of a form field: all of it but NUL bytes."""
    return payload.replace("\x00", "")


def one_line(payload: str) -> str:
    """A title as shown: its words, single-spaced."""
    return " ".join(stored(payload).split())


def title_text(node: Tag | None, payload: str) -> None:
    """The title is there as text: no child elements, the same characters."""
    assert node is not None, payload
    assert node.find(True) is None, (payload, str(node))
    assert node.get_text().strip() == one_line(payload), payload


@pytest.mark.parametrize("payload", PAYLOADS)
def test_render_markdown_is_safe(payload: str) -> None:
    html = render_markdown(payload)
    body = BeautifulSoup(f'<div class="post-body">{html}</div>', "html.parser").div
    assert body is not None
    check_post_body(body, payload)


def test_render_markdown_keeps_harmless_markup() -> None:
    """The sanitizer is not a blanket: ordinary Markdown survives with its links."""
    html = render_markdown(
        "**grassetto** *corsivo* `codice`\n\n- uno\n- due\n\n"
        "[sito](https://ok.example/p?q=1) ![logo](https://ok.example/l.png)"
    )
    body = BeautifulSoup(html, "html.parser")
    assert [t.name for t in body.select("strong, em, code, li")] == [
        "strong", "em", "code", "li", "li"
    ]  # fmt: skip
    link = body.select_one("a")
    assert link is not None and link["href"] == "https://ok.example/p?q=1"
    assert set(link["rel"]) >= {"nofollow", "noopener"}
    # A remote image is a link to it, named by its alt text (collab/markup.py).
    assert body.select_one("img") is None
    image = body.select_one('a[href="https://ok.example/l.png"]')
    assert image is not None and image.get_text() == "logo"


async def _start(client: Client, payload: str) -> int:
    response = await client.post(f"{BOARD}/new", {"title": payload, "body": payload})
    assert response.status_code == 303, (payload, response.status_code, response.text[:300])
    match = re.fullmatch(r"/threads/(\d+)", response.headers["location"])
    assert match, payload
    return int(match[1])


async def _html(client: Client, url: str) -> BeautifulSoup:
    response = await client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return parse(response)


def _fragment_body(response: httpx.Response, payload: str) -> Tag:
    assert response.status_code == 200, (payload, response.status_code, response.text[:300])
    soup = parse(response)
    check_page(soup, payload)
    body = soup.select_one("article .post-body")
    assert body is not None, payload
    return body


async def test_payloads_through_http_are_inert(login_as: Login) -> None:
    mayor = await login_as("sindaco5")
    staff = await login_as("staff")
    threads: dict[int, str] = {}
    links = 0
    for payload in PAYLOADS:
        thread_id = await _start(mayor, payload)
        threads[thread_id] = payload

        # An htmx reply with the payload: the fragment is as safe as the page.
        reply = await mayor.post(
            f"/threads/{thread_id}/reply", {"body": payload, "page": "1"}, htmx=True
        )
        links += check_post_body(_fragment_body(reply, payload), payload)

        page = await _html(mayor, f"/threads/{thread_id}")
        check_page(page, payload)
        title_text(page.h1, payload)
        title_text(page.select_one(".breadcrumb-item.active"), payload)
        assert page.title is not None
        assert one_line(payload) in page.title.get_text(), payload
        bodies = page.select("#posts .post-body")
        assert len(bodies) == 2, payload
        for body in bodies:
            links += check_post_body(body, payload)

        # The edit form and the history hold the source as text.
        first_id = int(str(page.select("#posts > article")[0]["data-post-id"]))
        edit = await _html(mayor, f"/posts/{first_id}/edit")
        check_page(edit, payload)
        textarea = edit.select_one('textarea[name="body"]')
        assert textarea is not None and textarea.get_text() == stored(payload)
        assert (
            await mayor.post(f"/posts/{first_id}/edit", {"body": "Testo pulito"})
        ).status_code == 303
        history = await _html(mayor, f"/posts/{first_id}/history")
        check_page(history, payload)
        versions = history.select("li.revision .post-body")
        assert len(versions) == 2, payload
        check_post_body(versions[1], payload)
        source = history.select_one("li.revision pre")
        assert source is not None and source.get_text() == stored(payload), payload

        # A moderator sees hidden originals in a <details>: still safe.
        reply_id = int(str(page.select("#posts > article")[1]["data-post-id"]))
        hidden = await staff.post(f"/posts/{reply_id}/hide", {"reason": payload}, htmx=True)
        check_post_body(_fragment_body(hidden, payload), payload)
        notice = parse(hidden).select_one('[data-testid="removed"]')
        assert notice is not None and notice.find(True) is None, payload
        assert one_line(payload) in " ".join(notice.get_text().split()), payload

    # The harmless links were kept: the rel checks above did run.
    assert links >= 3

    # Titles in lists (board pages, home page) are text too.
    for number in (1, 2, 3):
        board = await _html(mayor, f"{BOARD}?page={number}")
        check_page(board, "board")
        for row in board.select('[data-testid="threads"] > li'):
            thread_id = int(str(row["id"]).removeprefix("thread-"))
            title_text(row.select_one(f'a[href="/threads/{thread_id}/unread"]'), threads[thread_id])
    home = await _html(mayor, "/")
    check_page(home, "home")
    latest = home.select_one('[data-zone="5"] a[href^="/threads/"]')
    assert latest is not None
    title_text(latest, threads[int(str(latest["href"]).rsplit("/", 1)[1])])
