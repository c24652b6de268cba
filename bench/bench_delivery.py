"""Delivery benchmark: the outbox pipeline against raw aiosmtplib, reminder lateness, and an idle `serve`.

One run, one aiosmtpd sink in its own process on loopback:

1. throughput: 5,000 reminders due at once through the whole pipeline (claim, render, send,
   mark) vs raw aiosmtplib sending the same 5,000 pre-rendered messages over the same number
   of connections (goal: the pipeline reaches at least 70% of raw);
2. lateness: 200 reminders spread over 60 s, sent by a real `meet-sched serve` process (goal:
   p99 at most 1 s), beside an ideal sender that sleeps until each due time and sends a
   pre-rendered message;
3. idle: `serve` with 50,000 pending future reminders for 60 s, beside `serve` on an empty site
   (goal: under 1% CPU, RSS under 200 MB).

    .venv/bin/python bench/bench_delivery.py [--quick] [--connections 4] [--postgres ADMIN_URL]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import multiprocessing as mp
import os
import platform
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiosmtplib
from sqlalchemy import create_engine, text

from meet_sched.delivery.dispatcher import Dispatcher, responsive_loop
from meet_sched.mail import MailRenderer, Recipient
from meet_sched.site import Site
from meet_sched.store.outbox import MessageKind, message_id, message_key

SEOUL = ZoneInfo("Asia/Seoul")
PEOPLE = [  # (language, zone, city): the attendees of a meeting cycle through these
    ("ko", "Asia/Seoul", "Daegu"),
    ("zh", "Asia/Shanghai", "Chengdu"),
    ("vi", "Asia/Ho_Chi_Minh", "Bac Ninh"),
    ("en", "America/New_York", "Atlanta"),
]


# -- the sink: aiosmtpd in its own process ---------------------------------------------------


def _sink(port: int, conn: Connection) -> None:
    from aiosmtpd.controller import Controller

    arrivals: list[tuple[float, str]] = []
    lock = threading.Lock()

    class Handler:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            with lock:
                arrivals.append((time.time(), envelope.rcpt_tos[0]))
            return "250 2.0.0 OK"

    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    conn.send("ready")
    while True:
        command = conn.recv()
        with lock:
            if command == "count":
                conn.send(len(arrivals))
            elif command == "cpu":
                conn.send(time.process_time())
            elif command == "take":
                conn.send(list(arrivals))
                arrivals.clear()
            elif command == "stop":
                break
    controller.stop()


class Sink:
    def __init__(self) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = int(s.getsockname()[1])
        self._conn, child = mp.Pipe()
        self._proc = mp.Process(target=_sink, args=(self.port, child), daemon=True)
        self._proc.start()
        assert self._conn.recv() == "ready"

    def count(self) -> int:
        self._conn.send("count")
        return int(self._conn.recv())

    def cpu(self) -> float:
        """CPU seconds the sink process has used."""
        self._conn.send("cpu")
        return float(self._conn.recv())

    def take(self) -> list[tuple[float, str]]:
        self._conn.send("take")
        return list(self._conn.recv())

    def stop(self) -> None:
        self._conn.send("stop")
        self._proc.join(timeout=10)


# -- sites --------------------------------------------------------------------------------


@contextlib.contextmanager
def database(admin: str | None) -> Iterator[str | None]:
    """None (the site's own SQLite file), or a new PostgreSQL database dropped afterwards."""
    if admin is None:
        yield None
        return
    name = f"bench_delivery_{uuid.uuid4().hex[:10]}"
    engine = create_engine(admin, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield admin.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with engine.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        engine.dispose()


def make_site(root: Path, sink: Sink, connections: int, db: str | None, extra: str = "") -> None:
    (root / "config" / "meetings").mkdir(parents=True)
    database = f'[database]\nurl = "{db}"\n' if db else ""
    (root / "config" / "meet-sched.toml").write_text(
        textwrap.dedent(
            f"""
            [calendar]
            name = "Bench"
            domain = "bench.example"
            organizer = {{ name = "Office", email = "office@bench.example" }}

            [smtp]
            host = "127.0.0.1"
            port = {sink.port}
            security = "none"
            sender = "Reminders <reminders@bench.example>"
            max_connections = {connections}

            [invitations]
            enabled = false

            [server]
            listen = "127.0.0.1:0"
            """
        )
        + database
        + textwrap.dedent(extra)
    )


def meeting_yaml(
    uid: str, start: datetime, attendees: list[tuple[str, str, str, str]], reminders: str, rule: str = ""
) -> str:
    lines = [
        f"uid: {uid}",
        f"title: Daegu–Chengdu–Bac Ninh working call {uid}",
        "description: Standing agenda, exchange programmes, trade missions.",
        "video_url: https://video.bench.example/r/working-call",
        "city: Daegu",
        "timezone: Asia/Seoul",
        f"start: {start.astimezone(SEOUL).replace(tzinfo=None).isoformat()}",
        "duration: 1h",
        f"reminders: {reminders}",
    ]
    if rule:
        lines.append(f"recurrence: {rule}")
    lines.append("attendees:")
    for email, language, zone, city in attendees:
        name = f"참석자 {email.split('@')[0]}"
        lines.append(f"  - {{ name: {name}, email: {email}, language: {language}, timezone: {zone}, city: {city} }}")
    return "\n".join(lines) + "\n"


def people(n: int, prefix: str) -> list[tuple[str, str, str, str]]:
    return [(f"{prefix}{i:05d}@bench.example", *PEOPLE[i % len(PEOPLE)]) for i in range(n)]


# -- 1. throughput ----------------------------------------------------------------------------


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def throughput_round(sink: Sink, connections: int, admin: str | None, n: int) -> tuple[float, float, float, float]:
    """(pipeline msg/s, raw msg/s, pipeline CPU ms/msg, raw CPU ms/msg) for ``n`` reminders due at once."""
    with tempfile.TemporaryDirectory() as tmp, database(admin) as db:
        root = Path(tmp)
        make_site(root, sink, connections, db)
        t0 = datetime(2026, 12, 1, tzinfo=UTC)
        start = t0 + timedelta(days=2)
        per_meeting = 50
        for m in range(n // per_meeting):
            body = meeting_yaml(f"m{m:03d}", start, people(per_meeting, f"m{m:03d}p"), "[1d]")
            (root / "config" / "meetings" / f"m{m:03d}.yaml").write_text(body)
        site = Site(root)
        clock = Clock(t0)
        report = site.sync(clock())
        assert report.outbox.planned["reminder"] == n, report.outbox.summary()
        site.export()  # as `serve` does after every sync (the reminders' .ics reuse its rendered events)
        clock.now = start - timedelta(days=1)

        # The same messages, rendered beforehand, for raw aiosmtplib.
        renderer = MailRenderer(site.settings)
        messages = []
        for stored in site.meetings():
            for a in stored.meeting.attendees:
                key = message_key(
                    MessageKind.REMINDER, stored.uid, a.email, occurrence=stored.meeting.start, offset=86400
                )
                out = renderer.reminder(
                    stored,
                    Recipient.of(a),
                    stored.meeting.start,
                    message_id=message_id(key, "bench.example"),
                    now=clock.now,
                )
                messages.append((out.sender, out.recipient, out.data))
        assert len(messages) == n

        sink.take()
        cpu = time.process_time()
        raw = asyncio.run(raw_send(sink.port, messages, connections))
        raw_cpu = time.process_time() - cpu
        assert len(sink.take()) == n

        async def pipeline() -> float:
            dispatcher = Dispatcher(site, clock=clock)
            try:
                began = time.perf_counter()
                result = await dispatcher.deliver_due()
                elapsed = time.perf_counter() - began
            finally:
                await dispatcher.close()
            assert result.sent == n, result.summary()
            return elapsed

        cpu = time.process_time()
        piped = asyncio.run(pipeline())
        piped_cpu = time.process_time() - cpu
        assert len(sink.take()) == n
        site.close()
        return n / piped, n / raw, piped_cpu / n * 1000, raw_cpu / n * 1000


async def raw_send(port: int, messages: list[tuple[str, str, bytes]], connections: int) -> float:
    queue = list(reversed(messages))

    async def worker() -> None:
        smtp = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, start_tls=False, local_hostname="bench.example")
        await smtp.connect()
        while queue:
            sender, recipient, data = queue.pop()
            await smtp.sendmail(sender, [recipient], data)
        await smtp.quit()

    began = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(connections)))
    return time.perf_counter() - began


