"""The application factory: wires settings, storage, layer, routes and middleware."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as SQLAlchemyTimeoutError
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

from collab import health, web
from collab.accounts import passwords
from collab.accounts.routes import routes as account_routes
from collab.admin.routes import routes as admin_routes
from collab.api.routes import routes as api_routes
from collab.consultations.routes import routes as consultation_routes
from collab.cookies import SESSION_COOKIE
from collab.db import Database, is_unavailable
from collab.documents.download import routes as file_routes
from collab.documents.pages import routes as library_routes
from collab.errors import ActionError
from collab.features import (
    LIVE_FEATURES,
    MAIL_ATTACHMENTS,
    PAGE_HOOKS,
    REMINDERS,
    make_templates,
)
from collab.forums.routes import routes as forum_routes
from collab.gctune import tune_gc
from collab.housekeeping import sweep_forever
from collab.legal.pages import routes as legal_routes
from collab.mail.sender import MailSender
from collab.mail.transport import make_transport
from collab.meetings.routes import routes as meeting_routes
from collab.notifications.fanout import NotificationFanout, wake_after_commit
from collab.notifications.mailer import NotificationMailer
from collab.notifications.pages import routes as notification_routes
from collab.realtime import sessions
from collab.realtime.access import TopicAccess
from collab.realtime.beats import Beats
from collab.realtime.connection import DirectSend
from collab.realtime.hub import Hub
from collab.realtime.layers import close_layer, make_layer
from collab.realtime.presence import make_presence
from collab.realtime.publisher import Publisher
from collab.realtime.registry import Registry
from collab.realtime.render import FragmentRenderer
from collab.realtime.ws import Parking
from collab.realtime.ws import routes as ws_routes
from collab.search.extractor import TextExtractor
from collab.search.extractor import wake_after_commit as wake_extractor
from collab.search.pages import routes as search_routes
from collab.security import CSRFMiddleware, SecurityHeadersMiddleware
from collab.services import Services
from collab.session_cookie import SessionMiddleware
from collab.settings import Settings, load_settings
from collab.templating import STATIC_DIR

__all__ = ["create_app"]

logger = logging.getLogger(__name__)


async def _action_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ActionError)
    return await web.error_response(request, exc.status, web.translate(request, exc))


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return await web.error_response(request, exc.status_code)


async def _login_required(request: Request, exc: Exception) -> Response:
    if web.is_htmx(request):
        return Response(status_code=401, headers={"HX-Redirect": web.login_url(request)})
    return RedirectResponse(web.login_url(request), status_code=303)


async def _server_error(request: Request, exc: Exception) -> Response:
    return await web.error_response(request, 500)


async def _database_error(request: Request, exc: Exception) -> Response:
    """The database cannot be reached now (an outage, a restart, a long write
    lock): 503 with a message a person can act on. The write rolled back."""
    if not is_unavailable(exc):
        logger.error("database error in %s %s", request.method, request.url.path, exc_info=exc)
        return await web.error_response(request, 500)
    logger.warning("database unavailable in %s %s: %s", request.method, request.url.path, exc)
    return await web.unavailable_response(request)


# Raised when the database is out of reach; _database_error tells an outage
# from a bug.
DATABASE_ERRORS: tuple[type[Exception], ...] = (
    DBAPIError,
    SQLAlchemyTimeoutError,
    ConnectionError,
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
)


def create_app(settings: Settings | None = None) -> Starlette:
    """Build the ASGI app. ``uvicorn --factory collab.app:create_app`` calls it bare."""
    settings = settings or load_settings()
    web.register_convertors()
    passwords.configure(settings.password_hash_threads)
    layer = make_layer(settings)
    publisher = Publisher(layer)
    database = Database(settings.database_url, sink=publisher)
    # Edited templates show on the next page in development (`make run`) only.
    templates = make_templates(settings.upload_max_bytes, reload=settings.env == "development")
    registry = Registry([sessions.feature, *LIVE_FEATURES])
    hub = Hub(layer, database, FragmentRenderer(registry, templates, database))
    # An entry outlives two missed heartbeats before it expires.
    presence = make_presence(settings.redis_url, ttl=settings.ws_heartbeat * 2 + 5)
    mail = MailSender(
        database,
        make_transport(settings.smtp_url, settings.mail_from, settings.mail_dir),
        max_attempts=settings.mail_max_attempts,
        claim_seconds=settings.mail_claim_seconds,
    )
    attachments = {kind: make(settings) for kind, make in MAIL_ATTACHMENTS.items()}
    notices = NotificationMailer(database, templates, settings, mail, attachments, REMINDERS)
    fanout = NotificationFanout(database)
    # Reads uploaded files' text for search, after their commit (collab/search/).
    extractor = TextExtractor(database, settings.files_dir)
    database.after_commit = wake_extractor(extractor, wake_after_commit(fanout, notices))

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if settings.env != "test":  # a test app renders a few pages: compile as needed
            templates.warm()
        tune_gc()
        await hub.start()
        mail.start()
        fanout.start()
        notices.start()
        extractor.start()
        sweeper = asyncio.create_task(sweep_forever(database, settings), name="housekeeping")
        try:
            yield
        finally:
            sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sweeper
            await extractor.stop()
            await fanout.stop()
            await notices.stop()
            await mail.stop()
            await publisher.drain()
            await hub.stop()
            await presence.close()
            await close_layer(layer)
            await database.dispose()

    app = Starlette(
        debug=False,
        routes=[
            *health.routes(),
            *account_routes(),
            # Before the forums: /zones/{n}/meetings.ics is no board theme.
            *meeting_routes(),
            *forum_routes(),
            *admin_routes(),
            *ws_routes(),
            *api_routes(),
            *file_routes(),
            *consultation_routes(),
            *library_routes(),
            *legal_routes(),
            *notification_routes(),
            *search_routes(),
            Mount("/static", StaticFiles(directory=STATIC_DIR), name="static"),
        ],
        middleware=[
            Middleware(Parking),  # a socket's life outside the layers below
            Middleware(DirectSend),
            Middleware(SecurityHeadersMiddleware, hsts=settings.secure_cookies),
            Middleware(
                SessionMiddleware,
                session_cookie=SESSION_COOKIE,
                max_age=settings.session_max_age,
                https_only=settings.secure_cookies,
            ),
            Middleware(CSRFMiddleware),
        ],
        exception_handlers={
            ActionError: _action_error,
            HTTPException: _http_error,
            web.LoginRequired: _login_required,
            **dict.fromkeys(DATABASE_ERRORS, _database_error),
            500: _server_error,
        },
        lifespan=lifespan,
    )
    app.state.services = Services(
        settings=settings, db=database, templates=templates, layer=layer, registry=registry,
        hub=hub, access=TopicAccess(registry, database), presence=presence, mail=mail,
        notices=notices, fanout=fanout, beats=Beats(presence, settings.ws_heartbeat),
        page_hooks=PAGE_HOOKS, extractor=extractor,
    )  # fmt: skip
    return app
