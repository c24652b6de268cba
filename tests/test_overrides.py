"""README "overrides": one occurrence moved, changed or cancelled (RFC 5545 3.8.4.4, RFC 5546 3.2.2, 3.2.5)."""

from __future__ import annotations

import ctypes
import ctypes.util
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import icalendar
import pytest
import recurring_ical_events
from dateutil import rrule
from ical.calendar_stream import IcsCalendarStream

from meet_sched.config import load_settings
from meet_sched.ics import IcsRenderer
from meet_sched.model import InstanceVersion, Meeting, StoredMeeting

from .conftest import SiteDir
from .ics_helpers import parse_both

NOW = datetime(2026, 12, 1, tzinfo=UTC)
LATER = datetime(2026, 12, 5, tzinfo=UTC)
BERLIN = ZoneInfo("Europe/Berlin")
PLACE = "config/meetings/m.yaml"
RULE = "FREQ=WEEKLY;BYDAY=TU;UNTIL=20281231"
SERIES = f"""title: Weekly
timezone: Europe/Berlin
start: 2027-01-05T10:00
duration: 1h
recurrence: {RULE}
exdates: [2027-02-02]
rdates: [2027-04-15T16:00]
attendees: [a@x.example, b@y.example]
"""
OVERRIDES = """overrides:
  - occurrence: 2027-03-09
    start: 2027-03-10T15:00
    description: Moved for the delegation
  - occurrence: 2027-03-30
    start: 2027-03-29T09:00
  - occurrence: 2027-06-01
    status: cancelled
  - occurrence: 2027-04-15T16:00
    start: 2027-04-16T11:00
  - occurrence: 2028-10-31
    title: Long one
    duration: 2h
  - occurrence: 2027-07-06
    location: Chengdu city hall
"""
# (original wall time, new wall time or None when cancelled, length)
CHANGES = {
    datetime(2027, 3, 9, 10): (datetime(2027, 3, 10, 15), timedelta(hours=1)),
    datetime(2027, 3, 30, 10): (datetime(2027, 3, 29, 9), timedelta(hours=1)),
    datetime(2027, 6, 1, 10): (None, timedelta(hours=1)),
    datetime(2027, 4, 15, 16): (datetime(2027, 4, 16, 11), timedelta(hours=1)),
    datetime(2028, 10, 31, 10): (datetime(2028, 10, 31, 10), timedelta(hours=2)),
    datetime(2027, 7, 6, 10): (datetime(2027, 7, 6, 10), timedelta(hours=1)),
}
LO, HI = datetime(2027, 1, 1, tzinfo=UTC), datetime(2029, 1, 1, tzinfo=UTC)


def _dateutil() -> list[tuple[datetime, datetime]]:
    """The independent expansion: dateutil's rruleset in wall time, then the overrides applied by hand."""
    rules = rrule.rruleset()
    rule = RULE.replace("UNTIL=20281231", "UNTIL=20281231T235959")
    rules.rrule(rrule.rrulestr(rule, dtstart=datetime(2027, 1, 5, 10)))  # type: ignore[arg-type]
    rules.rdate(datetime(2027, 4, 15, 16))
    rules.exdate(datetime(2027, 2, 2, 10))
    out = []
    for wall in rules:
        new, length = CHANGES.get(wall, (wall, timedelta(hours=1)))
        if new is None:
            continue
        start = new.replace(tzinfo=BERLIN)
        out.append((start.astimezone(UTC), (start + length).astimezone(UTC)))
    return sorted(out)


def _feed(site: SiteDir, meeting: Meeting, stored: StoredMeeting | None = None) -> bytes:
    stored = stored or StoredMeeting(meeting, 0, NOW, NOW, False)
    return IcsRenderer(load_settings(site.root, environ={})).feed("T", [stored])


