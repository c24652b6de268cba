"""Quick edits under a real `meet-sched serve` make one update per attendee, after the quiet period,
saying what changed since the invitation they hold (README "Quick edits make one update")."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from .conftest import SiteDir
from .mail_helpers import smtp_settings, text_body
from .serving import Served, poll
from .smtp_sink import SmtpSink

pytestmark = pytest.mark.slow
QUIET = 8  # seconds; longer than the four seconds between the two saves
PEOPLE = ["a@daegu.example", "b@chengdu.example"]


def test_two_saves_four_seconds_apart_send_one_update_with_the_final_state(
    site_dir: SiteDir, smtp_server: SmtpSink
) -> None:
    extra = '\n[server]\nlisten = "127.0.0.1:0"\n'
    site_dir.settings(smtp_settings(smtp_server, extra, delivery=f'update_quiet = "{QUIET}s"\n'))
    start = (
        (datetime.now(UTC) + timedelta(days=3))
        .astimezone(ZoneInfo("Asia/Seoul"))
        .replace(hour=10, minute=0, second=0, microsecond=0, tzinfo=None)
    )
    body = (
        f"uid: call\ntitle: Working call\nlocation: Room 301\ntimezone: Asia/Seoul\n"
        f"start: {start.isoformat()}\nduration: 1h\nreminders: []\nattendees:\n"
        + "".join(f"  - {{ name: P{i}, email: {a} }}\n" for i, a in enumerate(PEOPLE))
    )
    path = site_dir.meeting("call.yaml", body)
    server = Served(site_dir.root)
    try:
        invitations = smtp_server.wait_for(2, timeout=20)
        assert all(str(r.message["Subject"]).startswith("Invitation: Working call") for r in invitations)

        path.write_text(body.replace("Room 301", "Room 502"), encoding="utf-8")  # first save: the place
        time.sleep(4)
        later = (start + timedelta(hours=5)).isoformat()
        path.write_text(body.replace("Room 301", "Room 502").replace(start.isoformat(), later), encoding="utf-8")
        saved = time.time()

        # What waits is listed, with the moment it will go.
        waiting = poll(
            lambda: site_dir.run("outbox", "--status", "pending").stdout,
            lambda out: out.count("waits for more edits until") == 2 and "update" in out,
            timeout=10,
        )
        assert re.search(r"waits for more edits until \d\d:\d\d:\d\d", waiting)

        updates = smtp_server.wait_for(4, timeout=40)[2:]
        time.sleep(3)  # nothing else follows
        assert len(smtp_server.received) == 4
    finally:
        code = server.stop()
    assert code == 0, server.log
    assert {r.rcpt_tos for r in updates} == {(a,) for a in PEOPLE}
    assert all(r.at - saved >= QUIET for r in updates), [r.at - saved for r in updates]
    for r in updates:
        assert str(r.message["Subject"]).startswith("Updated invitation: Working call — ")
        lines = text_body(r.message).splitlines()
        # Compared with the invitation they hold, not with the first save.
        # A new time asks for a new answer too (answers are reset).
        assert lines[0] == (
            "Working call has changed: time and place. This is the updated invitation."
            " The time has changed: please answer the invitation again."
        )
        assert "Where: Room 502 (was Room 301)" in lines
        assert any(line.startswith("When: ") and "15:00 KST" in line and "(was " in line for line in lines)
