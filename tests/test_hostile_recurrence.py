"""README "Limits": dates outside 1900-2200, sub-daily and unbounded recurrences are refused at validation, and
one stored meeting that cannot be read or rendered is left out and reported while the others are served."""

from __future__ import annotations

import json
import os
import re
import resource
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from datetime import time as clock
from itertools import islice
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import icalendar
import pytest
from sqlalchemy import create_engine, text

from meet_sched.model import Meeting, Person
from meet_sched.recurrence import MAX_OCCURRENCES_PER_YEAR, RANGE_END, RecurrenceError

from .conftest import SiteDir
from .db_helpers import database_url
from .serving import Served, poll

MEMORY_CAP = 1024**3  # bytes of address space for each command
TIME_CAP = 30  # seconds for each command

SETTINGS = """
[server]
listen = "127.0.0.1:0"
base_url = "https://calendars.test.example"
public_calendars = ["default"]
"""

GOOD = """\
uid: good
title: Working call
timezone: Asia/Seoul
start: 2026-01-01T10:00
duration: 1h
recurrence: FREQ=WEEKLY;BYDAY=TH
attendees:
  - { name: Ahn Mira, email: mira.ahn@test.example }
"""


def capped_run(site: SiteDir, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """The real `meet-sched` command under a memory cap (RLIMIT_AS) and a time cap."""

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP, MEMORY_CAP))

    full_env = {k: v for k, v in os.environ.items() if not k.startswith("MEET_SCHED_")}
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "meet_sched", *args, "--root", str(site.root)],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=TIME_CAP,
        preexec_fn=limit,
    )


def snapshot(site: SiteDir) -> dict[str, tuple[bytes, int]]:
    """Bytes and mtime of everything a failing run must leave alone: the database, calendars/, the Maildir."""
    out = {}
    for folder in ("var", "calendars"):
        for path in sorted((site.root / folder).rglob("*")):
            if path.is_file() and path.name != "config-cache.json":
                out[str(path.relative_to(site.root))] = (path.read_bytes(), path.stat().st_mtime_ns)
    return out


def meeting_file(start: str, rest: str = "duration: 1h\n", zone: str = "Asia/Seoul") -> str:
    return f"title: Hostile\ntimezone: {zone}\nstart: {start}\n{rest}"


