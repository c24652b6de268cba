"""README "How the calendars are made" (RFC 5545, 5546, 7986): feeds and invitations read back by two parsers."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import icalendar
import pytest

from meet_sched import __version__
from meet_sched.config import load_settings
from meet_sched.model import StoredMeeting
from meet_sched.site import Site

from .conftest import SiteDir
from .ics_helpers import names, parse_both, unfolded

SEOUL = ZoneInfo("Asia/Seoul")
BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")

WORKING_CALL = r"""
uid: working-call
calendar: sister-cities
title: "Daegu–Chengdu–Bac Ninh working call; agenda, minutes \\ notes 🎥"
description: |
  Standing agenda: follow-up, exchange programmes; trade missions.
  통역: 한국어–中文–Tiếng Việt, files in C:\New\notes
location: Video conference, room 3; Daegu City Hall
video_url: https://video.daegu.example/r/working?x=1&y=2
city: Daegu
timezone: Asia/Seoul
start: 2026-12-10T10:00
duration: 1h
recurrence: FREQ=MONTHLY;BYDAY=2TH;COUNT=12
exdates: [2027-02-11]
organizer: { name: Daegu International Relations Office, email: intl@daegu.example }
reminders: [1d, 10m, 1h]
attendees:
  - { name: 김지현, email: jihyun.kim@daegu.example, language: ko, city: Daegu, role: chair }
  - { name: 李明, email: li.ming@chengdu.example, timezone: Asia/Shanghai, language: zh, city: Chengdu }
  - name: Nguyễn Thu Hà
    email: thuha.nguyen@bacninh.example
    timezone: Asia/Ho_Chi_Minh
    language: vi
    city: Bac Ninh
    role: optional
  - name: 'Jordan "JJ" Ellis'
    email: jordan.ellis@atlanta.example
    timezone: America/New_York
    city: Atlanta
    role: non-participant
"""
WORKING_DESCRIPTION = (
    "Standing agenda: follow-up, exchange programmes; trade missions.\n"
    "통역: 한국어–中文–Tiếng Việt, files in C:\\New\\notes\n\n"
    "Video: https://video.daegu.example/r/working?x=1&y=2\n\n"
    "Time: Daegu 10:00 KST · Chengdu 09:00 CST · Bac Ninh 08:00 UTC+7 · Atlanta 20:00 EST (Wed 09 Dec) "
    "(first meeting, 2026-12-10; each meeting keeps Asia/Seoul time)"
)

BERLIN_REVIEW = """
title = "Berlin partners, quarterly review"
timezone = "Europe/Berlin"
start = 2027-03-26T09:00:00
end = 2027-03-26T10:30:00
status = "tentative"
reminders = []

[[attendees]]
name = "Office"
email = "office@test.example"
timezone = "Asia/Seoul"
city = "Daegu"
"""

NEW_YORK_SERIES = """
calendar: partners
title: Atlanta weekly
city: Atlanta
timezone: America/New_York
start: 2027-02-25T09:00
duration: 30m
recurrence: FREQ=WEEKLY;COUNT=10
attendees:
  - { name: Daegu, email: intl@daegu.example, timezone: Asia/Seoul, city: Daegu }
