"""The verbale as a PDF: WeasyPrint lays out the same HTML as its page.

The document is ``templates/meetings/verbale_document.html`` rendered by the
caller; this module adds our print stylesheet (``static/css/verbale-print.css``:
A4, the title in the header, "Pagina N di M" in the footer) and turns it into
PDF bytes: PDF/A-3a (:data:`PDF_VARIANT`), the archival form with a structure
tree (headings, paragraphs, tables tagged for screen readers and text
extraction) and the PDF/A identification in its XMP metadata, as an official
record kept by a public administration should be. Nothing is fetched from
the network: a verbale is user text, and a remote image in it must not make
the server open a connection (SSRF). Only
``data:`` URLs and files under ``file_roots`` (by default ``static/``) load.

WeasyPrint is imported on the first render, not with this module: it takes
about a second to import and needs Pango, and the app must start (and serve
everything else) without paying for either.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from urllib.request import url2pathname

from collab.templating import STATIC_DIR

__all__ = [
    "PDF_VARIANT",
    "PRINT_CSS",
    "STATIC_DIR",
    "local_fetcher",
    "render_pdf",
    "render_pdf_async",
]

log = logging.getLogger(__name__)

PRINT_CSS = STATIC_DIR / "css" / "verbale-print.css"
# Tagged PDF/A-3 (level A: accessible), the most complete archival variant
# WeasyPrint writes (weasyprint/pdf/pdfa.py: "pdf/a-1a", "pdf/a-2a", "pdf/a-3a").
PDF_VARIANT = "pdf/a-3a"

# One render at a time per process: WeasyPrint is CPU-bound Python (threads
# would only share the GIL), a render holds the whole laid-out document in
# memory, and Pango and fontconfig have a history of trouble when used from
# several threads at once.
_render_lock = threading.Lock()


@cache
def _fetcher_class() -> type[Any]:
    from weasyprint.urls import URLFetcher

    class LocalFetcher(URLFetcher):  # type: ignore[misc]
        """Loads ``data:`` URLs and files under ``roots``; refuses anything else.

        Each refused URL is logged and kept in ``refused``. WeasyPrint treats a
        refusal as a resource that failed to load: the image is left out, the
        rendering goes on.
        """

        def __init__(self, roots: Sequence[Path]) -> None:
            # No redirects: a file or data URL has none, and nothing else is fetched.
            super().__init__(allowed_protocols={"data", "file"}, allow_redirects=False)
            self.roots = tuple(root.resolve() for root in roots)
            self.refused: list[str] = []

        def fetch(self, url: str, headers: dict[str, str] | None = None) -> Any:
            if not self.allows(url):
                self.refused.append(url)
                log.warning("PDF rendering: not fetching %s (only data: and local files)", url)
                raise ValueError(f"not fetched: {url}")
            return super().fetch(url, headers)

        def allows(self, url: str) -> bool:
            parts = urlsplit(url)
            scheme = parts.scheme.lower()
            if scheme == "data":
                return True
            if scheme != "file" or parts.netloc not in ("", "localhost"):
                return False
            # resolve() follows "..", and symlinks, before the containment test.
            path = Path(url2pathname(parts.path)).resolve()
            return any(path.is_relative_to(root) for root in self.roots)

    return LocalFetcher


def local_fetcher(file_roots: Sequence[Path] = (STATIC_DIR,)) -> Any:
    """A WeasyPrint URL fetcher for ``data:`` URLs and files under ``file_roots`` only.

    It records the URLs it refused in its ``refused`` list.
    """
    return _fetcher_class()(file_roots)


def render_pdf(
    html: str,
    base_url: str | None = None,
    *,
    file_roots: Sequence[Path] = (STATIC_DIR,),
    url_fetcher: Any = None,
) -> bytes:
    """Lay out ``html`` (a whole document) for print and return the PDF.

    ``base_url`` resolves relative URLs in the document (a ``file:`` URL or
    path); whatever they resolve to, only ``data:`` URLs and files under
    ``file_roots`` are read (``url_fetcher``, if given, replaces that policy:
    tests pass a :func:`local_fetcher` to see what it refused). Blocking and
    CPU-bound (a short verbale takes a fraction of a second): from async code
    use :func:`render_pdf_async`.
    """
    from weasyprint import CSS, HTML

    fetcher = url_fetcher if url_fetcher is not None else local_fetcher(file_roots)
    with _render_lock:
        document = HTML(string=html, base_url=base_url, url_fetcher=fetcher)
        stylesheet = CSS(filename=str(PRINT_CSS), url_fetcher=fetcher)
        pdf: bytes = document.write_pdf(stylesheets=[stylesheet], pdf_variant=PDF_VARIANT)
    return pdf


async def render_pdf_async(
    html: str,
    base_url: str | None = None,
    *,
    file_roots: Sequence[Path] = (STATIC_DIR,),
    url_fetcher: Any = None,
) -> bytes:
    """:func:`render_pdf` in a worker thread, so the event loop keeps serving."""
    return await asyncio.to_thread(
        render_pdf, html, base_url, file_roots=file_roots, url_fetcher=url_fetcher
    )
