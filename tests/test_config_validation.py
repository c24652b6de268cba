"""README "Rules the validator enforces": every problem of every file as `path:line: field: message`; no change."""

from __future__ import annotations

import hashlib
import sqlite3
import textwrap
from pathlib import Path

import pytest

from meet_sched.config import load_config
from meet_sched.errors import ConfigError

from .conftest import SiteDir, sqlite_only

GOOD_YAML = """\
title: Good
timezone: Asia/Seoul
start: 2026-12-10T10:00
duration: 1h
"""

# (file name, content, the exact problems validate must print for it)
BROKEN: list[tuple[str, str, list[str]]] = [
    (
        "unknown-key.yaml",
        """\
        title: Call
        timezone: Asia/Seoul
        start: 2026-12-10T10:00
        durration: 1h
        """,
        ["config/meetings/unknown-key.yaml:4: durration: unknown key (did you mean 'duration'?)"],
    ),
    (
        "unknown-key-no-hint.yaml",
        """\
        title: Call
        timezone: Asia/Seoul
        start: 2026-12-10T10:00
        duration: 1h
        colour: red
        """,
        [
            "config/meetings/unknown-key-no-hint.yaml:5: colour: unknown key; known keys: uid, calendar, title, "
            "description, location, video_url, city, organizer, start, date, days, end_date, related_to, "
            "timezone, duration, end, recurrence, exdates, rdates, overrides, skip_holidays, status, attendees, "
            "reminders"
        ],
    ),
    (
        "unknown-key.toml",
        """\
        title = "Call"
        timezone = "Asia/Seoul"
        start = 2026-12-10T10:00:00
        duration = "1h"

        [[attendees]]
        name = "A"
        emial = "a@x.example"
        """,
        [
            "config/meetings/unknown-key.toml:6: attendees[0].email: required, but missing",
            "config/meetings/unknown-key.toml:8: attendees[0].emial: unknown key (did you mean 'email'?)",
        ],
    ),
    (
        "zone.yaml",
        """\
        title: Call
        timezone: Asia/Seol
        start: 2026-12-10T10:00
        duration: 1h
        """,
        ["config/meetings/zone.yaml:2: timezone: unknown time zone 'Asia/Seol' (did you mean 'Asia/Seoul'?)"],
    ),
    (
        "zone.toml",
        """\
        title = "Call"
        timezone = "Asia/Seoul"
        start = 2026-12-10T10:00:00
        duration = "1h"

        [[attendees]]
        email = "a@x.example"

        [[attendees]]
        email = "b@x.example"
        timezone = "Mars/Olympus_Mons"
        """,
        [
            "config/meetings/zone.toml:11: attendees[1].timezone: unknown time zone 'Mars/Olympus_Mons' "
            "(use an IANA name such as Asia/Seoul)"
        ],
    ),
    (
        "email.yaml",
        """\
        title: Call
        timezone: Asia/Seoul
        start: 2026-12-10T10:00
        duration: 1h
        organizer: { name: Office, email: office.example }
        attendees:
          - { name: A, email: "A <a@x.example>" }
        """,
        [
            "config/meetings/email.yaml:5: organizer.email: 'office.example' is not a valid email address: "
            "An email address must have an @-sign.",
            "config/meetings/email.yaml:7: attendees[0].email: 'A <a@x.example>' is not a plain email address "
            "(no spaces, quotes, <>, commas or line breaks)",
        ],
    ),
    (
        "duration.yaml",
        """\
        meetings:
          - title: One
            timezone: Asia/Seoul
            start: 2026-12-10T10:00
            duration: 1hour
          - title: Two
            timezone: Asia/Seoul
            start: 2026-12-10T10:00
            duration: 90
          - title: Three
            timezone: Asia/Seoul
            start: 2026-12-10T10:00
            duration: 0m
            reminders: [1d, soon]
        """,
        [
            "config/meetings/duration.yaml:5: meetings[0].duration: '1hour' is not a duration "
            "(try 90m, 1h30m, 45s, 1d or PT1H30M)",
            "config/meetings/duration.yaml:9: meetings[1].duration: 90 has no unit (write 90m, 90h, 90d…)",
            "config/meetings/duration.yaml:13: meetings[2].duration: '0m' must be longer than zero",
            "config/meetings/duration.yaml:14: meetings[2].reminders[1]: 'soon' is not a duration "
            "(try 90m, 1h30m, 45s, 1d or PT1H30M)",
        ],
    ),
    (
        "duration.toml",
        """\
        title = "Call"
        timezone = "Asia/Seoul"
        start = 2026-12-10T10:00:00
        duration = 45
        """,
        ["config/meetings/duration.toml:4: duration: 45 has no unit (write 45m, 45h, 45d…)"],
    ),
    (
        "rrule.yaml",
        """\
        meetings:
          - title: Fortnightly
            timezone: Asia/Seoul
            start: 2026-12-10T10:00
            duration: 1h
            recurrence: FREQ=FORTNIGHTLY
          - title: Bad day
            timezone: Asia/Seoul
            start: 2026-12-10T10:00
            duration: 1h
            recurrence: FREQ=WEEKLY;BYDAY=XX
          - title: Never
            timezone: Asia/Seoul
            start: 2026-12-10T10:00
            duration: 1h
            recurrence: FREQ=DAILY;INTERVAL=0
          - title: Both
            timezone: Asia/Seoul
            start: 2026-12-10T10:00
            duration: 1h
            recurrence: FREQ=DAILY;COUNT=3;UNTIL=20270101
          - title: Past
            timezone: Asia/Seoul
            start: 2026-12-10T10:00
            duration: 1h
            recurrence: FREQ=DAILY;UNTIL=20261201
          - title: No frequency
            timezone: Asia/Seoul
            start: 2026-12-10T10:00
            duration: 1h
            recurrence: BYDAY=MO
        """,
        [
            "config/meetings/rrule.yaml:6: meetings[0].recurrence: 'FREQ=FORTNIGHTLY' is not an RFC 5545 RRULE "
            "(Expected frequency, got: FORTNIGHTLY)",
            "config/meetings/rrule.yaml:11: meetings[1].recurrence: 'FREQ=WEEKLY;BYDAY=XX' is not an RFC 5545 "
            "RRULE (Expected weekday abbreviation, got: XX)",
            "config/meetings/rrule.yaml:16: meetings[2].recurrence: 'FREQ=DAILY;INTERVAL=0': INTERVAL must be a "
            "whole number of 1 or more",
            "config/meetings/rrule.yaml:21: meetings[3].recurrence: give COUNT or UNTIL, not both "
            "(RFC 5545 section 3.3.10)",
            "config/meetings/rrule.yaml:26: meetings[4].recurrence: 'FREQ=DAILY;UNTIL=20261201' has no occurrence "
            "at or after the start",
            "config/meetings/rrule.yaml:31: meetings[5].recurrence: 'BYDAY=MO' has no FREQ (e.g. FREQ=WEEKLY;BYDAY=TH)",
        ],
    ),
    (
        "end.yaml",
        """\
        title: Call
        timezone: Asia/Seoul
        start: 2026-12-10T10:00
        end: 2026-12-10T09:30
        """,
        ["config/meetings/end.yaml:4: end: 2026-12-10 09:30 is not after start 2026-12-10 10:00"],
    ),
    (
        "end-and-duration.toml",
        """\
        title = "Call"
        timezone = "Asia/Seoul"
        start = 2026-12-10T10:00:00
        end = 2026-12-10T11:00:00
        duration = "1h"
        """,
        ["config/meetings/end-and-duration.toml:4: end: give either 'duration' or 'end', not both"],
    ),
    (
        "dst-gap.yaml",
        """\
        title: Call
        timezone: Europe/Berlin
        start: 2026-03-29T02:30
        duration: 1h
        """,
        [
            "config/meetings/dst-gap.yaml:3: start: 2026-03-29 02:30 does not exist in Europe/Berlin "
            "(the clocks skip it for daylight saving time); pick a time outside the gap"
        ],
    ),
    (
        "dst-overlap.toml",
        """\
        title = "Call"
        timezone = "America/New_York"
        start = 2026-11-01T01:30:00
        duration = "30m"
        """,
        [
            "config/meetings/dst-overlap.toml:3: start: 2026-11-01 01:30 happens twice in America/New_York "
            "(the clocks turn back); pick a time outside the overlap"
        ],
    ),
    (
        "dst-occurrence.yaml",
        """\
        title: Weekly at half past two
        timezone: America/New_York
        start: 2026-02-22T02:30
        duration: 1h
        recurrence: FREQ=WEEKLY;COUNT=4
        """,
        [
            "config/meetings/dst-occurrence.yaml:5: recurrence: an occurrence falls on a daylight-saving change: "
            "2026-03-08 02:30 does not exist in America/New_York (the clocks skip it for daylight saving time); "
            "pick a time outside the gap"
        ],
    ),
    (
        "offset.yaml",
        """\
        title: Call
        timezone: Asia/Seoul
        start: 2026-12-10T10:00+09:00
        duration: 1h
        """,
        [
            "config/meetings/offset.yaml:3: start: give the local wall time without a UTC offset; "
            "the zone comes from 'timezone'"
        ],
    ),
    (
        "single-line.yaml",
        """\
        title: "Call\\nATTENDEE:mailto:evil@x.example"
        timezone: Asia/Seoul
        start: 2026-12-10T10:00
        duration: 1h
        attendees:
          - { name: "A\\rB", email: a@x.example }
        """,
        [
            "config/meetings/single-line.yaml:1: title: must be a single line (no line breaks)",
            "config/meetings/single-line.yaml:6: attendees[0].name: must be a single line (no line breaks)",
        ],
    ),
    (
        "control.toml",
        """\
        title = "Call"
        description = "bell \\u0007"
        timezone = "Asia/Seoul"
        start = 2026-12-10T10:00:00
        duration = "1h"
        """,
        ["config/meetings/control.toml:2: description: contains the control character U+0007 at character 6"],
    ),
    (
        "exdates.yaml",
        """\
        title: Call
        timezone: Asia/Seoul
        start: 2026-12-10T10:00
        duration: 1h
        exdates: [2026-12-17]
        """,
        ["config/meetings/exdates.yaml:5: exdates[0]: exdates only make sense with a recurrence"],
    ),
    (
        "missing.yaml",
        """\
        timezone: Asia/Seoul
        start: 2026-12-10T10:00
        duration: 1h
        status: canceled
        """,
        [
            "config/meetings/missing.yaml:1: title: required, but missing",
            "config/meetings/missing.yaml:4: status: must be one of 'confirmed', 'tentative' or 'cancelled', "
            "not 'canceled'",
        ],
    ),
    (
        "url-and-calendar.yaml",
        """\
        title: Call
        calendar: Sister Cities
        timezone: Asia/Seoul
        start: 2026-12-10T10:00
        duration: 1h
        video_url: ftp://video.example/r/1
        """,
        [
            "config/meetings/url-and-calendar.yaml:2: calendar: 'Sister Cities' is not allowed here "
            "(lower-case letters, digits, - and _)",
            "config/meetings/url-and-calendar.yaml:6: video_url: 'ftp://video.example/r/1' is not an http(s):// link",
        ],
    ),
    (
        "duplicate-key.yaml",
        """\
        title: Call
        timezone: Asia/Seoul
        start: 2026-12-10T10:00
        timezone: Asia/Tokyo
        duration: 1h
        """,
        ["config/meetings/duplicate-key.yaml:4: timezone: given twice (first on line 2)"],
    ),
    (
        "malformed.yaml",
        """\
        title: Call
          timezone: Asia/Seoul
        start: 2026-12-10T10:00
        """,
        ["config/meetings/malformed.yaml:2: invalid YAML: mapping values are not allowed here"],
    ),
    (
        "malformed.toml",
        """\
        title = "Call"
        timezone = "Asia/Seoul
        start = 2026-12-10T10:00:00
        """,
        ["config/meetings/malformed.toml:2: invalid TOML: Illegal character '\\n'"],
    ),
    ("empty.yaml", "", ["config/meetings/empty.yaml: the file is empty"]),
    (
        # Longer than the database column: SQLite would take it, PostgreSQL would fail mid-sync.
        "long-uid.yaml",
        "uid: " + "x" * 245 + "\n" + GOOD_YAML,
        [
            "config/meetings/long-uid.yaml:1: uid: the UID is 258 characters long, at most 255 fit "
            "(give a shorter 'uid')"
        ],
    ),
    (
        "not-a-mapping.yaml",
        """\
        - title: Call
        """,
        ["config/meetings/not-a-mapping.yaml:1: a meeting must be a table of keys (a mapping)"],
    ),
    (
        # Brackets and key-like lines inside a multi-line string must not shift the lines after it.
        "multiline.toml",
        '''\
        title = "Call"
        description = """
        Agenda [draft:
        [notes]
        start = "not a key"
        """
        timezone = "Asia/Seoul"
        start = 2026-12-10T10:00:00
        duration = "1hour"
        attendees = [
          { name = "A", email = "a@x.example" },
          { name = "B", email = "b-at-x.example" },
        ]

        [organizer]
        name = "O"
        email = "o@x"
        ''',
        [
            "config/meetings/multiline.toml:9: duration: '1hour' is not a duration "
            "(try 90m, 1h30m, 45s, 1d or PT1H30M)",
            "config/meetings/multiline.toml:12: attendees[1].email: 'b-at-x.example' is not a valid email address: "
            "An email address must have an @-sign.",
            "config/meetings/multiline.toml:17: organizer.email: 'o@x' is not a valid email address: "
            "The part after the @-sign is not valid. It should have a period.",
        ],
    ),
    (
        # A list file in TOML: [meetings.organizer] belongs to the latest [[meetings]].
        "list.toml",
        """\
        [[meetings]]
        title = "One"
        timezone = "Asia/Seoul"
        start = 2026-12-10T10:00:00
        duration = "1h"

        [[meetings]]
        title = "Two"
        timezone = "Asia/Seoul"
        start = 2026-12-11T10:00:00
        duration = "1h"

        [meetings.organizer]
        name = "O"
        email = "nobody"

        [[meetings.attendees]]
        email = "a@x.example"
        role = "boss"
        """,
        [
            "config/meetings/list.toml:15: meetings[1].organizer.email: 'nobody' is not a valid email address: "
            "An email address must have an @-sign.",
            "config/meetings/list.toml:19: meetings[1].attendees[0].role: must be one of 'chair', 'required', "
            "'optional' or 'non-participant', not 'boss'",
        ],
    ),
]


