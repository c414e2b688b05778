"""Settings: built from the environment, validated, and every one documented."""

from __future__ import annotations

import re
import stat
from dataclasses import fields
from pathlib import Path

import pytest

from collab.settings import ConfigurationError, Settings, env_names, load_settings

README = Path(__file__).resolve().parent.parent / "README.md"
# A row of the configuration table: "| `DATABASE_URL` | default | meaning |".
TABLE_ROW = re.compile(r"^\s*\|\s*`([A-Z][A-Z0-9_]*)`\s*\|")

INT_VARS = sorted(f.metadata["env"] for f in fields(Settings) if f.type in ("int", int))


def table_env_vars(markdown: str) -> set[str]:
    """The names in backticks in the first column of the Markdown tables."""
    return {m.group(1) for line in markdown.splitlines() if (m := TABLE_ROW.match(line))}


def test_table_parser_reads_first_column_only() -> None:
    markdown = (
        "| Variable | Default | Meaning |\n"
        "|---|---|---|\n"
        "| `DATABASE_URL` | `sqlite` | uses `SECRET_KEY` too |\n"
        "|`REDIS_URL`|unset|x|\n"
        "Text mentioning `BASE_URL` outside a table.\n"
    )
    assert table_env_vars(markdown) == {"DATABASE_URL", "REDIS_URL"}


def test_every_setting_is_documented_in_the_readme() -> None:
    if not README.exists():
        pytest.fail(
            f"{README} is missing: it must document every setting in a configuration table "
            "whose first column is the variable in backticks (| `DATABASE_URL` | ... |)"
        )
    documented = table_env_vars(README.read_text(encoding="utf-8"))
    missing = sorted(set(env_names()) - documented)
    assert not missing, f"settings missing from README.md's configuration table: {missing}"


def test_every_env_var_reaches_its_field(tmp_path: Path) -> None:
    samples = {
        "COLLAB_ENV": "test",
        "DATA_DIR": str(tmp_path / "data"),
        "DATABASE_URL": "sqlite+aiosqlite:////srv/collab.sqlite3",
        "REDIS_URL": "redis://127.0.0.1:6379/3",
        "SECRET_KEY": "k" * 40,
        "BASE_URL": "https://collab.example.it",
        "SESSION_MAX_AGE": "3601",
        "LOGIN_MAX_FAILURES_ACCOUNT": "7",
        "LOGIN_MAX_FAILURES_IP": "31",
        "LOGIN_THROTTLE_WINDOW": "601",
        "LOGIN_MAX_DELAY": "301",
        "LOGIN_ATTEMPT_KEEP_DAYS": "14",
        "PASSWORD_HASH_THREADS": "3",
        "DEFAULT_LOCALE": "en",
        "WS_QUEUE_SIZE": "64",
        "WS_HEARTBEAT": "10",
        "EVENT_LOG_DAYS": "3",
        "UPLOAD_MAX_BYTES": "1048576",
        "UPLOAD_CONCURRENT_PER_USER": "3",
        "UPLOAD_CONCURRENT": "9",
        "UPLOAD_MIN_FREE_MB": "100",
        "SMTP_URL": "smtp+starttls://collab:segreto@mail.example.it:587",
        "MAIL_FROM": "Collab CMTo <collab@example.it>",
        "MAIL_MAX_ATTEMPTS": "5",
        "MAIL_CLAIM_SECONDS": "60",
        "DIGEST_TIME": "06:30",
        "NOTIFICATION_KEEP_DAYS": "30",
        "MENTION_LIMIT": "12",
    }
    assert set(samples) == set(env_names()), "give the new setting a sample value here"
    settings = load_settings(samples)
    for var, name in env_names().items():
        value = getattr(settings, name)
        expected = samples[var]
        assert str(value) == expected, f"{var} does not reach Settings.{name}"


def test_defaults(tmp_path: Path) -> None:
    settings = load_settings({"DATA_DIR": str(tmp_path)})
    assert settings.env == "development"
    assert settings.database_url == f"sqlite+aiosqlite:///{tmp_path / 'collab.sqlite3'}"
    assert settings.sqlite
    assert settings.redis_url == ""
    assert settings.default_locale == "it"
    assert not settings.secure_cookies
    assert settings.session_max_age == 14 * 24 * 3600