# (case, settings, file body, the problem line, after "config/meetings/hostile.yaml:")
REFUSED = [
    (
        "far-future-start",
        "",
        meeting_file("9999-12-31T21:00"),
        "3: start: 9999-12-31T21:00 is outside the supported years 1900-2200",
    ),
    (
        "year-one-start",
        "",
        meeting_file("0001-01-01T00:00"),
        "3: start: 0001-01-01T00:00 is outside the supported years 1900-2200",
    ),
    (
        "last-minutes-of-9999",
        "",
        meeting_file("9999-12-31T23:30"),
        "3: start: 9999-12-31T23:30 is outside the supported years 1900-2200",
    ),
    (
        "end-past-2200",
        "",
        meeting_file("2200-12-31T23:30"),
        "4: duration: 1h after its start ends outside the supported years 1900-2200",
    ),
    (
        "end-given-past-2200",
        "",
        meeting_file("2200-12-31T23:00", "end: 2201-01-01T00:30\n"),
        "4: end: 2201-01-01T00:30 is outside the supported years 1900-2200",
    ),
    (
        "until-9999",
        "",
        meeting_file("2027-01-01T10:00", "duration: 1h\nrecurrence: FREQ=YEARLY;UNTIL=99991231\n"),
        "5: recurrence: 'FREQ=YEARLY;UNTIL=99991231': UNTIL 9999-12-31 is outside the supported years 1900-2200",
    ),
    (
        "count-ten-million",
        "",
        meeting_file("2027-01-01T10:00", "duration: 1h\nrecurrence: FREQ=DAILY;COUNT=10000000\n"),
        "5: recurrence: 'FREQ=DAILY;COUNT=10000000': COUNT=10000000 is more than the 10,000 occurrences "
        "a series may have",
    ),
    (
        "count-past-2200",
        "",
        meeting_file("2027-01-01T10:00", "duration: 1h\nrecurrence: FREQ=YEARLY;COUNT=500\n"),
        "5: recurrence: 'FREQ=YEARLY;COUNT=500': occurrence 175, 2201-01-01T10:00, is outside the supported "
        "years 1900-2200",
    ),
    (
        "exdate-9999",
        "",
        meeting_file("2027-01-01T10:00", "duration: 1h\nrecurrence: FREQ=WEEKLY\nexdates: [9999-01-01]\n"),
        "6: exdates[0]: 9999-01-01T10:00 is outside the supported years 1900-2200",
    ),
    (
        "secondly-with-an-attendee",
        "",
        meeting_file(
            "2027-01-01T10:00",
            "duration: 1h\nrecurrence: FREQ=SECONDLY\nattendees:\n  - { name: A, email: a@test.example }\n",
        ),
        "5: recurrence: 'FREQ=SECONDLY': FREQ=SECONDLY is not allowed for a meeting (DAILY, WEEKLY, MONTHLY or "
        "YEARLY; HOURLY only where config/meet-sched.toml sets [limits] allow_hourly = true)",
    ),
    (
        "minutely",
        "",
        meeting_file("2027-01-01T10:00", "duration: 1m\nrecurrence: FREQ=MINUTELY\n"),
        "5: recurrence: 'FREQ=MINUTELY': FREQ=MINUTELY is not allowed for a meeting (DAILY, WEEKLY, MONTHLY or "
        "YEARLY; HOURLY only where config/meet-sched.toml sets [limits] allow_hourly = true)",
    ),
    (
        "minutely-even-with-hourly-allowed",
        "[limits]\nallow_hourly = true\n",
        meeting_file("2027-01-01T10:00", "duration: 1m\nrecurrence: FREQ=MINUTELY;COUNT=5\n"),
        "5: recurrence: 'FREQ=MINUTELY;COUNT=5': FREQ=MINUTELY is not allowed for a meeting (DAILY, WEEKLY, MONTHLY "
        "or YEARLY; HOURLY only where config/meet-sched.toml sets [limits] allow_hourly = true)",
    ),
    (
        "hourly-not-allowed",
        "",
        meeting_file("2027-01-01T10:00", "duration: 30m\nrecurrence: FREQ=HOURLY;INTERVAL=12\n"),
        "5: recurrence: 'FREQ=HOURLY;INTERVAL=12': FREQ=HOURLY is allowed only where config/meet-sched.toml sets "
        "[limits] allow_hourly = true",
    ),
    (
        "hourly-allowed-but-too-dense",
        "[limits]\nallow_hourly = true\n",
        meeting_file("2027-01-01T10:00", "duration: 30m\nrecurrence: FREQ=HOURLY;BYHOUR=9,10,11,12\n"),
        "5: recurrence: 'FREQ=HOURLY;BYHOUR=9,10,11,12' has more than 1,000 occurrences in its first year "
        "(a meeting may have at most that many a year)",
    ),
    (
        # 02:00 and 14:00 every day: the first gap it meets is that of 2027, its 741st occurrence
        "hourly-crossing-a-gap-late",
        "[limits]\nallow_hourly = true\n",
        meeting_file(
            "2026-03-09T02:00", "duration: 30m\nrecurrence: FREQ=HOURLY;INTERVAL=12\n", zone="America/New_York"
        ),
        "5: recurrence: an occurrence falls on a daylight-saving change: 2027-03-14 02:00 does not exist in "
        "America/New_York (the clocks skip it for daylight saving time); pick a time outside the gap",
    ),
    (
        "daily-twice-crossing-a-gap-late",
        "",
        meeting_file(
            "2026-03-09T02:00", "duration: 30m\nrecurrence: FREQ=DAILY;BYHOUR=2,14\n", zone="America/New_York"
        ),
        "5: recurrence: an occurrence falls on a daylight-saving change: 2027-03-14 02:00 does not exist in "
        "America/New_York (the clocks skip it for daylight saving time); pick a time outside the gap",
    ),
    (
        # the first Sunday of November 2027, 01:30: a year after the start
        "weekly-in-an-overlap-years-later",
        "",
        meeting_file(
            "2026-11-08T01:30",
            "duration: 30m\nrecurrence: FREQ=WEEKLY;BYDAY=SU;BYMONTH=11\n",
            zone="America/New_York",
        ),
        "5: recurrence: an occurrence falls on a daylight-saving change: 2027-11-07 01:30 happens twice in "
        "America/New_York (the clocks turn back); pick a time outside the overlap",
    ),
]


