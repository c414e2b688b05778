"""Login, logout, password change and reset, and language choice (the pages
of an e-mail address change are in :mod:`collab.accounts.email_routes`)."""

from __future__ import annotations

import math

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from collab import session_cookie, web
from collab.accounts import email_routes, session_routes
from collab.accounts.actions import (
    EMAIL_RE,
    do_change_password,
    do_set_locale,
    normalize_email,
)
from collab.accounts.reset import check_reset_token, do_request_reset, do_reset_password
from collab.accounts.throttle import LoginPolicy, do_login, throttled
from collab.cookies import LANG_COOKIE, LANG_COOKIE_MAX_AGE
from collab.errors import ActionError, Throttled
from collab.i18n import LOCALES, N_, translations
from collab.mail.compose import Draft
from collab.mail.outbox import queue
from collab.models import User
from collab.services import services

__all__ = ["routes"]

WRONG_CREDENTIALS = ActionError(N_("Wrong email or password."), field="password")


def client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


async def login_page(request: Request) -> Response:
    if await web.current_user(request) is not None:
        return RedirectResponse(web.safe_next(request.query_params.get("next")), status_code=303)
    return await web.render(
        request,
        "accounts/login.html",
        {
            "next": web.safe_next(request.query_params.get("next")),
            "reset": request.query_params.get("reset") == "1",
        },
    )


async def login(request: Request) -> Response:
    data = await web.form(request)
    email = normalize_email(web.field(data, "email"))
    password = web.field(data, "password")
    next_url = web.safe_next(web.field(data, "next"))
    policy = LoginPolicy.from_settings(web.settings(request))
    context = {"next": next_url, "email": email}
    result = await do_login(web.db(request), email, password, client_ip(request), policy)
    if result.wait:
        return await web.render(
            request,
            "accounts/login.html",
            {**context, "error": web.translate(request, throttled(result.wait))},
            status_code=429,
            headers={"Retry-After": str(math.ceil(result.wait))},
        )
    user = result.user
    if user is None:
        return await web.render(
            request,
            "accounts/login.html",
            {**context, "error": web.translate(request, WRONG_CREDENTIALS)},
            status_code=422,
        )
    # A fresh session on login: no fixation, and a new CSRF token.
    await session_cookie.start(request, user)
    return web.redirect(request, next_url)


async def logout(request: Request) -> Response:
    await session_cookie.end(request)  # the row goes: a copy of the cookie is worth nothing
    return web.redirect(request, "/")


async def password_page(request: Request) -> Response:
    await web.require_user(request)
    return await web.render(request, "accounts/password.html")


async def change_password(request: Request) -> Response:
    user = await web.require_user(request)
    data = await web.form(request)
    try:
        async with web.db(request).transaction() as uow:
            # A copy in this transaction: a rollback expires the objects it holds,
            # and the page rendered after a refused change still shows ``user``.
            account = await uow.session.get(User, user.id)
            assert account is not None  # current_user() just loaded it
            await do_change_password(
                uow,
                account,
                web.field(data, "current"),
                web.field(data, "new"),
                web.field(data, "confirm"),
                keep=session_cookie.current(request).key,
            )
    except ActionError as exc:
        return await web.render(
            request,
            "accounts/password.html",
            {"error": web.translate(request, exc), "error_field": exc.field},
            status_code=exc.status,
        )
    # This session stays valid; the others ended with the change.
    return await web.render(request, "accounts/password.html", {"done": True})


# The reset pages carry a secret in their URL: no Referer leaves them.
NO_REFERRER = web.SECRET_URL_HEADERS
EMAIL_NEEDED = ActionError(N_("Enter the e-mail address of your account."), field="email")


async def forgot_page(request: Request) -> Response:
    return await web.render(request, "accounts/forgot.html")


