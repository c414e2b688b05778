"""Password hashing with argon2id, off the event loop, and the password policy.

The parameters are OWASP's first recommended argon2id configuration
(Password Storage Cheat Sheet): 19 MiB of memory, 2 passes, 1 lane, about
30 ms of CPU per check. argon2-cffi's own default (RFC 9106's low-memory
profile: 64 MiB, 3 passes, 4 lanes) costs about 230 ms of CPU in four
threads: ten logins a second would take more than the two cores a zone's
server has. A hash made with other parameters still verifies, and is made
again with these at the next successful login (:func:`needs_rehash`).

Even 30 ms run on the event loop stalls every request and socket of the
worker for that long, so :func:`hash_password` and :func:`verify_password` run it in a
small dedicated thread pool (argon2-cffi releases the GIL while it works).
The pool's size bounds the CPU and memory that logins may take at once;
logins beyond it queue in the pool, and the loop serves everyone else
meanwhile. Its threads run at a lower CPU priority than the loop.
``create_app`` sizes it from ``PASSWORD_HASH_THREADS`` with :func:`configure`;
a process that never calls it (the command line) gets :data:`DEFAULT_THREADS`.

The strength check (:func:`check_password_policy`) is zxcvbn's, with a list
of common Italian passwords added (``collab/data/common_passwords_it.txt``)
and its reasons translated.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import threading
from concurrent.futures import ThreadPoolExecutor

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from collab.accounts.strength import weakness
from collab.errors import ActionError
from collab.i18n import N_

__all__ = [
    "DEFAULT_THREADS",
    "MIN_LENGTH",
    "check_password_policy",
    "configure",
    "hash_password",
    "needs_rehash",
    "verify_password",
]

MIN_LENGTH = 10
MAX_LENGTH = 1024
DEFAULT_THREADS = 1
NICE = 10  # how much lower the hashing threads' CPU priority is
TIME_COST, MEMORY_KIB, PARALLELISM = 2, 19 * 1024, 1
_hasher = PasswordHasher(time_cost=TIME_COST, memory_cost=MEMORY_KIB, parallelism=PARALLELISM)
# Verifying against this keeps the timing of "no such user" equal to a wrong password.
DUMMY_HASH = _hasher.hash("collab-dummy-password")

_lock = threading.Lock()
_threads = DEFAULT_THREADS
_pool: ThreadPoolExecutor | None = None


def configure(threads: int) -> None:
    """Hash and verify in at most ``threads`` threads at once (from now on)."""
    global _threads, _pool
    with _lock:
        old, _pool, _threads = _pool, None, threads
    if old is not None:
        old.shutdown(wait=False)  # work already queued there still finishes


def _lower_priority() -> None:
    """Run this pool thread at a lower CPU priority than the event loop's.

    On Linux a thread has its own nice value (and the threads argon2 starts
    inherit it): when the cores are busy, the scheduler gives them to the
    loop first, and a queue of logins slows down logins, not everyone else.
    """
    with contextlib.suppress(AttributeError, OSError):
        tid = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid, os.getpriority(os.PRIO_PROCESS, tid) + NICE)


def _executor() -> ThreadPoolExecutor:
    global _pool
    with _lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(
                _threads, thread_name_prefix="argon2", initializer=_lower_priority
            )
        return _pool


def _hash(password: str) -> str:
    return _hasher.hash(password)


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


async def hash_password(password: str) -> str:
    """The argon2id hash of ``password``, computed in the hashing pool."""
    return await asyncio.get_running_loop().run_in_executor(_executor(), _hash, password)


async def verify_password(password_hash: str, password: str) -> bool:
    """Whether ``password`` matches ``password_hash``, checked in the hashing pool."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(_executor(), _verify, password_hash, password)


def needs_rehash(password_hash: str) -> bool:
    """Whether this (valid) hash was made with other parameters than ours."""
    try:
        return _hasher.check_needs_rehash(password_hash)
    except InvalidHashError:
        return False


def check_password_policy(
    password: str, *, email: str = "", name: str = "", field: str = "password"
) -> None:
    """Refuse a password that is short, too long or easy to guess (a clear reason)."""
    if len(password) < MIN_LENGTH:
        raise ActionError(
            N_("The password must be at least %(min)d characters long."),
            field=field,
            min=MIN_LENGTH,
        )
    if len(password) > MAX_LENGTH:
        raise ActionError(N_("The password is too long."), field=field)
    if email and password.lower() == email.lower():
        raise ActionError(N_("The password must not be your email address."), field=field)
    # The address, its local part and each word of both, the name and its words.
    local = email.partition("@")[0]
    words = re.split(r"[\s._+-]+", f"{local} {name}")
    reason = weakness(password, [email, local, name, *words])
    if reason is not None:
        raise ActionError(reason, field=field)
