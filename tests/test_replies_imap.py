"""README "Replies": answers read from a real IMAP server (Dovecot) over verified TLS (IMAPS and STARTTLS) and
moved, never deleted; end to end with `serve`, a real SMTP sink and Dovecot: invited, accepted, shown in the feed."""

from __future__ import annotations

import asyncio
import email
import email.policy
import sqlite3
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import icalendar
import pytest

from meet_sched.errors import MeetSchedError
from meet_sched.replies.apply import ReplyOutcome
from meet_sched.replies.imap import ImapInbox
from meet_sched.replies.intake import Intake
from meet_sched.replies.maildir import QUARANTINE_HEADER
from meet_sched.site import Site
from meet_sched.store import attendance
from meet_sched.store.attendance import PartStat

from . import imap_server
from .conftest import SiteDir
from .ics_helpers import parse_both
from .mail_helpers import calendar_part, smtp_settings
from .replies_helpers import FIXTURES, MEETING, NOW, UID, make_site
from .serving import Served, poll
from .smtp_sink import SmtpSink

if reason := imap_server.available():
    pytest.skip(reason, allow_module_level=True)


@pytest.fixture
def dovecot() -> Iterator[imap_server.Dovecot]:
    server = imap_server.Dovecot().start()
    try:
        yield server
    finally:
        server.stop()


def imap_settings(server: imap_server.Dovecot, security: str = "tls", ca: bool = True) -> str:
    port = server.imaps_port if security == "tls" else server.imap_port
    ca_line = f'ca_file = "{server.ca_file}"\n' if ca else ""
    return (
        f'\n[replies.imap]\nhost = "127.0.0.1"\nport = {port}\nsecurity = "{security}"\n'
        f'username = "{imap_server.USER}"\npoll = "1s"\n{ca_line}'
    )


def site_with_imap(
    site_dir: SiteDir, server: imap_server.Dovecot, monkeypatch: pytest.MonkeyPatch, **kw: object
) -> Site:
    monkeypatch.setenv("MEET_SCHED_IMAP_PASSWORD", imap_server.PASSWORD)
    site_dir.settings(imap_settings(server, **kw))  # type: ignore[arg-type]
    return make_site(site_dir)


def run_once(site: Site) -> object:
    async def go() -> object:
        inbox = ImapInbox(Intake(site), site.settings)
        try:
            return await inbox.run_once(lambda: NOW)
        finally:
            await inbox.close()

    return asyncio.run(go())


@pytest.mark.parametrize("security", ["tls", "starttls"])
def test_replies_are_read_over_verified_tls_and_moved(
    site_dir: SiteDir, dovecot: imap_server.Dovecot, monkeypatch: pytest.MonkeyPatch, security: str
) -> None:
    site = site_with_imap(site_dir, dovecot, monkeypatch, security=security)
    accepted = (FIXTURES / "google-accepted.eml").read_bytes()
    dovecot.append(accepted)
    dovecot.append((FIXTURES / "spoofed-from.eml").read_bytes())
    tally = run_once(site)
    assert tally.counts == {ReplyOutcome.APPLIED: 1, ReplyOutcome.QUARANTINED: 1}  # type: ignore[attr-defined]
    with site.db.transaction() as session:
        assert attendance.current(session, UID).partstat("li.ming@chengdu.example") is PartStat.ACCEPTED
    assert dovecot.count("INBOX") == 0
    (kept,) = dovecot.messages("meet-sched-processed")
    assert kept.replace(b"\r\n", b"\n") == accepted.replace(b"\r\n", b"\n")
    (held,) = dovecot.messages("meet-sched-quarantine")
    reason = email.message_from_bytes(held, policy=email.policy.default)[QUARANTINE_HEADER]
    assert "From attacker@evil.example is not the attendee li.ming@chengdu.example" in str(reason)
    assert "s3cret" not in dovecot.log and imap_server.PASSWORD not in repr(site.settings)


