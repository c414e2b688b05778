"""Password hashing with argon2id, and the password policy."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from collab.errors import ActionError
from collab.i18n import N_

__all__ = ["MIN_LENGTH", "check_password_policy", "hash_password", "verify_password"]

MIN_LENGTH = 10
_hasher = PasswordHasher()
# Verifying against this keeps the timing of "no such user" equal to a wrong password.
DUMMY_HASH = _hasher.hash("collab-dummy-password")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def check_password_policy(password: str, *, email: str = "", field: str = "password") -> None:
    if len(password) < MIN_LENGTH:
        raise ActionError(
            N_("The password must be at least %(min)d characters long."),
            field=field,
            min=MIN_LENGTH,
        )
    if len(password) > 1024:
        raise ActionError(N_("The password is too long."), field=field)
    if email and password.lower() == email.lower():
        raise ActionError(N_("The password must not be your email address."), field=field)
