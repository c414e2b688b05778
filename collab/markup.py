"""Markdown to safe HTML: markdown-it-py renders, nh3 (ammonia) sanitizes.

Raw HTML in the source is escaped by the renderer, and the sanitizer is the
second wall: scripts, event handlers, ``style`` and ``javascript:`` URLs never
survive, and every link gets ``rel="nofollow noopener"``.
"""

from __future__ import annotations

import nh3
from markdown_it import MarkdownIt

__all__ = ["markdown_parser", "render_markdown", "sanitize_html"]


def markdown_parser() -> MarkdownIt:
    """A parser configured as for posts, for a feature to add its own rules to
    (the mentions of :mod:`collab.forums.mentions`)."""
    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
    md.enable(["table", "strikethrough"])
    return md


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


def sanitize_html(html: str, extra_tags: frozenset[str] = frozenset()) -> str:
    """``html`` with only the allowed tags, attributes and URL schemes left
    (``extra_tags``: a caller's own, e.g. the ``<mark>`` of the legal pages)."""
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS | extra_tags,
        attributes=ALLOWED_ATTRIBUTES,
        allowed_classes=ALLOWED_CLASSES,
        url_schemes=URL_SCHEMES,
        link_rel="nofollow noopener",
        strip_comments=True,
    )


def render_markdown(source: str) -> str:
    """Render user Markdown to HTML that is safe to insert into a page."""
    return sanitize_html(_md.render(source))
