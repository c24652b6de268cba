"""validate's warnings (README "Places, holidays and working hours"): the clashes an independent computation finds."""

from __future__ import annotations

import json
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import holidays
from dateutil import rrule

from .conftest import SiteDir

SEOUL = ZoneInfo("Asia/Seoul")
PEOPLE = [  # email, zone, country
    ("kim@daegu.example", "Asia/Seoul", "KR"),
    ("li@chengdu.example", "Asia/Shanghai", "CN"),
    ("ha@bacninh.example", "Asia/Ho_Chi_Minh", "VN"),
    ("jordan@atlanta.example", "America/New_York", "US"),
]


def _weekly(site_dir: SiteDir, at: str = "10:00") -> None:
    lines = [
        "title: Weekly call",
        "timezone: Asia/Seoul",
        f"start: 2027-01-06T{at}",
        "duration: 1h",
        "recurrence: FREQ=WEEKLY;BYDAY=WE;UNTIL=20271231",
        "attendees:",
        *(f"  - {{ email: {e}, timezone: {z} }}" for e, z, _ in PEOPLE),
    ]
    site_dir.meeting("weekly.yaml", "\n".join(lines) + "\n")


def _expected(at: time) -> set[tuple[str, str, tuple[str, ...]]]:
    """The same rules, computed here from dateutil, holidays and zoneinfo alone."""
    out = set()
    first = datetime.combine(date(2027, 1, 6), at, SEOUL)
    last = datetime(2027, 12, 31, tzinfo=SEOUL)
    for start in rrule.rrule(rrule.WEEKLY, byweekday=rrule.WE, dtstart=first, until=last):
        end = start + timedelta(hours=1)
        for email, zone_name, country in PEOPLE:
            zone = ZoneInfo(zone_name)
            local, local_end = start.astimezone(zone), end.astimezone(zone)
            table = holidays.country_holidays(country, years=local.year)
            reasons = []
            if local.date() in table:
                reasons.append("holiday")
            elif local.weekday() >= 5 and local.date() not in table.weekend_workdays:
                reasons.append("weekend")
            day = local.date()
            nine, six = datetime.combine(day, time(9), zone), datetime.combine(day, time(18), zone)
            noon, one = datetime.combine(day, time(12), zone), datetime.combine(day, time(13), zone)
            if local < nine:
                reasons.append("before working hours")
            if local_end > six:
                reasons.append("after working hours")
            if local < one and noon < local_end:
                reasons.append("lunch")
            if reasons:
                out.add((start.date().isoformat(), email, tuple(reasons)))
    return out


def _found(body: dict) -> set[tuple[str, str, tuple[str, ...]]]:
    return {
        (occ["start"][:10], c["attendee"], tuple(c["reasons"]))
        for m in body["meetings"]
        for occ in m["occurrences"]
        for c in occ["clashes"]
    }


def test_a_weekly_call_over_2027_warns_exactly_of_the_independent_clashes(site_dir: SiteDir) -> None:
    _weekly(site_dir)
    result = site_dir.run("validate", "--from", "2027-01-01", "--months", "12", "--format", "json")
    assert result.returncode == 0, result.stderr
    body = json.loads(result.stdout)
    expected = _expected(time(10))
    assert _found(body) == expected
    assert len(expected) > 52  # Atlanta every week, and the holidays of the others
    assert body["meetings"][0]["checked"] == 52


def test_lunch_and_the_early_morning_are_named_with_local_times(site_dir: SiteDir) -> None:
    _weekly(site_dir, "08:30")
    result = site_dir.run("validate", "--from", "2027-01-01", "--months", "12", "--all")
    assert result.returncode == 0, result.stderr
    line = next(ln for ln in result.stdout.splitlines() if "Wed 2027-01-13 08:30 KST" in ln)
    assert line.startswith("config/meetings/weekly.yaml:1:")
    assert "li@chengdu.example (Shanghai): 07:30 CST, before working hours 09:00–18:00" in line
    assert "ha@bacninh.example (Ho Chi Minh): 06:30 UTC+7, before working hours 09:00–18:00" in line
    assert _found(json.loads(site_dir.run("validate", "--from", "2027-01-01", "--format", "json").stdout)) == (
        _expected(time(8, 30))
    )


