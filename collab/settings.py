"""Configuration: one frozen object built from the environment, in one place.

Every field is documented in the README's configuration table; a test checks
that the two agree (``tests/test_settings.py``).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path

__all__ = ["ConfigurationError", "Settings", "load_settings"]

ENVIRONMENTS = ("development", "production", "test")
DEFAULT_UPLOAD_MAX_BYTES = 50 * 1024 * 1024


class ConfigurationError(RuntimeError):
    """The environment does not describe a configuration we can run with."""


@dataclass(frozen=True)
class Settings:
    """Everything the process is configured with. Built by :func:`load_settings`."""

    #: ``development`` (default), ``production`` or ``test``.
    env: str = field(default="development", metadata={"env": "COLLAB_ENV"})
    #: Where the SQLite file, the generated secret key and uploads live.
    data_dir: Path = field(default=Path("data"), metadata={"env": "DATA_DIR"})
    #: SQLAlchemy async URL; default ``sqlite+aiosqlite:///<DATA_DIR>/collab.sqlite3``.
    database_url: str = field(default="", metadata={"env": "DATABASE_URL"})
    #: Redis URL for the channel layer; unset means the in-memory layer (one process).
    redis_url: str = field(default="", metadata={"env": "REDIS_URL"})
    #: Signs session cookies. Required in production.
    secret_key: str = field(default="", repr=False, metadata={"env": "SECRET_KEY"})
    #: Public URL of the site, e.g. ``https://collab.example.it``; https turns on Secure cookies.
    base_url: str = field(default="http://127.0.0.1:8000", metadata={"env": "BASE_URL"})
    #: Seconds a login session lasts without activity.
    session_max_age: int = field(default=14 * 24 * 3600, metadata={"env": "SESSION_MAX_AGE"})
    #: Failed logins for one account from one client IP before each further
    #: attempt from that client must wait (1 s, doubling, up to ``LOGIN_MAX_DELAY``).
    #: The account is never locked: other clients are not slowed down.
    login_max_failures_account: int = field(
        default=3, metadata={"env": "LOGIN_MAX_FAILURES_ACCOUNT"}
    )
    #: Failed logins from one client IP, any account, before its attempts must wait the same way.
    login_max_failures_ip: int = field(default=30, metadata={"env": "LOGIN_MAX_FAILURES_IP"})
    #: Seconds a failed login counts for the throttle.
    login_throttle_window: int = field(default=86400, metadata={"env": "LOGIN_THROTTLE_WINDOW"})
    #: Longest wait between two login attempts of a throttled client, in seconds.
    login_max_delay: int = field(default=900, metadata={"env": "LOGIN_MAX_DELAY"})
    #: Days login attempts are kept for the admins' page (/admin/logins).
    login_attempt_keep_days: int = field(default=30, metadata={"env": "LOGIN_ATTEMPT_KEEP_DAYS"})
    #: Passwords hashed or checked at once per process, in threads off the event
    #: loop (argon2: ~150 ms of CPU and 64 MiB each); more logins wait their turn.
    password_hash_threads: int = field(default=1, metadata={"env": "PASSWORD_HASH_THREADS"})
    #: Language of the UI when the user has not chosen one (``it`` or ``en``).
    default_locale: str = field(default="it", metadata={"env": "DEFAULT_LOCALE"})
    #: Frames a websocket may have waiting before it counts as too slow and is closed.
    ws_queue_size: int = field(default=256, metadata={"env": "WS_QUEUE_SIZE"})
    #: Seconds between heartbeats (and permission re-checks) on each websocket.
    ws_heartbeat: int = field(default=25, metadata={"env": "WS_HEARTBEAT"})
    #: Days the event log keeps events for replay; a page that was away longer reloads.
    event_log_days: int = field(default=7, metadata={"env": "EVENT_LOG_DAYS"})
    #: Largest file one upload may carry, in bytes (checked while it streams in).
    upload_max_bytes: int = field(
        default=DEFAULT_UPLOAD_MAX_BYTES, metadata={"env": "UPLOAD_MAX_BYTES"}
    )
    #: Uploads one user may be sending at once; one more is refused (429).
    upload_concurrent_per_user: int = field(
        default=2, metadata={"env": "UPLOAD_CONCURRENT_PER_USER"}
    )
    #: Uploads one process accepts at once, from everyone; one more is refused (503).
    upload_concurrent: int = field(default=16, metadata={"env": "UPLOAD_CONCURRENT"})
    #: Free disk space (MB) under DATA_DIR below which uploads are refused (507).
    upload_min_free_mb: int = field(default=512, metadata={"env": "UPLOAD_MIN_FREE_MB"})
    #: SMTP server for e-mail (``smtp://``, ``smtp+starttls://``, ``smtps://``, with
    #: ``user:password@``); unset: messages are written to ``DATA_DIR/mail``.
    smtp_url: str = field(default="", repr=False, metadata={"env": "SMTP_URL"})
    #: The From of every message.
    mail_from: str = field(default="collab <noreply@localhost>", metadata={"env": "MAIL_FROM"})
    #: Attempts to send a message through temporary failures before admins are shown it.
    mail_max_attempts: int = field(default=8, metadata={"env": "MAIL_MAX_ATTEMPTS"})
    #: Seconds a sender holds the messages it took; a process killed before
    #: sending them lets another take them after that.
    mail_claim_seconds: int = field(default=120, metadata={"env": "MAIL_CLAIM_SECONDS"})
    #: When the daily digest of notifications leaves, Europe/Rome time (``HH:MM``).
    digest_time: str = field(default="07:00", metadata={"env": "DIGEST_TIME"})
    #: Days a read notification is kept; unread ones stay until read.
    notification_keep_days: int = field(default=90, metadata={"env": "NOTIFICATION_KEEP_DAYS"})
    #: People one post may notify by mentioning them; the rest are linked only.
    mention_limit: int = field(default=30, metadata={"env": "MENTION_LIMIT"})

    @property
    def files_dir(self) -> Path:
        """Where uploaded files live, by SHA-256 (``DATA_DIR/files``)."""
        return self.data_dir / "files"

    @property
    def mail_dir(self) -> Path:
        """Where messages go when no ``SMTP_URL`` is set (``DATA_DIR/mail``)."""
        return self.data_dir / "mail"

    @property
    def production(self) -> bool:
        return self.env == "production"

    @property
    def secure_cookies(self) -> bool:
        return self.base_url.startswith("https://")

    @property
    def sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


def env_names() -> dict[str, str]:
    """Map each environment variable to the field it sets."""
    return {f.metadata["env"]: f.name for f in fields(Settings)}


def _secret_key(env: str, data_dir: Path, given: str) -> str:
    if given:
        return given
    if env == "production":
        raise ConfigurationError("SECRET_KEY must be set when COLLAB_ENV=production")
    # Development only: generate once and keep it, so sessions survive restarts.
    path = data_dir / "secret_key"
    if path.exists():
        return path.read_text().strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    # Created with mode 0600: the key is never readable by others, not even briefly.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fp:
        fp.write(key)
    return key


def _int(environ: Mapping[str, str], name: str, default: int) -> int:
    raw = environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise ConfigurationError(f"{name} must be an integer, got {raw!r}") from exc
    if value <= 0:
        raise ConfigurationError(f"{name} must be positive, got {value}")
    return value


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Build :class:`Settings` from ``environ`` (default: ``os.environ``)."""
    environ = os.environ if environ is None else environ
    env = environ.get("COLLAB_ENV", "development")
    if env not in ENVIRONMENTS:
        raise ConfigurationError(f"COLLAB_ENV must be one of {', '.join(ENVIRONMENTS)}")
    data_dir = Path(environ.get("DATA_DIR") or "data").resolve()
    database_url = (
        environ.get("DATABASE_URL") or f"sqlite+aiosqlite:///{data_dir / 'collab.sqlite3'}"
    )
    if database_url.startswith(("postgres://", "postgresql://")):
        # Hosting platforms hand out libpq URLs; we talk to PostgreSQL through asyncpg.
        database_url = "postgresql+asyncpg://" + database_url.split("://", 1)[1]
    locale = environ.get("DEFAULT_LOCALE") or "it"
    if locale not in ("it", "en"):
        raise ConfigurationError("DEFAULT_LOCALE must be 'it' or 'en'")
    defaults = Settings()
    return Settings(
        env=env,
        data_dir=data_dir,
        database_url=database_url,
        redis_url=environ.get("REDIS_URL", ""),
        secret_key=_secret_key(env, data_dir, environ.get("SECRET_KEY", "")),
        base_url=(environ.get("BASE_URL") or defaults.base_url).rstrip("/"),
        session_max_age=_int(environ, "SESSION_MAX_AGE", defaults.session_max_age),
        login_max_failures_account=_int(
            environ, "LOGIN_MAX_FAILURES_ACCOUNT", defaults.login_max_failures_account
        ),
        login_max_failures_ip=_int(
            environ, "LOGIN_MAX_FAILURES_IP", defaults.login_max_failures_ip
        ),
        login_throttle_window=_int(
            environ, "LOGIN_THROTTLE_WINDOW", defaults.login_throttle_window
        ),
        login_max_delay=_int(environ, "LOGIN_MAX_DELAY", defaults.login_max_delay),
        login_attempt_keep_days=_int(
            environ, "LOGIN_ATTEMPT_KEEP_DAYS", defaults.login_attempt_keep_days
        ),
        password_hash_threads=_int(
            environ, "PASSWORD_HASH_THREADS", defaults.password_hash_threads
        ),
        default_locale=locale,
        event_log_days=_int(environ, "EVENT_LOG_DAYS", defaults.event_log_days),
        ws_queue_size=_int(environ, "WS_QUEUE_SIZE", defaults.ws_queue_size),
        ws_heartbeat=_int(environ, "WS_HEARTBEAT", defaults.ws_heartbeat),
        upload_max_bytes=_int(environ, "UPLOAD_MAX_BYTES", defaults.upload_max_bytes),
        upload_concurrent_per_user=_int(
            environ, "UPLOAD_CONCURRENT_PER_USER", defaults.upload_concurrent_per_user
        ),
        upload_concurrent=_int(environ, "UPLOAD_CONCURRENT", defaults.upload_concurrent),
        upload_min_free_mb=_int(environ, "UPLOAD_MIN_FREE_MB", defaults.upload_min_free_mb),
        smtp_url=_smtp_url(environ.get("SMTP_URL", "")),
        mail_from=environ.get("MAIL_FROM") or defaults.mail_from,
        mail_max_attempts=_int(environ, "MAIL_MAX_ATTEMPTS", defaults.mail_max_attempts),
        mail_claim_seconds=_int(environ, "MAIL_CLAIM_SECONDS", defaults.mail_claim_seconds),
        digest_time=_clock(environ, "DIGEST_TIME", defaults.digest_time),
        notification_keep_days=_int(
            environ, "NOTIFICATION_KEEP_DAYS", defaults.notification_keep_days
        ),
        mention_limit=_int(environ, "MENTION_LIMIT", defaults.mention_limit),
    )


def _clock(environ: Mapping[str, str], name: str, default: str) -> str:
    raw = environ.get(name) or default
    hours, _, minutes = raw.partition(":")
    if not (
        len(hours) == 2 and len(minutes) == 2 and hours.isdigit() and minutes.isdigit()
    ) or not (int(hours) < 24 and int(minutes) < 60):
        raise ConfigurationError(f"{name} must be a time of day as HH:MM, e.g. 07:00")
    return raw


def _smtp_url(url: str) -> str:
    if url and not url.startswith(("smtp://", "smtp+starttls://", "smtps://")):
        raise ConfigurationError("SMTP_URL must start with smtp://, smtp+starttls:// or smtps://")
    return url