@pytest.fixture(scope="module")
def _good_site(tmp_path_factory: pytest.TempPathFactory) -> SiteDir:
    site = SiteDir(tmp_path_factory.mktemp("hostile") / "site")
    site.settings(SETTINGS)
    site.meeting("good.yaml", GOOD)
    result = capped_run(site, "run")
    assert result.returncode == 0, result.stderr
    return site


@pytest.fixture
def good_site(_good_site: SiteDir) -> Iterator[SiteDir]:
    """A site that already had a good run (a database, a calendar, sent invitations), shared by the cases:
    each one's hostile file and settings are taken away after it."""
    yield _good_site
    (_good_site.root / "config" / "meetings" / "hostile.yaml").unlink(missing_ok=True)
    (_good_site.root / "config" / "meetings" / "hourly.yaml").unlink(missing_ok=True)
    _good_site.settings(SETTINGS)


@pytest.mark.slow
@pytest.mark.parametrize(("case", "settings", "body", "problem"), REFUSED, ids=[c[0] for c in REFUSED])
def test_hostile_meeting_is_refused_and_changes_nothing(
    good_site: SiteDir, case: str, settings: str, body: str, problem: str
) -> None:
    good_site.settings(SETTINGS + settings)
    good_site.meeting("hostile.yaml", body)
    before = snapshot(good_site)
    assert any(name.endswith(".db") for name in before) and "calendars/default.ics" in before
    for command in ("validate", "run"):
        result = capped_run(good_site, command)
        assert result.returncode == 1, (command, result.stdout, result.stderr)
        assert "Traceback" not in result.stderr, result.stderr
        lines = result.stderr.splitlines()
        assert lines == [
            f"config/meetings/hostile.yaml:{problem}",
            "meet-sched: 1 problem in the configuration; nothing was changed",
        ], result.stderr
    assert snapshot(good_site) == before


@pytest.mark.slow
def test_allowed_hourly_meeting_is_accepted_and_bounded(good_site: SiteDir) -> None:
    """With [limits] allow_hourly, a sparse hourly series in a zone without DST validates, syncs and exports."""
    good_site.settings(SETTINGS + "[limits]\nallow_hourly = true\n")
    good_site.meeting(
        "hourly.yaml", meeting_file("2027-01-01T09:00", "duration: 30m\nrecurrence: FREQ=HOURLY;INTERVAL=12\n")
    )
    result = capped_run(good_site, "run")
    assert result.returncode == 0, result.stderr
    body = (good_site.root / "calendars" / "default.ics").read_bytes()
    events = icalendar.Calendar.from_ical(body).walk("VEVENT")
    rules: dict[str, Any] = {str(e["UID"]): dict(e["RRULE"]) for e in events}  # type: ignore[arg-type]
    assert rules["hourly@test.example"] == {"FREQ": ["HOURLY"], "INTERVAL": [12]}


# -- the model's own bounds ------------------------------------------------------------------------------

SEOUL = ZoneInfo("Asia/Seoul")
OFFICE = Person("Office", "office@test.example")


def _meeting(rule: str | None, start: datetime = datetime(2027, 1, 1, 10, tzinfo=SEOUL)) -> Meeting:
    return Meeting(
        uid="m@test.example",
        title="M",
        start=start,
        end=start + timedelta(hours=1),
        timezone=SEOUL,
        organizer=OFFICE,
        recurrence=rule,
    )