def test_a_long_series_is_summarized_unless_all(site_dir: SiteDir) -> None:
    _weekly(site_dir)
    short = site_dir.run("validate", "--from", "2027-01-01").stdout.splitlines()
    listed = [ln for ln in short if "KST: " in ln]
    assert len(listed) == 5
    more = next(ln for ln in short if "more, --all shows every date" in ln)
    everything = [ln for ln in site_dir.run("validate", "--from", "2027-01-01", "--all").stdout.splitlines()]
    dated = [ln for ln in everything if "KST: " in ln]
    assert f"… {len(dated) - 5} more" in more
    assert len(dated) == len({d for d, _, _ in _expected(time(10))})
    assert any("52 occurrences" in ln and f"{len(dated)} of 52" in ln for ln in everything)


def test_strict_makes_warnings_errors(site_dir: SiteDir) -> None:
    _weekly(site_dir)
    assert site_dir.run("validate", "--from", "2027-01-01").returncode == 0
    strict = site_dir.run("validate", "--from", "2027-01-01", "--strict")
    assert strict.returncode == 1
    assert "--strict makes them errors" in strict.stderr
    assert "Traceback" not in strict.stderr


def test_a_quiet_meeting_gives_no_warning(site_dir: SiteDir) -> None:
    site_dir.meeting(
        "ok.yaml",
        """
        title: Fine
        timezone: Asia/Seoul
        start: 2027-03-10T11:00
        duration: 1h
        attendees:
          - { email: kim@daegu.example }
          - { email: li@chengdu.example, timezone: Asia/Shanghai }
        """,
    )
    result = site_dir.run("validate", "--from", "2027-01-01", "--strict")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout == "ok: 1 meetings in 1 files\n"


def test_daylight_saving_stretch_is_one_warning_with_its_dates(site_dir: SiteDir) -> None:
    """16:00 KST is 08:00 in Berlin in winter (before work) and 09:00 in summer (at work)."""
    site_dir.meeting(
        "berlin.yaml",
        """
        title: Berlin call
        timezone: Asia/Seoul
        start: 2027-01-07T16:00
        duration: 1h
        recurrence: FREQ=WEEKLY;BYDAY=TH;UNTIL=20271231
        attendees:
          - { email: kim@daegu.example }
          - { email: anna@berlin.example, timezone: Europe/Berlin, country: DE }
        """,
    )
    result = site_dir.run("validate", "--from", "2027-01-01", "--format", "json")
    body = json.loads(result.stdout)
    stretches = body["meetings"][0]["daylight_saving"]
    berlin = ZoneInfo("Europe/Berlin")
    # the 2027 transitions, from the tz database: the offset changes between these days
    spring = next(d for d in (date(2027, 3, 1) + timedelta(n) for n in range(60)) if _offset(berlin, d) == 2)
    autumn = next(d for d in (date(2027, 10, 1) + timedelta(n) for n in range(60)) if _offset(berlin, d) == 1)
    assert (spring, autumn) == (date(2027, 3, 28), date(2027, 10, 31))
    assert [(s["from"], s["to"]) for s in stretches] == [
        ("2027-01-07", "2027-03-25"),
        ("2027-11-04", "2027-12-30"),
    ]
    assert all(s["reasons"] == ["before working hours"] for s in stretches)
    assert "no country" not in json.dumps(body)


