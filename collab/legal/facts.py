"""What collab itself sets in browsers and deletes on its own, from the code and settings.

The cookie statement and the privacy notice show these tables under the
administration's text, so they cannot drift from what the software does: the
cookie names are the ones the code sets (:mod:`collab.cookies`, which
``collab.app`` and ``collab.accounts.routes`` import; ``tests/test_legal.py``
checks that no other cookie is set anywhere), and the periods come from the running
settings.
"""

from __future__ import annotations

from dataclasses import dataclass

from collab.cookies import LANG_COOKIE, LANG_COOKIE_MAX_AGE, SESSION_COOKIE
from collab.documents.store import ORPHAN_AGE
from collab.i18n import N_
from collab.ratelimit import PUBLIC_WINDOW
from collab.settings import Settings

__all__ = [
    "LANG_COOKIE",
    "LANG_COOKIE_MAX_AGE",
    "SESSION_COOKIE",
    "Cookie",
    "Retention",
    "cookies",
    "login_attempt_seconds",
    "retention",
]


@dataclass(frozen=True)
class Cookie:
    """A cookie collab sets: all are technical (no profiling, no analytics, no third party)."""

    name: str
    purpose: str  # msgid
    who: str  # msgid: whose browser gets it
    max_age: int  # seconds
    sliding: bool  # counted again from every request


@dataclass(frozen=True)
class Retention:
    """Personal data collab deletes on its own, and after how long."""

    what: str  # msgid
    seconds: int
    how: str  # msgid


def cookies(settings: Settings) -> list[Cookie]:
    return [
        Cookie(
            SESSION_COOKIE,
            N_(
                "The session: a random identifier that keeps you logged in. What it stands "
                "for (who you are, the token that protects forms from requests forged by "
                "other sites, CSRF) is kept on the server, and a logout ends it at once. "
                "HttpOnly, SameSite=Lax, and Secure when the site is served over HTTPS."
            ),
            N_("Every visitor, from the first page"),
            settings.session_max_age,
            sliding=True,
        ),
        Cookie(
            LANG_COOKIE,
            N_("Remembers the language chosen for the interface (Italian or English)."),
            N_("Only who changes the language"),
            LANG_COOKIE_MAX_AGE,
            sliding=False,
        ),
    ]


def login_attempt_seconds(settings: Settings) -> int:
    """How long a login attempt is kept (``collab.housekeeping.sweep``)."""
    return max(settings.login_attempt_keep_days * 24 * 3600, settings.login_throttle_window)


def retention(settings: Settings) -> list[Retention]:
    return [
        Retention(
            N_(
                "Login session (who is logged in, the CSRF token, the browser and the IP "
                "address it came from)"
            ),
            settings.session_max_age,
            N_("after the last request; ends at once on logout, password change or deactivation"),
        ),
        Retention(
            N_(
                "Login attempts (the e-mail address typed, the client's IP address, "
                "the time, the outcome)"
            ),
            login_attempt_seconds(settings),
            N_("then deleted by the hourly housekeeping"),
        ),
        Retention(
            N_("Log of live updates (identifiers of what changed, for pages that reconnect)"),
            settings.event_log_days * 24 * 3600,
            N_("then deleted by the hourly housekeeping"),
        ),
        Retention(
            N_("Client IP addresses of visitors of public meeting pages (rate limit)"),
            int(PUBLIC_WINDOW),
            N_("in the server's memory only, never written to the database"),
        ),
        Retention(
            N_("Incomplete uploads and file contents that no document refers to any more"),
            ORPHAN_AGE,
            N_("then deleted by the hourly housekeeping"),
        ),
    ]