# -- 2. lateness ----------------------------------------------------------------------------------


def serve(root: Path, ready: str = r"event=dispatcher-started") -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEET_SCHED_")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "meet_sched", "serve", "--root", str(root)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert proc.stderr is not None
    pattern = re.compile(ready)
    for line in proc.stderr:
        if pattern.search(line):
            break
    else:
        raise RuntimeError(f"serve exited with {proc.wait()}")
    threading.Thread(target=lambda: [None for _ in proc.stderr or []], daemon=True).start()  # keep draining
    return proc


def stop(proc: subprocess.Popen[str]) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def lateness(sink: Sink, connections: int, admin: str | None, n: int, spread: float) -> tuple[list[float], list[float]]:
    """Lateness (s) of ``n`` reminders spread over ``spread`` seconds: (serve, ideal sender)."""
    with tempfile.TemporaryDirectory() as tmp, database(admin) as db:
        root = Path(tmp)
        make_site(root, sink, connections, db)
        now = datetime.now(UTC)
        start = (now + timedelta(minutes=10)).replace(microsecond=0)
        first_due = now + timedelta(seconds=15)
        attendees = people(n, "late")
        dues: dict[str, datetime] = {}
        lines = [
            "uid: lateness",
            "title: Lateness",
            "timezone: Asia/Seoul",
            f"start: {start.astimezone(SEOUL).replace(tzinfo=None).isoformat()}",
            "duration: 30m",
            "attendees:",
        ]
        for i, (email, language, zone, city) in enumerate(attendees):
            due = first_due + timedelta(seconds=spread * i / n)
            offset = int((start - due).total_seconds())
            dues[email] = start - timedelta(seconds=offset)
            lines.append(
                f"  - {{ name: P{i}, email: {email}, language: {language}, timezone: {zone}, city: {city},"
                f" reminders: [{offset}s] }}"
            )
        (root / "config" / "meetings" / "lateness.yaml").write_text("\n".join(lines) + "\n")
        sink.take()
        proc = serve(root)
        try:
            deadline = time.time() + spread + 60
            while sink.count() < n and time.time() < deadline:
                time.sleep(0.5)
        finally:
            stop(proc)
        arrivals = sink.take()
        served = [at - dues[to].timestamp() for at, to in arrivals]
        assert len(served) == n, f"{len(served)} of {n} arrived"

        # The ideal sender: sleeps until each due time, sends a pre-rendered message.
        site = Site(root)
        renderer = MailRenderer(site.settings)
        stored = site.meeting("lateness")
        shift = (datetime.now(UTC) + timedelta(seconds=5)) - first_due
        plan = []
        for a in stored.meeting.attendees:
            out = renderer.reminder(
                stored, Recipient.of(a), stored.meeting.start, message_id="<ideal.x@bench.example>", now=dues[a.email]
            )
            plan.append((dues[a.email] + shift, out.sender, out.recipient, out.data))
        site.close()
        ideal = asyncio.run(ideal_send(sink.port, sorted(plan), connections))
        sink.take()
        return served, ideal


