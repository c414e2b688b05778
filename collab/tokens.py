"""The secrets in our links: a password reset, an address confirmation, a
calendar feed. Domain code: no Starlette here.

A token is 32 random bytes, URL-safe base64 (43 characters). Where a copy
of the database must open nothing, only its SHA-256 is stored
(:func:`digest`). :func:`well_formed` turns away anything else before it
reaches a query (PostgreSQL refuses a NUL in a string parameter).
"""

from __future__ import annotations

import hashlib
import re
import secrets

__all__ = ["digest", "new_token", "well_formed"]

_SHAPE = re.compile(r"[A-Za-z0-9_-]{16,64}")


def new_token() -> str:
    return secrets.token_urlsafe(32)


def digest(token: str) -> str:
    """What is stored of a token: its SHA-256, in hex."""
    return hashlib.sha256(token.encode()).hexdigest()


def well_formed(token: str) -> bool:
    return _SHAPE.fullmatch(token) is not None
