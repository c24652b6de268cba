"""What an answer writes (COMMENT, DELEGATED-TO, METHOD) shows its controls and bidi marks as escapes wherever shown."""

from __future__ import annotations

import asyncio
import email
import email.policy
import logging
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

import httpx
import pytest

from meet_sched.cli import main
from meet_sched.config import load_settings
from meet_sched.delivery.dispatcher import Dispatcher
from meet_sched.safe_text import neutral
from meet_sched.service import Service
from meet_sched.site import Site
from meet_sched.store import attendance
from meet_sched.store.attendance import PartStat, Via
from meet_sched.web.app import create_app
from meet_sched.web.page import PageRenderer

from .conftest import SiteDir
from .mail_helpers import Clock, html_body, text_body
from .replies_helpers import FIXTURES, MEETING, UID
from .serving import web_state

LI = "li.ming@chengdu.example"
# A line break that would forge a report line, OSC (set the window title), CSI (clear the screen),
# a right-to-left override and the one-character CSI of C1.
HOSTILE = "late\nFORGED LINE \x1b]0;title\x07 \x1b[2J \u202egnp.exe \x9b31m red"
ACTING = ("\n", "\x1b", "\x07", "\u202e", "\x9b")
SHOWN = "late\\u000aFORGED LINE \\u001b]0;title\\u0007 \\u001b[2J \\u202egnp.exe \\u009b31m red"
STARTS = "2026-12-10T10:00"


def ics_text(value: str) -> str:
    """``value`` as an iCalendar TEXT value (RFC 5545 3.3.11): the line break escaped, the rest raw."""
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace(",", "\\,").replace(";", "\\;")


def counter_with(comment: str) -> bytes:
    """Li Ming's COUNTER, as Google sends it, with ``comment`` as its COMMENT."""
    raw = (FIXTURES / "counter.eml").read_bytes().decode()
    return raw.replace("COMMENT:Could we start two hours later?", f"COMMENT:{ics_text(comment)}").encode()


def tentative_with(comment: str) -> bytes:
    ics = (
        "BEGIN:VCALENDAR\r\nMETHOD:REPLY\r\nPRODID:-//Test//EN\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\n"
        f"ATTENDEE;PARTSTAT=TENTATIVE:mailto:{LI}\r\nUID:{UID}\r\nSEQUENCE:0\r\nDTSTAMP:20261201T130000Z\r\n"
        f"DTSTART;TZID=Asia/Seoul:20261210T100000\r\nCOMMENT:{ics_text(comment)}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    return (
        f"From: Li Ming <{LI}>\r\nTo: office@test.example\r\nSubject: Tentative\r\nMIME-Version: 1.0\r\n"
        f'Content-Type: text/calendar; charset="utf-8"; method=REPLY\r\n\r\n{ics}'
    ).encode()


def assert_inert(text: str) -> None:
    assert not [c for c in ACTING if c in text.replace("\r\n", "").replace("\n", "")], repr(text)


@pytest.fixture
def site_dir_with_summary(site_dir: SiteDir) -> SiteDir:
    site_dir.settings('[replies]\nsummary = "each"\n\n[invitations]\nenabled = false\n')
    site_dir.meeting("working-call.yaml", MEETING.format(start=STARTS))
    assert main(["sync", "--root", str(site_dir.root)]) == 0
    return site_dir


def test_the_helper_escapes_what_acts_and_keeps_the_rest() -> None:
    assert neutral(HOSTILE) == SHOWN
    assert neutral("김지현 · Nguyễn Thu Hà, 12:00–13:00 “quoted”") == "김지현 · Nguyễn Thu Hà, 12:00–13:00 “quoted”"
    for c in ("\u061c", "\u200e", "\u200f", "\u202a", "\u202d", "\u2066", "\u2069", "\u2028", "\x85", "\x7f", "\r"):
        assert neutral(f"a{c}b") == f"a\\u{ord(c):04x}b"


