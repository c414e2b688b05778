"""Domain errors. Messages are English msgids marked with ``N_``; the web layer
translates them and picks the HTTP status from the class."""

from __future__ import annotations

from typing import Any

__all__ = [
    "ActionError",
    "Conflict",
    "InsufficientStorage",
    "InvalidFields",
    "NotFound",
    "PermissionDenied",
    "Throttled",
    "TooLarge",
    "Unavailable",
    "UnsupportedType",
]


class ActionError(Exception):
    """Bad input: nothing was changed. Shown next to the form (HTTP 422)."""

    status = 422

    def __init__(self, message: str, *, field: str | None = None, **params: Any) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.params = params


class InvalidFields(ActionError):
    """Several fields refused at once (422), so a form can show every message next
    to its field: ``errors`` in the form's order; the first is also this error's
    own message, field and params (what a caller that shows one error sees)."""

    def __init__(self, errors: list[ActionError]) -> None:
        first = errors[0]
        super().__init__(first.message, field=first.field, **first.params)
        self.errors = errors


class PermissionDenied(ActionError):
    status = 403


class NotFound(ActionError):
    status = 404


class Conflict(ActionError):
    status = 409


class Throttled(ActionError):
    status = 429


class TooLarge(ActionError):
    """An upload over the size limit (refused while it streams in)."""

    status = 413


class UnsupportedType(ActionError):
    """An upload whose content is not one of the accepted types."""

    status = 415


class Unavailable(ActionError):
    """The server cannot take this now (every upload slot busy): try again shortly."""

    status = 503


class InsufficientStorage(ActionError):
    """Too little disk space left to accept a file."""

    status = 507
