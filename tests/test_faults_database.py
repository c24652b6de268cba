"""The database failing under a running `serve` (a private PostgreSQL cluster restarted, SQLite held by another
writer past busy_timeout): the service carries on by itself, every message is sent once, the log has no traceback."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import create_engine, text

from meet_sched.store.outbox import message_id

from .conftest import SiteDir, sqlite_only
from .mail_helpers import smtp_settings
from .serving import Served, poll
from .smtp_sink import SmtpSink, free_port

pytestmark = pytest.mark.slow
PG_BIN = Path("/usr/lib/postgresql/15/bin")
SEOUL = ZoneInfo("Asia/Seoul")
DOMAIN = "test.example"
BURST = 150


@dataclass
class Cluster:
    """A PostgreSQL server of this test's own (initdb in a temporary folder, a free port)."""

    data: Path
    port: int
    as_postgres: list[str]

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def ctl(self, *args: str) -> None:
        options = f"-p {self.port} -k {self.data} -c listen_addresses=127.0.0.1 -c fsync=off"
        subprocess.run(
            [
                *self.as_postgres,
                str(PG_BIN / "pg_ctl"),
                "-D",
                str(self.data / "db"),
                "-l",
                str(self.data / "log"),
                "-o",
                options,
                "-w",
                "-t",
                "30",
                *args,
            ],
            check=True,
            capture_output=True,
            timeout=60,
        )


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    """Not the machine's shared server: this one is restarted by the test."""
    if not (PG_BIN / "initdb").exists():
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL 15 binaries are not in {PG_BIN}")
        pytest.skip(f"PostgreSQL 15 binaries are not in {PG_BIN}")
    data = Path(tempfile.mkdtemp(prefix="meet-sched-pg-"))  # not under tmp_path: the postgres user must reach it
    as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []  # the server refuses root
    if as_postgres:
        shutil.chown(data, "postgres", "postgres")
    found = Cluster(data, free_port(), as_postgres)
    subprocess.run(
        [*as_postgres, str(PG_BIN / "initdb"), "-D", str(data / "db"), "-U", "postgres", "-A", "trust", "--no-sync"],
        check=True,
        capture_output=True,
        timeout=120,
    )
    found.ctl("start")
    try:
        yield found
    finally:
        with_log = (data / "log").read_text(errors="replace") if (data / "log").exists() else ""
        try:
            found.ctl("stop", "-m", "immediate")
        except subprocess.CalledProcessError:
            print(with_log)
        shutil.rmtree(data, ignore_errors=True)


def burst(site: SiteDir, sink: SmtpSink, *, due_in: float = 5) -> None:
    """BURST reminders due ``due_in`` seconds from now, over 4 connections, leases of 2 s."""
    extra = '\n[server]\nlisten = "127.0.0.1:0"\n\n[invitations]\nenabled = false\n'
    site.settings(smtp_settings(sink, extra, connections=4, delivery='lease = "2s"\n'))
    start = (datetime.now(UTC) + timedelta(minutes=3)).replace(microsecond=0)
    offset = int((start - datetime.now(UTC) - timedelta(seconds=due_in)).total_seconds())
    people = "\n".join(f"  - {{ name: P{i}, email: p{i:03d}@daegu.example }}" for i in range(BURST))
    site.meeting(
        "call.yaml",
        f"uid: call\ntitle: Working call\ntimezone: Asia/Seoul\n"
        f"start: {start.astimezone(SEOUL).replace(tzinfo=None).isoformat()}\nduration: 30m\n"
        f"reminders: [{offset}s]\nattendees:\n{people}\n",
    )


def assert_each_sent_once(sink: SmtpSink, keys: list[str]) -> None:
    everyone = sink.wait_until(lambda got: len({r.rcpt_tos for r in got}) == BURST, timeout=60)
    got = Counter(r.message_id for r in everyone)
    assert set(got) == {message_id(k, DOMAIN) for k in keys}
    assert max(got.values()) == 1, [mid for mid, n in got.items() if n > 1]


