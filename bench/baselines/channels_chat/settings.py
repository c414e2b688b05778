"""A minimal Django configuration, in code: Channels and its default Redis layer."""

from __future__ import annotations

import os

import django
from django.conf import settings


def configure() -> None:
    """Configure Django once: no database, no apps but ``channels``, core Redis layer."""
    if settings.configured:
        return
    settings.configure(
        DEBUG=False,
        SECRET_KEY="bench-only-not-secret",  # noqa: S106 - a throwaway benchmark server
        ALLOWED_HOSTS=["*"],
        INSTALLED_APPS=["channels"],
        USE_TZ=True,
        ASGI_APPLICATION="bench.baselines.channels_chat.asgi.application",
        CHANNEL_LAYERS={
            "default": {
                # The default backend of the channels docs and tutorial, default
                # options (capacity 100 per channel, expiry 60 s).
                "BACKEND": "channels_redis.core.RedisChannelLayer",
                "CONFIG": {"hosts": [os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379")]},
            }
        },
    )
    django.setup()
