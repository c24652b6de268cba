"""README "skip_holidays": exactly the occurrences on a participant's local public holiday are left out everywhere."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import holidays
import pytest
from dateutil import rrule

from meet_sched.config import load_config, load_settings
from meet_sched.ics import IcsRenderer
from meet_sched.model import Meeting
from meet_sched.site import Site

from .conftest import SiteDir
from .ics_helpers import parse_both

SEOUL = ZoneInfo("Asia/Seoul")
PEOPLE = [  # email, zone, country
    ("kim@daegu.example", "Asia/Seoul", "KR"),
    ("li@chengdu.example", "Asia/Shanghai", "CN"),
    ("ha@bacninh.example", "Asia/Ho_Chi_Minh", "VN"),
    ("jordan@atlanta.example", "America/New_York", "US"),  # 10:00 in Seoul is the evening before there
]
UID = "weekly@test.example"
BEFORE = datetime(2026, 12, 1, tzinfo=UTC)


FIRST = {"WE": date(2027, 1, 6), "TU": date(2027, 1, 5)}


def _weekly(skip: str | None, *, day: str = "WE", until: str = "20271231") -> str:
    lines = [
        "uid: weekly",
        "title: Weekly call",
        "timezone: Asia/Seoul",
        f"start: {FIRST[day]}T10:00",
        "duration: 1h",
        f"recurrence: FREQ=WEEKLY;BYDAY={day};UNTIL={until}",
        *([f"skip_holidays: {skip}"] if skip is not None else []),
        "reminders: [1d]",
        "attendees:",
        *(f"  - {{ email: {e}, timezone: {z} }}" for e, z, _ in PEOPLE),
    ]
    return "\n".join(lines) + "\n"


def _expected(countries: set[str], day: str = "WE") -> dict[datetime, set[str]]:
    """The occurrences on someone's local holiday, from dateutil, holidays and zoneinfo alone."""
    out: dict[datetime, set[str]] = {}
    first = datetime.combine(FIRST[day], time(10), SEOUL)
    until = datetime(2027, 12, 31, 23, 59, tzinfo=SEOUL)
    for start in rrule.rrule(rrule.WEEKLY, byweekday=getattr(rrule, day), dtstart=first, until=until):
        for _, zone, country in PEOPLE:
            local = start.astimezone(ZoneInfo(zone)).date()
            if country in countries and local in holidays.country_holidays(country, years=local.year):
                out.setdefault(start, set()).add(country)
    return out


def _exdates_both(body: bytes) -> tuple[set[datetime], set[datetime]]:
    parsed = parse_both(body)
    event, other = parsed.event(UID)
    exdate = event.get("EXDATE", [])
    props = exdate if isinstance(exdate, list) else [exdate]
    by_icalendar = {d.dt for prop in props for d in prop.dts}
    by_ical = set(other.exdate)  # type: ignore[attr-defined]
    return by_icalendar, by_ical


def _load(site_dir: SiteDir) -> Meeting:
    (meeting,) = load_config(site_dir.root, environ={}).meetings
    return meeting


