"""Login, logout, password change and language choice."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from collab import web
from collab.accounts.actions import (
    authenticate,
    check_login_allowed,
    do_change_password,
    normalize_email,
)
from collab.cookies import LANG_COOKIE, LANG_COOKIE_MAX_AGE
from collab.errors import ActionError, Throttled
from collab.i18n import LOCALES, N_
from collab.models import User

__all__ = ["routes"]

WRONG_CREDENTIALS = ActionError(N_("Wrong email or password."), field="password")


def client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


async def login_page(request: Request) -> Response:
    if await web.current_user(request) is not None:
        return RedirectResponse(web.safe_next(request.query_params.get("next")), status_code=303)
    return await web.render(
        request, "accounts/login.html", {"next": web.safe_next(request.query_params.get("next"))}
    )


async def login(request: Request) -> Response:
    data = await web.form(request)
    email = normalize_email(web.field(data, "email"))
    password = web.field(data, "password")
    next_url = web.safe_next(web.field(data, "next"))
    settings = web.settings(request)
    ip = client_ip(request)
    context = {"next": next_url, "email": email}
    try:
        async with web.db(request).session() as session:
            await check_login_allowed(
                session,
                email,
                ip,
                window=settings.login_throttle_window,
                max_account=settings.login_max_failures_account,
                max_ip=settings.login_max_failures_ip,
            )
    except Throttled as exc:
        return await web.render(
            request,
            "accounts/login.html",
            {**context, "error": web.translate(request, exc)},
            status_code=429,
        )
    async with web.db(request).transaction() as uow:
        user = await authenticate(uow, email, password, ip)
    if user is None:
        return await web.render(
            request,
            "accounts/login.html",
            {**context, "error": web.translate(request, WRONG_CREDENTIALS)},
            status_code=422,
        )
    # A fresh session on login: no fixation, and a new CSRF token.
    request.session.clear()
    request.session.update({"uid": user.id, "epoch": user.session_epoch})
    request.state.user = user
    return web.redirect(request, next_url)


async def logout(request: Request) -> Response:
    request.session.clear()
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
            )
    except ActionError as exc:
        return await web.render(
            request,
            "accounts/password.html",
            {"error": web.translate(request, exc), "error_field": exc.field},
            status_code=exc.status,
        )
    # This session stays valid; the others end with the old epoch.
    request.session["epoch"] = account.session_epoch
    return await web.render(request, "accounts/password.html", {"done": True})


async def set_language(request: Request) -> Response:
    data = await web.form(request)
    lang = web.field(data, "lang")
    response = web.redirect(request, web.safe_next(web.field(data, "next")))
    if lang in LOCALES:
        response.set_cookie(
            LANG_COOKIE, lang, max_age=LANG_COOKIE_MAX_AGE, samesite="lax", httponly=True
        )
    return response


def routes() -> list[BaseRoute]:
    """This module's URL map (built by ``create_app``, after the ``id`` convertor)."""
    return [
        Route("/login", login_page, methods=["GET"]),
        Route("/login", login, methods=["POST"]),
        Route("/logout", logout, methods=["POST"]),
        Route("/account/password", password_page, methods=["GET"]),
        Route("/account/password", change_password, methods=["POST"]),
        Route("/language", set_language, methods=["POST"]),
    ]