def test_two_years_of_a_series_agree_with_three_independent_expansions(site_dir: SiteDir) -> None:
    meeting = site_dir.load_one(SERIES + OVERRIDES)
    expected = _dateutil()
    assert len(expected) == 103  # 104 Tuesdays and one rdate, less an exdate and a cancelled one

    ours = [(s.astimezone(UTC), (s + meeting.at(s).duration).astimezone(UTC)) for s in meeting.occurrences(LO, HI)]
    assert ours == expected

    body = _feed(site_dir, meeting)
    cal = icalendar.Calendar.from_ical(body)
    found = recurring_ical_events.of(cal).between(LO, HI)
    theirs = sorted((e["DTSTART"].dt.astimezone(UTC), e["DTEND"].dt.astimezone(UTC)) for e in found)
    assert theirs == expected

    stream = IcsCalendarStream.calendar_from_ics(body.decode())
    timeline = [(e.dtstart, e.dtend) for e in stream.timeline_tz(UTC)]
    assert [(a.astimezone(UTC), b.astimezone(UTC)) for a, b in timeline] == expected

    # What each occurrence says: its own title, description and place, or the series'.
    by_start = {e["DTSTART"].dt.astimezone(UTC): e for e in found}
    moved = by_start[datetime(2027, 3, 10, 15, tzinfo=BERLIN).astimezone(UTC)]
    assert str(moved["DESCRIPTION"]).startswith("Moved for the delegation")
    assert str(by_start[datetime(2028, 10, 31, 10, tzinfo=BERLIN).astimezone(UTC)]["SUMMARY"]) == "Long one"
    assert str(by_start[datetime(2027, 7, 6, 10, tzinfo=BERLIN).astimezone(UTC)]["LOCATION"]) == "Chengdu city hall"
    assert str(by_start[datetime(2027, 7, 13, 10, tzinfo=BERLIN).astimezone(UTC)].get("LOCATION", "")) == ""


def test_the_feed_has_the_master_and_one_vevent_per_override(site_dir: SiteDir) -> None:
    meeting = site_dir.load_one(SERIES + OVERRIDES)
    versions = tuple(
        InstanceVersion(o.occurrence, 3 + i, LATER + timedelta(hours=i), o.content_hash())
        for i, o in enumerate(meeting.overrides)
    )
    stored = StoredMeeting(meeting, 2, NOW, LATER + timedelta(days=1), False, versions)
    parsed = parse_both(_feed(site_dir, meeting, stored))
    events = parsed.events()
    master = [e for e in events if "RECURRENCE-ID" not in e]
    instances = [e for e in events if "RECURRENCE-ID" in e]
    assert len(master) == 1 and all(str(e["UID"]) == str(master[0]["UID"]) for e in events)
    # A cancelled occurrence is an EXDATE of the master (every client honours it), not a VEVENT of its own.
    props = master[0]["EXDATE"]
    exdates = sorted(d.dt for prop in (props if isinstance(props, list) else [props]) for d in prop.dts)
    assert exdates == [datetime(2027, 2, 2, 10, tzinfo=BERLIN), datetime(2027, 6, 1, 10, tzinfo=BERLIN)]
    assert len(instances) == len(meeting.overrides) - 1
    tzid = master[0]["DTSTART"].params["TZID"]
    for event in instances:
        rid = event["RECURRENCE-ID"]
        assert rid.params["TZID"] == tzid == "Europe/Berlin"  # RFC 5545 3.8.4.4: the value type of DTSTART
        version = next(v for v in versions if v.occurrence == rid.dt)
        assert event["SEQUENCE"] == version.sequence  # its own SEQUENCE and DTSTAMP
        assert event["DTSTAMP"].dt == version.last_modified
        assert "RRULE" not in event and "EXDATE" not in event and "RDATE" not in event
    assert master[0]["SEQUENCE"] == 2 and master[0]["DTSTAMP"].dt == LATER + timedelta(days=1)
    # The ical package reads the same overrides.
    assert len([e for e in parsed.ical.events if e.recurrence_id]) == len(instances)