"""

OPEN_SERIES = """
calendar: partners
title: Since 2021, every Tuesday
timezone: Europe/Berlin
start: 2021-01-05T10:00
duration: 1h
recurrence: FREQ=WEEKLY;BYDAY=TU
"""


def _make_site(site: SiteDir) -> None:
    site.meeting("working/working-call.yaml", WORKING_CALL)
    site.meeting("berlin/review.toml", BERLIN_REVIEW)
    site.meeting("atlanta/weekly.yaml", NEW_YORK_SERIES)
    site.meeting("berlin/open.yaml", OPEN_SERIES)


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> SiteDir:
    site = SiteDir(tmp_path_factory.mktemp("export") / "site")
    _make_site(site)
    _sync_export(site)
    return site


def _sync_export(site: SiteDir) -> str:
    site.run("sync", check=True)
    return site.run("export", check=True).stdout


def _feed(site: SiteDir, name: str) -> bytes:
    return (site.root / "calendars" / f"{name}.ics").read_bytes()


def _stored(site: SiteDir) -> dict[str, StoredMeeting]:
    s = Site(site.root, load_settings(site.root, environ={}))
    try:
        return {m.uid: m for m in s.meetings()}
    finally:
        s.close()


def test_one_file_per_calendar_and_nothing_else(exported: SiteDir) -> None:
    assert sorted(p.name for p in (exported.root / "calendars").iterdir()) == [
        "default.ics",
        "partners.ics",
        "sister-cities.ics",
    ]


@pytest.mark.parametrize(
    ("calendar", "title"),
    [("default", "Test"), ("partners", "Test · partners"), ("sister-cities", "Test · sister-cities")],
)
def test_calendar_properties(exported: SiteDir, calendar: str, title: str) -> None:
    body = _feed(exported, calendar)
    parsed = parse_both(body)
    cal = parsed.icalendar
    assert str(cal["VERSION"]) == "2.0"
    assert str(cal["PRODID"]) == f"-//test.example//meet-sched {__version__}//EN"
    assert str(cal["CALSCALE"]) == "GREGORIAN"
    assert str(cal["METHOD"]) == "PUBLISH"
    assert str(cal["NAME"]) == title and str(cal["X-WR-CALNAME"]) == title
    lines = unfolded(body)
    assert "REFRESH-INTERVAL;VALUE=DURATION:PT1H" in lines
    assert "X-PUBLISHED-TTL:PT1H" in lines
    assert names(body)[:10] == [
        "BEGIN:VCALENDAR",
        "VERSION",
        "PRODID",
        "CALSCALE",
        "METHOD",
        "NAME",
        "X-WR-CALNAME",
        "REFRESH-INTERVAL",
        "X-PUBLISHED-TTL",
        "BEGIN:VTIMEZONE",
    ]
    assert names(body)[-1] == "END:VCALENDAR"
    ical = parsed.ical
    assert (ical.version, ical.prodid, ical.calscale, ical.method) == (
        "2.0",
        f"-//test.example//meet-sched {__version__}//EN",
        "GREGORIAN",
        "PUBLISH",
    )
    assert ical.name == [title]
    assert ical.refresh_interval == timedelta(hours=1)


def _occurrence_bounds(stored: StoredMeeting) -> list[datetime]:
    m = stored.meeting
    last = m.last_end() or datetime(2037, 12, 31, tzinfo=UTC)
    starts = list(m.occurrences(m.start, last))
    return [moment for start in starts for moment in (start, start + m.duration)]


@pytest.mark.parametrize("calendar", ["default", "partners", "sister-cities"])
def test_one_vtimezone_per_tzid_whose_rules_give_every_occurrence_its_offset(exported: SiteDir, calendar: str) -> None:
    body = _feed(exported, calendar)
    cal = parse_both(body).icalendar
    used = {
        str(prop.params["TZID"])
        for event in cal.walk("VEVENT")
        for key in ("DTSTART", "DTEND", "EXDATE")
        for prop in (event.get(key) if isinstance(event.get(key), list) else [event.get(key)])
        if prop is not None and "TZID" in prop.params
    }
    zones = [str(tz["TZID"]) for tz in cal.walk("VTIMEZONE")]
    assert zones == sorted(used)  # one each, in a stable order
    rules = {str(tz["TZID"]): tz.to_tz(lookup_tzid=False) for tz in cal.walk("VTIMEZONE")}
    stored = _stored(exported)
    checked = 0
    for event in cal.walk("VEVENT"):
        s = stored[str(event["UID"])]
        own = rules[s.meeting.timezone.key]
        for moment in _occurrence_bounds(s):
            wall = moment.replace(tzinfo=None)
            assert own.utcoffset(wall) == moment.utcoffset(), f"{s.uid} at {wall} ({s.meeting.timezone.key})"
            checked += 1
    assert checked >= 2


def test_the_open_series_gets_rules_for_its_current_years(exported: SiteDir) -> None:
    """A series started in 2021 without an end: a summer 2030 meeting is CEST (+02:00), not CET."""
    cal = parse_both(_feed(exported, "partners")).icalendar
    berlin = next(tz for tz in cal.walk("VTIMEZONE") if str(tz["TZID"]) == "Europe/Berlin").to_tz(lookup_tzid=False)
    assert berlin.utcoffset(datetime(2030, 7, 2, 10, 0)) == timedelta(hours=2)
    assert berlin.utcoffset(datetime(2030, 12, 3, 10, 0)) == timedelta(hours=1)


def test_working_call_field_by_field(exported: SiteDir) -> None:
    parsed = parse_both(_feed(exported, "sister-cities"))
    uid = "working-call@test.example"
    a, b = parsed.event(uid)
    stored = _stored(exported)[uid]
    changed = stored.last_modified.replace(microsecond=0)

    # icalendar
    assert str(a["SUMMARY"]) == "Daegu–Chengdu–Bac Ninh working call; agenda, minutes \\ notes 🎥"
    assert str(a["DESCRIPTION"]) == WORKING_DESCRIPTION
    assert str(a["LOCATION"]) == "Video conference, room 3; Daegu City Hall"
    assert str(a["URL"]) == "https://video.daegu.example/r/working?x=1&y=2"
    assert a["DTSTART"].params["TZID"] == "Asia/Seoul" and a["DTEND"].params["TZID"] == "Asia/Seoul"
    assert a.decoded("DTSTART") == datetime(2026, 12, 10, 10, 0, tzinfo=SEOUL)
    assert a.decoded("DTEND") == datetime(2026, 12, 10, 11, 0, tzinfo=SEOUL)
    assert a.decoded("DTSTAMP") == changed == a.decoded("LAST-MODIFIED")
    assert a.decoded("CREATED") == stored.created_at.replace(microsecond=0)
    assert (int(a["SEQUENCE"]), str(a["STATUS"])) == (0, "CONFIRMED")
    assert a["RRULE"].to_ical() == b"FREQ=MONTHLY;COUNT=12;BYDAY=2TH"
    assert [d.dt for d in a["EXDATE"].dts] == [datetime(2027, 2, 11, 10, 0, tzinfo=SEOUL)]
    assert a["EXDATE"].params["TZID"] == "Asia/Seoul"
    assert str(a["ORGANIZER"]) == "mailto:intl@daegu.example"
    assert a["ORGANIZER"].params["CN"] == "Daegu International Relations Office"
    attendees = [(str(x), dict(x.params)) for x in a["ATTENDEE"]]
    common = {"CUTYPE": "INDIVIDUAL", "PARTSTAT": "NEEDS-ACTION", "RSVP": "TRUE"}
    assert attendees == [
        ("mailto:jihyun.kim@daegu.example", {"CN": "김지현", "ROLE": "CHAIR", "LANGUAGE": "ko", **common}),
        ("mailto:li.ming@chengdu.example", {"CN": "李明", "ROLE": "REQ-PARTICIPANT", "LANGUAGE": "zh", **common}),
        (
            "mailto:thuha.nguyen@bacninh.example",
            {"CN": "Nguyễn Thu Hà", "ROLE": "OPT-PARTICIPANT", "LANGUAGE": "vi", **common},
        ),
        (
            "mailto:jordan.ellis@atlanta.example",
            {"CN": 'Jordan "JJ" Ellis', "ROLE": "NON-PARTICIPANT", "LANGUAGE": "en", **common},
        ),
    ]
    conference = a["CONFERENCE"]
    assert str(conference) == "https://video.daegu.example/r/working?x=1&y=2"
    assert conference.params["VALUE"] == "URI"
    assert conference.params["FEATURE"] == ["VIDEO", "AUDIO"]  # two features, not one named "VIDEO,AUDIO"
    assert conference.params["LABEL"] == str(a["SUMMARY"])
    alarms = a.walk("VALARM")
    assert [(str(x["ACTION"]), x.decoded("TRIGGER")) for x in alarms] == [
        ("DISPLAY", -timedelta(days=1)),
        ("DISPLAY", -timedelta(hours=1)),
        ("DISPLAY", -timedelta(minutes=10)),
    ]
    assert str(alarms[1]["DESCRIPTION"]) == f"{a['SUMMARY']} (in 1 hour)"

    # ical, independently
    assert b.summary == str(a["SUMMARY"])
    assert b.description == WORKING_DESCRIPTION
    assert b.location == "Video conference, room 3; Daegu City Hall"
    assert b.url == "https://video.daegu.example/r/working?x=1&y=2"
    assert b.dtstart == datetime(2026, 12, 10, 10, 0, tzinfo=SEOUL)
    assert b.dtend == datetime(2026, 12, 10, 11, 0, tzinfo=SEOUL)
    assert b.dtstamp == changed == b.last_modified
    assert (b.sequence, b.status.value) == (0, "CONFIRMED")
    assert (b.rrule.freq.value, b.rrule.count, b.rrule.interval) == ("MONTHLY", 12, 1)
    assert [(d.weekday.value, d.occurrence) for d in b.rrule.by_weekday] == [("TH", 2)]
    assert b.exdate == [datetime(2027, 2, 11, 10, 0, tzinfo=SEOUL)]
    assert (b.organizer.uri, b.organizer.common_name) == (
        "mailto:intl@daegu.example",
        "Daegu International Relations Office",
    )
    assert [(x.uri, x.common_name, x.role, x.status, x.rsvp, x.user_type, x.language) for x in b.attendees] == [
        ("mailto:jihyun.kim@daegu.example", "김지현", "CHAIR", "NEEDS-ACTION", True, "INDIVIDUAL", "ko"),
        ("mailto:li.ming@chengdu.example", "李明", "REQ-PARTICIPANT", "NEEDS-ACTION", True, "INDIVIDUAL", "zh"),
        (
            "mailto:thuha.nguyen@bacninh.example",
            "Nguyễn Thu Hà",
            "OPT-PARTICIPANT",
            "NEEDS-ACTION",
            True,
            "INDIVIDUAL",
            "vi",
        ),
        (
            "mailto:jordan.ellis@atlanta.example",
            'Jordan "JJ" Ellis',
            "NON-PARTICIPANT",
            "NEEDS-ACTION",
            True,
            "INDIVIDUAL",
            "en",
        ),
    ]
    assert [(c.uri, c.label, [f.value for f in c.feature]) for c in b.conference] == [
        ("https://video.daegu.example/r/working?x=1&y=2", b.summary, ["VIDEO", "AUDIO"])
    ]
    assert [(x.action, x.trigger) for x in b.alarm] == [
        ("DISPLAY", -timedelta(days=1)),
        ("DISPLAY", -timedelta(hours=1)),
        ("DISPLAY", -timedelta(minutes=10)),
    ]


def test_a_meeting_without_organizer_or_reminders(exported: SiteDir) -> None:
    """RFC 5546: ORGANIZER is required in PUBLISH, REQUEST and CANCEL: the settings' organizer stands in."""
    a, b = parse_both(_feed(exported, "default")).event("berlin-review@test.example")
    assert str(a["ORGANIZER"]) == "mailto:office@test.example" and a["ORGANIZER"].params["CN"] == "Office"
    assert (b.organizer.uri, b.organizer.common_name) == ("mailto:office@test.example", "Office")
    assert str(a["STATUS"]) == "TENTATIVE" and b.status.value == "TENTATIVE"
    assert a.decoded("DTEND") - a.decoded("DTSTART") == timedelta(minutes=90)
    assert b.dtend == datetime(2027, 3, 26, 10, 30, tzinfo=BERLIN)
    assert str(a["DESCRIPTION"]) == "Time: Berlin 09:00 CET · Daegu 17:00 KST"
    assert a.walk("VALARM") == [] and b.alarm == []
    for key in ("URL", "CONFERENCE", "LOCATION", "RRULE", "EXDATE"):
        assert key not in a


