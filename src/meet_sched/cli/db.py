"""db: the database schema, its version and its upgrade."""

from __future__ import annotations

import argparse

from .common import site


def cmd_db(args: argparse.Namespace) -> int:
    s = site(args, open_database=False)
    from ..store.db import Database, safe_url

    db = Database(s.settings.database_url)
    if args.db_command == "upgrade":
        db.upgrade()
    print(f"{safe_url(s.settings.database_url)}: schema {db.current()} (latest {db.head()})")
    return 0