async def ideal_send(port: int, plan: list[tuple[datetime, str, str, bytes]], connections: int) -> list[float]:
    pool: asyncio.Queue[aiosmtplib.SMTP] = asyncio.Queue()
    for _ in range(connections):
        smtp = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, start_tls=False, local_hostname="bench.example")
        await smtp.connect()
        pool.put_nowait(smtp)
    late: list[float] = []

    async def one(due: datetime, sender: str, recipient: str, data: bytes) -> None:
        await asyncio.sleep(max(0.0, (due - datetime.now(UTC)).total_seconds()))
        smtp = await pool.get()
        try:
            await smtp.sendmail(sender, [recipient], data)
        finally:
            pool.put_nowait(smtp)
        late.append((datetime.now(UTC) - due).total_seconds())

    await asyncio.gather(*(one(*item) for item in plan))
    while not pool.empty():
        await pool.get_nowait().quit()
    return late


# -- 3. idle ----------------------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks  # utime + stime


def memory_mb(pid: int) -> tuple[float, float]:
    """(VmRSS, VmHWM) in MB."""
    found = dict(
        line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if line.startswith("Vm")
    )
    return int(found["VmRSS"].split()[0]) / 1024, int(found["VmHWM"].split()[0]) / 1024


def idle(
    sink: Sink, connections: int, admin: str | None, pending: int, seconds: float
) -> dict[str, tuple[float, float, float, int]]:
    """CPU % over ``seconds``, RSS and peak RSS (MB), pending count: empty site vs ``pending`` reminders."""
    out: dict[str, tuple[float, float, float, int]] = {}
    for label, count in (("empty", 0), ("pending", pending)):
        with tempfile.TemporaryDirectory() as tmp, database(admin) as db:
            root = Path(tmp)
            make_site(root, sink, connections, db)
            meetings, per = 10, 100
            days = count // (meetings * per)
            start = (datetime.now(UTC) + timedelta(days=1)).replace(minute=0, second=0, microsecond=0)
            for m in range(meetings if count else 0):
                body = meeting_yaml(
                    f"d{m}", start + timedelta(minutes=m), people(per, f"d{m}p"), "[10m]", f"FREQ=DAILY;COUNT={days}"
                )
                (root / "config" / "meetings" / f"d{m}.yaml").write_text(body)
            proc = serve(root)
            try:
                time.sleep(5)  # let the first pass and the metrics settle
                planned = _pending(root)
                before, began = cpu_seconds(proc.pid), time.monotonic()
                time.sleep(seconds)
                used = cpu_seconds(proc.pid) - before
                rss, peak = memory_mb(proc.pid)
                out[label] = (100 * used / (time.monotonic() - began), rss, peak, planned)
            finally:
                stop(proc)
    return out


