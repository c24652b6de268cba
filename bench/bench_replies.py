"""Replies in: 1,000 iMIP replies waiting in a Maildir, processed end to end, against parsing them alone.

Measures, in one run on this machine (median of ``--runs``):

* **baseline**: for each message, read the file, parse it with the ``email`` package and every
  ``text/calendar`` part and ``.ics`` attachment with icalendar — the least any intake must do;
* **meet-sched**: ``MaildirInbox.run_once`` on the same messages — read (bounded), parse, match
  (UID, invited ATTENDEE, From and Return-Path), record each answer in its own transaction, move
  the file to ``.processed``, then re-plan the outbox of the meetings whose answers changed and
  invalidate the feed cache (a real ``FeedCache``).

The messages have the shape Google Calendar sends (multipart/alternative with the REPLY inline
and the same object as an ``invite.ics`` attachment), from attendees of 10 monthly meetings of
100 attendees each, on a SQLite site (the embedded default).

Usage: .venv/bin/python bench/bench_replies.py [--replies 1000] [--runs 3]
"""

from __future__ import annotations

import argparse
import base64
import email
import email.policy
import os
import platform
import shutil
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from icalendar import Calendar

from meet_sched.replies.intake import Intake
from meet_sched.replies.maildir import MaildirInbox, ensure_maildir
from meet_sched.site import Site
from meet_sched.web.feeds import FeedCache

MEETINGS = 10
ATTENDEES = 100
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
STATES = ("ACCEPTED", "DECLINED", "TENTATIVE", "ACCEPTED")


def site(root: Path) -> Site:
    (root / "config" / "meetings").mkdir(parents=True)
    (root / "config" / "meet-sched.toml").write_text(
        '[calendar]\nname = "Bench"\ndomain = "bench.example"\n'
        'organizer = { name = "Office", email = "office@bench.example" }\n'
    )
    for m in range(MEETINGS):
        people = "\n".join(
            f"  - {{ name: Person {i}, email: p{i}@m{m}.example, timezone: Asia/Shanghai, city: Chengdu }}"
            for i in range(ATTENDEES)
        )
        (root / "config" / "meetings" / f"call-{m}.yaml").write_text(
            f"uid: call-{m}@bench.example\ntitle: Working call {m}\ntimezone: Asia/Seoul\n"
            f"start: 2026-12-{10 + m}T10:00\nduration: 1h\nrecurrence: FREQ=MONTHLY\nreminders: [1d, 10m]\n"
            f"attendees:\n{people}\n"
        )
    s = Site(root)
    s.open()
    s.sync(NOW)
    return s