def test_times_line_follows_dst_of_the_meeting_zone(exported: SiteDir) -> None:
    a, _ = parse_both(_feed(exported, "partners")).event("atlanta-weekly@test.example")
    # 09:00 EST on Thu 25 Feb is 23:00 in Daegu the same day; the series keeps 09:00 New York time.
    assert str(a["DESCRIPTION"]) == (
        "Time: Atlanta 09:00 EST · Daegu 23:00 KST (first meeting, 2027-02-25; each meeting keeps "
        "America/New_York time)"
    )
    assert a["RRULE"].to_ical() == b"FREQ=WEEKLY;COUNT=10"


@pytest.mark.slow
def test_reexport_is_byte_identical_in_fresh_processes(exported: SiteDir) -> None:
    """VTIMEZONEs and everything else in a stable order: set iteration order (PYTHONHASHSEED) must not matter."""
    before = {name: _feed(exported, name) for name in ("default", "partners", "sister-cities")}
    for seed in ("1", "2", "3"):
        for path in (exported.root / "calendars").glob("*.ics"):
            path.unlink()
        exported.run("export", env={"PYTHONHASHSEED": seed}, check=True)
        assert {name: _feed(exported, name) for name in before} == before


def _stat(path: Path) -> tuple[int, int, int]:
    st = path.stat()
    return st.st_ino, st.st_mtime_ns, st.st_mode & 0o777


