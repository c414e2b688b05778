"""Admin pages: list, create, edit (role, comune, active) users; read the audit
log and the failed logins.

The pages for themes, comuni and zones live in :mod:`collab.admin.data_routes`,
those of the legal pages in :mod:`collab.admin.legal_routes`; ``routes`` here is
the whole admin URL map.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from collab import web
from collab.accounts.actions import do_create_user, do_update_user
from collab.admin import bodies, data_routes, legal_routes, mail_routes
from collab.errors import NotFound, PermissionDenied
from collab.forums.queries import paginate
from collab.i18n import N_
from collab.models import AuditLog, Comune, LoginAttempt, Role, User
from collab.permissions import Action, can

__all__ = ["routes"]


async def _admin(request: Request) -> User:
    user = await web.require_user(request)
    if not can(user, Action.MANAGE):
        raise PermissionDenied(N_("Only administrators can manage users."))
    return user


async def _comuni(request: Request) -> list[Comune]:
    async with web.db(request).session() as session:
        return list((await session.scalars(select(Comune).order_by(Comune.name))).all())


async def users_page(request: Request) -> Response:
    await _admin(request)
    # PostgreSQL refuses NUL in a text parameter (a 500): drop it, as web.field does.
    query = request.query_params.get("q", "").replace("\x00", "").strip()
    async with web.db(request).session() as session:
        stmt = select(User).order_by(User.name)
        if query:
            like = f"%{query.lower()}%"
            stmt = stmt.where(User.email.ilike(like) | User.name.ilike(like))
        page = await paginate(session, stmt, web.page_number(request), 50)
    return await web.render(request, "admin/users.html", {"page": page, "q": query})


async def _user_form(
    request: Request, template_context: dict[str, Any], status: int = 200
) -> Response:
    context = {"roles": list(Role), "comuni": await _comuni(request), **template_context}
    return await web.render(request, "admin/user_form.html", context, status_code=status)


async def new_user_page(request: Request) -> Response:
    await _admin(request)
    return await _user_form(request, {"values": {}})


async def create_user(request: Request) -> Response:
    actor = await _admin(request)
    data = await web.form(request)
    values = {k: web.field(data, k) for k in ("email", "name", "role", "comune", "password")}
    error = await web.attempt(
        request,
        lambda uow: do_create_user(
            uow, actor,
            email=values["email"], name=values["name"], role=values["role"],
            password=values["password"], comune_istat=values["comune"] or None,
        ),
    )  # fmt: skip
    if error:
        values.pop("password")  # never sent back to the page
        return await _user_form(request, {"values": values, **error}, 422)
    return web.redirect(request, "/admin/users")


async def _target(request: Request) -> User:
    async with web.db(request).session() as session:
        target = await session.get(User, request.path_params["id"])
    if target is None:
        raise NotFound(N_("This user does not exist."))
    return target


async def edit_user_page(request: Request) -> Response:
    await _admin(request)
    target = await _target(request)
    values = {
        "role": target.role.value,
        "comune": target.comune.istat_code if target.comune else "",
        "active": target.active,
    }
    return await _user_form(request, {"target": target, "values": values})


async def update_user(request: Request) -> Response:
    actor = await _admin(request)
    target = await _target(request)
    data = await web.form(request)
    values: dict[str, Any] = {
        "role": web.field(data, "role"),
        "comune": web.field(data, "comune"),
        "active": web.field(data, "active") == "1",
    }
    error = await web.attempt(
        request,
        lambda uow: do_update_user(
            uow, actor, target.id,
            role=values["role"], comune_istat=values["comune"] or None, active=values["active"],
        ),
    )  # fmt: skip
    if error:
        return await _user_form(request, {"target": target, "values": values, **error}, 422)
    return web.redirect(request, "/admin/users")


# The outcomes /admin/logins shows (collab.accounts.throttle), as shown.
LOGIN_OUTCOMES = {
    "wrong": N_("Wrong password or unknown account"),
    "refused": N_("Refused: the client had to wait"),
    "pending": N_("Being checked"),
}


async def logins_page(request: Request) -> Response:
    """Recent failed and refused logins: account, client IP, time, outcome."""
    await _admin(request)
    async with web.db(request).session() as session:
        stmt = (
            select(LoginAttempt)
            .where(LoginAttempt.outcome != "ok")
            .order_by(LoginAttempt.at.desc(), LoginAttempt.id.desc())
        )
        page = await paginate(session, stmt, web.page_number(request), 50)
    context = {"page": page, "outcomes": LOGIN_OUTCOMES}
    return await web.render(request, "admin/logins.html", context)


async def audit_page(request: Request) -> Response:
    await _admin(request)
    async with web.db(request).session() as session:
        stmt = select(AuditLog).order_by(AuditLog.id.desc())
        page = await paginate(session, stmt, web.page_number(request), 50)
    return await web.render(request, "admin/audit.html", {"page": page})


def routes() -> list[BaseRoute]:
    """This module's URL map (built by ``create_app``, after the ``id`` convertor)."""
    return [
        Route("/admin/users", users_page, methods=["GET"]),
        Route("/admin/users/new", new_user_page, methods=["GET"]),
        Route("/admin/users/new", create_user, methods=["POST"]),
        Route("/admin/users/{id:id}", edit_user_page, methods=["GET"]),
        Route("/admin/users/{id:id}", update_user, methods=["POST"]),
        Route("/admin/audit", audit_page, methods=["GET"]),
        Route("/admin/logins", logins_page, methods=["GET"]),
        *data_routes.routes(),
        *bodies.routes(),
        *legal_routes.routes(),
        *mail_routes.routes(),
    ]