@pytest.mark.parametrize(
    ("skip", "countries", "day"),
    [
        ("true", {"KR", "CN", "VN", "US"}, "WE"),
        ("[KR, vn]", {"KR", "VN"}, "WE"),
        # Tuesday 10:00 in Seoul is Monday evening in New York: Memorial Day, Labor Day … on their date there
        ("[US]", {"US"}, "TU"),
    ],
)
def test_exactly_the_clashing_occurrences_become_exdates(
    site_dir: SiteDir, skip: str, countries: set[str], day: str
) -> None:
    site_dir.meeting("weekly.yaml", _weekly(skip, day=day))
    meeting = _load(site_dir)
    expected = _expected(countries, day)
    assert expected, "the year must have clashes for the test to mean something"
    assert {s.start for s in meeting.skipped} == set(expected)
    for s in meeting.skipped:  # every holiday named with its country
        assert {part.rsplit("(", 1)[1].rstrip(")") for part in s.reason.split("; ")} == expected[s.start]

    site_dir.run("sync", check=True)
    site_dir.run("export", check=True)
    feed = (site_dir.root / "calendars" / "default.ics").read_bytes()
    by_icalendar, by_ical = _exdates_both(feed)
    assert by_icalendar == set(expected)
    assert {d.astimezone(UTC) for d in by_ical} == {d.astimezone(UTC) for d in expected}

    invite = site_dir.run("invite", UID, check=True).stdout.encode()
    by_icalendar, by_ical = _exdates_both(invite.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n"))
    assert by_icalendar == set(expected)
    assert {d.astimezone(UTC) for d in by_ical} == {d.astimezone(UTC) for d in expected}


def test_chuseok_and_the_evening_before_in_atlanta(site_dir: SiteDir) -> None:
    # Known facts: Chuseok 2027 is Sep 14-16 in Korea, Sep 15 the Mid-Autumn Festival in China;
    # Tue Sep 7 10:00 KST is Mon Sep 6 21:00 EDT, Labor Day in the United States.
    site_dir.meeting("weekly.yaml", _weekly("true"))
    reasons = {s.start.date(): s.reason for s in _load(site_dir).skipped}
    assert reasons[date(2027, 9, 15)] == "Chuseok (KR); Mid-Autumn Festival (CN)"
    site_dir.meeting("weekly.yaml", _weekly("[US]", day="TU"))
    reasons = {s.start.date(): s.reason for s in _load(site_dir).skipped}
    assert reasons[date(2027, 9, 7)] == "Labor Day (US)"
    us = holidays.country_holidays("US", years=2027)
    assert not any(day in us for day in reasons)  # on the date in New York, never the date in Seoul


def test_an_open_series_is_checked_for_a_bounded_span(site_dir: SiteDir) -> None:
    from meet_sched.places.skip import SKIP_HOLIDAYS_YEARS

    body = _weekly("[KR]").replace(";UNTIL=20271231", "")
    site_dir.meeting("weekly.yaml", body)
    skipped = _load(site_dir).skipped
    assert skipped and max(s.start.year for s in skipped) == 2027 + SKIP_HOLIDAYS_YEARS - 1


def test_the_database_round_trip_keeps_them_and_the_hash_changes(site_dir: SiteDir) -> None:
    site_dir.meeting("weekly.yaml", _weekly(None))
    plain = _load(site_dir)
    site_dir.meeting("weekly.yaml", _weekly("[KR]"))
    skipping = _load(site_dir)
    assert "skip_holidays" not in plain.to_data() and "skipped" not in plain.to_data()
    assert Meeting.from_data(skipping.to_data()) == skipping
    assert skipping.content_hash() != plain.content_hash()


@pytest.fixture
def site(site_dir: SiteDir, db_url: str) -> Iterator[Site]:
    site_dir.settings('[reminders]\nhorizon = "366d"\n')  # every occurrence of 2027 gets its reminders planned
    s = Site(site_dir.root, load_settings(site_dir.root, environ={"MEET_SCHED_DATABASE_URL": db_url}))
    yield s
    s.close()


def _reminders(site: Site) -> set[datetime]:
    entries, _ = site.outbox(limit=10_000)
    return {e.occurrence for e in entries if e.kind == "reminder" and e.occurrence is not None}


def test_no_reminders_for_skipped_dates_and_one_update_per_change(site_dir: SiteDir, site: Site) -> None:
    site_dir.meeting("weekly.yaml", _weekly(None))
    site.sync(BEFORE)
    every = _reminders(site)
    first = datetime.combine(date(2027, 1, 6), time(10), SEOUL)
    all_starts = set(
        rrule.rrule(rrule.WEEKLY, byweekday=rrule.WE, dtstart=first, until=datetime(2027, 12, 1, tzinfo=SEOUL))
    )
    assert {d.astimezone(UTC) for d in all_starts} <= {d.astimezone(UTC) for d in every}

    site_dir.meeting("weekly.yaml", _weekly("[KR, VN]"))
    report = site.sync(BEFORE)
    assert [(c.kind.value, c.after.sequence) for c in report.changes] == [("updated", 1)]
    assert site.sync(BEFORE).changes == []  # once: the same holidays again are no change
    skipped = {d.astimezone(UTC) for d in _expected({"KR", "VN"})}
    left = _reminders(site)
    assert left and not left & skipped
    assert left == {d.astimezone(UTC) for d in every} - skipped
    # every attendee is sent the new version (SEQUENCE 1): the invitation not yet sent now announces it
    invitations = [e for e in site.outbox(limit=10_000)[0] if e.kind in ("request", "update")]
    assert sorted(e.key.split("/")[1] for e in invitations) == ["1"] * len(PEOPLE)
    assert {e.recipient for e in invitations} == {e for e, _, _ in PEOPLE}

    site_dir.meeting("weekly.yaml", _weekly("[KR]"))  # a changed list is an edit like any other
    assert [(c.kind.value, c.after.sequence) for c in site.sync(BEFORE).changes] == [("updated", 2)]
    site_dir.meeting("weekly.yaml", _weekly(None))  # and so is turning it off
    assert [(c.kind.value, c.after.sequence) for c in site.sync(BEFORE).changes] == [("updated", 3)]
    assert _reminders(site) == {d.astimezone(UTC) for d in every}


def test_validate_and_agenda_list_the_skipped_dates(site_dir: SiteDir) -> None:
    site_dir.meeting("weekly.yaml", _weekly("[KR]"))
    expected = sorted(_expected({"KR"}))
    text = site_dir.run("validate", "--from", "2027-01-01", "--months", "12", "--all", check=True).stdout
    where = "config/meetings/weekly.yaml:1"
    assert f"{where}: info: 'Weekly call': skip_holidays leaves out {len(expected)} occurrences" in text
    assert f"{where}:   Wed 2027-09-15 10:00 KST: skipped: Chuseok (KR)" in text
    listed = [line for line in text.splitlines() if ": skipped: " in line]
    assert len(listed) == len(expected)

    body = json.loads(site_dir.run("validate", "--from", "2027-01-01", "--months", "12", "--format", "json").stdout)
    (entry,) = body["skipped"]
    assert [datetime.fromisoformat(o["start"]) for o in entry["occurrences"]] == expected
    # a skipped date is information, not a holiday warning
    warned = {o["start"][:10] for m in body["meetings"] for o in m["occurrences"]}
    assert not warned & {d.date().isoformat() for d in expected}

    site_dir.run("sync", check=True)
    agenda = site_dir.run("agenda", "--from", "2027-09-13", "--days", "7", "--tz", "Asia/Seoul", check=True).stdout
    assert "Wed 2027-09-15  10:00 KST  Weekly call (skipped: Chuseok (KR))" in agenda


def test_skip_holidays_needs_a_recurrence_and_known_countries(site_dir: SiteDir) -> None:
    site_dir.meeting(
        "one.yaml", "title: T\ntimezone: Asia/Seoul\nstart: 2027-09-15T10:00\nduration: 1h\nskip_holidays: true\n"
    )
    result = site_dir.run("validate")
    assert result.returncode == 1
    assert (
        "config/meetings/one.yaml:5: skip_holidays: skip_holidays only makes sense with a recurrence"
        in result.stdout + result.stderr
    )
    site_dir.meeting("one.yaml", _weekly("[KR, XX]"))
    result = site_dir.run("validate")
    assert result.returncode == 1
    problems = [line for line in (result.stdout + result.stderr).splitlines() if line.startswith("config/")]
    assert problems == [
        "config/meetings/one.yaml:7: skip_holidays: XX is not a country code the holidays package has public "
        "holidays for (a two-letter ISO 3166 code such as KR, CN or VN)"
    ]  # one problem, about the key, in words (not one per member of the key's type)
    assert "Traceback" not in result.stderr


def test_the_feed_renderer_writes_them_once_beside_the_exdates(site_dir: SiteDir) -> None:
    body = _weekly("[KR]") + "exdates: [2027-09-15, 2027-01-13]\n"  # one exdate is also a skipped holiday
    site_dir.meeting("weekly.yaml", body)
    meeting = _load(site_dir)
    from meet_sched.model import StoredMeeting

    feed = IcsRenderer(load_settings(site_dir.root, environ={})).feed(
        "T", [StoredMeeting(meeting, 0, BEFORE, BEFORE, False)]
    )
    by_icalendar, _ = _exdates_both(feed)
    expected = set(_expected({"KR"})) | {datetime(2027, 1, 13, 10, tzinfo=SEOUL)}
    assert by_icalendar == expected
