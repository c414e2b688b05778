"""One-click unsubscribe links (RFC 8058): a signed (person, kind) pair.

The link needs no login: what it names is signed with the app's secret key,
and all it can do is stop e-mail of one kind to one person (the bell keeps
it). It does not expire: an old message's link must still work.
"""

from __future__ import annotations

from itsdangerous import BadSignature, URLSafeSerializer

from collab.notifications.kinds import Kind

__all__ = ["read_token", "token_for"]

SALT = "collab.notifications.unsubscribe"


def token_for(secret_key: str, user_id: int, kind: Kind) -> str:
    return URLSafeSerializer(secret_key, salt=SALT).dumps([user_id, kind.value])


def read_token(secret_key: str, token: str) -> tuple[int, Kind] | None:
    """The (user id, kind) of a token; None when it is forged or malformed."""
    try:
        value = URLSafeSerializer(secret_key, salt=SALT).loads(token)
    except BadSignature:
        return None
    if not (isinstance(value, list) and len(value) == 2 and isinstance(value[0], int)):
        return None
    try:
        return value[0], Kind(value[1])
    except ValueError:
        return None