def message(n: int) -> bytes:
    m, i = n % MEETINGS, (n // MEETINGS) % ATTENDEES
    who = f"p{i}@m{m}.example"
    ics = (
        "BEGIN:VCALENDAR\r\nPRODID:-//Google Inc//Google Calendar 70.9054//EN\r\nVERSION:2.0\r\n"
        "CALSCALE:GREGORIAN\r\nMETHOD:REPLY\r\nBEGIN:VEVENT\r\n"
        f"DTSTART:202612{10 + m}T010000Z\r\nDTEND:202612{10 + m}T020000Z\r\n"
        f"DTSTAMP:20261201T{9 + n // 3600 % 10:02d}{n // 60 % 60:02d}{n % 60:02d}Z\r\n"
        "ORGANIZER;CN=Office:mailto:office@bench.example\r\n"
        f"UID:call-{m}@bench.example\r\n"
        f"ATTENDEE;CUTYPE=INDIVIDUAL;ROLE=REQ-PARTICIPANT;PARTSTAT={STATES[n % 4]};CN=Person {i};"
        f"X-NUM-GUESTS=0:mailto:{who}\r\n"
        "RRULE:FREQ=MONTHLY\r\nSEQUENCE:0\r\nSTATUS:CONFIRMED\r\n"
        f"SUMMARY:Working call {m}\r\nTRANSP:OPAQUE\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    attachment = base64.encodebytes(ics.encode()).decode().replace("\n", "\r\n")
    return (
        f"Return-Path: <{who}>\r\nMIME-Version: 1.0\r\nMessage-ID: <reply-{n}@google.com>\r\n"
        f"Date: Tue, 01 Dec 2026 09:30:13 +0000\r\nSubject: Accepted: Working call {m}\r\n"
        f"From: Person {i} <{who}>\r\nTo: office@bench.example\r\n"
        'Content-Type: multipart/mixed; boundary="b1"\r\n\r\n--b1\r\n'
        'Content-Type: multipart/alternative; boundary="b2"\r\n\r\n--b2\r\n'
        'Content-Type: text/plain; charset="UTF-8"\r\n\r\n'
        f"Person {i} has accepted this invitation.\r\n\r\n--b2\r\n"
        'Content-Type: text/calendar; charset="UTF-8"; method=REPLY\r\nContent-Transfer-Encoding: 7bit\r\n\r\n'
        f"{ics}\r\n--b2--\r\n\r\n--b1\r\n"
        'Content-Type: application/ics; name="invite.ics"\r\nContent-Disposition: attachment; filename="invite.ics"\r\n'
        f"Content-Transfer-Encoding: base64\r\n\r\n{attachment}\r\n--b1--\r\n"
    ).encode()


def fill(inbox: Path, count: int) -> None:
    ensure_maildir(inbox)
    for n in range(count):
        (inbox / "new" / f"{1764580000 + n}.M{n}P1.bench").write_bytes(message(n))


def baseline(inbox: Path) -> tuple[float, float]:
    started, cpu = time.perf_counter(), time.process_time()
    for sub in ("new", "cur"):
        for entry in sorted(os.scandir(inbox / sub), key=lambda e: e.name):
            with open(entry.path, "rb") as f:
                msg = email.message_from_bytes(f.read(), policy=email.policy.compat32)
            for part in msg.walk():
                if part.get_content_type() in ("text/calendar", "application/ics"):
                    Calendar.from_ical(part.get_payload(decode=True), multiple=True)
    return time.perf_counter() - started, time.process_time() - cpu


def ours(s: Site, inbox: Path) -> tuple[float, float, int]:
    feeds = FeedCache(lambda key: None, lambda: NOW)
    intake = Intake(s)
    intake.on_change(lambda uids: feeds.invalidate())
    started, cpu = time.perf_counter(), time.process_time()
    tally = MaildirInbox(intake, inbox).run_once(lambda: NOW)
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    assert feeds.generation >= 1, "the feed cache was not invalidated"
    return elapsed, cpu, sum(tally.counts.values())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--replies", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    base_times, our_times, base_cpu, our_cpu = [], [], [], []
    for run in range(args.runs):
        root = Path(tempfile.mkdtemp(prefix="bench-replies-"))
        try:
            s = site(root / "site")
            inbox = s.settings.inbox_dir
            fill(inbox, args.replies)
            wall, cpu = baseline(inbox)
            base_times.append(wall)
            base_cpu.append(cpu)
            elapsed, cpu, taken = ours(s, inbox)
            assert taken == args.replies, f"took {taken} of {args.replies}"
            our_times.append(elapsed)
            our_cpu.append(cpu)
            print(
                f"run {run + 1}: baseline {base_times[-1]:.3f} s (CPU {base_cpu[-1]:.3f} s), "
                f"meet-sched {elapsed:.3f} s (CPU {cpu:.3f} s)",
                flush=True,
            )
            s.close()
        finally:
            shutil.rmtree(root, ignore_errors=True)
    b, o = statistics.median(base_times), statistics.median(our_times)
    n = args.replies
    print(f"\n{n} replies, {MEETINGS} meetings of {ATTENDEES} attendees, SQLite; median of {args.runs}")
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}")
    print(f"load average: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    print(f"baseline (email + icalendar): {b:.3f} s ({1000 * b / n:.2f} ms per reply)")
    print(f"meet-sched end to end:        {o:.3f} s ({1000 * o / n:.2f} ms per reply)")
    bc, oc = statistics.median(base_cpu), statistics.median(our_cpu)
    print(f"CPU time: baseline {bc:.3f} s, meet-sched {oc:.3f} s")
    print(f"ratio: {o / b:.2f}x wall, {oc / bc:.2f}x CPU (goal <= 2x)")


if __name__ == "__main__":
    main()