def test_postgresql_restarted_mid_burst(tmp_path: Path, smtp_server: SmtpSink, cluster: Cluster) -> None:
    site_dir = SiteDir(tmp_path / "site")  # its database is the cluster's, whichever pass this is
    burst(site_dir, smtp_server)
    smtp_server.delay = 0.02  # a burst that lasts a few seconds, so the restart lands in it
    server = Served(site_dir.root, env={"MEET_SCHED_DATABASE_URL": cluster.url})
    try:
        smtp_server.wait_for(30, timeout=30)
        cluster.ctl("restart", "-m", "fast")  # every connection is cut; the server is back a moment later
        assert len(smtp_server.received) < BURST, "the restart should land mid-burst"
        engine = create_engine(cluster.url)
        try:
            with engine.connect() as conn:
                keys = [k for (k,) in conn.execute(text("SELECT key FROM outbox"))]
            assert len(keys) == BURST
            assert_each_sent_once(smtp_server, keys)

            def statuses() -> dict[str, int]:
                with engine.connect() as conn:
                    return {s: n for s, n in conn.execute(text("SELECT status, count(*) FROM outbox GROUP BY 1"))}

            poll(statuses, lambda s: s == {"sent": BURST}, timeout=20)
        finally:
            engine.dispose()
        assert server.client.get("/healthz").json()["database"] == "ok"
    finally:
        code = server.stop()
    assert code == 0, server.log
    assert "Traceback" not in server.log, server.log


HOLD = 12.0  # seconds: longer than the SQLite busy_timeout (10 s) of every meet-sched connection


def hold_write_lock(db: Path, seconds: float) -> subprocess.Popen[str]:
    """Another process that takes SQLite's write lock (BEGIN IMMEDIATE) and keeps it ``seconds``."""
    code = (
        "import sqlite3, sys, time\n"
        "db = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
        "db.execute('BEGIN IMMEDIATE')\n"
        "print('locked', flush=True)\n"
        "time.sleep(float(sys.argv[2]))\n"
        "db.execute('COMMIT')\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code, str(db), str(seconds)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "locked"
    return proc


@sqlite_only("SQLite's write lock and busy_timeout")
def test_sqlite_held_by_another_writer_longer_than_busy_timeout(site_dir: SiteDir, smtp_server: SmtpSink) -> None:
    burst(site_dir, smtp_server)
    smtp_server.delay = 0.02
    db = site_dir.root / "var" / "meet-sched.db"
    server = Served(site_dir.root)
    locker = None
    try:
        smtp_server.wait_for(30, timeout=30)
        locker = hold_write_lock(db, HOLD)
        started = time.monotonic()
        # Meanwhile a config edit arrives: the sync waits for the lock too, then applies it.
        site_dir.meeting(
            "other.yaml",
            "uid: other\ntitle: Other\ntimezone: Asia/Seoul\nstart: 2027-01-05T10:00\n"
            "duration: 1h\nattendees: [{ name: Q, email: q@daegu.example }]\n",
        )
        locker.wait(timeout=HOLD + 10)
        assert time.monotonic() - started >= HOLD - 1
        with sqlite3.connect(db) as conn:
            keys = [k for (k,) in conn.execute("SELECT key FROM outbox WHERE meeting_uid = 'call@test.example'")]
        assert len(keys) == BURST
        assert_each_sent_once(smtp_server, keys)

        def statuses() -> dict[str, dict[str, int]]:
            with sqlite3.connect(db) as conn:
                rows = conn.execute("SELECT meeting_uid, status, count(*) FROM outbox GROUP BY 1, 2").fetchall()
            out: dict[str, dict[str, int]] = {}
            for uid, status, n in rows:
                out.setdefault(uid, {})[status] = n
            return out

        # every message recorded as sent; the edit made during the lock is applied (its reminders planned)
        wanted = {"call@test.example": {"sent": BURST}, "other@test.example": {"pending": 2}}
        poll(statuses, lambda s: s == wanted, timeout=20)
    finally:
        if locker is not None and locker.poll() is None:
            locker.kill()
        code = server.stop()
    assert code == 0, server.log
    assert "Traceback" not in server.log, server.log
    assert "database is locked" in server.log  # said, once per failed attempt, not a flood
    assert server.log.count("database is locked") <= 10, server.log