@pytest.mark.parametrize(
    ("rule", "start", "message"),
    [
        ("FREQ=SECONDLY", datetime(2027, 1, 1, tzinfo=SEOUL), "FREQ=SECONDLY is not allowed"),
        ("FREQ=MINUTELY", datetime(2027, 1, 1, tzinfo=SEOUL), "FREQ=MINUTELY is not allowed"),
        ("FREQ=DAILY;COUNT=10000000", datetime(2027, 1, 1, tzinfo=SEOUL), "COUNT=10000000 is more than 10,000"),
        ("FREQ=YEARLY;UNTIL=99991231T000000Z", datetime(2027, 1, 1, tzinfo=SEOUL), "UNTIL in 9999 is outside"),
        (None, datetime(9999, 12, 31, 21, tzinfo=SEOUL), "start: 9999-12-31T21:00 is outside the supported years"),
        (None, datetime(1899, 12, 31, 21, tzinfo=SEOUL), "start: 1899-12-31T21:00 is outside the supported years"),
    ],
)
def test_the_model_refuses_what_validation_refuses(rule: str | None, start: datetime, message: str) -> None:
    """A row written by an older version cannot become a Meeting: it is reported instead of rendered."""
    with pytest.raises(ValueError, match=re.escape(message)):
        _meeting(rule, start)


def test_an_open_series_is_expanded_lazily_and_stops_at_the_supported_years() -> None:
    m = _meeting("FREQ=DAILY")
    far = datetime(9999, 1, 1, tzinfo=UTC)
    started = time.perf_counter()
    first = list(islice(m.occurrences(datetime(2027, 1, 1, tzinfo=UTC), far), 3))
    assert [o.day for o in first] == [1, 2, 3]
    assert time.perf_counter() - started < 1  # three occurrences, not the series up to year 9999
    assert m.last_end() is None
    tail = list(m.occurrences(datetime(2200, 12, 29, tzinfo=UTC), far))
    assert [o.date().isoformat() for o in tail] == ["2200-12-29", "2200-12-30", "2200-12-31"]
    assert all(o.replace(tzinfo=None) < RANGE_END for o in tail)


def test_a_stored_series_denser_than_the_limit_raises_instead_of_running_away() -> None:
    """HOURLY is allowed by the model (a setting decides); more than the limit a year is a bad row."""
    m = _meeting("FREQ=HOURLY")
    start = m.start
    hours = list(islice(m.occurrences(start, start + timedelta(days=1)), 30))
    assert len(hours) == 24  # a day of it is fine…
    with pytest.raises(RecurrenceError, match=f"more than {MAX_OCCURRENCES_PER_YEAR:,} occurrences a year"):
        list(m.occurrences(start, start + timedelta(days=365)))  # …a year of it is not


# -- one bad stored row -------------------------------------------------------------------------------------

BAD = """\
uid: bad
title: Poisoned
timezone: Asia/Seoul
start: 2026-01-02T10:00
duration: 1h
recurrence: FREQ=WEEKLY
attendees:
  - { name: Ahn Mira, email: mira.ahn@test.example }
"""

# what an older version, or a corruption, may have left in the row's JSON
POISONS: dict[str, dict[str, str | None]] = {
    "far-future-start": {"start": "9999-12-31T21:00:00", "end": "9999-12-31T22:00:00"},
    "secondly": {"recurrence": "FREQ=SECONDLY"},
    "yearly-until-9999": {"recurrence": "FREQ=YEARLY;UNTIL=99991231T000000Z"},
    "unknown-zone": {"timezone": "Mars/Olympus_Mons"},
    "missing-key": {"timezone": None},
}


