"""The ``collab`` command: migrate, import-comuni, createuser, demo, sweep, backup,
restore, reindex."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from collab import migrate
from collab.accounts.actions import do_create_user
from collab.backup import BackupError, make_backup, restore_backup
from collab.db import Database
from collab.demo import DEMO_PASSWORD, DEMO_USERS, load_demo, public_meetings
from collab.documents.store import FileStore
from collab.errors import ActionError
from collab.housekeeping import sweep
from collab.i18n import translations
from collab.importer import import_comuni
from collab.search.index import reindex
from collab.settings import ConfigurationError, Settings, load_settings

__all__ = ["main"]


async def _import(settings: Settings, path: Path) -> int:
    _ = translations(settings.default_locale).gettext
    try:
        data = await asyncio.to_thread(path.read_bytes)
    except OSError as exc:
        print(
            _("Cannot read %(path)s: %(error)s") % {"path": path, "error": exc.strerror},
            file=sys.stderr,
        )
        return 2
    database = Database(settings.database_url)
    try:
        async with database.transaction() as uow:
            report = await import_comuni(uow, data)
            if not report.ok:
                # Nothing is written from a file with errors.
                await uow.session.rollback()
    finally:
        await database.dispose()
    if not report.ok:
        print(_("Nothing imported: the file has errors."), file=sys.stderr)
        for err in report.errors:
            text = _(err.message) % err.params if err.params else _(err.message)
            print(_("line %(line)d: %(text)s") % {"line": err.line, "text": text}, file=sys.stderr)
        return 1
    print(
        _("Comuni: %(created)d created, %(moved)d moved to another zone, "
          "%(renamed)d renamed, %(unchanged)d unchanged.")
        % {"created": len(report.created), "moved": len(report.moved),
           "renamed": len(report.renamed), "unchanged": report.unchanged}
    )  # fmt: skip
    return 0


async def _createuser(settings: Settings, args: argparse.Namespace) -> int:
    _ = translations(settings.default_locale).gettext
    password = os.environ.get("COLLAB_PASSWORD") or getpass.getpass(_("Password: "))
    database = Database(settings.database_url)
    try:
        async with database.transaction() as uow:
            user = await do_create_user(
                uow, None, email=args.email, name=args.name, role=args.role,
                password=password, comune_istat=None if args.cmto else args.comune,
            )  # fmt: skip
    except ActionError as exc:
        text = _(exc.message) % exc.params if exc.params else _(exc.message)
        print(text, file=sys.stderr)
        return 1
    finally:
        await database.dispose()
    print(_("User %(email)s created.") % {"email": user.email})
    return 0


async def _demo(settings: Settings) -> int:
    _ = translations(settings.default_locale).gettext
    database = Database(settings.database_url)
    try:
        loaded = await load_demo(database, FileStore(settings.files_dir))
        meetings = await public_meetings(database)
    finally:
        await database.dispose()
    if loaded:
        print(_("Demo data loaded."))
    print(_("Demo logins (password: %(password)s):") % {"password": DEMO_PASSWORD})
    for email, name, role, _istat in DEMO_USERS:
        print(f"  {email:40} {role:10} {name}")
    if meetings:
        print(_("Public meetings, to follow live without logging in:"))
        for title, path in meetings:
            print(f"  {settings.base_url}{path}  {title}")
    return 0


async def _sweep(settings: Settings) -> int:
    database = Database(settings.database_url)
    try:
        swept = await sweep(database, settings)
    finally:
        await database.dispose()
    print(f"swept {swept.events} events and {swept.login_attempts} login attempts")
    return 0


async def _reindex(settings: Settings) -> int:
    database = Database(settings.database_url)
    try:
        count = await reindex(database)
    finally:
        await database.dispose()
    print(f"reindexed {count} threads, posts, consultations and meetings")
    return 0


def _error(settings: Settings, exc: BackupError) -> int:
    _ = translations(settings.default_locale).gettext
    print(_(exc.message) % exc.params if exc.params else _(exc.message), file=sys.stderr)
    return 1


async def _backup(settings: Settings, to: Path) -> int:
    _ = translations(settings.default_locale).gettext
    try:
        path, manifest = await make_backup(settings, to)
    except BackupError as exc:
        return _error(settings, exc)
    size = sum(entry.size for entry in manifest.files)
    print(
        _("Backup written to %(path)s: %(count)d files, %(mb).1f MB, revision %(revision)s.")
        % {"path": path, "count": len(manifest.files), "mb": size / 1e6,
           "revision": manifest.revision}
    )  # fmt: skip
    return 0


async def _restore(settings: Settings, archive: Path, force: bool) -> int:
    _ = translations(settings.default_locale).gettext
    try:
        restored = await restore_backup(settings, archive, force=force)
    except BackupError as exc:
        return _error(settings, exc)
    manifest = restored.manifest
    print(
        _("Restored the backup of %(created)s (%(count)d files, revision %(revision)s).")
        % {"created": manifest.created_at, "count": len(manifest.files),
           "revision": manifest.revision}
    )  # fmt: skip
    if restored.migrated_from:
        print(_("The database was migrated from revision %(revision)s.")
              % {"revision": restored.migrated_from})  # fmt: skip
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="collab", description="collab administration")
    sub = parser.add_subparsers(dest="command", required=True)
    m = sub.add_parser("migrate", help="apply database migrations (or go down to --to)")
    m.add_argument("--to", default="head", help="target revision (default: head)")
    m.add_argument("--down", action="store_true", help="downgrade to --to instead of upgrading")
    i = sub.add_parser("import-comuni", help="import comuni from a CSV: ISTAT code, name, zone")
    i.add_argument("file", type=Path)
    c = sub.add_parser("createuser", help="create a user (password from $COLLAB_PASSWORD or asked)")
    c.add_argument("--email", required=True)
    c.add_argument("--name", required=True)
    c.add_argument(
        "--role", required=True, choices=["admin", "staff", "portavoce", "sindaco", "tecnico"]
    )
    group = c.add_mutually_exclusive_group(required=True)
    group.add_argument("--comune", metavar="ISTAT", help="ISTAT code of the user's comune")
    group.add_argument("--cmto", action="store_true", help="the user belongs to CMTo")
    sub.add_parser("demo", help="load demo data (development only) and print the demo logins")
    sub.add_parser(
        "sweep", help="delete events past EVENT_LOG_DAYS and stale login attempts (for cron)"
    )
    b = sub.add_parser(
        "backup",
        help="write a consistent backup of the database and DATA_DIR's files to a .tar",
        description="Dump the database as of one instant (SQLite online backup, pg_dump), "
        "then copy the stored files, the mail directory and the generated secret key, with "
        "a manifest of SHA-256 hashes. The app may keep running.",
    )
    b.add_argument(
        "--to", type=Path, default=Path("."), metavar="DIR_OR_FILE",
        help="directory for collab-backup-<UTC time>.tar, or a file name ending in .tar "
        "(default: the current directory)",
    )  # fmt: skip
    r = sub.add_parser(
        "restore",
        help="restore a backup into DATABASE_URL and DATA_DIR (stop the app first)",
        description="Check every file of the archive against its manifest, then load the "
        "database and put the files in place; a backup of an older revision is migrated, "
        "one of a newer collab is refused. The target must be empty unless --force.",
    )
    r.add_argument("archive", type=Path, help="a .tar written by collab backup")
    r.add_argument(
        "--force", action="store_true",
        help="replace a database and files that are already there",
    )  # fmt: skip
    sub.add_parser(
        "reindex",
        help="rebuild the search index from the data (after an upgrade, a restore)",
        description="Empty the search index and index every thread, post, consultation, "
        "contribution, meeting and published verbale again. Safe to run again, and while "
        "the app runs.",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings()
    except ConfigurationError as exc:
        print(f"collab: {exc}", file=sys.stderr)
        return 2
    if args.command == "migrate":
        if args.down:
            migrate.downgrade(settings.database_url, args.to if args.to != "head" else "base")
        else:
            migrate.upgrade(settings.database_url, args.to)
        return 0
    if args.command == "import-comuni":
        return asyncio.run(_import(settings, args.file))
    if args.command == "createuser":
        return asyncio.run(_createuser(settings, args))
    if args.command == "sweep":
        return asyncio.run(_sweep(settings))
    if args.command == "backup":
        return asyncio.run(_backup(settings, args.to))
    if args.command == "restore":
        return asyncio.run(_restore(settings, args.archive, args.force))
    if args.command == "reindex":
        return asyncio.run(_reindex(settings))
    if settings.production:
        print("collab: refusing to load demo data with COLLAB_ENV=production", file=sys.stderr)
        return 2
    return asyncio.run(_demo(settings))


if __name__ == "__main__":
    raise SystemExit(main())
