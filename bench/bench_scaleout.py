"""Scale-out benchmark: 1, 2 and 3 `serve` processes on one PostgreSQL outbox, beside one on SQLite.

One run, one aiosmtpd sink on loopback (in this process, the same for every row):

1. throughput: MESSAGES reminders due at once, sent by 1 `serve` on SQLite, then by 1, 2 and 3
   `serve` processes sharing a fresh PostgreSQL database; messages per second from the first
   arrival to the last, and how the messages were shared;
2. take-over: 3 processes, one SIGKILLed mid-burst, five times; the time from the kill to the
   arrival of the last message the dead process had claimed (median and worst).

    .venv/bin/python bench/bench_scaleout.py [--messages 600] [--connections 2] [--postgres ADMIN_URL]
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import signal
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import create_engine, text

from meet_sched.store.outbox import message_id

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the tests' real sink and `serve` runner

from tests.conftest import SiteDir
from tests.mail_helpers import smtp_settings
from tests.serving import Served
from tests.smtp_sink import SmtpSink

SEOUL = ZoneInfo("Asia/Seoul")
WORKER = re.compile(r"event=dispatcher-started .*worker=(\S+)")
PER_MEETING = 300  # attendees per meeting file (MAX_ATTENDEES is 500)
DUE_IN = 6.0  # seconds from the meeting file to the reminders' due time (the processes are up by then)


class Database:
    """A fresh PostgreSQL database, dropped on close."""

    def __init__(self, admin: str) -> None:
        self.admin = create_engine(admin, isolation_level="AUTOCOMMIT")
        self.name = f"meet_sched_bench_{uuid.uuid4().hex[:10]}"
        with self.admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{self.name}"'))
        self.url = admin.rsplit("/", 1)[0] + f"/{self.name}"

    def claimed_by(self, worker: str) -> set[str]:
        engine = create_engine(self.url)
        try:
            with engine.connect() as conn:
                rows = conn.execute(
                    text("SELECT key FROM outbox WHERE status = 'sending' AND claimed_by = :w"), {"w": worker}
                )
                return {r[0] for r in rows}
        finally:
            engine.dispose()

    def close(self) -> None:
        with self.admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'))
        self.admin.dispose()


def site(root: Path, sink: SmtpSink, connections: int) -> SiteDir:
    s = SiteDir(root)
    extra = '\n[server]\nlisten = "127.0.0.1:0"\n\n[invitations]\nenabled = false\n'
    s.settings(smtp_settings(sink, extra, connections=connections, delivery='lease = "2m"\n'))
    return s


def reminders(s: SiteDir, count: int) -> None:
    """``count`` reminders due DUE_IN s from now, over meetings of at most PER_MEETING attendees."""
    start = (datetime.now(UTC) + timedelta(seconds=DUE_IN) + timedelta(minutes=10)).replace(microsecond=0)
    wall = start.astimezone(SEOUL).replace(tzinfo=None).isoformat()
    for m, first in enumerate(range(0, count, PER_MEETING)):
        last = min(count, first + PER_MEETING)
        people = "\n".join(f"  - {{ name: P{i}, email: p{i:05d}@daegu.example }}" for i in range(first, last))
        s.meeting(
            f"call{m}.yaml",
            f"uid: call{m}\ntitle: Working call {m}\ntimezone: Asia/Seoul\nstart: {wall}\nduration: 30m\n"
            f"reminders: [600s]\nattendees:\n{people}\n",
        )


def burst(
    sink: SmtpSink, count: int, instances: int, connections: int, admin: str | None, kill_after: int | None = None
) -> tuple[float, list[int], float | None]:
    """(messages per second, messages sent by each process, seconds from a kill to the last claimed arrival)."""
    sink.clear()
    db = Database(admin) if admin else None
    env = {"MEET_SCHED_DATABASE_URL": db.url} if db else {}
    served: list[Served] = []
    takeover: float | None = None
    with tempfile.TemporaryDirectory() as tmp:
        s = site(Path(tmp) / "site", sink, connections)
        try:
            served = [Served(s.root, env=env, timeout=60) for _ in range(instances)]
            reminders(s, count)
            if kill_after is not None and db is not None:
                sink.wait_for(kill_after, timeout=60)
                victim = served[0]
                worker = WORKER.search(victim.log)
                assert worker is not None
                victim.proc.send_signal(signal.SIGKILL)
                killed = time.time()
                victim.proc.wait(timeout=10)
                claimed = db.claimed_by(worker.group(1))
            got = sink.wait_until(lambda r: len({x.rcpt_tos for x in r}) >= count, timeout=180)
            if kill_after is not None and db is not None:
                ids = {message_id(k, "test.example") for k in claimed}
                arrivals = [r.at for r in got if r.message_id in ids] or [killed]
                takeover = max(arrivals) - killed
        finally:
            shares = [x.log.count("event=sent") for x in served]
            for x in served:
                x.stop()
            if db is not None:
                db.close()
    first, last = min(r.at for r in got), max(r.at for r in got)
    return count / max(last - first, 1e-9), shares, takeover


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=600)
    parser.add_argument("--connections", type=int, default=2, help="SMTP connections per process")
    parser.add_argument("--kills", type=int, default=5)
    parser.add_argument(
        "--postgres",
        default=os.environ.get("MEET_SCHED_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"),
    )
    args = parser.parse_args()
    print(
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} cores, Python {platform.python_version()}"
    )
    print(f"{args.messages} reminders due at once, {args.connections} SMTP connections per process\n")
    sink = SmtpSink().start()
    try:
        rows = [("SQLite, 1 process", None, 1)]
        rows += [(f"PostgreSQL, {n} process(es)", args.postgres, n) for n in (1, 2, 3)]
        for name, admin, n in rows:
            rate, shares, _ = burst(sink, args.messages, n, args.connections, admin)
            print(f"{name:28} {rate:8.0f} msg/s   sent per process: {shares}")
        sink.delay = 0.01  # a burst long enough for the kill to land in it
        times = []
        for _ in range(args.kills):
            _, shares, takeover = burst(sink, 300, 3, args.connections, args.postgres, kill_after=60)
            assert takeover is not None
            times.append(takeover)
            print(f"kill: last claimed message {takeover:5.2f} s after the kill   sent per process: {shares}")
        print(f"\ntake-over after a kill: median {statistics.median(times):.2f} s, worst {max(times):.2f} s")
    finally:
        sink.stop()


if __name__ == "__main__":
    main()