def _write(site: SiteDir, name: str, body: str) -> None:
    site.meeting(name, textwrap.dedent(body))


def _problems(root: Path) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_config(root, environ={})
    return [str(p) for p in caught.value.problems]


@pytest.mark.parametrize(("name", "body", "expected"), BROKEN, ids=[case[0] for case in BROKEN])
def test_each_broken_file_gives_its_exact_problems(
    site_dir: SiteDir, name: str, body: str, expected: list[str]
) -> None:
    site_dir.meeting("good.yaml", GOOD_YAML)
    _write(site_dir, name, body)
    assert _problems(site_dir.root) == expected


def test_duplicate_uid_names_both_places(site_dir: SiteDir) -> None:
    site_dir.meeting("a/first.yaml", "# the original\n" + "uid: weekly-call\n" + GOOD_YAML)
    site_dir.meeting(
        "b/second.toml",
        """\
        title = "Copy"
        uid = "weekly-call"
        timezone = "Asia/Seoul"
        start = 2026-12-10T10:00:00
        duration = "1h"
        """,
    )
    assert _problems(site_dir.root) == [
        "config/meetings/b/second.toml:2: uid: UID 'weekly-call@test.example' is also used by "
        "config/meetings/a/first.yaml:2"
    ]


def test_a_derived_uid_can_clash_with_an_explicit_one(site_dir: SiteDir) -> None:
    site_dir.meeting("call.yaml", GOOD_YAML)  # UID derived from the path: call@test.example
    site_dir.meeting("other.yaml", "uid: call\n" + GOOD_YAML)
    assert _problems(site_dir.root) == [
        "config/meetings/other.yaml:1: uid: UID 'call@test.example' is also used by config/meetings/call.yaml:1"
    ]


