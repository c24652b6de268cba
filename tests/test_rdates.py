"""README "rdates": extra occurrences outside the rule, checked like exdates, in the feed, expansions and hash."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from dateutil import rrule
from ical.calendar_stream import IcsCalendarStream

from meet_sched.config import load_settings
from meet_sched.config.limits import MAX_RDATES
from meet_sched.ics import IcsRenderer
from meet_sched.model import Meeting, StoredMeeting

from .conftest import SiteDir
from .ics_helpers import parse_both, unfolded

NOW = datetime(2026, 12, 1, tzinfo=UTC)
BERLIN = ZoneInfo("Europe/Berlin")
PLACE = "config/meetings/m.yaml"
SERIES = """title: T
timezone: Europe/Berlin
start: 2027-03-02T10:00
duration: 1h
recurrence: FREQ=WEEKLY;BYDAY=TU;COUNT=8
exdates: [2027-03-16]
"""


def _dateutil(start: datetime, rule: str, rdates: list[datetime], exdates: list[datetime]) -> list[datetime]:
    """The independent expansion: dateutil's rruleset in wall time, placed by zoneinfo."""
    rules = rrule.rruleset()
    rules.rrule(rrule.rrulestr(rule, dtstart=start))  # type: ignore[arg-type]
    for r in rdates:
        rules.rdate(r)
    for e in exdates:
        rules.exdate(e)
    return [d.replace(tzinfo=BERLIN) for d in rules]


def test_rdates_join_the_occurrences_and_the_feed(site_dir: SiteDir) -> None:
    # 2027-03-30 is after the DST change (10:00 CEST), 2027-03-04 a Thursday, 2027-03-09 one the rule gives.
    meeting = site_dir.load_one(SERIES + "rdates: [2027-03-04, 2027-03-30T15:30, 2027-03-09, 2027-06-01T09:00]\n")
    assert meeting.rdates == (
        datetime(2027, 3, 4, 10, 0, tzinfo=BERLIN),
        datetime(2027, 3, 9, 10, 0, tzinfo=BERLIN),
        datetime(2027, 3, 30, 15, 30, tzinfo=BERLIN),
        datetime(2027, 6, 1, 9, 0, tzinfo=BERLIN),
    )
    expected = _dateutil(
        datetime(2027, 3, 2, 10, 0),
        "FREQ=WEEKLY;BYDAY=TU;COUNT=8",
        [datetime(2027, 3, 4, 10), datetime(2027, 3, 30, 15, 30), datetime(2027, 3, 9, 10), datetime(2027, 6, 1, 9)],
        [datetime(2027, 3, 16, 10)],
    )
    far = datetime(2030, 1, 1, tzinfo=UTC)
    got = list(meeting.occurrences(datetime(2027, 1, 1, tzinfo=UTC), far))
    assert got == expected and len(got) == 10
    assert meeting.last_end() == datetime(2027, 6, 1, 10, 0, tzinfo=BERLIN)
    assert meeting.end_bound() == meeting.last_end()

    body = IcsRenderer(load_settings(site_dir.root, environ={})).feed("T", [StoredMeeting(meeting, 0, NOW, NOW, False)])
    lines = unfolded(body)
    rdate_lines = [line for line in lines if line.startswith("RDATE")]
    assert rdate_lines == [
        "RDATE;TZID=Europe/Berlin:20270304T100000",
        "RDATE;TZID=Europe/Berlin:20270309T100000",
        "RDATE;TZID=Europe/Berlin:20270330T153000",
        "RDATE;TZID=Europe/Berlin:20270601T090000",
    ]
    parsed = parse_both(body)
    event = parsed.events()[0]
    assert [d.dt for prop in event["RDATE"] for d in prop.dts] == list(meeting.rdates)
    cal = IcsCalendarStream.calendar_from_ics(body.decode())
    ical_starts = [e.dtstart for e in cal.timeline_tz(UTC)]
    assert ical_starts == [d.astimezone(UTC) for d in expected]


