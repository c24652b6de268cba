"""What a sync would do, without doing it: the same ``Site.sync``, in a transaction rolled back.

Against the site's database (``meet-sched diff``), or against another checkout of the config
(``--base DIR``): the base is synced into a throw-away SQLite database at the same ``now``, its
invitations taken as sent, then the current config is synced into it as a dry run.
"""

from __future__ import annotations

import dataclasses
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

from sqlalchemy.engine import make_url

from ..config import Config, Settings, load_config
from ..errors import DatabaseError
from ..site import Site, SyncReport
from ..store.db import Database, safe_url
from ..store.outbox import assume_sent


@contextmanager
def _scratch(root: Path, settings: Settings) -> Iterator[Site]:
    """A site on ``root`` whose database is a new, empty SQLite file that is deleted afterwards."""
    with tempfile.TemporaryDirectory(prefix="meet-sched-diff-") as tmp:
        site = Site(root, settings=dataclasses.replace(settings, database_url=f"sqlite:///{tmp}/base.db"))
        try:
            site.open()
            yield site
        finally:
            site.close()


def _database_missing(settings: Settings) -> bool:
    """True if the site's database does not exist yet (an SQLite file not created, or no schema)."""
    url = make_url(settings.database_url)
    if url.get_backend_name() == "sqlite":
        name = url.database or ""
        if name and name != ":memory:" and not name.startswith("file:") and not Path(name).exists():
            return True  # opening it would create it
    db = Database(settings.database_url)
    try:
        current = db.current()
        if current is None:
            return True
        if current != db.head():
            raise DatabaseError(
                safe_url(settings.database_url), "its schema is not the newest: `meet-sched db upgrade` first"
            )
        return False
    finally:
        db.dispose()


def against_database(root: Path, now: datetime) -> tuple[Config, SyncReport]:
    """What ``meet-sched sync`` would change in the site's database at ``now`` (nothing is written)."""
    config = load_config(root.resolve())  # settings and every meeting file: all problems listed at once
    site = Site(root, settings=config.settings)
    if _database_missing(site.settings):
        with _scratch(site.root, site.settings) as scratch:
            return config, scratch.sync(now, config, dry_run=True)
    try:
        return config, site.sync(now, config, dry_run=True)
    finally:
        site.close()


def against_base(root: Path, base: Path, now: datetime) -> tuple[Config, SyncReport]:
    """What the config under ``root`` would change on a site whose config is ``base``, at ``now``.

    Both trees are validated (every problem listed); the base's own settings decide how it is
    planned, the current ones how the change is.
    """
    config = load_config(root.resolve())
    before = load_config(base.resolve(), confined=True)  # a checkout from elsewhere: nothing read outside it
    with _scratch(root.resolve(), config.settings) as scratch:
        scratch.sync(now, before)
        with scratch.db.transaction(write=True) as session:
            assume_sent(session, now)
        return config, scratch.sync(now, config, dry_run=True)
