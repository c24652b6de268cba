"""Radicale's parser (vobject) and khal place every occurrence of a series where zoneinfo does, over DST years."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from dateutil.rrule import rrulestr
from icalendar import Timezone

from meet_sched.config import Settings, load_settings
from meet_sched.ics import IcsRenderer
from meet_sched.model import Meeting, Person, StoredMeeting
from meet_sched.vtimezone import build_timezone

from .ics_helpers import parse_both, unfolded

pytestmark = pytest.mark.slow

NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
CLIENTS = ("radicale", "khal")  # installed from PyPI into one throw-away venv
INSTALL_SECONDS = 300
READ_SECONDS = 60

# A series, and the UTC window in which each client's occurrences are compared with zoneinfo's.
SERIES = [
    # The three-year Berlin series: DST starts on the last Sunday of March each year.
    ("Europe/Berlin", datetime(2027, 1, 6, 10, 0), "FREQ=WEEKLY;COUNT=156", None),
    # A rule that changed (2007): the old one ends with UNTIL, the new one has none.
    ("America/New_York", datetime(2005, 1, 3, 9, 30), "FREQ=WEEKLY;UNTIL=20091228T235959Z", None),
    # Southern hemisphere: DST over the new year.
    ("Australia/Sydney", datetime(2027, 1, 4, 18, 0), "FREQ=WEEKLY;COUNT=160", None),
    # Transitions that follow no yearly rule (Ramadan): one RDATE per line.
    ("Africa/Casablanca", datetime(2027, 1, 5, 11, 0), "FREQ=WEEKLY;COUNT=200", None),
    # An open series started now: its occurrences decades on are still right.
    # "The first Sunday on or after the 2nd": BYMONTHDAY=2,...,8;BYDAY=SU.
    ("America/Santiago", datetime(2026, 12, 1, 8, 0), "FREQ=WEEKLY", (datetime(2035, 1, 1), datetime(2037, 12, 31))),
    ("Europe/Berlin", datetime(2026, 12, 1, 8, 0), "FREQ=WEEKLY", (datetime(2035, 1, 1), datetime(2037, 12, 31))),
    ("Europe/Berlin", datetime(2026, 12, 1, 8, 0), "FREQ=WEEKLY", (datetime(2120, 1, 1), datetime(2123, 1, 1))),
    ("America/Santiago", datetime(2026, 12, 1, 8, 0), "FREQ=WEEKLY", (datetime(2090, 1, 1), datetime(2093, 1, 1))),
]
# khal resolves a TZID it knows with pytz's database, not with the VTIMEZONE: it is compared only
# where that database agrees with zoneinfo and within its expansion.
KHAL_LEAVES_OUT = {
    "Africa/Casablanca": "pytz's Morocco data differs from zoneinfo's (+00 in January 2027)",
    "2090": "khal expands an endless rule until 2037 only",
    "2120": "khal expands an endless rule until 2037 only",
}

VOBJECT_READER = """
import datetime, json, sys, vobject
cal = vobject.readOne(sys.stdin.read())
lo, hi = (datetime.datetime.fromisoformat(a) for a in sys.argv[1:3])
out = {}
for ev in cal.vevent_list:
    rules = ev.getrruleset(addRDate=True)
    starts = [ev.dtstart.value] if rules is None else rules.between(lo, hi, inc=True)
    out[ev.uid.value] = [s.astimezone(datetime.timezone.utc).isoformat() for s in starts]
