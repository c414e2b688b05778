"""The pages of an e-mail address change: ask (``/account/email``, logged in,
with the current password) and confirm from the link sent to the new address
(``/account/email/confirm/<token>``: a button, so a mail scanner that opens
links confirms nothing). See :mod:`collab.accounts.email_change`."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from collab import web
from collab.accounts.email_change import (
    EmailChangeRequest,
    check_email_token,
    do_confirm_email_change,
    do_request_email_change,
)
from collab.errors import ActionError
from collab.i18n import N_, translations
from collab.mail.compose import Draft
from collab.mail.outbox import queue
from collab.models import User
from collab.services import services

__all__ = ["routes"]

# The confirmation page carries a secret in its URL: no Referer leaves it.
NO_REFERRER = web.SECRET_URL_HEADERS
CONFIRM_SUBJECT = N_("Confirm your new address for collab")
NOTICE_SUBJECT = N_("Your collab address is being changed")


async def email_page(request: Request) -> Response:
    await web.require_user(request)
    return await web.render(request, "accounts/email.html")


async def request_change(request: Request) -> Response:
    user = await web.require_user(request)
    data = await web.form(request)
    new_email = web.field(data, "email")
    app = services(request)
    try:
        async with web.db(request).transaction() as uow:
            account = await uow.session.get(User, user.id)  # this transaction's copy
            assert account is not None  # current_user() just loaded it
            asked = await do_request_email_change(
                uow, account, new_email, web.field(data, "password")
            )
            for draft in _drafts(request, asked):
                queue(
                    uow.session,
                    draft,
                    sender=app.settings.mail_from,
                    base_url=app.settings.base_url,
                )
    except ActionError as exc:
        return await web.render(
            request,
            "accounts/email.html",
            {"email": new_email, "error": web.translate(request, exc), "error_field": exc.field},
            status_code=exc.status,
        )
    app.mail.wake()
    return await web.render(request, "accounts/email.html", {"sent_to": asked.new_email})


def _drafts(request: Request, asked: EmailChangeRequest) -> list[Draft]:
    """The link to the new address and the notice to the old, in the user's language."""
    app = services(request)
    locale = asked.user.locale
    gettext = translations(locale).gettext
    context = {
        "name": asked.user.name,
        "old_email": asked.old_email,
        "new_email": asked.new_email,
        "link": f"{app.settings.base_url}/account/email/confirm/{asked.token}",
    }
    drafts = []
    for template, to, subject, kind in (
        ("email_change", asked.new_email, CONFIRM_SUBJECT, "email_change"),
        ("email_change_notice", asked.old_email, NOTICE_SUBJECT, "email_change_notice"),
    ):
        mail = {**context, "subject": gettext(subject)}
        drafts.append(
            Draft(
                to=to,
                subject=mail["subject"],
                text=app.templates.render(f"mail/{template}.txt", locale, mail),
                html=app.templates.render(f"mail/{template}.html", locale, mail),
                kind=kind,
            )
        )
    return drafts


async def confirm_page(request: Request) -> Response:
    token = request.path_params["token"]
    try:
        async with web.db(request).session() as session:
            change = await check_email_token(session, token)
    except ActionError as exc:
        return await _invalid(request, exc)
    return await web.render(
        request,
        "accounts/email_confirm.html",
        {"token": token, "new_email": change.new_email},
        headers=NO_REFERRER,
    )


async def confirm(request: Request) -> Response:
    token = request.path_params["token"]
    try:
        async with web.db(request).transaction() as uow:
            user = await do_confirm_email_change(uow, token)
    except ActionError as exc:
        return await _invalid(request, exc)
    return await web.render(
        request,
        "accounts/email_confirm.html",
        {"done": True, "new_email": user.email},
        headers=NO_REFERRER,
    )


async def _invalid(request: Request, exc: ActionError) -> Response:
    return await web.render(
        request,
        "accounts/email_confirm.html",
        {"invalid": True, "error": web.translate(request, exc)},
        status_code=exc.status,
        headers=NO_REFERRER,
    )


def routes() -> list[BaseRoute]:
    """This module's URL map (included in :func:`collab.accounts.routes.routes`)."""
    return [
        Route("/account/email", email_page, methods=["GET"]),
        Route("/account/email", request_change, methods=["POST"]),
        Route("/account/email/confirm/{token}", confirm_page, methods=["GET"]),
        Route("/account/email/confirm/{token}", confirm, methods=["POST"]),
    ]
