"""`meet-sched db copy`: a site's SQLite database moved whole into an empty PostgreSQL one, never into a full one."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, select

from meet_sched.store.tables import Base

from .conftest import SiteDir
from .test_serve_feeds import BOARD, COUNCIL, SETTINGS

pytestmark = pytest.mark.postgres


def dump(url: str) -> dict[str, list[dict[str, Any]]]:
    """Every row of every table, by id."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return {
                t.name: [dict(r) for r in conn.execute(select(t).order_by(*t.primary_key.columns)).mappings()]
                for t in Base.metadata.sorted_tables
            }
    finally:
        engine.dispose()


def test_copy_round_trip_and_a_non_empty_target_is_refused(tmp_path: Path, pg_url: str) -> None:
    site = SiteDir(tmp_path / "site")  # SQLite, whatever database the suite runs on
    (site.root / "config" / "meet-sched.toml").write_text(SETTINGS, encoding="utf-8")
    site.meeting("council.yaml", COUNCIL)
    site.meeting("board.yaml", BOARD)
    site.run("run", check=True)  # meetings, and invitations sent into the Maildir
    site.run("feeds", "rotate", "mira.ahn@test.example", check=True)
    sqlite_url = f"sqlite:///{site.root / 'var' / 'meet-sched.db'}"
    before = dump(sqlite_url)
    assert before["meetings"] and before["feed_tokens"]
    assert "sent" in {r["status"] for r in before["outbox"]}  # history: the invitations sent

    copied = site.run("db", "copy", "--to", pg_url)
    assert copied.returncode == 0, copied.stderr
    assert f"{len(before['outbox'])} outbox" in copied.stdout
    assert dump(pg_url) == before

    again = site.run("db", "copy", "--to", pg_url)
    assert again.returncode == 1
    assert "not empty: table" in again.stderr and "Traceback" not in again.stderr
    assert dump(pg_url) == before, "a refused copy writes nothing"

    # The copy is a working site: the next sync on PostgreSQL adds rows after the copied ids.
    site.meeting("council.yaml", COUNCIL.replace("title: Council session", "title: Council session (room 2)"))
    synced = site.run("run", env={"MEET_SCHED_DATABASE_URL": pg_url})
    assert synced.returncode == 0, synced.stderr
    after = dump(pg_url)
    assert len(after["outbox"]) > len(before["outbox"])
    assert dump(sqlite_url) == before, "the source is left as it was"
