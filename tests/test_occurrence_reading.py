"""A moved or cancelled occurrence is listed as such, not as a change of the series; a start off its rule is refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from meet_sched.cli import main
from meet_sched.mail.render import MailRenderer, Recipient
from meet_sched.site import Site

from .conftest import SiteDir
from .mail_helpers import text_body

NOW = datetime(2027, 2, 1, tzinfo=UTC)
PLACE = "config/meetings/m.yaml"
CALL = """uid: call
title: Monthly call
timezone: Asia/Seoul
start: 2027-02-04T10:00
duration: 1h
recurrence: FREQ=MONTHLY;BYDAY=1TH;COUNT=12
attendees:
  - { name: 김지현, email: kim@daegu.example, language: ko, city: Daegu }
  - { name: Ellis Carter, email: ellis@atlanta.example, timezone: America/New_York, city: Atlanta }
overrides:
  - occurrence: 2027-03-04
    start: 2027-03-04T15:00
  - occurrence: 2027-04-01
    status: cancelled
  - occurrence: 2027-10-07
    status: cancelled
"""


def _body(site_dir: SiteDir, email: str) -> str:
    site_dir.meeting("m.yaml", CALL)
    site = Site(site_dir.root)
    try:
        site.sync(NOW)
        stored = site.meeting("call")
        to = Recipient.of(next(a for a in stored.meeting.attendees if a.email == email))
        out = MailRenderer(site.settings).invitation(stored, to, message_id="<i@test.example>", now=NOW)
        return text_body(out.message)
    finally:
        site.close()


def test_a_moved_occurrence_is_no_change_of_the_series_local_time(site_dir: SiteDir) -> None:
    """A series kept in Seoul time, read in Seoul: its time never changes there, so no such row; March's
    call is listed as moved from 10:00, April's as cancelled, October's (beyond the next four) too."""
    body = _body(site_dir, "kim@daegu.example")
    assert "현지 시각 변경" not in body, body
    assert "3월 4일 (목) 15:00 KST (3월 4일 (목) 10:00 KST에서 옮김)" in body
    assert "4월 1일 (목) 10:00 KST (취소됨)" in body
    assert "옮기거나 취소된 회의: 10월 7일 (목) 10:00 KST (취소됨)" in body


def test_moved_and_cancelled_occurrences_are_told_in_the_attendees_zone(site_dir: SiteDir) -> None:
    """In New York: the series' own changes of local time (daylight saving) in their row, and the moved
    and cancelled occurrences at New York's time, marked."""
    body = _body(site_dir, "ellis@atlanta.example")
    shift = next(line for line in body.splitlines() if line.startswith("Your local time changes"))
    # not "from Thu, Mar 4: 01:00 EST": March's call moved alone; April's is cancelled, May's is the first at 21:00 EDT
    assert shift == "Your local time changes: from Wed, May 5: 21:00 EDT · from Wed, Dec 1: 20:00 EST", shift
    assert "Thu, Mar 4 01:00 EST (moved from Wed, Mar 3 20:00 EST)" in body
    assert "Wed, Mar 31 21:00 EDT (cancelled)" in body


def test_a_start_off_its_rule_moves_to_the_first_occurrence_with_a_warning(
    site_dir: SiteDir, capsys: pytest.CaptureFixture[str]
) -> None:
    """Calendar programs show a meeting at a DTSTART its RRULE does not give, reminders would not: the series
    starts on its first occurrence (as Google Calendar does), and ``validate`` says so at the line."""
    body = CALL.split("overrides:")[0].replace("BYDAY=1TH", "BYDAY=2TH")
    meeting = site_dir.load_one(body)
    assert meeting.start == datetime(2027, 2, 11, 10, tzinfo=ZoneInfo("Asia/Seoul"))
    assert meeting.end - meeting.start == timedelta(hours=1)
    assert main(["validate", "--root", str(site_dir.root)]) == 0
    out = capsys.readouterr().out
    assert (
        f"warning: {PLACE}:4: start: 2027-02-04T10:00 is not an occurrence of 'FREQ=MONTHLY;BYDAY=2TH;COUNT=12': "
        "the series starts on its first occurrence, 2027-02-11T10:00 (write that to keep this message away)"
    ) in out, out
    site_dir.meeting(
        "m.yaml", "uid: day\ntitle: Day\ntimezone: Asia/Seoul\ndate: 2027-02-01\nrecurrence: FREQ=WEEKLY;BYDAY=TU\n"
    )
    assert main(["validate", "--root", str(site_dir.root)]) == 0
    out = capsys.readouterr().out
    assert f"warning: {PLACE}:4: date: 2027-02-01 is not an occurrence of 'FREQ=WEEKLY;BYDAY=TU'" in out, out
    assert "the series starts on its first occurrence, 2027-02-02 (" in out


def test_diff_names_an_all_day_occurrence_by_its_date(site_dir: SiteDir, capsys: pytest.CaptureFixture[str]) -> None:
    """``diff`` of an all-day series: an occurrence cancelled or changed is a date, never a midnight in a zone."""
    series = "uid: days\ntitle: Open day\ntimezone: Asia/Seoul\ndate: 2027-03-03\nrecurrence: FREQ=WEEKLY;COUNT=8\n"
    site_dir.meeting("m.yaml", series)
    assert main(["sync", "--root", str(site_dir.root)]) == 0
    site_dir.meeting(
        "m.yaml",
        series + "overrides:\n  - { occurrence: 2027-03-10, status: cancelled }\n"
        "  - { occurrence: 2027-03-17, title: Open day at the library }\n",
    )
    capsys.readouterr()
    main(["diff", "--root", str(site_dir.root)])
    out = capsys.readouterr().out
    assert "    occurrence 2027-03-10: 'as the series' → 'cancelled'" in out, out
    assert "    occurrence 2027-03-17: 'as the series' → 'own title'" in out, out
    assert "00:00" not in out