def test_the_invitation_of_one_occurrence_carries_only_it(site_dir: SiteDir) -> None:
    meeting = site_dir.load_one(SERIES + OVERRIDES)
    stored = StoredMeeting(meeting, 1, NOW, LATER, False)
    renderer = IcsRenderer(load_settings(site_dir.root, environ={}))

    moved = renderer.occurrence_invitation(stored, datetime(2027, 3, 9, 10, tzinfo=BERLIN))
    parsed = parse_both(moved)
    assert str(parsed.icalendar["METHOD"]) == "REQUEST"
    (event,) = parsed.events()  # RFC 5546 3.2.2: a REQUEST of one instance is that VEVENT alone
    assert event["RECURRENCE-ID"].dt == datetime(2027, 3, 9, 10, tzinfo=BERLIN)
    assert event["DTSTART"].dt == datetime(2027, 3, 10, 15, tzinfo=BERLIN)
    assert "ORGANIZER" in event and len(event["ATTENDEE"]) == 2
    assert len(parsed.icalendar.walk("VTIMEZONE")) == 1

    cancelled = parse_both(renderer.occurrence_invitation(stored, datetime(2027, 6, 1, 10, tzinfo=BERLIN)))
    assert str(cancelled.icalendar["METHOD"]) == "CANCEL"
    (event,) = cancelled.events()  # RFC 5546 3.2.5: the CANCEL of one instance names its RECURRENCE-ID
    assert event["RECURRENCE-ID"].dt == datetime(2027, 6, 1, 10, tzinfo=BERLIN)
    assert str(event["STATUS"]) == "CANCELLED" and "RRULE" not in event

    whole = parse_both(renderer.invitation(stored))  # the series' REQUEST: master and every override
    assert str(whole.icalendar["METHOD"]) == "REQUEST"
    assert len(whole.events()) == len(meeting.overrides)


def test_overrides_survive_the_database_form_and_change_the_hash(site_dir: SiteDir) -> None:
    plain = site_dir.load_one(SERIES)
    changed = site_dir.load_one(SERIES + OVERRIDES)
    assert "overrides" not in plain.to_data()  # meetings without overrides keep their content hash
    assert Meeting.from_data(changed.to_data()) == changed
    assert changed.content_hash() != plain.content_hash()
    assert changed.series_data() == plain.series_data()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            "  - occurrence: 2027-03-10\n",
            "overrides[0].occurrence: 2027-03-10 is not an occurrence of the series "
            "(did you mean 2027-03-02 10:00, 2027-03-09 10:00, 2027-03-16 10:00?)",
        ),
        (
            "  - occurrence: 2027-02-02\n",
            "overrides[0].occurrence: 2027-02-02 is not an occurrence of the series "
            "(did you mean 2027-01-19 10:00, 2027-01-26 10:00, 2027-02-09 10:00?)",
        ),
        (
            "  - occurrence: 2027-03-09T11:00\n",
            "overrides[0].occurrence: 2027-03-09 11:00 is not an occurrence of the series "
            "(did you mean 2027-03-02 10:00, 2027-03-09 10:00, 2027-03-16 10:00?)",
        ),
        (
            "  - occurrence: 2027-03-23\n    start: 2027-03-28T02:30\n",
            "overrides[0].start: 2027-03-28 02:30 does not exist in Europe/Berlin (the clocks skip it for daylight "
            "saving time); pick a time outside the gap",
        ),
        (
            "  - occurrence: 2027-10-26\n    start: 2027-10-31T02:30\n",
            "overrides[0].start: 2027-10-31 02:30 happens twice in Europe/Berlin (the clocks turn back); "
            "pick a time outside the overlap",
        ),
        (
            "  - occurrence: 2027-03-23\n    start: 2027-03-16T10:00\n",
            "overrides[0].start: 2027-03-16 10:00 is when another occurrence of the series starts",
        ),
        (
            "  - occurrence: 2027-03-23\n    end: 2027-03-23T09:00\n",
            "overrides[0].end: 2027-03-23 09:00 is not after the start 2027-03-23 10:00",
        ),
        (
            "  - occurrence: 2027-03-23\n    attendees: [c@z.example, C@z.example]\n",
            "overrides[0].attendees[1].email: C@z.example is already attendee 1",
        ),
    ],
)
def test_bad_overrides_are_refused_with_their_place(site_dir: SiteDir, extra: str, message: str) -> None:
    problems = site_dir.problems(SERIES + "overrides:\n" + extra)
    assert [p.split(": ", 1)[1] for p in problems] == [message]
    assert all(p.startswith(f"{PLACE}:") for p in problems)


def test_one_occurrence_cannot_be_overridden_twice(site_dir: SiteDir) -> None:
    body = SERIES + "overrides:\n  - occurrence: 2027-03-23\n  - occurrence: 2027-03-23T10:00\n    title: X\n"
    assert site_dir.problems(body) == [
        f"{PLACE}:11: overrides[1].occurrence: 2027-03-23 10:00 is already changed by override 1"
    ]


