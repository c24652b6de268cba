"""db: the database schema, its version and its upgrade; a copy of the database into an empty one."""

from __future__ import annotations

import argparse
import sys

from .common import site


def cmd_db(args: argparse.Namespace) -> int:
    s = site(args, open_database=False)
    from ..store.db import Database, safe_url

    db = Database(s.settings.database_url)
    if args.db_command == "copy":
        from ..store.copy import copy_database

        if not args.to:
            print("meet-sched: db copy: --to URL is required (the empty database to copy into)", file=sys.stderr)
            return 2
        counts = copy_database(db, Database(args.to))
        done = ", ".join(f"{n} {table}" for table, n in counts.items())
        print(f"copied {safe_url(s.settings.database_url)} to {safe_url(args.to)}: {done}")
        return 0
    if args.to:
        print("meet-sched: db: --to is only for db copy", file=sys.stderr)
        return 2
    if args.db_command == "upgrade":
        db.upgrade()
    print(f"{safe_url(s.settings.database_url)}: schema {db.current()} (latest {db.head()})")
    return 0