def test_export_rewrites_only_the_calendars_that_changed(site_dir: SiteDir) -> None:
    _make_site(site_dir)
    _sync_export(site_dir)
    cals = site_dir.root / "calendars"
    before = {p.name: _stat(p) for p in cals.glob("*.ics")}
    again = site_dir.run("export", check=True)
    assert again.stdout == "3 calendar(s) unchanged\n"
    assert {p.name: _stat(p) for p in cals.glob("*.ics")} == before

    site_dir.meeting("atlanta/weekly.yaml", NEW_YORK_SERIES.replace("30m", "45m"))
    assert _sync_export(site_dir).splitlines() == [f"wrote {cals / 'partners.ics'}", "2 calendar(s) unchanged"]
    after = {p.name: _stat(p) for p in cals.glob("*.ics")}
    assert after["default.ics"] == before["default.ics"]
    assert after["sister-cities.ics"] == before["sister-cities.ics"]
    assert after["partners.ics"][0] != before["partners.ics"][0]  # a new file, renamed into place
    assert sorted(p.name for p in cals.iterdir()) == ["default.ics", "partners.ics", "sister-cities.ics"]


@pytest.mark.slow
def test_published_calendars_follow_the_umask_not_mkstemp(site_dir: SiteDir) -> None:
    site_dir.meeting("a.toml", BERLIN_REVIEW)
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEET_SCHED_")}
    subprocess.run(
        [
            "sh",
            "-c",
            'umask 077 && "$0" -m meet_sched sync --root "$1" && exec "$0" -m meet_sched export --root "$1"',
            sys.executable,
            str(site_dir.root),
        ],
        check=True,
        env=env,
        capture_output=True,
    )
    path = site_dir.root / "calendars" / "default.ics"
    assert path.stat().st_mode & 0o777 == 0o600  # 0666 less the umask; [calendar] file_mode can say otherwise


