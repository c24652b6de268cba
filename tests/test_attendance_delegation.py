"""README "meet-sched attendance": a delegation (RFC 5546 4.2.5) is shown as "delegated to", and a delegate who is
not an attendee in the meeting's file gets a ``path:line:`` hint, since the file alone decides who is invited."""

from __future__ import annotations

from pathlib import Path

from .conftest import SiteDir
from .replies_helpers import FIXTURES, MEETING

TO_AN_ATTENDEE = """BEGIN:VCALENDAR\r
VERSION:2.0\r
PRODID:-//Test//Delegation//EN\r
METHOD:REPLY\r
BEGIN:VEVENT\r
UID:working-call@test.example\r
DTSTAMP:20261201T120000Z\r
DTSTART;TZID=Asia/Seoul:20270610T100000\r
RECURRENCE-ID;TZID=Asia/Seoul:20270708T100000\r
SEQUENCE:0\r
ATTENDEE;PARTSTAT=DELEGATED;DELEGATED-TO="mailto:ellis@atlanta.example":mailto:jihyun.kim@daegu.example\r
END:VEVENT\r
END:VCALENDAR\r
"""

EXPECTED = """\
Working call  [working-call@test.example]
  Thu 2027-06-10 10:00 KST: 1 delegated, 3 no answer
    delegated: Li Ming (Chengdu, Asia/Shanghai) delegated to wang.fang@chengdu.example
    no answer: 김지현 (Daegu, Asia/Seoul); Nguyễn Thu Hà (Bac Ninh, Asia/Ho_Chi_Minh); \
Ellis Carter (Atlanta, America/New_York)
  Thu 2027-07-08 10:00 KST: 2 delegated, 2 no answer
    delegated: 김지현 (Daegu, Asia/Seoul) delegated to Ellis Carter; \
Li Ming (Chengdu, Asia/Shanghai) delegated to wang.fang@chengdu.example
    no answer: Nguyễn Thu Hà (Bac Ninh, Asia/Ho_Chi_Minh); Ellis Carter (Atlanta, America/New_York)
  config/meetings/working-call.yaml:12: li.ming@chengdu.example delegated to wang.fang@chengdu.example; \
add them to attendees to invite them
"""


def test_a_delegate_who_is_not_invited_gets_a_hint(site_dir: SiteDir, tmp_path: Path) -> None:
    site_dir.meeting("working-call.yaml", MEETING.format(start="2027-06-10T10:00"))
    site_dir.run("sync", check=True)
    to_ellis = tmp_path / "to-ellis.ics"
    to_ellis.write_text(TO_AN_ATTENDEE, encoding="utf-8", newline="")
    done = site_dir.run("replies", "import", str(FIXTURES / "delegated.eml"), str(to_ellis))
    assert done.returncode == 0, done.stdout + done.stderr
    shown = site_dir.run("attendance", "working-call", "--from", "2027-06-01", "--days", "40", check=True)
    assert shown.stdout == EXPECTED
    assert shown.stderr == ""


def test_the_hint_names_the_line_in_a_file_of_several_meetings(site_dir: SiteDir) -> None:
    """In a ``meetings:`` list the hint points at the delegator's entry of that meeting, not of another one."""
    body = MEETING.format(start="2027-06-10T10:00").strip("\n")
    other = body.replace("uid: working-call@test.example", "uid: other-call@test.example")
    both = "meetings:\n" + "\n".join("  - " + "\n    ".join(m.splitlines()) for m in (other, body))
    site_dir.meeting("calls.yaml", both + "\n")
    site_dir.run("sync", check=True)
    assert site_dir.run("replies", "import", str(FIXTURES / "delegated.eml")).returncode == 0
    shown = site_dir.run("attendance", "working-call", "--from", "2027-06-01", "--days", "10", check=True).stdout
    lines = both.splitlines()
    at = next(i for i, line in enumerate(lines) if "uid: working-call" in line)
    line = next(i for i, text in enumerate(lines) if i > at and "li.ming@chengdu.example" in text) + 1
    assert shown.endswith(
        f"  config/meetings/calls.yaml:{line}: li.ming@chengdu.example delegated to wang.fang@chengdu.example; "
        "add them to attendees to invite them\n"
    )
