"""Admin pages of the outbox: what was sent, what waits, what failed (with a
button to send it again), the addresses refused for good (with a button to
clear the mark), and, with no ``SMTP_URL`` (the embedded default),
the messages themselves: the demo's inbox."""

from __future__ import annotations

from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from sqlalchemy import func, select
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from collab import web
from collab.admin import actions
from collab.audit import audit
from collab.errors import Conflict, NotFound
from collab.forums.queries import paginate
from collab.i18n import N_
from collab.mail.bounces import do_clear_bounce
from collab.mail.models import MailStatus, OutboxMail
from collab.mail.outbox import resend
from collab.models import User
from collab.services import services

__all__ = ["routes"]


BOUNCED_SHOWN = 100  # the latest refused addresses listed on /admin/mail


async def _admin(request: Request) -> User:
    user = await web.require_user(request)
    actions.check_admin(user)
    return user


def _status(request: Request) -> MailStatus | None:
    try:
        return MailStatus(request.query_params.get("status", ""))
    except ValueError:
        return None


async def outbox_page(request: Request) -> Response:
    await _admin(request)
    status = _status(request)
    async with web.db(request).session() as session:
        grouped = select(OutboxMail.status, func.count()).group_by(OutboxMail.status)
        counts = {s: n for s, n in await session.execute(grouped)}
        stmt = select(OutboxMail).order_by(OutboxMail.id.desc())
        if status is not None:
            stmt = stmt.where(OutboxMail.status == status)
        page = await paginate(session, stmt, web.page_number(request), 50)
        bounced = await session.scalars(
            select(User)
            .where(User.email_bounced_at.is_not(None))
            .order_by(User.email_bounced_at.desc())
            .limit(BOUNCED_SHOWN)
        )
    context: dict[str, Any] = {
        "page": page,
        "bounced": list(bounced),
        "status": status,
        "statuses": list(MailStatus),
        "counts": counts,
        "inbox": not services(request).settings.smtp_url,
        "base": "/admin/mail" + (f"?status={status.value}" if status else ""),
    }
    return await web.render(request, "admin/mail.html", context)


def _parts(raw: bytes) -> tuple[EmailMessage, str, list[str]]:
    parsed = message_from_bytes(raw, policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    body = parsed.get_body(preferencelist=("plain",))
    text = body.get_content() if body is not None else ""
    attachments = [part.get_filename() or "" for part in parsed.iter_attachments()]
    return parsed, str(text), attachments


async def message_page(request: Request) -> Response:
    await _admin(request)
    async with web.db(request).session() as session:
        mail = await session.get(OutboxMail, request.path_params["id"])
    if mail is None:
        raise NotFound(N_("This message does not exist."))
    inbox = not services(request).settings.smtp_url
    context: dict[str, Any] = {"mail": mail, "inbox": inbox}
    if inbox:
        # Only the embedded default shows what a message says: with a real
        # server, the admin sees where it went and how it fared, not its text.
        parsed, text, attachments = _parts(mail.raw)
        context |= {"headers": parsed.items(), "text": text, "attachments": attachments}
    return await web.render(request, "admin/mail_message.html", context)


async def resend_message(request: Request) -> Response:
    admin = await _admin(request)
    mail_id = request.path_params["id"]
    async with web.db(request).transaction() as uow:
        mail = await uow.session.get(OutboxMail, mail_id)
        if mail is None:
            raise NotFound(N_("This message does not exist."))
        if not await resend(uow.session, mail_id):
            raise Conflict(N_("Only a message that failed can be sent again."))
        audit(uow.session, admin, "mail.resend", mail, recipient=mail.recipient)
    services(request).mail.wake()
    return web.redirect(request, f"/admin/mail/{mail_id}")


async def clear_bounce(request: Request) -> Response:
    """The refused address works again (the person fixed their mailbox): notices resume."""
    admin = await _admin(request)
    user_id: int = request.path_params["id"]
    async with web.db(request).transaction() as uow:
        await do_clear_bounce(uow, admin, user_id)
    return web.redirect(request, f"/admin/users/{user_id}")


def routes() -> list[BaseRoute]:
    return [
        Route("/admin/mail", outbox_page, methods=["GET"]),
        Route("/admin/mail/{id:id}", message_page, methods=["GET"]),
        Route("/admin/mail/{id:id}/resend", resend_message, methods=["POST"]),
        Route("/admin/users/{id:id}/bounce/clear", clear_bounce, methods=["POST"]),
    ]