def test_an_open_series_with_rdates_keeps_going(site_dir: SiteDir) -> None:
    meeting = site_dir.load_one(
        "title: T\ntimezone: Europe/Berlin\nstart: 2027-03-02T10:00\nduration: 1h\n"
        "recurrence: FREQ=MONTHLY;BYMONTHDAY=2\nrdates: [2027-03-20T08:00]\n",
    )
    got = list(meeting.occurrences(datetime(2027, 3, 1, tzinfo=UTC), datetime(2027, 5, 1, tzinfo=UTC)))
    assert got == [
        datetime(2027, 3, 2, 10, tzinfo=BERLIN),
        datetime(2027, 3, 20, 8, tzinfo=BERLIN),
        datetime(2027, 4, 2, 10, tzinfo=BERLIN),
    ]
    assert meeting.last_end() is None


def test_rdates_survive_the_database_round_trip_and_change_the_hash(site_dir: SiteDir) -> None:
    plain = site_dir.load_one(SERIES)
    extra = site_dir.load_one(SERIES + "rdates: [2027-03-04]\n")
    assert "rdates" not in plain.to_data()  # meetings without rdates keep their content hash
    assert Meeting.from_data(extra.to_data()) == extra
    assert Meeting.from_data(plain.to_data()) == plain
    assert extra.to_data() != plain.to_data()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            "rdates: [2027-03-28T02:30]",
            "2027-03-28 02:30 does not exist in Europe/Berlin (the clocks skip it for daylight saving time);"
            " pick a time outside the gap",
        ),
        (
            "rdates: [2027-10-31T02:30]",
            "2027-10-31 02:30 happens twice in Europe/Berlin (the clocks turn back); pick a time outside the overlap",
        ),
        ("rdates: [2027-03-01]", "2027-03-01 10:00 is before the start 2027-03-02 10:00"),
        ("rdates: [2301-01-01]", "2301-01-01T10:00 is outside the supported years 1900-2200"),
    ],
)
def test_bad_rdates_are_refused_with_their_place(site_dir: SiteDir, extra: str, message: str) -> None:
    assert site_dir.problems(SERIES + extra + "\n") == [f"{PLACE}:7: rdates[0]: {message}"]


def test_rdates_need_a_recurrence(site_dir: SiteDir) -> None:
    body = "title: T\ntimezone: Europe/Berlin\nstart: 2027-03-02T10:00\nduration: 1h\nrdates: [2027-03-04]\n"
    assert site_dir.problems(body) == [f"{PLACE}:5: rdates[0]: rdates only make sense with a recurrence"]


def test_too_many_rdates_are_refused(site_dir: SiteDir) -> None:
    days = [f"{(datetime(2027, 3, 3) + timedelta(days=i)):%Y-%m-%d}" for i in range(MAX_RDATES + 1)]
    problems = site_dir.problems(SERIES + f"rdates: [{', '.join(days)}]\n")
    assert len(problems) == 1 and "rdates" in problems[0] and f"{MAX_RDATES:,}" in problems[0], problems


@pytest.mark.parametrize(
    "rule",
    ["FREQ=WEEKLY;BYDAY=TU;COUNT=8", "FREQ=WEEKLY;BYDAY=TU,TH", "FREQ=DAILY;UNTIL=20290101", "FREQ=MONTHLY;BYDAY=1TU"],
)
def test_the_validators_expansion_gives_the_same_occurrences(site_dir: SiteDir, rule: str) -> None:
    """The loader hands its expansion of the first year on to the meeting; past it, the rule is expanded."""
    loaded = site_dir.load_one(SERIES.replace("FREQ=WEEKLY;BYDAY=TU;COUNT=8", rule) + "rdates: [2027-03-04]\n")
    assert "_expansion" in loaded.__dict__
    fresh = Meeting.from_data(loaded.to_data())  # as read back from the database: nothing reused
    assert "_expansion" not in fresh.__dict__
    for after, before in [
        (datetime(2027, 1, 1, tzinfo=UTC), datetime(2027, 6, 1, tzinfo=UTC)),
        (datetime(2027, 5, 1, tzinfo=UTC), datetime(2028, 3, 5, tzinfo=UTC)),  # past the first year
        (datetime(2028, 2, 1, tzinfo=UTC), datetime(2030, 1, 1, tzinfo=UTC)),
    ]:
        assert list(loaded.occurrences(after, before)) == list(fresh.occurrences(after, before))
    assert loaded.last_end() == fresh.last_end()