def test_a_certificate_not_trusted_is_refused_and_nothing_is_read(
    site_dir: SiteDir, dovecot: imap_server.Dovecot, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = site_with_imap(site_dir, dovecot, monkeypatch, ca=False)
    dovecot.append((FIXTURES / "google-accepted.eml").read_bytes())
    with pytest.raises(MeetSchedError, match=r"CERTIFICATE_VERIFY_FAILED|certificate verify failed"):
        run_once(site)
    assert dovecot.count("INBOX") == 1


def test_without_the_password_in_the_environment_it_says_so(site_dir: SiteDir, dovecot: imap_server.Dovecot) -> None:
    site_dir.settings(imap_settings(dovecot))
    site_dir.meeting("working-call.yaml", MEETING.format(start="2026-12-10T10:00"))
    done = site_dir.run("replies", "run")
    assert done.returncode == 1
    assert "MEET_SCHED_IMAP_PASSWORD" in done.stderr and "Traceback" not in done.stderr


def _reply_to(invitation: bytes, attendee: str, partstat: str) -> bytes:
    """What a calendar client sends back: the invitation's VEVENT as a METHOD:REPLY with one ATTENDEE."""
    cal = icalendar.Calendar.from_ical(invitation)
    (event,) = cal.walk("VEVENT")
    me = next(a for a in event["ATTENDEE"] if str(a).lower() == f"mailto:{attendee}")
    me.params["PARTSTAT"] = partstat
    reply = icalendar.Calendar()
    reply.add("prodid", "-//Google Inc//Google Calendar 70.9054//EN")
    reply.add("version", "2.0")
    reply.add("method", "REPLY")
    answer = icalendar.Event()
    for key in ("UID", "SEQUENCE", "DTSTART", "DTEND", "ORGANIZER", "SUMMARY"):
        answer[key] = event[key]
    answer.add("dtstamp", icalendar.vDDDTypes.from_ical("20261201T130000Z"))
    answer["ATTENDEE"] = me
    reply.add_component(answer)
    body = reply.to_ical().decode()
    return (
        f"Return-Path: <{attendee}>\r\nFrom: <{attendee}>\r\nTo: office@test.example\r\n"
        f"Subject: {partstat.title()}: Working call\r\nMIME-Version: 1.0\r\n"
        f'Content-Type: text/calendar; charset="UTF-8"; method=REPLY\r\n\r\n{body}'
    ).encode()


def _pending(root: Path, recipient: str) -> int:
    with sqlite3.connect(root / "var" / "meet-sched.db") as db:
        (n,) = db.execute(
            "SELECT count(*) FROM outbox WHERE kind='reminder' AND status='pending' AND recipient=?", (recipient,)
        ).fetchone()
        return int(n)


@pytest.mark.slow
def test_serve_invites_takes_the_reply_from_imap_and_the_feed_shows_it(
    site_dir: SiteDir, dovecot: imap_server.Dovecot, smtp_server: SmtpSink
) -> None:
    if site_dir.database_url is not None:
        pytest.skip("reads the outbox from the site's SQLite file")
    extra = '\n[server]\nlisten = "127.0.0.1:0"\npublic_calendars = ["default"]\npublic_attendees = true\n'
    site_dir.settings(smtp_settings(smtp_server, extra + imap_settings(dovecot)))
    soon = (datetime.now(UTC) + timedelta(days=5)).strftime("%Y-%m-%dT10:00")  # its reminders are planned
    site_dir.meeting(
        "working-call.yaml", MEETING.format(start=soon).replace("recurrence: FREQ=MONTHLY;BYDAY=2TH\n", "")
    )
    served = Served(site_dir.root, env={"MEET_SCHED_IMAP_PASSWORD": imap_server.PASSWORD})
    try:
        invitations = smtp_server.wait_for(4)
        by_recipient = {r.rcpt_tos[0]: r for r in invitations}
        invite = calendar_part(by_recipient["li.ming@chengdu.example"].message).get_payload(decode=True)
        assert _pending(site_dir.root, "ellis@atlanta.example") > 0
        started = time.monotonic()
        dovecot.append(_reply_to(invite, "li.ming@chengdu.example", "ACCEPTED"))
        dovecot.append(_reply_to(invite, "ellis@atlanta.example", "DECLINED"))

        def partstats() -> dict[str, str]:
            body = served.client.get("/calendars/default.ics").content
            (event,) = parse_both(body).icalendar.walk("VEVENT")
            return {str(a).removeprefix("mailto:"): str(a.params["PARTSTAT"]) for a in event["ATTENDEE"]}

        shown = poll(partstats, lambda p: p.get("li.ming@chengdu.example") == "ACCEPTED", timeout=20)
        assert time.monotonic() - started < 20
        shown = poll(partstats, lambda p: p.get("ellis@atlanta.example") == "DECLINED", timeout=10)
        assert shown["thuha.nguyen@bacninh.example"] == "NEEDS-ACTION"
        body = served.client.get("/calendars/default.ics").content
        strict = parse_both(body).ical.events[0]
        assert {a.uri.removeprefix("mailto:"): a.status for a in strict.attendees}["li.ming@chengdu.example"] == (
            "ACCEPTED"
        )
        assert poll(lambda: _pending(site_dir.root, "ellis@atlanta.example"), lambda n: n == 0, timeout=10) == 0
        assert _pending(site_dir.root, "li.ming@chengdu.example") > 0
        assert dovecot.count("INBOX") == 0 and len(dovecot.messages("meet-sched-processed")) == 2
        metrics = served.client.get("/metrics").text
        assert 'meet_sched_replies_total{outcome="applied",via="imip"} 2.0' in metrics
        health = served.client.get("/healthz").json()
        assert health["replies"]["inbox"].startswith("imap 127.0.0.1:") and health["replies"]["error"] is None
        time.sleep(1.5)
        assert len(smtp_server.received) == 4  # no mail in answer to a reply
    finally:
        served.stop()