def test_overrides_need_a_recurrence(site_dir: SiteDir) -> None:
    body = "title: T\ntimezone: Europe/Berlin\nstart: 2027-03-02T10:00\nduration: 1h\n"
    body += "overrides:\n  - occurrence: 2027-03-02\n    status: cancelled\n"
    assert site_dir.problems(body) == [f"{PLACE}:6: overrides[0]: overrides only make sense with a recurrence"]


def _libical() -> ctypes.CDLL:
    name = ctypes.util.find_library("ical")
    if name is None:
        pytest.skip("libical is not installed here (Debian: apt-get install libical3; .ci/run installs it)")
    lib = ctypes.CDLL(name)
    lib.icalparser_parse_string.restype = ctypes.c_void_p
    lib.icalparser_parse_string.argtypes = [ctypes.c_char_p]
    lib.icalrestriction_check.argtypes = [ctypes.c_void_p]
    lib.icalcomponent_count_errors.argtypes = [ctypes.c_void_p]
    lib.icalcomponent_as_ical_string.restype = ctypes.c_char_p
    lib.icalcomponent_as_ical_string.argtypes = [ctypes.c_void_p]
    lib.icalcomponent_free.argtypes = [ctypes.c_void_p]
    return lib


def test_libical_accepts_every_calendar_with_overrides(site_dir: SiteDir) -> None:
    """libical's parser and its RFC 5546 restriction check (the method's required and forbidden properties)."""
    lib = _libical()
    meeting = site_dir.load_one(SERIES + OVERRIDES)
    stored = StoredMeeting(meeting, 1, NOW, LATER, False)
    renderer = IcsRenderer(load_settings(site_dir.root, environ={}))
    bodies = {
        # RFC 5546 3.2.1 forbids ATTENDEE in a PUBLISH: the public feed leaves them out, and so does this one
        "feed": renderer.feed("T", [stored], attendees=False),
        "reminder": renderer.reminder("T", stored, (timedelta(hours=1),)),
        "request": renderer.invitation(stored),
        "one occurrence": renderer.occurrence_invitation(stored, datetime(2027, 3, 9, 10, tzinfo=BERLIN)),
        "one cancel": renderer.occurrence_invitation(stored, datetime(2027, 6, 1, 10, tzinfo=BERLIN)),
    }
    for what, body in bodies.items():
        component = lib.icalparser_parse_string(body)
        assert component, f"{what}: libical could not parse it"
        try:
            valid = lib.icalrestriction_check(component)
            errors = lib.icalcomponent_count_errors(component)
            shown = lib.icalcomponent_as_ical_string(component).decode()
            problems = [line for line in shown.splitlines() if "X-LIC-ERROR" in line]
            assert valid == 1 and errors == 0, f"{what}: {errors} errors: {problems}"
        finally:
            lib.icalcomponent_free(component)


def test_agenda_and_diff_show_moved_and_cancelled_occurrences(site_dir: SiteDir) -> None:
    site_dir.meeting("m.yaml", SERIES)
    site_dir.run("sync", check=True)
    site_dir.meeting("m.yaml", SERIES + OVERRIDES)
    diff = site_dir.run("diff").stdout
    assert "    occurrence 2027-06-01 10:00 Europe/Berlin: 'as the series' → 'cancelled'" in diff
    assert "    occurrence 2027-03-09 10:00 Europe/Berlin: 'as the series' → 'moved to 2027-03-10 15:00" in diff
    site_dir.run("sync", check=True)
    agenda = site_dir.run("agenda", "--from", "2027-03-01", "--days", "100", "--tz", "Europe/Berlin").stdout
    lines = agenda.splitlines()
    assert any(
        line.startswith("Wed 2027-03-10  15:00 CET") and "[moved from Tue 2027-03-09 10:00 CET]" in line
        for line in lines
    )
    assert any(line.startswith("Tue 2027-06-01  10:00 CEST") and line.endswith("Weekly [cancelled]") for line in lines)
    assert not any(line.startswith("Tue 2027-03-09") for line in lines)