def poison(url: str, change: dict[str, str | None]) -> None:
    """Write a bad value straight into the stored row of 'bad@test.example'."""
    engine = create_engine(url)
    with engine.begin() as conn:
        (data,) = conn.execute(text("SELECT data FROM meetings WHERE uid = 'bad@test.example'")).one()
        data = json.loads(data) if isinstance(data, str) else data
        for key, value in change.items():
            if value is None:
                data.pop(key)
            else:
                data[key] = value
        conn.execute(text("UPDATE meetings SET data = :d WHERE uid = 'bad@test.example'"), {"d": json.dumps(data)})
    engine.dispose()


def uids(body: bytes) -> set[str]:
    return {str(e["UID"]) for e in icalendar.Calendar.from_ical(body).walk("VEVENT")}


def poisoned_site(site: SiteDir, change: dict[str, str | None], env: dict[str, str]) -> str:
    site.settings(SETTINGS)
    site.meeting("good.yaml", GOOD)
    site.meeting("bad.yaml", BAD)
    result = capped_run(site, "run", env=env)
    assert result.returncode == 0, result.stderr
    url = env.get("MEET_SCHED_DATABASE_URL") or database_url(site.root)
    poison(url, change)
    return url


@pytest.mark.slow
@pytest.mark.parametrize("kind", list(POISONS))
def test_export_leaves_out_a_bad_row_and_writes_the_others(site_dir: SiteDir, kind: str) -> None:
    poisoned_site(site_dir, POISONS[kind], {})
    (site_dir.root / "calendars" / "default.ics").unlink()
    for command in ("export", "run", "agenda"):
        result = capped_run(site_dir, command)
        assert result.returncode == 1, (command, result.stderr)
        assert "Traceback" not in result.stderr, result.stderr
        lines = result.stderr.splitlines()
        assert lines[0] == "meet-sched: left out 1 stored meeting that cannot be read or rendered:", result.stderr
        assert lines[1].startswith("  bad@test.example: "), result.stderr
    assert uids((site_dir.root / "calendars" / "default.ics").read_bytes()) == {"good@test.example"}
    invite = capped_run(site_dir, "invite", "bad")
    assert invite.returncode == 1 and "Traceback" not in invite.stderr
    assert invite.stderr.startswith("meet-sched: meeting 'bad@test.example' cannot be read from the database: ")


@pytest.mark.slow
@pytest.mark.postgres
def test_export_leaves_out_a_bad_row_on_postgresql(site_dir: SiteDir, pg_url: str) -> None:
    env = {"MEET_SCHED_DATABASE_URL": pg_url}
    poisoned_site(site_dir, POISONS["far-future-start"], env)
    result = capped_run(site_dir, "export", env=env)
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    assert "  bad@test.example: start: 9999-12-31T21:00 is outside the supported years 1900-2200" in result.stderr
    assert uids((site_dir.root / "calendars" / "default.ics").read_bytes()) == {"good@test.example"}


def feed_token(site: SiteDir) -> str:
    out = site.run("feeds", "rotate", "mira.ahn@test.example", check=True).stdout
    (token,) = re.findall(r"https://calendars\.test\.example/feeds/([A-Za-z0-9_-]+)\.ics", out)
    return str(token)


@pytest.mark.slow
def test_serve_starts_and_serves_the_others_while_healthz_names_the_bad_row(site_dir: SiteDir) -> None:
    poisoned_site(site_dir, POISONS["far-future-start"], {})
    token = feed_token(site_dir)
    served = Served(site_dir.root)
    try:
        public = served.client.get("/calendars/default.ics")
        assert public.status_code == 200 and uids(public.content) == {"good@test.example"}
        personal = served.client.get(f"/feeds/{token}.ics")
        assert personal.status_code == 200 and uids(personal.content) == {"good@test.example"}
        page = served.client.get("/")
        assert page.status_code == 200 and "Working call" in page.text and "Poisoned" not in page.text
        health = served.client.get("/healthz")
        assert health.status_code == 200
        body = health.json()
        assert body["status"] == "degraded"
        assert "meetings-left-out" in body["problems"]
        assert body["meetings_left_out"] == [
            {"uid": "bad@test.example", "reason": "start: 9999-12-31T21:00 is outside the supported years 1900-2200"}
        ]
        assert served.log.count("event=meeting-left-out uid=bad@test.example") == 1  # logged once, not per request

        # fixing its file replaces the row: everything is served again and /healthz is ok
        site_dir.meeting("bad.yaml", BAD.replace("Poisoned", "Mended"))
        poll(lambda: served.client.get("/healthz").json()["status"], lambda s: s == "ok", timeout=20)
        feed = served.client.get("/calendars/default.ics")
        assert uids(feed.content) == {"good@test.example", "bad@test.example"}
    finally:
        code = served.stop()
    assert code == 0, served.log
    assert "Traceback" not in served.log, served.log