def test_settings_problems_do_not_hide_meeting_problems(site_dir: SiteDir) -> None:
    site_dir.settings(
        """
        [reminders]
        defualt = ["1d"]
        """
    )
    site_dir.meeting("zone.yaml", GOOD_YAML.replace("Asia/Seoul", "Asia/Seol"))
    assert _problems(site_dir.root) == [
        "config/meet-sched.toml:8: reminders.defualt: unknown key (did you mean 'default'?)",
        "config/meetings/zone.yaml:2: timezone: unknown time zone 'Asia/Seol' (did you mean 'Asia/Seoul'?)",
    ]


def test_validate_prints_every_problem_and_exits_1(site_dir: SiteDir) -> None:
    for name, body, _ in BROKEN:
        _write(site_dir, name, body)
    expected = sorted(
        (line for _, _, lines in BROKEN for line in lines),
        key=lambda line: (line.split(":", 1)[0], int(line.split(":")[1]) if line.split(":")[1].isdigit() else 0),
    )
    result = site_dir.run("validate")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert sorted(lines[:-1]) == sorted(expected)
    assert lines[-1] == f"meet-sched: {len(expected)} problems in the configuration; nothing was changed"


def test_validate_ok(sample_site: SiteDir) -> None:
    result = sample_site.run("validate", check=True)
    assert result.stdout.splitlines()[0] == "ok: 5 meetings in 5 files"  # then warnings, which are not errors
    assert result.stderr == ""