def test_base_url_https_means_secure_cookies(tmp_path: Path) -> None:
    settings = load_settings({"DATA_DIR": str(tmp_path), "BASE_URL": "https://x.example.it/"})
    assert settings.base_url == "https://x.example.it"
    assert settings.secure_cookies


def test_development_secret_key_is_generated_once_and_private(tmp_path: Path) -> None:
    first = load_settings({"DATA_DIR": str(tmp_path)})
    key_file = tmp_path / "secret_key"
    assert len(first.secret_key) >= 32
    assert key_file.read_text().strip() == first.secret_key
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    second = load_settings({"DATA_DIR": str(tmp_path)})
    assert second.secret_key == first.secret_key
    other = load_settings({"DATA_DIR": str(tmp_path / "other")})
    assert other.secret_key != first.secret_key


def test_secret_key_from_env_writes_no_file(tmp_path: Path) -> None:
    settings = load_settings({"DATA_DIR": str(tmp_path), "SECRET_KEY": "s" * 40})
    assert settings.secret_key == "s" * 40
    assert not (tmp_path / "secret_key").exists()
    assert "s" * 40 not in repr(settings)


def test_production_needs_a_secret_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="SECRET_KEY"):
        load_settings({"COLLAB_ENV": "production", "DATA_DIR": str(tmp_path)})
    assert not (tmp_path / "secret_key").exists()
    settings = load_settings(
        {"COLLAB_ENV": "production", "DATA_DIR": str(tmp_path), "SECRET_KEY": "p" * 40}
    )
    assert settings.production


@pytest.mark.parametrize("var", INT_VARS)
@pytest.mark.parametrize("raw", ["abc", "1.5", "0", "-3", "10s"])
def test_bad_integers_are_refused(tmp_path: Path, var: str, raw: str) -> None:
    with pytest.raises(ConfigurationError, match=var):
        load_settings({"DATA_DIR": str(tmp_path), var: raw})


def test_integer_settings_exist() -> None:
    assert INT_VARS == [
        "EVENT_LOG_DAYS",
        "LOGIN_ATTEMPT_KEEP_DAYS",
        "LOGIN_MAX_DELAY",
        "LOGIN_MAX_FAILURES_ACCOUNT",
        "LOGIN_MAX_FAILURES_IP",
        "LOGIN_THROTTLE_WINDOW",
        "MAIL_CLAIM_SECONDS",
        "MAIL_MAX_ATTEMPTS",
        "MENTION_LIMIT",
        "NOTIFICATION_KEEP_DAYS",
        "PASSWORD_HASH_THREADS",
        "SESSION_MAX_AGE",
        "UPLOAD_CONCURRENT",
        "UPLOAD_CONCURRENT_PER_USER",
        "UPLOAD_MAX_BYTES",
        "UPLOAD_MIN_FREE_MB",
        "WS_HEARTBEAT",
        "WS_QUEUE_SIZE",
    ]


@pytest.mark.parametrize(
    ("var", "raw"),
    [
        ("COLLAB_ENV", "staging"),
        ("DEFAULT_LOCALE", "fr"),
        ("DIGEST_TIME", "7"),
        ("DIGEST_TIME", "24:00"),
        ("DIGEST_TIME", "07:60"),
        ("DIGEST_TIME", "ab:cd"),
    ],
)
def test_bad_choices_are_refused(tmp_path: Path, var: str, raw: str) -> None:
    with pytest.raises(ConfigurationError, match=var):
        load_settings({"DATA_DIR": str(tmp_path), var: raw})


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgres://u:p@db:5432/collab", "postgresql+asyncpg://u:p@db:5432/collab"),
        ("postgresql://u:p@db/collab", "postgresql+asyncpg://u:p@db/collab"),
        ("postgresql+asyncpg://u:p@db/collab", "postgresql+asyncpg://u:p@db/collab"),
        ("sqlite+aiosqlite:////srv/c.sqlite3", "sqlite+aiosqlite:////srv/c.sqlite3"),
    ],
)
def test_database_urls_are_rewritten_for_asyncpg(tmp_path: Path, given: str, expected: str) -> None:
    settings = load_settings({"DATA_DIR": str(tmp_path), "DATABASE_URL": given})
    assert settings.database_url == expected


def test_an_smtp_url_of_another_kind_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="SMTP_URL"):
        load_settings({"SMTP_URL": "http://mail.example.it", "SECRET_KEY": "k" * 40})