def _pending(root: Path) -> int:
    site = Site(root)
    try:
        _, counts = site.outbox(limit=1)
        return counts.get("pending", 0)
    finally:
        site.close()


# -- main ---------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="smaller and shorter (a smoke run, not figures)")
    parser.add_argument("--connections", type=int, default=4, help="[smtp] max_connections (default 4)")
    parser.add_argument(
        "--postgres", metavar="ADMIN_URL", help="a fresh PostgreSQL database per site, made through this URL"
    )
    parser.add_argument("--rounds", type=int, default=5, help="throughput rounds (default 5)")
    args = parser.parse_args()
    n, spread, idle_seconds, idle_pending = (5000, 60.0, 60.0, 50_000) if not args.quick else (1000, 10.0, 10.0, 5_000)

    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    print(f"{datetime.now(UTC):%Y-%m-%d} · {os.cpu_count()} CPUs · {cpu} · Python {platform.python_version()}")
    where = "PostgreSQL (a fresh database per site)" if args.postgres else "SQLite (a file per site)"
    print(f"database: {where} · {args.connections} SMTP connections · aiosmtpd sink in its own process\n")
    responsive_loop()  # as `serve` does when the dispatcher starts
    sink = Sink()
    try:
        print(f"1. {n} reminders due at once")
        rounds = [throughput_round(sink, args.connections, args.postgres, n) for _ in range(args.rounds)]
        for i, (piped, raw, piped_cpu, raw_cpu) in enumerate(rounds, 1):
            print(
                f"   round {i}: pipeline {piped:5.0f} msg/s ({piped_cpu:.2f} ms CPU/msg)"
                f" · raw aiosmtplib {raw:5.0f} msg/s ({raw_cpu:.2f} ms CPU/msg) · ratio {piped / raw:.0%}"
            )
        ratio = statistics.median(r[0] / r[1] for r in rounds)
        print(f"   median ratio {ratio:.0%} (goal ≥ 70%)\n")

        count = 200
        print(f"2. lateness of {count} reminders spread over {spread:.0f} s")
        served, ideal = lateness(sink, args.connections, args.postgres, count, spread)
        for label, values in (("meet-sched serve", served), ("ideal sender", ideal)):
            p50, p99 = percentile(values, 50) * 1000, percentile(values, 99) * 1000
            print(f"   {label:17} p50 {p50:6.0f} ms · p99 {p99:6.0f} ms · max {max(values) * 1000:6.0f} ms")
        print("   (goal: p99 ≤ 1000 ms)\n")

        print(f"3. serve idle for {idle_seconds:.0f} s")
        figures = idle(sink, args.connections, args.postgres, idle_pending, idle_seconds)
        for label, (cpu_pct, rss, peak, pending) in figures.items():
            print(f"   {label:8} {pending:6d} pending · CPU {cpu_pct:5.2f}% · RSS {rss:6.1f} MB (peak {peak:6.1f} MB)")
        print("   (goal: CPU < 1%, RSS < 200 MB with 50,000 pending)")
    finally:
        sink.stop()


if __name__ == "__main__":
    main()