print(json.dumps(out))
"""

KHAL_READER = """
import datetime, json, sys
from khal.icalendar import cal_from_ics, expand
cal = cal_from_ics(sys.stdin.read())
lo, hi = (datetime.datetime.fromisoformat(a) for a in sys.argv[1:3])
out = {}
for ev in cal.walk("VEVENT"):
    starts = [s.astimezone(datetime.timezone.utc) for s, _ in expand(ev)]
    out[str(ev["UID"])] = [s.isoformat() for s in starts if lo <= s <= hi]
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def client_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    venv = tmp_path_factory.mktemp("clients") / "venv"
    subprocess.run([sys.base_prefix + "/bin/python3", "-m", "venv", str(venv)], check=True, timeout=INSTALL_SECONDS)
    result = subprocess.run(
        [str(venv / "bin" / "pip"), "install", "-q", *CLIENTS],
        capture_output=True,
        text=True,
        timeout=INSTALL_SECONDS,
    )
    if result.returncode != 0:
        pytest.skip(f"radicale and khal could not be installed from PyPI here: {result.stderr[-500:]}")
    return venv / "bin" / "python"


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return load_settings(tmp_path_factory.mktemp("site"), environ={})


def _stored(uid: str, zone: str, wall: datetime, rule: str) -> StoredMeeting:
    start = wall.replace(tzinfo=ZoneInfo(zone))
    meeting = Meeting(
        uid=uid,
        title=uid,
        start=start,
        end=start + timedelta(hours=1),
        timezone=ZoneInfo(zone),
        organizer=Person("Org", "org@x.example"),
        recurrence=rule,
    )
    return StoredMeeting(meeting, 0, NOW, NOW, False)


def _window(wall: datetime, window: tuple[datetime, datetime] | None) -> tuple[datetime, datetime]:
    if window is None:
        return wall.replace(tzinfo=UTC) - timedelta(days=1), datetime(2100, 1, 1, tzinfo=UTC)
    return window[0].replace(tzinfo=UTC), window[1].replace(tzinfo=UTC)


def _expected(zone: str, wall: datetime, rule: str, lo: datetime, hi: datetime) -> list[str]:
    """The rule expanded by dateutil in wall time, each start placed by zoneinfo."""
    tz = ZoneInfo(zone)
    out = []
    for start in rrulestr(rule.replace("Z", "") if "UNTIL" in rule else rule, dtstart=wall):
        moment = start.replace(tzinfo=tz).astimezone(UTC)
        if moment > hi:
            break
        if moment >= lo:
            out.append(moment.isoformat())
    return out


def _read(python: Path, script: str, body: bytes, lo: datetime, hi: datetime) -> dict[str, list[str]]:
    result = subprocess.run(
        [str(python), "-c", script, lo.isoformat(), hi.isoformat()],
        input=body.decode("utf-8"),
        capture_output=True,
        text=True,
        timeout=READ_SECONDS,
    )
    assert result.returncode == 0, result.stderr
    parsed: dict[str, list[str]] = json.loads(result.stdout)
    return parsed


def _cases() -> Iterator[tuple[str, str, datetime, str, tuple[datetime, datetime] | None]]:
    for n, (zone, wall, rule, window) in enumerate(SERIES):
        yield f"s{n}@x.example", zone, wall, rule, window


@pytest.mark.parametrize("reader", ["vobject", "khal"])
@pytest.mark.parametrize(("uid", "zone", "wall", "rule", "window"), list(_cases()), ids=lambda v: str(v)[:24])
def test_client_places_every_occurrence(
    client_python: Path,
    settings: Settings,
    reader: str,
    uid: str,
    zone: str,
    wall: datetime,
    rule: str,
    window: tuple[datetime, datetime] | None,
) -> None:
    if reader == "khal":
        for what, why in KHAL_LEAVES_OUT.items():
            if what == zone or (window is not None and str(window[0].year) == what):
                pytest.skip(f"khal: {why}")
    body = IcsRenderer(settings).feed("t", [_stored(uid, zone, wall, rule)])
    parse_both(body)
    lo, hi = _window(wall, window)
    script = VOBJECT_READER if reader == "vobject" else KHAL_READER
    got = _read(client_python, script, body, lo - timedelta(days=1), hi + timedelta(days=1))[uid]
    got = [g for g in got if lo <= datetime.fromisoformat(g) <= hi]
    expected = _expected(zone, wall, rule, lo, hi)
    assert len(expected) >= 100
    assert got == expected