# -- lazy expansion: an open daily series --------------------------------------------------------------------


def _peak_rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("no VmHWM")


@pytest.mark.slow
def test_an_open_daily_series_from_1900_syncs_renders_and_serves_within_bounds(site_dir: SiteDir) -> None:
    """The longest series the limits allow: daily from the first supported year, with no end."""
    site_dir.settings(SETTINGS)
    site_dir.meeting(
        "daily.yaml",
        "title: Daily stand-up\ntimezone: Asia/Seoul\nstart: 1900-01-01T10:00\nduration: 15m\n"
        "recurrence: FREQ=DAILY\nattendees:\n  - { name: Ahn Mira, email: mira.ahn@test.example }\n",
    )
    result = capped_run(site_dir, "run")  # under the memory and time caps
    assert result.returncode == 0, result.stderr
    reminders = capped_run(site_dir, "outbox", "--status", "pending", "--limit", "1000")
    pending = [line for line in reminders.stdout.splitlines() if " pending " in line]
    assert 0 < len(pending) <= 2 * 61  # the horizon's reminders (two offsets a day), not a century's
    seoul = ZoneInfo("Asia/Seoul")
    before = datetime.now(UTC)
    agenda = capped_run(site_dir, "agenda", "--days", "7")
    # seven days of stand-ups (10:00-10:15 KST), and the one under way when agenda looked, if one was
    under_way = {clock(10) <= m.astimezone(seoul).time() < clock(10, 15) for m in (before, datetime.now(UTC))}
    expected = {7 + running for running in under_way}
    assert agenda.returncode == 0 and agenda.stdout.count("Daily stand-up") in expected, agenda.stdout
    served = Served(site_dir.root)
    try:
        page = served.client.get("/")
        assert page.status_code == 200 and page.text.count("Daily stand-up") >= 60
        feed = served.client.get("/calendars/default.ics")
        assert feed.status_code == 200 and len(feed.content) < 64 * 1024  # one VEVENT with an RRULE
        assert _peak_rss_kib(served.proc.pid) < 400 * 1024
    finally:
        assert served.stop() == 0, served.log


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["far-future-start", "unknown-zone"])
def test_a_bad_row_whose_file_is_removed_does_not_stop_later_runs(site_dir: SiteDir, kind: str) -> None:
    """The row stays (removed, unreadable): every later run syncs, plans and exports the others, and says so."""
    poisoned_site(site_dir, POISONS[kind], {})
    (site_dir.root / "config" / "meetings" / "bad.yaml").unlink()
    site_dir.meeting("later.yaml", GOOD.replace("uid: good", "uid: later").replace("Working call", "Later call"))
    for attempt in range(2):
        result = capped_run(site_dir, "run")
        assert result.returncode == 1, result.stderr
        assert "Traceback" not in result.stderr, result.stderr
        lines = result.stderr.splitlines()
        assert lines[0] == "meet-sched: left out 1 stored meeting that cannot be read or rendered:", result.stderr
        assert lines[1].startswith("  bad@test.example: "), result.stderr
        if attempt == 0:
            assert "1 added" in result.stdout, result.stdout  # the new meeting went in all the same
    assert uids((site_dir.root / "calendars" / "default.ics").read_bytes()) == {
        "good@test.example",
        "later@test.example",
    }
    sent = capped_run(site_dir, "outbox", "--status", "sent")
    assert "later@test.example" in sent.stdout  # its invitation was planned and sent
