"""README "meet-sched agenda": upcoming occurrences, one column per zone, a different local date marked."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from meet_sched.agenda import render_agenda, width, zone_columns
from meet_sched.config import load_settings
from meet_sched.site import Site

from .conftest import REPO, SiteDir

SEOUL = ZoneInfo("Asia/Seoul")
SYNCED = datetime(2026, 11, 1, tzinfo=UTC)


@pytest.fixture
def sample(sample_site: SiteDir) -> Iterator[Site]:
    site = Site(sample_site.root, load_settings(sample_site.root, environ={}))
    site.sync(SYNCED)
    yield site
    site.close()


def _readme_agenda() -> list[str]:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    block = re.search(r"`agenda` on the sample site:\n\n```\n(.*?)```", text, re.S)
    assert block is not None
    return block.group(1).splitlines()


def test_the_readme_agenda_of_the_sample_site(sample: Site) -> None:
    start = datetime(2026, 12, 1, tzinfo=UTC)
    table = render_agenda(sample.occurrences(start, start + timedelta(days=150)), [])
    lines = table.splitlines()
    shown = [line for line in _readme_agenda() if line != "…"]
    assert lines[:4] == shown[:4]
    assert shown[-1] in lines  # the README skips some rows ("…") before its last
    assert lines[-1] == "Dates are Daegu's; (+1d)/(-1d): the local date there is a day later/earlier."
    # Atlanta moves to daylight saving time between January and April; Daegu does not move.
    atlanta = [line.split("  ")[4] for line in lines[2:] if "quarterly" in line]
    assert atlanta == ["18:00 EST (-1d)", "19:00 EDT (-1d)"]


def test_zone_columns_chosen_on_the_command_line(sample: Site) -> None:
    start = datetime(2027, 4, 1, tzinfo=UTC)
    occurrences = sample.occurrences(start, start + timedelta(days=10))
    table = render_agenda(occurrences, zone_columns(["America/New_York", "Europe/Berlin", "Asia/Ho_Chi_Minh"]))
    assert table.splitlines()[:4] == [
        "Date            New York   Berlin            Ho Chi Minh        Meeting",
        "--------------  ---------  ----------------  -----------------  -------",
        "Wed 2027-04-07  19:00 EDT  01:00 CEST (+1d)  06:00 UTC+7 (+1d)  Daegu–Atlanta quarterly call",
        "Wed 2027-04-07  21:00 EDT  03:00 CEST (+1d)  08:00 UTC+7 (+1d)  Daegu–Chengdu–Bac Ninh working call",
    ]


def test_columns_line_up_with_wide_characters(site_dir: SiteDir) -> None:
    site_dir.meeting(
        "a.yaml",
        """\
        title: 대구–청두 회의
        city: 대구
        timezone: Asia/Seoul
        start: 2027-01-07T09:00
        duration: 1h
        attendees:
          - { email: a@x.example, timezone: Asia/Shanghai, city: 成都 }
        """,
    )
    site_dir.meeting(
        "b.yaml",
        "title: Second\ntimezone: Asia/Seoul\nstart: 2027-01-08T23:30\nduration: 1h\n",
    )
    site = Site(site_dir.root, load_settings(site_dir.root, environ={}))
    try:
        site.sync(SYNCED)
        table = render_agenda(site.occurrences(datetime(2027, 1, 1, tzinfo=UTC), datetime(2027, 2, 1, tzinfo=UTC)), [])
    finally:
        site.close()
    lines = table.splitlines()[:4]
    assert lines[0].split() == ["Date", "대구", "成都", "Meeting"]
    assert lines[3] == "Fri 2027-01-08  23:30 KST  22:30 CST  Second"
    # Hangul and Han take two terminal columns each: every column starts at the same place on screen.
    for key in ("成都", "Meeting"):
        header = width(lines[0][: lines[0].index(key)])
        cell = {"成都": "CST", "Meeting": ""}[key]
        for row, title in ((lines[2], "대구–청두 회의"), (lines[3], "Second")):
            at = row.index(title) if key == "Meeting" else row.index(cell) - len("08:00 ")
            assert width(row[:at]) == header, (key, row)


def test_in_progress_meetings_are_listed_finished_ones_are_not(site_dir: SiteDir) -> None:
    site_dir.meeting("a.yaml", "title: Running\ntimezone: Asia/Seoul\nstart: 2027-01-07T09:00\nduration: 1h\n")
    site_dir.meeting("b.yaml", "title: Over\ntimezone: Asia/Seoul\nstart: 2027-01-07T08:00\nduration: 1h\n")
    site = Site(site_dir.root, load_settings(site_dir.root, environ={}))
    try:
        site.sync(SYNCED)
        now = datetime(2027, 1, 7, 9, 30, tzinfo=SEOUL)
        assert [o.meeting.title for o in site.occurrences(now, now + timedelta(days=1))] == ["Running"]
        assert [o.meeting.title for o in site.occurrences(now - timedelta(hours=1), now)] == ["Over", "Running"]
    finally:
        site.close()


def _soon(days: int, hour: int) -> datetime:
    """A wall time in Seoul ``days`` from today (the command reads the real clock)."""
    today = datetime.now(SEOUL).date()
    return datetime.combine(today + timedelta(days=days), datetime.min.time()).replace(hour=hour)


def test_the_agenda_command(site_dir: SiteDir) -> None:
    first, second, gone = _soon(3, 8), _soon(4, 10), _soon(5, 9)
    site_dir.meeting(
        "call.yaml",
        f"""\
        title: Daegu–Atlanta call
        city: Daegu
        timezone: Asia/Seoul
        start: {first:%Y-%m-%dT%H:%M}
        duration: 45m
        attendees:
          - {{ email: a@x.example, timezone: America/New_York, city: Atlanta }}
        """,
    )
    site_dir.meeting(
        "off.yaml",
        f"title: Called off\ntimezone: Asia/Seoul\nstart: {second:%Y-%m-%dT%H:%M}\nduration: 1h\nstatus: cancelled\n",
    )
    site_dir.meeting("gone.yaml", f"title: Deleted\ntimezone: Asia/Seoul\nstart: {gone:%Y-%m-%dT%H:%M}\nduration: 1h\n")
    site_dir.run("sync", check=True)
    (site_dir.root / "config" / "meetings" / "gone.yaml").unlink()
    site_dir.run("sync", check=True)

    result = site_dir.run("agenda", "--days", "10", check=True)
    lines = result.stdout.splitlines()
    atlanta = first.replace(tzinfo=SEOUL).astimezone(ZoneInfo("America/New_York"))
    assert lines[0].split() == ["Date", "Daegu", "Atlanta", "Meeting"]
    assert lines[2] == (f"{first:%a %Y-%m-%d}  08:00 KST  {atlanta:%H:%M %Z} (-1d)  Daegu–Atlanta call")
    assert lines[3].startswith(f"{second:%a %Y-%m-%d}  10:00 KST  ") and lines[3].endswith("Called off [cancelled]")
    assert "Deleted" not in result.stdout  # its file is gone: no longer on the agenda

    narrow = site_dir.run("agenda", "--days", "1", "--tz", "Europe/Berlin", check=True).stdout
    assert narrow == "No upcoming meetings.\n"
    berlin = site_dir.run("agenda", "--days", "10", "--tz", "Europe/Berlin", check=True).stdout.splitlines()
    assert berlin[0].split() == ["Date", "Berlin", "Meeting"]
    at_berlin = first.replace(tzinfo=SEOUL).astimezone(ZoneInfo("Europe/Berlin"))
    assert berlin[2].startswith(f"{at_berlin:%a %Y-%m-%d}  {at_berlin:%H:%M %Z}  Daegu–Atlanta call")


def test_a_wrong_zone_is_a_usage_error(site_dir: SiteDir) -> None:
    result = site_dir.run("agenda", "--tz", "Asia/Seol")
    assert result.returncode == 2
    assert "unknown time zone 'Asia/Seol' (did you mean 'Asia/Seoul'?)" in result.stderr
    assert "Traceback" not in result.stderr


def test_from_a_past_date_shows_the_2021_calls_in_the_cities_own_names(sample_site: SiteDir) -> None:
    """`agenda --from` looks back (the 2021 calls of the sample site), and --tz columns keep the city names."""
    sample_site.run("sync", check=True)
    out = sample_site.run(
        "agenda", "--from", "2021-04-14", "--days", "3", "--tz", "Asia/Seoul", "--tz", "Asia/Ho_Chi_Minh", check=True
    ).stdout
    lines = out.splitlines()
    assert lines[0].split()[:3] == ["Date", "Daegu", "Bac"]  # "Bac Ninh", not "Seoul" / "Ho Chi Minh"
    bac_ninh = next(line for line in lines if "Bắc Ninh" in line)
    assert bac_ninh.split()[:6] == ["Fri", "2021-04-16", "15:00", "KST", "13:00", "UTC+7"]
    assert sum("2021-04-14" in line for line in lines) == 2

    bad = sample_site.run("agenda", "--from", "14/04/2021")
    assert bad.returncode == 2
    assert "'14/04/2021' is not a date such as 2021-04-14" in bad.stderr
    assert "Traceback" not in bad.stderr
