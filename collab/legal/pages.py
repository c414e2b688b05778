"""The public legal pages, ``/legal/<kind>``: for everyone, with or without an account.

Each shows the saved text in the interface's language (the Italian one when
there is no English text, marked ``lang="it"``), when it was last updated,
and a banner while it is still collab's template text to be completed. The
accessibility statement adds the fields of AgID's model and the link to
AgID's enforcement procedure, which no edit can remove; the cookie statement
and the privacy notice add the tables of :mod:`collab.legal.facts`.
"""

from __future__ import annotations

from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from collab import web
from collab.legal.actions import AGID_FORM, check_kind, load_view
from collab.legal.content import (
    ASSESSMENT_LABELS,
    CONFORMITY_LABELS,
    CONFORMITY_SENTENCES,
    LegalView,
)
from collab.legal.facts import cookies, retention
from collab.legal.models import TITLES, LegalKind

__all__ = ["page_context", "routes"]


def page_context(request: Request, view: LegalView) -> dict[str, object]:
    """What ``legal/_text.html`` needs to show ``view`` (the public page and the
    administrators' view of a version share it)."""
    html, lang = view.html_for(web.locale_of(request))
    settings = web.settings(request)
    return {
        "view": view,
        "kind": view.kind.value,
        "title": TITLES[view.kind],
        "text": Markup(html),  # noqa: S704 - sanitized by collab.legal.content.render_text
        "text_lang": lang,
        "statement": view.statement,
        "conformity_labels": {c.value: label for c, label in CONFORMITY_LABELS.items()},
        "conformity_sentences": {c.value: text for c, text in CONFORMITY_SENTENCES.items()},
        "assessment_labels": {a.value: label for a, label in ASSESSMENT_LABELS.items()},
        "agid_form": AGID_FORM,
        "cookies": cookies(settings) if view.kind is LegalKind.COOKIES else [],
        "retention": retention(settings) if view.kind is LegalKind.PRIVACY else [],
    }


async def legal_page(request: Request) -> Response:
    kind = check_kind(request.path_params["kind"])
    async with web.db(request).session() as session:
        view = await load_view(session, kind)
    return await web.render(request, "legal/page.html", page_context(request, view))


def routes() -> list[BaseRoute]:
    """This module's URL map (built by ``create_app``, after the ``id`` convertor)."""
    return [Route("/legal/{kind:str}", legal_page, methods=["GET"])]