def _sqlite_files(root: Path) -> dict[str, str]:
    var = root / "var"
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(var.iterdir())}


def _rows(root: Path) -> list[tuple[object, ...]]:
    conn = sqlite3.connect(root / "var" / "meet-sched.db")
    try:
        return conn.execute("SELECT * FROM meetings ORDER BY uid").fetchall()
    finally:
        conn.close()  # the last connection to close checkpoints and removes -wal/-shm


@sqlite_only("the bytes of the SQLite file; test_failed_sync_leaves_postgresql_rows_unchanged is the PostgreSQL twin")
def test_failed_sync_leaves_the_sqlite_file_byte_for_byte_unchanged(site_dir: SiteDir) -> None:
    site_dir.meeting("a.yaml", GOOD_YAML)
    site_dir.meeting("b.yaml", GOOD_YAML.replace("Good", "Other"))
    site_dir.run("sync", check=True)
    rows_before = _rows(site_dir.root)
    before = _sqlite_files(site_dir.root)
    assert len(rows_before) == 2

    site_dir.meeting("a.yaml", GOOD_YAML.replace("Good", "Renamed"))  # a valid change…
    site_dir.meeting("b.yaml", GOOD_YAML.replace("1h", "1 hour"))  # …next to a broken file
    site_dir.meeting("c.yaml", GOOD_YAML.replace("Good", "New"))  # …and a new meeting
    for command in ("sync", "run"):
        result = site_dir.run(command)
        assert result.returncode == 1
        assert "Traceback" not in result.stderr
        assert result.stderr.splitlines() == [
            "config/meetings/b.yaml:4: duration: '1 hour' is not a duration (try 90m, 1h30m, 45s, 1d or PT1H30M)",
            "meet-sched: 1 problem in the configuration; nothing was changed",
        ]
    assert _sqlite_files(site_dir.root) == before
    assert _rows(site_dir.root) == rows_before
    assert not (site_dir.root / "calendars").exists()