def test_a_hostile_comment_through_replies_import_reaches_attendance_and_the_summary_inert(
    site_dir_with_summary: SiteDir, tmp_path: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    site_dir = site_dir_with_summary
    root = str(site_dir.root)
    files = [tmp_path / "counter.eml", tmp_path / "tentative.eml", tmp_path / "bad\x1b[2J\u202e.eml"]
    files[0].write_bytes(counter_with(HOSTILE))
    files[1].write_bytes(tentative_with(HOSTILE))
    files[2].write_bytes(tentative_with("x").replace(b"METHOD:REPLY", "METHOD:X\x1b[2J\u202e".encode()))
    capsys.readouterr()
    with caplog.at_level(logging.INFO):
        assert main(["replies", "import", *map(str, files), "--root", root]) == 1  # the third is refused
    imported = capsys.readouterr().out
    assert_inert(imported)
    assert "bad\\u001b[2J\\u202e.eml: refused: " in imported and "X\\u001b[2J\\u202e" in imported
    assert f"tentative.eml: applied: {LI} TENTATIVE" in imported
    for record in caplog.records:  # the intake's log lines quote the reasons and names too
        assert_inert(record.getMessage())

    # `attendance`: the proposal's comment is one line of the report, and nothing in it acts
    assert main(["attendance", UID, "--root", root]) == 0
    report = capsys.readouterr().out
    assert_inert(report.replace("\n", ""))
    (proposed,) = [line for line in report.splitlines() if line.startswith(f"  proposed by {LI}:")]
    assert proposed.endswith(f" — {SHOWN}")
    assert not any(line.startswith("FORGED") for line in report.splitlines())

    # the organizer's summary, delivered into the Maildir and parsed back
    site = Site(site_dir.root, load_settings(site_dir.root, environ={}))
    site.open()
    clock = Clock(datetime.now(UTC) + timedelta(hours=2))  # past its quiet period

    async def deliver() -> int:
        dispatcher = Dispatcher(site, clock=clock)
        try:
            return (await dispatcher.deliver_due()).sent
        finally:
            await dispatcher.close()

    try:
        assert asyncio.run(deliver()) == 1
    finally:
        site.close()
    (eml,) = (site_dir.root / "var" / "mail" / "new").iterdir()
    message = email.message_from_bytes(eml.read_bytes(), policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    text, html = text_body(message), html_body(message)
    # one line, as before (line breaks and C0 controls become spaces there), the C1 and bidi controls escaped
    flat = "late FORGED LINE ]0;title [2J \\u202egnp.exe \\u009b31m red"
    assert f"- Li Ming: tentative (every meeting of the series) “{flat}”" in text.replace("\r\n", "\n")
    assert f"“{flat}”</li>" in html
    assert_inert(text)
    assert_inert(html)


def test_a_hostile_delegate_shows_inert_on_the_page(site_dir: SiteDir) -> None:
    """Whatever a stored answer holds (a DELEGATED-TO address with controls), the page shows it as text."""
    site_dir.settings('[server]\nlisten = "127.0.0.1:0"\npublic_calendars = ["default"]\npublic_attendees = true\n')
    now = datetime.now(UTC)
    site_dir.meeting("working-call.yaml", MEETING.format(start=(now + timedelta(days=7)).strftime("%Y-%m-%dT10:00")))
    site = Site(site_dir.root)
    site.open()
    try:
        site.sync(now)
        with site.db.transaction(write=True) as session:
            attendance.record(
                session,
                meeting_uid=UID,
                attendee=LI,
                partstat=PartStat.DELEGATED,
                via=Via.IMIP,
                sequence=0,
                now=now,
                delegated_to=["wang\u202egnp.exe\x9b\x1b[2J@chengdu.example"],
            )
        renderer = PageRenderer(site, lambda: now, "http://test")
        for view in (("list", ""), ("meeting", UID)):
            page = renderer.render(now, "en", view)
            assert page is not None
            shown = "Li Ming (delegated to wang\\u202egnp.exe\\u009b\\u001b[2j@chengdu.example)"  # stored lower-cased
            assert shown in page.html, view
            assert_inert(page.html)
    finally:
        site.close()


def test_a_failed_request_logs_its_path_inert(site_dir: SiteDir, caplog: pytest.LogCaptureFixture) -> None:
    """The path of a request is percent-decoded: %1B, %C2%9B and %E2%80%AE in a URL reach the log as escapes."""
    site_dir.meeting("working-call.yaml", MEETING.format(start=STARTS))
    site = Site(site_dir.root)
    site.open()
    service = Service(site)
    web = web_state(service)

    def bug(*args: object) -> None:
        raise RuntimeError("a bug")

    web.page.render = bug  # type: ignore[method-assign]

    async def get() -> int:
        transport = httpx.ASGITransport(app=create_app(web), raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            return (await client.get("/week/x%1B%5B2J%E2%80%AE%C2%9B")).status_code

    try:
        with caplog.at_level(logging.ERROR, logger="meet_sched.web"):
            assert asyncio.run(get()) == 500
    finally:
        site.close()
    (failed,) = [r.getMessage() for r in caplog.records if "event=request-failed" in r.getMessage()]
    assert "path=/week/x\\u001b[2J\\u202e\\u009b error=RuntimeError" in failed
