"""README "A recurring meeting keeps its wall time in its own zone; attendees in zones with DST see it move"."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from dateutil import rrule
from ical.calendar_stream import IcsCalendarStream

from meet_sched.config import load_settings
from meet_sched.ics import IcsRenderer
from meet_sched.localtimes import local_times
from meet_sched.model import Meeting, StoredMeeting

from .conftest import SiteDir
from .ics_helpers import parse_both

NOW = datetime(2025, 12, 1, tzinfo=UTC)
SEOUL = ZoneInfo("Asia/Seoul")
BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")


def _ical_starts(site: SiteDir, meeting: Meeting, before: datetime) -> list[datetime]:
    """The occurrences the exported VEVENT means, expanded by the independent ``ical`` package."""
    body = IcsRenderer(load_settings(site.root, environ={})).feed("T", [StoredMeeting(meeting, 0, NOW, NOW, False)])
    parse_both(body)
    cal = IcsCalendarStream.calendar_from_ics(body.decode())
    out = []
    for event in cal.timeline_tz(UTC):
        if event.dtstart >= before:
            break
        out.append(event.dtstart)
    return out


YEAR_CASES = [
    ("Asia/Seoul", "2026-01-08T10:00", "FREQ=MONTHLY;BYDAY=2TH", ["2026-02-12"]),
    ("Europe/Berlin", "2026-01-06T09:30", "FREQ=WEEKLY;BYDAY=TU,TH", ["2026-03-31", "2026-10-27T09:30"]),
    ("America/New_York", "2026-01-01T18:00", "FREQ=DAILY;INTERVAL=3", []),
    ("Australia/Lord_Howe", "2026-01-05T10:00", "FREQ=WEEKLY", []),  # a 30-minute DST shift
    ("America/Santiago", "2026-01-02T08:00", "FREQ=WEEKLY;BYDAY=FR;UNTIL=20261231", ["2026-04-03"]),  # southern
]


@pytest.mark.parametrize(("zone", "start", "rule", "exdates"), YEAR_CASES, ids=[c[0] for c in YEAR_CASES])
def test_a_year_of_occurrences_matches_dateutil_and_ical(
    site_dir: SiteDir, zone: str, start: str, rule: str, exdates: list[str]
) -> None:
    meeting = site_dir.load_one(
        f"title: T\ntimezone: {zone}\nstart: {start}\nduration: 45m\nrecurrence: {rule}\nexdates: {exdates}\n",
    )
    tz = ZoneInfo(zone)
    # dateutil, on its own: expand the naive wall times, then put them in the zone.
    naive_start = datetime.fromisoformat(start)
    local_rule = rule.replace("UNTIL=20261231", "UNTIL=20261231T235959")  # the local date, as the README says
    walls = rrule.rrulestr(local_rule, dtstart=naive_start).between(
        datetime(2026, 1, 1), datetime(2027, 1, 1), inc=True
    )
    skipped = {
        datetime.fromisoformat(e) if "T" in e else datetime.combine(date.fromisoformat(e), naive_start.time())
        for e in exdates
    }
    expected = [w.replace(tzinfo=tz) for w in walls if w not in skipped]
    assert len(expected) >= 11

    ours = list(meeting.occurrences(datetime(2026, 1, 1, tzinfo=tz), datetime(2027, 1, 1, tzinfo=tz)))
    assert ours == expected  # the same wall times…
    assert [o.astimezone(UTC) for o in ours] == [e.astimezone(UTC) for e in expected]  # …and instants
    assert {o.hour for o in ours} == {naive_start.hour}  # never moved in its own zone
    assert len({o.utcoffset() for o in ours}) == (1 if zone == "Asia/Seoul" else 2)  # but DST did happen

    theirs = _ical_starts(site_dir, meeting, datetime(2027, 1, 1, tzinfo=tz))
    assert theirs == [o.astimezone(UTC) for o in ours]


def test_attendees_in_dst_zones_see_a_seoul_meeting_move(site_dir: SiteDir) -> None:
    meeting = site_dir.load_one(
        """\
        title: Weekly
        city: Daegu
        timezone: Asia/Seoul
        start: 2026-01-01T10:00
        duration: 1h
        recurrence: FREQ=WEEKLY;BYDAY=TH
        attendees:
          - { email: b@x.example, timezone: Europe/Berlin, city: Berlin }
          - { email: n@x.example, timezone: America/New_York, city: Atlanta }
        """,
    )
    rows = {}
    for start in meeting.occurrences(datetime(2026, 1, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC)):
        assert start.astimezone(UTC).time().hour == 1  # 10:00 KST is 01:00 UTC all year (no DST in Seoul)
        rows[start.date()] = " · ".join(t.short() for t in local_times(meeting, start))
    assert len(rows) == 53
    assert rows[date(2026, 3, 5)] == "Daegu 10:00 KST · Berlin 02:00 CET · Atlanta 20:00 EST (Wed 04 Mar)"
    assert rows[date(2026, 3, 12)] == "Daegu 10:00 KST · Berlin 02:00 CET · Atlanta 21:00 EDT (Wed 11 Mar)"
    assert rows[date(2026, 3, 26)] == "Daegu 10:00 KST · Berlin 02:00 CET · Atlanta 21:00 EDT (Wed 25 Mar)"
    assert rows[date(2026, 4, 2)] == "Daegu 10:00 KST · Berlin 03:00 CEST · Atlanta 21:00 EDT (Wed 01 Apr)"
    assert rows[date(2026, 10, 22)] == "Daegu 10:00 KST · Berlin 03:00 CEST · Atlanta 21:00 EDT (Wed 21 Oct)"
    assert rows[date(2026, 10, 29)] == "Daegu 10:00 KST · Berlin 02:00 CET · Atlanta 21:00 EDT (Wed 28 Oct)"
    assert rows[date(2026, 11, 5)] == "Daegu 10:00 KST · Berlin 02:00 CET · Atlanta 20:00 EST (Wed 04 Nov)"
    # Every occurrence, in every zone, is what zoneinfo says 01:00 UTC is there.
    for day, row in rows.items():
        utc = datetime.combine(day, datetime.min.time(), tzinfo=UTC).replace(hour=1)
        for zone in (BERLIN, NEW_YORK):
            assert f"{utc.astimezone(zone):%H:%M %Z}" in row


def test_a_berlin_meeting_keeps_berlin_time_and_moves_for_seoul(site_dir: SiteDir) -> None:
    meeting = site_dir.load_one(
        """\
        title: Weekly
        timezone: Europe/Berlin
        start: 2026-03-19T10:00
        duration: 1h
        recurrence: FREQ=WEEKLY;COUNT=3
        attendees:
          - { email: d@x.example, timezone: Asia/Seoul, city: Daegu }
        """,
    )
    starts = list(meeting.occurrences(datetime(2026, 1, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC)))
    assert [f"{s:%d %H:%M %Z}" for s in starts] == ["19 10:00 CET", "26 10:00 CET", "02 10:00 CEST"]
    assert [" · ".join(t.short() for t in local_times(meeting, s)) for s in starts] == [
        "Berlin 10:00 CET · Daegu 18:00 KST",
        "Berlin 10:00 CET · Daegu 18:00 KST",
        "Berlin 10:00 CEST · Daegu 17:00 KST",
    ]
    assert meeting.last_end() == datetime(2026, 4, 2, 11, 0, tzinfo=BERLIN)


@pytest.mark.parametrize(
    ("zone", "start", "last", "until_utc"),
    [
        # Late in the evening east of UTC: the local date is still the 10th when UTC is too.
        ("Asia/Seoul", "2026-01-05T23:30", "2026-01-10T23:30", "20260110T145959Z"),
        # West of UTC: 20:00 on the 10th is already the 11th in UTC; a UTC-date UNTIL would drop it.
        ("America/New_York", "2026-01-05T20:00", "2026-01-10T20:00", "20260111T045959Z"),
    ],
)
def test_until_as_a_local_date_includes_that_whole_day(
    site_dir: SiteDir, zone: str, start: str, last: str, until_utc: str
) -> None:
    meeting = site_dir.load_one(
        f"title: T\ntimezone: {zone}\nstart: {start}\nduration: 30m\nrecurrence: FREQ=DAILY;UNTIL=20260110\n"
    )
    tz = ZoneInfo(zone)
    starts = list(meeting.occurrences(datetime(2026, 1, 1, tzinfo=tz), datetime(2026, 2, 1, tzinfo=tz)))
    assert len(starts) == 6
    assert starts[-1] == datetime.fromisoformat(last).replace(tzinfo=tz)
    assert meeting.recurrence == f"FREQ=DAILY;UNTIL={until_utc}"  # RFC 5545: UTC when DTSTART has a TZID
    assert meeting.last_end() == starts[-1] + timedelta(minutes=30)
    assert _ical_starts(site_dir, meeting, datetime(2026, 2, 1, tzinfo=tz)) == [s.astimezone(UTC) for s in starts]


def test_exdates_are_honoured_everywhere(site_dir: SiteDir) -> None:
    meeting = site_dir.load_one(
        """\
        title: Monthly
        timezone: Asia/Seoul
        start: 2026-12-10T10:00
        duration: 1h
        recurrence: FREQ=MONTHLY;BYDAY=2TH;COUNT=4
        exdates: [2027-02-11, 2027-03-11T10:00]
        """,
    )
    expected = [datetime(2026, 12, 10, 10, tzinfo=SEOUL), datetime(2027, 1, 14, 10, tzinfo=SEOUL)]
    assert list(meeting.occurrences(datetime(2026, 1, 1, tzinfo=UTC), datetime(2028, 1, 1, tzinfo=UTC))) == expected
    assert _ical_starts(site_dir, meeting, datetime(2028, 1, 1, tzinfo=UTC)) == [e.astimezone(UTC) for e in expected]


def test_occurrence_bounds(site_dir: SiteDir) -> None:
    meeting = site_dir.load_one(
        "title: T\ntimezone: Asia/Seoul\nstart: 2026-12-10T10:00\nduration: 1h\nrecurrence: FREQ=DAILY;COUNT=5\n",
    )
    at = [datetime(2026, 12, d, 10, tzinfo=SEOUL) for d in range(10, 15)]
    # after <= start < before, with bounds given in any zone
    assert list(meeting.occurrences(at[1], at[3])) == at[1:3]
    assert list(meeting.occurrences(at[1] + timedelta(seconds=1), at[3] + timedelta(seconds=1))) == at[2:4]
    assert list(meeting.occurrences(at[1].astimezone(NEW_YORK), at[2].astimezone(BERLIN))) == [at[1]]
    assert list(meeting.occurrences(at[4] + timedelta(minutes=1), at[4] + timedelta(days=30))) == []
    with pytest.raises(ValueError, match="aware"):
        list(meeting.occurrences(datetime(2026, 12, 1), at[4]))


def test_an_open_series_has_no_last_end_and_keeps_going(site_dir: SiteDir) -> None:
    meeting = site_dir.load_one(
        "title: T\ntimezone: Europe/Berlin\nstart: 2021-01-05T10:00\nduration: 1h\nrecurrence: FREQ=WEEKLY\n"
    )
    assert meeting.last_end() is None
    july_2030 = list(meeting.occurrences(datetime(2030, 7, 1, tzinfo=BERLIN), datetime(2030, 7, 8, tzinfo=BERLIN)))
    assert july_2030 == [datetime(2030, 7, 2, 10, 0, tzinfo=BERLIN)]
    assert july_2030[0].utcoffset() == timedelta(hours=2)
