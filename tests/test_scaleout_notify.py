"""PostgreSQL LISTEN/NOTIFY between processes sharing an outbox: a notification arrives at once, SQLite sends none."""

from __future__ import annotations

import queue
import threading
import time
from pathlib import Path

import pytest

from meet_sched.store.db import Database, listen, listens


@pytest.mark.postgres
def test_a_notification_reaches_a_listener_within_a_second(pg_url: str) -> None:
    got: queue.Queue[str] = queue.Queue()
    stop = threading.Event()
    thread = threading.Thread(target=listen, args=(pg_url, got.put, stop), daemon=True)
    thread.start()
    try:
        assert got.get(timeout=10) == ""  # connected: the caller is told to look once
        db = Database(pg_url)
        try:
            sent = time.monotonic()
            db.notify("worker-a")
            assert got.get(timeout=5) == "worker-a"
            assert time.monotonic() - sent < 1.0
        finally:
            db.dispose()
    finally:
        stop.set()
        thread.join(timeout=5)
    assert not thread.is_alive(), "the listener stops when asked"


def test_sqlite_neither_listens_nor_notifies(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'site.db'}"
    assert not listens(url)
    db = Database(url)
    try:
        db.notify("nobody")  # nothing to do, nothing raised
    finally:
        db.dispose()