def test_vobject_misreads_a_comma_separated_rdate(client_python: Path) -> None:
    """The failure the RRULE form avoids: with several values in one RDATE, vobject keeps the first only."""
    zone = Timezone.from_tzid("Europe/Berlin", first_date=date(2027, 1, 1), last_date=date(2029, 12, 31)).to_ical()
    assert b"RDATE:20280326T030000,20290325T030000" in zone
    start = datetime(2029, 7, 4, 10, 0)
    body = (
        b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//x//x//EN\r\n"
        + zone
        + b"BEGIN:VEVENT\r\nUID:u\r\nDTSTAMP:20261125T090000Z\r\nDTSTART;TZID=Europe/Berlin:20290704T100000\r\n"
        + b"DTEND;TZID=Europe/Berlin:20290704T110000\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    year = (datetime(2029, 1, 1, tzinfo=UTC), datetime(2030, 1, 1, tzinfo=UTC))
    got = _read(client_python, VOBJECT_READER, body, *year)["u"]
    assert got != [start.replace(tzinfo=ZoneInfo("Europe/Berlin")).astimezone(UTC).isoformat()]


@pytest.mark.parametrize("zone", ["Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Asia/Kolkata"])
def test_regular_zones_are_written_as_rules_and_rdates_one_per_line(zone: str) -> None:
    lines = unfolded(build_timezone(zone, date(2027, 1, 1), date(2200, 12, 31)).to_ical())
    assert not any(line.startswith("RDATE") and "," in line for line in lines)
    rules = [line for line in lines if line.startswith("RRULE:")]
    if zone == "Asia/Kolkata":
        assert rules == []
    else:
        assert len(rules) == 2 and not any("UNTIL" in r for r in rules), rules
    rdates = [line for line in lines if line.startswith("RDATE")]
    assert len(rdates) == (1 if zone == "Asia/Kolkata" else 0), rdates  # a fixed offset: its DTSTART
    if zone == "Europe/Berlin":
        assert "RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=3" in lines
        assert "RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=10" in lines


def test_irregular_transitions_are_one_rdate_per_line() -> None:
    lines = unfolded(build_timezone("Africa/Casablanca", date(2027, 1, 1), date(2200, 12, 31)).to_ical())
    rdates = [line for line in lines if line.startswith("RDATE")]
    assert len(rdates) > 10 and not any("," in line for line in rdates)


@pytest.mark.parametrize(
    ("zone", "first", "last", "until"),
    [
        ("Europe/Berlin", 2027, 2035, 2061),
        ("America/New_York", 2005, 2012, 2061),  # the 2007 change: the old rule's years as RDATEs
        ("America/Santiago", 2027, 2035, 2061),
        ("Australia/Lord_Howe", 2027, 2035, 2061),  # a half-hour DST
        ("Africa/Casablanca", 2027, 2035, 2036),  # no rule: right within its span
        ("Asia/Kolkata", 2027, 2035, 2061),
    ],
)
def test_the_rules_give_zoneinfo_offsets_every_day(zone: str, first: int, last: int, until: int) -> None:
    """The VTIMEZONE read back by the ``ical`` package gives zoneinfo's offset at noon every day, past its span too."""
    body = (
        b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//x//x//EN\r\n"
        + build_timezone(zone, date(first, 1, 1), date(last, 12, 31)).to_ical()
        + b"END:VCALENDAR\r\n"
    )
    cal = parse_both(body).ical
    tz = cal.timezones[0]
    ours = ZoneInfo(zone)
    day = datetime(first, 1, 1, 12, 0)
    while day < datetime(until, 1, 1):
        info = tz.get_observance(day)
        assert info is not None and info.observance.tz_offset_to.offset == ours.utcoffset(day), day
        day += timedelta(days=1)
