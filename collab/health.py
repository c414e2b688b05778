"""Liveness and readiness probes."""

from __future__ import annotations

import asyncio

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from collab.realtime.layers import ping_layer
from collab.services import services

__all__ = ["routes"]


async def healthz(request: Request) -> Response:
    """The process is up and serving requests."""
    return PlainTextResponse("ok")


async def readyz(request: Request) -> Response:
    """The database and the channel layer answer; 503 with the failing part otherwise."""
    checks: dict[str, str] = {}
    try:
        await asyncio.wait_for(services(request).db.ping(), 5)
        checks["database"] = "ok"
    except Exception as exc:
        checks["database"] = f"error: {type(exc).__name__}"
    try:
        await ping_layer(services(request).layer, services(request).settings.redis_url)
        checks["channel_layer"] = "ok"
    except Exception as exc:
        checks["channel_layer"] = f"error: {type(exc).__name__}"
    ok = all(v == "ok" for v in checks.values())
    return JSONResponse({"ready": ok, **checks}, status_code=200 if ok else 503)


def routes() -> list[BaseRoute]:
    """This module's URL map (built by ``create_app``, after the ``id`` convertor)."""
    return [
        Route("/healthz", healthz, methods=["GET", "HEAD"]),
        Route("/readyz", readyz, methods=["GET", "HEAD"]),
    ]