def _invite(site: SiteDir, key: str) -> bytes:
    """`meet-sched invite` as bytes (text mode would turn CRLF into LF)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEET_SCHED_")}
    return subprocess.run(
        [sys.executable, "-m", "meet_sched", "invite", key, "--root", str(site.root)],
        check=True,
        env=env,
        capture_output=True,
    ).stdout


def test_invite_is_a_request_then_a_cancel_with_a_higher_sequence(site_dir: SiteDir) -> None:
    _make_site(site_dir)
    _sync_export(site_dir)
    uid = "working-call@test.example"

    body = _invite(site_dir, "working-call")
    parsed = parse_both(body)
    assert str(parsed.icalendar["METHOD"]) == "REQUEST" and parsed.ical.method == "REQUEST"
    assert "NAME" not in parsed.icalendar and "REFRESH-INTERVAL" not in parsed.icalendar
    a, b = parsed.event(uid)
    feed, _ = parse_both(_feed(site_dir, "sister-cities")).event(uid)
    assert int(a["SEQUENCE"]) == int(feed["SEQUENCE"]) == 0
    assert a.walk("VALARM") == [] and b.alarm == []
    assert str(a["ORGANIZER"]) == "mailto:intl@daegu.example"
    assert len(a["ATTENDEE"]) == 4
    assert a.decoded("DTSTAMP") == feed.decoded("DTSTAMP")
    assert [str(tz["TZID"]) for tz in parsed.icalendar.walk("VTIMEZONE")] == ["Asia/Seoul"]

    (site_dir.root / "config" / "meetings" / "working" / "working-call.yaml").unlink()
    _sync_export(site_dir)
    cancel = parse_both(_invite(site_dir, uid))
    assert str(cancel.icalendar["METHOD"]) == "CANCEL" and cancel.ical.method == "CANCEL"
    a, b = cancel.event(uid)
    assert (int(a["SEQUENCE"]), str(a["STATUS"])) == (1, "CANCELLED")
    assert (b.sequence, b.status.value) == (1, "CANCELLED")
    assert str(a["ORGANIZER"]) == "mailto:intl@daegu.example"
    assert [str(x) for x in a["ATTENDEE"]] == [str(x) for x in feed["ATTENDEE"]]  # everyone who got the REQUEST
    assert a.walk("VALARM") == []
    # The feed says the same: cancelled, SEQUENCE 1, DTSTAMP of the removal.
    feed, _ = parse_both(_feed(site_dir, "sister-cities")).event(uid)
    assert (int(feed["SEQUENCE"]), str(feed["STATUS"])) == (1, "CANCELLED")
    assert feed.decoded("DTSTAMP") == a.decoded("DTSTAMP") >= a.decoded("CREATED")


def test_invite_of_an_unknown_meeting_is_a_message(site_dir: SiteDir) -> None:
    _make_site(site_dir)
    site_dir.run("sync", check=True)
    result = site_dir.run("invite", "no-such-meeting")
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        "meet-sched: no meeting 'no-such-meeting'",
        "hint: run `meet-sched sync` first?",
    ]


def test_no_alarm_trigger_or_date_depends_on_the_exporting_machine(site_dir: SiteDir) -> None:
    """The same database exported under another TZ gives the same bytes (no local time leaks in)."""
    _make_site(site_dir)
    _sync_export(site_dir)
    before = _feed(site_dir, "sister-cities")
    (site_dir.root / "calendars" / "sister-cities.ics").unlink()
    site_dir.run("export", env={"TZ": "America/Los_Angeles"}, check=True)
    assert _feed(site_dir, "sister-cities") == before


def test_dates_in_descriptions_use_the_meeting_zone_not_utc(exported: SiteDir) -> None:
    # 2026-12-10 10:00 KST is 01:00 UTC the same day, and 20:00 the day before in Atlanta.
    a, _ = parse_both(_feed(exported, "sister-cities")).event("working-call@test.example")
    assert "Atlanta 20:00 EST (Wed 09 Dec)" in str(a["DESCRIPTION"])
    assert a.decoded("DTSTART").date() == date(2026, 12, 10)


def test_a_calendar_left_empty_is_emptied_not_left_stale(site_dir: SiteDir) -> None:
    """A meeting moved to another calendar must not stay on in the old calendar's file as confirmed."""
    site_dir.meeting(
        "moving.yaml",
        """
        uid: moving
        calendar: first
        title: Moving meeting
        timezone: Asia/Seoul
        start: 2030-01-10T10:00
        duration: 1h
        """,
    )
    foreign = site_dir.root / "calendars" / "handmade.ics"
    foreign.parent.mkdir(parents=True, exist_ok=True)
    foreign.write_bytes(b"BEGIN:VCALENDAR\r\nPRODID:-//someone else//EN\r\nVERSION:2.0\r\nEND:VCALENDAR\r\n")
    site_dir.run("run", check=True)
    first = site_dir.root / "calendars" / "first.ics"
    assert len(icalendar.Calendar.from_ical(first.read_bytes()).walk("VEVENT")) == 1

    path = site_dir.root / "config" / "meetings" / "moving.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("calendar: first", "calendar: second"), encoding="utf-8")
    site_dir.run("run", check=True)

    assert icalendar.Calendar.from_ical(first.read_bytes()).walk("VEVENT") == []
    second = icalendar.Calendar.from_ical((site_dir.root / "calendars" / "second.ics").read_bytes())
    assert [str(e["UID"]) for e in second.walk("VEVENT")] == ["moving@test.example"]
    assert foreign.read_bytes().startswith(b"BEGIN:VCALENDAR\r\nPRODID:-//someone else//EN")