async def forgot(request: Request) -> Response:
    data = await web.form(request)
    email = normalize_email(web.field(data, "email"))
    if not EMAIL_RE.match(email):
        return await web.render(
            request,
            "accounts/forgot.html",
            {"email": email, "error": web.translate(request, EMAIL_NEEDED), "error_field": "email"},
            status_code=422,
        )
    app = services(request)
    locale = web.locale_of(request)
    try:
        async with web.db(request).transaction() as uow:
            asked = await do_request_reset(uow, email, client_ip(request))
            if asked is not None:
                queue(
                    uow.session,
                    _reset_mail(request, locale, asked.user, asked.token),
                    sender=app.settings.mail_from,
                    base_url=app.settings.base_url,
                )
    except Throttled as exc:
        return await web.render(
            request,
            "accounts/forgot.html",
            {"email": email, "error": web.translate(request, exc)},
            status_code=429,
        )
    if asked is not None:
        app.mail.wake()
    # The same page whether or not the address has an account.
    return await web.render(request, "accounts/forgot.html", {"email": email, "done": True})


def _reset_mail(request: Request, locale: str, user: User, token: str) -> Draft:
    app = services(request)
    context = {
        "name": user.name,
        "email": user.email,
        "link": f"{app.settings.base_url}/password/reset/{token}",
        "subject": translations(locale).gettext("Choose a new password for collab"),
    }
    return Draft(
        to=user.email,
        subject=context["subject"],
        text=app.templates.render("mail/password_reset.txt", locale, context),
        html=app.templates.render("mail/password_reset.html", locale, context),
        kind="password_reset",
    )


async def reset_page(request: Request) -> Response:
    token = request.path_params["token"]
    try:
        async with web.db(request).session() as session:
            await check_reset_token(session, token)
    except ActionError as exc:
        return await web.render(
            request,
            "accounts/reset.html",
            {"invalid": True, "error": web.translate(request, exc)},
            status_code=exc.status,
            headers=NO_REFERRER,
        )
    return await web.render(request, "accounts/reset.html", {"token": token}, headers=NO_REFERRER)


async def reset(request: Request) -> Response:
    token = request.path_params["token"]
    data = await web.form(request)
    try:
        async with web.db(request).transaction() as uow:
            await do_reset_password(uow, token, web.field(data, "new"), web.field(data, "confirm"))
    except ActionError as exc:
        invalid = exc.field is None
        return await web.render(
            request,
            "accounts/reset.html",
            {
                "token": token,
                "invalid": invalid,
                "error": web.translate(request, exc),
                "error_field": exc.field,
            },
            status_code=exc.status,
            headers=NO_REFERRER,
        )
    await session_cookie.end(request)  # whoever was logged in here logs in afresh
    return web.redirect(request, "/login?reset=1")


async def set_language(request: Request) -> Response:
    data = await web.form(request)
    lang = web.field(data, "lang")
    response = web.redirect(request, web.safe_next(web.field(data, "next")))
    if lang in LOCALES:
        response.set_cookie(
            LANG_COOKIE, lang, max_age=LANG_COOKIE_MAX_AGE, samesite="lax", httponly=True
        )
        user = await web.current_user(request)
        if user is not None and user.locale != lang:
            # Kept on the account too: the language its e-mail is written in.
            async with web.db(request).transaction() as uow:
                await do_set_locale(uow, user.id, lang)
    return response


def routes() -> list[BaseRoute]:
    """This module's URL map (built by ``create_app``, after the ``id`` convertor)."""
    return [
        Route("/login", login_page, methods=["GET"]),
        Route("/login", login, methods=["POST"]),
        Route("/logout", logout, methods=["POST"]),
        Route("/account/password", password_page, methods=["GET"]),
        Route("/account/password", change_password, methods=["POST"]),
        Route("/password/forgot", forgot_page, methods=["GET"]),
        Route("/password/forgot", forgot, methods=["POST"]),
        Route("/password/reset/{token}", reset_page, methods=["GET"]),
        Route("/password/reset/{token}", reset, methods=["POST"]),
        Route("/language", set_language, methods=["POST"]),
        *email_routes.routes(),
        *session_routes.routes(),
    ]
