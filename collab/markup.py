"""Markdown to safe HTML: markdown-it-py renders, nh3 (ammonia) sanitizes.

Raw HTML in the source is escaped by the renderer, and the sanitizer is the
second wall: scripts, event handlers, ``style`` and ``javascript:`` URLs never
survive, and every link gets ``rel="nofollow noopener"``.
"""

from __future__ import annotations

import nh3
from markdown_it import MarkdownIt

__all__ = ["render_markdown", "sanitize_html"]

_md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
_md.enable(["table", "strikethrough"])

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
URL_SCHEMES = {"http", "https", "mailto"}


def sanitize_html(html: str, extra_tags: frozenset[str] = frozenset()) -> str:
    """``html`` with only the allowed tags, attributes and URL schemes left
    (``extra_tags``: a caller's own, e.g. the ``<mark>`` of the legal pages)."""
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS | extra_tags,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=URL_SCHEMES,
        link_rel="nofollow noopener",
        strip_comments=True,
    )


def render_markdown(source: str) -> str:
    """Render user Markdown to HTML that is safe to insert into a page."""
    return sanitize_html(_md.render(source))