def test_a_variant_of_one_version_is_not_served_from_the_cache(sample_site: SiteDir) -> None:
    """A CANCEL for one removed attendee shares UID, SEQUENCE and LAST-MODIFIED with the meeting: its own bytes."""
    import dataclasses

    from meet_sched.model import MeetingStatus

    sample_site.run("sync", check=True)
    site = Site(sample_site.root)
    stored = next(s for s in site.meetings() if len(s.meeting.attendees) > 1)
    first = site.renderer.invitation(stored)
    request = icalendar.Calendar.from_ical(first)
    variant = dataclasses.replace(
        stored,
        meeting=dataclasses.replace(
            stored.meeting, status=MeetingStatus.CANCELLED, attendees=stored.meeting.attendees[:1]
        ),
    )
    cancel = icalendar.Calendar.from_ical(site.renderer.invitation(variant))
    assert str(request["METHOD"]) == "REQUEST" and str(cancel["METHOD"]) == "CANCEL"
    (event,) = cancel.walk("VEVENT")
    assert str(event["STATUS"]) == "CANCELLED"
    assert len(event.get("ATTENDEE") if isinstance(event.get("ATTENDEE"), list) else [event["ATTENDEE"]]) == 1
    # and the version itself still comes back as it was
    assert site.renderer.invitation(stored) == first


def test_invite_of_a_meeting_without_attendees_is_a_message(site_dir: SiteDir) -> None:
    """RFC 5546 section 3.2.2: a REQUEST names at least one attendee; none is nothing to invite."""
    site_dir.meeting(
        "solo.yaml", "uid: solo\ntitle: Desk time\ntimezone: Asia/Seoul\nstart: 2027-01-07T10:00\nduration: 1h\n"
    )
    site_dir.run("sync", check=True)
    result = site_dir.run("invite", "solo")
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr.splitlines() == [
        "meet-sched: config/meetings/solo.yaml:1: solo@test.example has no attendees: there is no one to invite"
    ]
