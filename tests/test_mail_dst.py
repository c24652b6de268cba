"""An invitation to a series kept in one zone tells an attendee in a daylight-saving zone when their
local time of it changes, and to what (README "What is sent, and when"); checked with zoneinfo."""

from __future__ import annotations

import email
import email.policy
from datetime import UTC, datetime
from email.message import EmailMessage
from itertools import pairwise
from zoneinfo import ZoneInfo

from dateutil.rrule import MONTHLY, rrule

from .conftest import SiteDir
from .mail_helpers import text_body

SEOUL = ZoneInfo("Asia/Seoul")
ATLANTA = ZoneInfo("America/New_York")

SERIES = """
uid: monthly-with-atlanta
title: Daegu–Atlanta monthly call
timezone: Asia/Seoul
start: 2030-01-10T10:00
duration: 1h
recurrence: FREQ=MONTHLY;COUNT=24
attendees:
  - { name: Jordan Ellis, email: jordan.ellis@atlanta.example, timezone: America/New_York, city: Atlanta }
  - { name: 김지현, email: jihyun.kim@daegu.example, language: ko, city: Daegu }
  - { name: Nguyễn Thu Hà, email: thuha@bacninh.example, timezone: Asia/Ho_Chi_Minh, language: vi, city: Bac Ninh }
"""


def invitations(site: SiteDir) -> dict[str, EmailMessage]:
    site.meeting("monthly.yaml", SERIES)
    site.run("run", check=True)
    out = {}
    for path in (site.root / "var" / "mail" / "new").iterdir():
        msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        assert isinstance(msg, EmailMessage)
        out[msg["To"].addresses[0].addr_spec] = msg
    return out


def expected_changes(zone: ZoneInfo) -> list[datetime]:
    """Independently: each occurrence's local time in ``zone``, and where hour or offset moves."""
    rule = rrule(MONTHLY, dtstart=datetime(2030, 1, 10, 10), count=24)
    starts = [d.replace(tzinfo=SEOUL).astimezone(zone) for d in rule]
    year = [s for s in starts if s.astimezone(UTC) <= starts[0].astimezone(UTC).replace(year=2031)]
    changes = []
    for before, after in pairwise(year):
        if (before.hour, before.utcoffset()) != (after.hour, after.utcoffset()):
            changes.append(after)
    return changes


def test_an_atlanta_attendee_is_told_when_daylight_saving_moves_the_call(site_dir: SiteDir) -> None:
    got = invitations(site_dir)
    changes = expected_changes(ATLANTA)
    # US daylight saving time 2030: 10 March to 3 November. 10:00 KST is 20:00 EST / 21:00 EDT the day before.
    assert [(c.date().isoformat(), c.hour) for c in changes] == [("2030-04-09", 21), ("2030-11-09", 20)]
    body = text_body(got["jordan.ellis@atlanta.example"])
    assert "When: Wednesday, January 9, 2030 20:00 EST (Atlanta)" in body
    assert "Your local time changes: from Tue, Apr 9, 2030: 21:00 EDT · from Sat, Nov 9, 2030: 20:00 EST" in body
    assert "Next meetings: Sat, Feb 9, 2030 20:00 EST · Sat, Mar 9, 2030 20:00 EST · Tue, Apr 9, 2030 21:00 EDT" in body


def test_attendees_whose_local_time_never_moves_get_no_such_line(site_dir: SiteDir) -> None:
    got = invitations(site_dir)
    assert expected_changes(SEOUL) == [] and expected_changes(ZoneInfo("Asia/Ho_Chi_Minh")) == []
    ko = text_body(got["jihyun.kim@daegu.example"])
    assert "현지 시각 변경" not in ko and "다음 회의: " in ko
    vi = text_body(got["thuha@bacninh.example"])
    assert "Giờ địa phương thay đổi" not in vi
