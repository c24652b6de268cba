"""`meet-sched serve` as a real process with real time: invitations at once, reminders on time, updates within
seconds of a config change; SIGKILL mid-burst loses nothing (a repeat only of a claimed message, same Message-ID);
SIGTERM mid-burst releases what it had not sent."""

from __future__ import annotations

import signal
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from meet_sched.store.outbox import message_id

from .conftest import SiteDir
from .db_helpers import query
from .mail_helpers import smtp_settings
from .serving import Served
from .smtp_sink import SmtpSink

pytestmark = pytest.mark.slow
SEOUL = ZoneInfo("Asia/Seoul")
DOMAIN = "test.example"


def settings(sink: SmtpSink, extra: str = "") -> str:
    return smtp_settings(sink, '\n[server]\nlisten = "127.0.0.1:0"\n' + extra, delivery='update_quiet = "0s"\n')


def meeting_due_in(seconds: float, attendees: list[str], *, title: str = "Working call") -> tuple[str, datetime]:
    """A meeting starting in 3 minutes whose only reminder is due ``seconds`` from now; (YAML, due instant)."""
    start = (datetime.now(UTC) + timedelta(minutes=3)).replace(microsecond=0)
    due = datetime.now(UTC) + timedelta(seconds=seconds)
    offset = int((start - due).total_seconds())
    people = "\n".join(f"  - {{ name: P{i}, email: {a} }}" for i, a in enumerate(attendees))
    body = (
        f"uid: call\ntitle: {title}\ntimezone: Asia/Seoul\n"
        f"start: {start.astimezone(SEOUL).replace(tzinfo=None).isoformat()}\nduration: 30m\n"
        f"reminders: [{offset}s]\nattendees:\n{people}\n"
    )
    return body, start - timedelta(seconds=offset)


def rows(root: Path) -> dict[str, list[str]]:
    """Outbox keys by status, read straight from the database."""
    out: dict[str, list[str]] = {}
    for key, status in query(root, "SELECT key, status FROM outbox"):
        out.setdefault(status, []).append(key)
    return out


def test_serve_sends_invitations_at_once_reminders_on_time_and_updates(
    site_dir: SiteDir, smtp_server: SmtpSink
) -> None:
    people = ["a@daegu.example", "b@chengdu.example", "c@bacninh.example"]
    site_dir.settings(settings(smtp_server))
    body, due = meeting_due_in(6, people)
    path = site_dir.meeting("call.yaml", body)
    server = Served(site_dir.root)
    try:
        invitations = smtp_server.wait_for(3, timeout=15)
        assert all("Invitation: Working call" in str(r.message["Subject"]) for r in invitations)

        reminders = smtp_server.wait_for(6, timeout=30)[3:]
        assert all(str(r.message["Subject"]).startswith("Reminder: Working call") for r in reminders)
        lateness = [r.at - due.timestamp() for r in reminders]
        assert all(0 <= late < 1.0 for late in lateness), lateness

        path.write_text(body.replace("title: Working call", "title: Working call (moved room)"))
        updates = smtp_server.wait_for(9, timeout=15)[6:]
        assert {str(r.message["Subject"]).split(" — ")[0] for r in updates} == {
            "Updated invitation: Working call (moved room)"
        }
    finally:
        code = server.stop()
    assert code == 0, server.log
    assert "event=dispatcher-stopped" in server.log
    assert rows(site_dir.root).keys() == {"sent"}


BURST = 200


def burst_site(site_dir: SiteDir, sink: SmtpSink) -> list[str]:
    """200 reminders due 5 s from now over 4 connections; a crashed process's claims are retaken after 2 s."""
    extra = '\n[server]\nlisten = "127.0.0.1:0"\n\n[invitations]\nenabled = false\n'
    site_dir.settings(smtp_settings(sink, extra, connections=4, delivery='lease = "2s"\n'))
    people = [f"p{i:03d}@daegu.example" for i in range(BURST)]
    body, _ = meeting_due_in(5, people)
    site_dir.meeting("call.yaml", body)
    return people


def test_sigkill_mid_burst_loses_nothing_and_repeats_only_claimed_messages(
    site_dir: SiteDir, smtp_server: SmtpSink
) -> None:
    people = burst_site(site_dir, smtp_server)
    smtp_server.delay = 0.01  # a burst that takes a while, so the kill lands in the middle
    first = Served(site_dir.root)
    smtp_server.wait_for(40, timeout=30)
    first.proc.send_signal(signal.SIGKILL)
    first.proc.wait(timeout=10)
    first.stop()
    at_kill = rows(site_dir.root)
    arrived_before_restart = len(smtp_server.received)
    assert 40 <= arrived_before_restart < BURST, "the kill should land mid-burst"
    claimed = set(at_kill.get("sending", []))
    sent = set(at_kill.get("sent", []))
    assert claimed, "something was in flight at the kill"

    second = Served(site_dir.root)
    try:
        everyone = smtp_server.wait_until(lambda got: len({r.rcpt_tos for r in got}) == BURST, timeout=40)
    finally:
        assert second.stop() == 0
    by_id = Counter(r.message_id for r in everyone)
    keys_by_id = {message_id(k, DOMAIN): k for status in at_kill.values() for k in status}
    assert set(by_id) == set(keys_by_id)  # every message, each with the id of its outbox key
    repeated = {keys_by_id[mid] for mid, n in by_id.items() if n > 1}
    assert repeated <= claimed, "only a message claimed at the kill may arrive twice"
    assert not repeated & sent
    for person in people:
        copies = [r for r in everyone if r.rcpt_tos == (person,)]
        assert len({r.message_id for r in copies}) == 1
    assert len(rows(site_dir.root)["sent"]) == BURST


def test_sigterm_mid_burst_releases_claims_and_nothing_repeats(site_dir: SiteDir, smtp_server: SmtpSink) -> None:
    burst_site(site_dir, smtp_server)
    smtp_server.delay = 0.01
    first = Served(site_dir.root)
    smtp_server.wait_for(40, timeout=30)
    assert first.stop() == 0, first.log  # SIGTERM
    after = rows(site_dir.root)
    assert "sending" not in after, "a clean stop leaves no claim behind"
    assert len(after.get("sent", [])) == len(smtp_server.received) < BURST

    second = Served(site_dir.root)
    try:
        everyone = smtp_server.wait_for(BURST, timeout=40)
    finally:
        assert second.stop() == 0
    assert max(Counter(r.message_id for r in everyone).values()) == 1
    assert len(everyone) == BURST
