"""`meet-sched serve` with real time and a real SMTP sink: an override added to a live series sends exactly one update
per attendee for that occurrence, its reminder comes at the moved time, and a cancelled occurrence one CANCEL."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from .conftest import SiteDir
from .mail_helpers import calendar_of, calendar_part, smtp_settings
from .serving import Served
from .smtp_sink import SmtpSink

pytestmark = pytest.mark.slow
SEOUL = ZoneInfo("Asia/Seoul")
PEOPLE = ["a@daegu.example", "b@chengdu.example"]
OFFSET = 30  # seconds: the reminder's offset


def _wall(moment: datetime) -> str:
    return moment.astimezone(SEOUL).replace(tzinfo=None).isoformat()


def test_serve_sends_one_update_per_attendee_for_a_moved_occurrence_and_one_cancel(
    site_dir: SiteDir, smtp_server: SmtpSink
) -> None:
    # The move reaches people at once (its new start is near); the cancellation waits the quiet period.
    quiet = 'update_quiet = "5s"\n'
    site_dir.settings(smtp_settings(smtp_server, '\n[server]\nlisten = "127.0.0.1:0"\n', delivery=quiet))
    first = (datetime.now(UTC) + timedelta(hours=2)).replace(microsecond=0)
    people = "\n".join(f"  - {{ name: P{i}, email: {a} }}" for i, a in enumerate(PEOPLE))
    body = (
        f"uid: call\ntitle: Daily call\ntimezone: Asia/Seoul\nstart: {_wall(first)}\nduration: 30m\n"
        f"recurrence: FREQ=DAILY;COUNT=3\nreminders: [{OFFSET}s]\nattendees:\n{people}\n"
    )
    path = site_dir.meeting("call.yaml", body)
    server = Served(site_dir.root)
    try:
        invitations = smtp_server.wait_for(2, timeout=20)
        assert all("Invitation: Daily call" in str(r.message["Subject"]) for r in invitations)

        # The first occurrence moves to 50 s from now: its reminder is due 20 s from now.
        to = (datetime.now(UTC) + timedelta(seconds=50)).replace(microsecond=0)
        due = to - timedelta(seconds=OFFSET)
        path.write_text(body + f"overrides:\n  - occurrence: {_wall(first)}\n    start: {_wall(to)}\n")
        updates = smtp_server.wait_for(4, timeout=20)[2:]
        assert sorted(r.rcpt_tos[0] for r in updates) == sorted(PEOPLE)
        for r in updates:
            assert str(r.message["Subject"]).startswith("Updated invitation: Daily call")
            parsed = calendar_of(calendar_part(r.message))
            assert str(parsed.icalendar["METHOD"]) == "REQUEST"
            (event,) = parsed.events()  # that occurrence alone
            assert event["RECURRENCE-ID"].dt == first.astimezone(SEOUL)
            assert event["DTSTART"].dt == to.astimezone(SEOUL)

        reminders = smtp_server.wait_for(6, timeout=40)[4:]
        assert all(str(r.message["Subject"]).startswith("Reminder: Daily call") for r in reminders)
        lateness = [r.at - due.timestamp() for r in reminders]
        assert all(0 <= late < 1.5 for late in lateness), lateness

        # The second occurrence is cancelled: one CANCEL with its RECURRENCE-ID each.
        second = first + timedelta(days=1)
        path.write_text(
            body + f"overrides:\n  - occurrence: {_wall(first)}\n    start: {_wall(to)}\n"
            f"  - occurrence: {_wall(second)}\n    status: cancelled\n"
        )
        cancels = smtp_server.wait_for(8, timeout=20)[6:]
        assert sorted(r.rcpt_tos[0] for r in cancels) == sorted(PEOPLE)
        for r in cancels:
            parsed = calendar_of(calendar_part(r.message))
            assert str(parsed.icalendar["METHOD"]) == "CANCEL"
            (event,) = parsed.events()
            assert event["RECURRENCE-ID"].dt == second.astimezone(SEOUL)
        time.sleep(3)  # nothing else follows
        assert len(smtp_server.received) == 8
    finally:
        code = server.stop()
    assert code == 0, server.log
