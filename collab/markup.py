"""Markdown to safe HTML: markdown-it-py renders, nh3 (ammonia) sanitizes.

Raw HTML in the source is escaped by the renderer, and the sanitizer is the
second wall: scripts, event handlers, ``style`` and ``javascript:`` URLs never
survive, and every link gets ``rel="nofollow noopener"``.

Images: only those collab serves itself (a path on this site) are shown. A
remote image would make every reader's browser fetch it, and so tell its
host who read the post and when; the renderer writes it as a plain link
(its alt text, else its address) instead, so nothing is lost or silently
hidden, and the sanitizer drops any remote ``src`` that reaches it another
way. The Content-Security-Policy (``img-src 'self' data:``,
:mod:`collab.security`) is the third wall.
"""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import urlsplit

import nh3
from markdown_it import MarkdownIt
from markdown_it.common.utils import escapeHtml
from markdown_it.renderer import RendererHTML
from markdown_it.token import Token
from markdown_it.utils import EnvType, OptionsDict

__all__ = ["is_local", "markdown_parser", "render_markdown", "sanitize_html"]


def markdown_parser() -> MarkdownIt:
    """A parser configured as for posts, for a feature to add its own rules to
    (the mentions of :mod:`collab.forums.mentions`)."""
    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
    md.enable(["table", "strikethrough"])
    md.add_render_rule("image", _image)
    return md


def is_local(url: str) -> bool:
    """Whether ``url`` points into this site (a path, no scheme nor host)."""
    parts = urlsplit(url)
    return not (parts.scheme or parts.netloc or url.startswith("//") or "\\" in url)


def _image(
    self: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
) -> str:
    """A local image as ``<img>``; a remote one as a link to it, named by its alt text."""
    token = tokens[idx]
    src = str(token.attrGet("src") or "")
    if is_local(src):
        html: str = self.image(tokens, idx, options, env)
        return html
    alt = self.renderInlineAsText(token.children or [], options, env).strip()
    if _in_link(tokens, idx):  # a link cannot hold another: the words alone
        return escapeHtml(alt or src)
    return f'<a href="{escapeHtml(src)}">{escapeHtml(alt or src)}</a>'


def _in_link(tokens: Sequence[Token], idx: int) -> bool:
    depth = 0
    for token in tokens[:idx]:
        depth += {"link_open": 1, "link_close": -1}.get(token.type, 0)
    return depth > 0


_md = markdown_parser()

ALLOWED_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "code", "del", "em", "h1", "h2", "h3", "h4",
    "h5", "h6", "hr", "i", "img", "li", "ol", "p", "pre", "s", "strong", "sub", "sup",
    "table", "tbody", "td", "th", "thead", "tr", "ul",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title"},
    "ol": {"start"},
}
# The one class kept: a mention's link (collab.forums.mentions), which only
# the renderer writes (Markdown cannot set a class).
ALLOWED_CLASSES = {"a": {"mention"}}
URL_SCHEMES = {"http", "https", "mailto"}


def _no_remote_images(tag: str, attribute: str, value: str) -> str | None:
    if tag == "img" and attribute == "src" and not is_local(value):
        return None
    return value


def sanitize_html(html: str, extra_tags: frozenset[str] = frozenset()) -> str:
    """``html`` with only the allowed tags, attributes and URL schemes left
    (``extra_tags``: a caller's own, e.g. the ``<mark>`` of the legal pages);
    an image keeps its ``src`` only when it is on this site."""
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS | extra_tags,
        attributes=ALLOWED_ATTRIBUTES,
        allowed_classes=ALLOWED_CLASSES,
        url_schemes=URL_SCHEMES,
        link_rel="nofollow noopener",
        strip_comments=True,
        attribute_filter=_no_remote_images,
    )


def render_markdown(source: str) -> str:
    """Render user Markdown to HTML that is safe to insert into a page."""
    return sanitize_html(_md.render(source))