@pytest.mark.postgres
def test_failed_sync_leaves_postgresql_rows_unchanged(site_dir: SiteDir, pg_url: str) -> None:
    from sqlalchemy import create_engine, text

    env = {"MEET_SCHED_DATABASE_URL": pg_url}
    site_dir.meeting("a.yaml", GOOD_YAML)
    site_dir.run("sync", env=env, check=True)
    engine = create_engine(pg_url)
    try:
        with engine.connect() as conn:
            before = conn.execute(text("SELECT *, xmin::text FROM meetings ORDER BY uid")).all()
        site_dir.meeting("a.yaml", GOOD_YAML.replace("Good", "Renamed"))
        site_dir.meeting("b.yaml", GOOD_YAML.replace("Asia/Seoul", "Asia/Seol"))
        result = site_dir.run("sync", env=env)
        assert result.returncode == 1
        assert "Traceback" not in result.stderr
        with engine.connect() as conn:
            assert conn.execute(text("SELECT *, xmin::text FROM meetings ORDER BY uid")).all() == before
    finally:
        engine.dispose()


TRICKY_TOML = (Path(__file__).parent / "data" / "tricky-lines.toml").read_text(encoding="utf-8")


@pytest.mark.parametrize("newline", ["\n", "\r\n"], ids=["LF", "CRLF"])
def test_toml_lines_survive_strings_comments_arrays_and_dotted_keys(site_dir: SiteDir, newline: str) -> None:
    path = site_dir.root / "config" / "meetings" / "tricky.toml"
    path.write_bytes(TRICKY_TOML.replace("\n", newline).encode())
    assert _problems(site_dir.root) == [
        "config/meetings/tricky.toml:5: video url: unknown key (did you mean 'video_url'?)",
        "config/meetings/tricky.toml:11: reminders[1]: must be a duration such as 90m, 1h30m, 1d or PT1H30M",
        "config/meetings/tricky.toml:12: reminders[2]: 'soon' is not a duration (try 90m, 1h30m, 45s, 1d or PT1H30M)",
        "config/meetings/tricky.toml:15: organizer.email: 'bad' is not a valid email address: "
        "An email address must have an @-sign.",
    ]