def _offset(zone: ZoneInfo, day: date) -> int:
    return int((datetime.combine(day, time(12), zone).utcoffset() or timedelta()).total_seconds() // 3600)


def test_a_zone_of_several_countries_is_said(site_dir: SiteDir) -> None:
    site_dir.meeting(
        "b.yaml",
        """
        title: Berlin
        timezone: Europe/Berlin
        start: 2027-03-10T10:00
        duration: 1h
        attendees: [{ email: anna@berlin.example }]
        """,
    )
    text = site_dir.run("validate", "--from", "2027-01-01").stdout
    assert "Europe/Berlin is kept by DE, DK, NO, SE, SJ; the public holidays of DE are assumed" in text
    site_dir.meeting(
        "b.yaml",
        """
        title: Berlin
        timezone: Europe/Berlin
        start: 2027-03-10T10:00
        duration: 1h
        attendees: [{ email: anna@berlin.example, country: DE }]
        """,
    )
    assert "kept by" not in site_dir.run("validate", "--from", "2027-01-01").stdout


def test_warnings_off_in_the_settings(site_dir: SiteDir) -> None:
    _weekly(site_dir)
    site_dir.settings("[warnings]\nenabled = false\n")
    assert site_dir.run("validate", "--from", "2027-01-01", "--strict").returncode == 0


def test_places_in_settings_and_attendees(site_dir: SiteDir) -> None:
    site_dir.settings(
        """
        [places.bac-ninh]
        timezone = "Asia/Ho_Chi_Minh"
        city = "Bac Ninh"
        hours = "08:00-17:00"
        lunch = "11:30-13:00"
        """
    )
    site_dir.meeting(
        "p.yaml",
        """
        title: Placed
        timezone: Asia/Seoul
        start: 2027-03-10T14:00
        duration: 1h
        attendees: [{ email: ha@bacninh.example, place: bac-ninh }]
        """,
    )
    result = site_dir.run("validate", "--from", "2027-01-01", "--format", "json")
    clash = json.loads(result.stdout)["meetings"][0]["occurrences"][0]["clashes"][0]
    assert clash["place"] == "Bac Ninh" and clash["reasons"] == ["lunch"]
    assert clash["local"].startswith("2027-03-10T12:00:00+07:00")
    site_dir.meeting(
        "p.yaml",
        """
        title: Placed
        timezone: Asia/Seoul
        start: 2027-03-10T14:00
        duration: 1h
        attendees: [{ email: ha@bacninh.example, place: bacninh }]
        """,
    )
    bad = site_dir.run("validate")
    assert bad.returncode == 1
    assert "p.yaml:5: attendees[0].place: unknown place 'bacninh' (did you mean 'bac-ninh'?)" in bad.stderr


def test_holidays_are_named_in_english_and_in_the_attendees_language(site_dir: SiteDir) -> None:
    site_dir.meeting(
        "chuseok.yaml",
        """
        title: Mid-September call
        timezone: Asia/Seoul
        start: 2027-09-15T10:00
        duration: 1h
        attendees:
          - { email: kim@daegu.example, language: ko }
          - { email: li@chengdu.example, timezone: Asia/Shanghai, language: zh }
          - { email: ha@bacninh.example, timezone: Asia/Ho_Chi_Minh, language: vi }
        """,
    )
    result = site_dir.run("validate", "--from", "2027-09-01", "--months", "1")
    line = next(ln for ln in result.stdout.splitlines() if "2027-09-15 10:00 KST" in ln)
    korean = holidays.country_holidays("KR", years=2027, language="ko")[date(2027, 9, 15)]
    chinese = holidays.country_holidays("CN", years=2027, language="zh_CN")[date(2027, 9, 15)]
    assert f"kim@daegu.example (Seoul): public holiday Chuseok ({korean})" in line and "추석" in korean
    assert f"li@chengdu.example (Shanghai): public holiday Mid-Autumn Festival ({chinese})" in line
    # an ordinary Wednesday in Vietnam, but an hour before work
    assert line.endswith("ha@bacninh.example (Ho Chi Minh): 08:00 UTC+7, before working hours 09:00–18:00")
