"""README "meet-sched sync": one transaction, SEQUENCE+1 on change, no write when unchanged, deletion = cancellation."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import create_engine, event, text
from sqlalchemy.exc import IntegrityError

from meet_sched.config import Config, load_settings
from meet_sched.model import MeetingStatus
from meet_sched.site import Site
from meet_sched.store.meetings import ChangeKind

from .conftest import SiteDir

T0 = datetime(2026, 11, 2, 1, 0, tzinfo=UTC)
T1 = T0 + timedelta(hours=1)
T2 = T0 + timedelta(hours=2)
T3 = T0 + timedelta(hours=3)
T4 = T0 + timedelta(hours=4)
T5 = T0 + timedelta(hours=5)

WORKING_CALL = """\
calendar: sister-cities
title: Daegu–Chengdu–Bac Ninh working call
city: Daegu
timezone: Asia/Seoul
start: 2027-03-11T10:00
duration: 1h
recurrence: FREQ=MONTHLY;BYDAY=2TH
attendees:
  - { name: 李明, email: li.ming@chengdu.example, timezone: Asia/Shanghai, city: Chengdu }
"""

MAYORS_CALL = """\
calendar: sister-cities
title: Mayors' call
timezone: Asia/Seoul
start: 2027-04-14T15:00
duration: 40m
"""


@pytest.fixture
def site(site_dir: SiteDir, db_url: str) -> Iterator[Site]:
    s = Site(site_dir.root, load_settings(site_dir.root, environ={"MEET_SCHED_DATABASE_URL": db_url}))
    yield s
    s.close()


def _state(site: Site) -> dict[str, tuple[int, datetime, datetime, bool, str, str]]:
    return {
        s.uid: (s.sequence, s.created_at, s.last_modified, s.removed, s.meeting.status.value, s.meeting.title)
        for s in site.meetings()
    }


def _kinds(report_changes: list[object]) -> list[tuple[str, str, int]]:
    return sorted((c.kind.value, c.after.uid, c.after.sequence) for c in report_changes)  # type: ignore[attr-defined]


WORKING = "working@test.example"
MAYORS = "mayors@test.example"


def test_added_updated_unchanged_removed_restored(site_dir: SiteDir, site: Site) -> None:
    site_dir.meeting("working.yaml", WORKING_CALL)
    site_dir.meeting("mayors.yaml", MAYORS_CALL)

    first = site.sync(T0)
    assert _kinds(first.changes) == [("added", MAYORS, 0), ("added", WORKING, 0)]
    assert _state(site) == {
        WORKING: (0, T0, T0, False, "confirmed", "Daegu–Chengdu–Bac Ninh working call"),
        MAYORS: (0, T0, T0, False, "confirmed", "Mayors' call"),
    }

    assert site.sync(T1).changes == []  # unchanged: nothing to report…
    assert _state(site)[WORKING][:3] == (0, T0, T0)  # …and nothing touched

    # A title edit: same UID (derived from the path), SEQUENCE+1, new LAST-MODIFIED.
    site_dir.meeting("working.yaml", WORKING_CALL.replace("working call", "monthly call"))
    second = site.sync(T2)
    assert _kinds(second.changes) == [("updated", WORKING, 1)]
    change = second.changes[0]
    assert change.before is not None and change.before.meeting.title.endswith("working call")
    assert _state(site) == {
        WORKING: (1, T0, T2, False, "confirmed", "Daegu–Chengdu–Bac Ninh monthly call"),
        MAYORS: (0, T0, T0, False, "confirmed", "Mayors' call"),
    }

    # The file disappears: the meeting stays, cancelled, SEQUENCE+1.
    (site_dir.root / "config" / "meetings" / "working.yaml").unlink()
    third = site.sync(T3)
    assert _kinds(third.changes) == [("removed", WORKING, 2)]
    assert _state(site)[WORKING] == (2, T0, T3, True, "cancelled", "Daegu–Chengdu–Bac Ninh monthly call")
    assert _state(site)[MAYORS] == (0, T0, T0, False, "confirmed", "Mayors' call")

    assert site.sync(T4).changes == []  # still gone: no second cancellation
    assert _state(site)[WORKING][:4] == (2, T0, T3, True)

    # It comes back (as it was first written): restored, SEQUENCE+1 again.
    site_dir.meeting("working.yaml", WORKING_CALL)
    fifth = site.sync(T5)
    assert _kinds(fifth.changes) == [("restored", WORKING, 3)]
    assert fifth.changes[0].kind is ChangeKind.RESTORED
    assert _state(site)[WORKING] == (3, T0, T5, False, "confirmed", "Daegu–Chengdu–Bac Ninh working call")


@pytest.mark.parametrize(
    ("edit", "what"),
    [
        (lambda b: b.replace("duration: 1h", "duration: 90m"), "duration"),
        (lambda b: b.replace("FREQ=MONTHLY;BYDAY=2TH", "FREQ=MONTHLY;BYDAY=2WE"), "recurrence"),
        (lambda b: b + "reminders: [2h]\n", "reminders"),
        (lambda b: b + "status: tentative\n", "status"),
        (lambda b: b.replace("city: Chengdu", "city: Chengdu, language: zh"), "an attendee's language"),
        (lambda b: b.replace("sister-cities", "partners"), "calendar"),
        (lambda b: b + "organizer: { name: Chengdu FAO, email: fao@chengdu.example }\n", "organizer"),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_any_visible_change_bumps_the_sequence(site_dir: SiteDir, site: Site, edit: object, what: str) -> None:
    site_dir.meeting("working.yaml", WORKING_CALL)
    site.sync(T0)
    site_dir.meeting("working.yaml", edit(WORKING_CALL))  # type: ignore[operator]
    report = site.sync(T1)
    assert _kinds(report.changes) == [("updated", WORKING, 1)], what
    assert _state(site)[WORKING][:3] == (1, T0, T1)


def test_moving_a_meeting_within_its_file_is_not_a_change(site_dir: SiteDir, site: Site) -> None:
    site_dir.meeting("working.yaml", WORKING_CALL)
    site.sync(T0)
    assert site.meeting(WORKING).meeting.source == "config/meetings/working.yaml:1"
    site_dir.meeting("working.yaml", "# A comment that moves everything down\n\n" + WORKING_CALL)
    assert site.sync(T1).changes == []
    stored = site.meeting(WORKING)
    assert (stored.sequence, stored.last_modified) == (0, T0)
    assert stored.meeting.source == "config/meetings/working.yaml:3"  # kept current for messages


def test_cancelled_in_config_is_not_removed(site_dir: SiteDir, site: Site) -> None:
    site_dir.meeting("mayors.yaml", MAYORS_CALL + "status: cancelled\n")
    site.sync(T0)
    stored = site.meeting(MAYORS)
    assert (stored.meeting.status, stored.removed, stored.sequence) == (MeetingStatus.CANCELLED, False, 0)
    (site_dir.root / "config" / "meetings" / "mayors.yaml").unlink()
    assert _kinds(site.sync(T1).changes) == [("removed", MAYORS, 1)]


def test_instants_are_aware_utc_whatever_zone_now_is_given_in(site_dir: SiteDir, site: Site) -> None:
    site_dir.meeting("mayors.yaml", MAYORS_CALL)
    seoul_now = datetime(2026, 11, 2, 10, 0, 0, 123456, tzinfo=ZoneInfo("Asia/Seoul"))
    site.sync(seoul_now)
    stored = site.meeting(MAYORS)
    assert stored.last_modified == seoul_now and stored.created_at == seoul_now
    assert stored.last_modified.utcoffset() == timedelta(0)
    assert stored.meeting.start == datetime(2027, 4, 14, 15, 0, tzinfo=ZoneInfo("Asia/Seoul"))


def test_sync_commits_once(site_dir: SiteDir, site: Site) -> None:
    site_dir.meeting("working.yaml", WORKING_CALL)
    site_dir.meeting("mayors.yaml", MAYORS_CALL)
    site.db  # noqa: B018 - connect and migrate first: that has its own transactions
    commits: list[int] = []
    event.listen(site.db.engine, "commit", lambda conn: commits.append(1))
    site.sync(T0)
    assert len(commits) == 1


def test_a_sync_that_fails_in_the_database_applies_nothing(site_dir: SiteDir, site: Site) -> None:
    """Two meetings with one UID get past no config, but the UNIQUE constraint must still hold, atomically."""
    site_dir.meeting("working.yaml", WORKING_CALL)
    site_dir.meeting("mayors.yaml", MAYORS_CALL)
    site.sync(T0)
    before = _state(site)

    config = site.load()
    working = next(m for m in config.meetings if m.uid == WORKING)
    renamed = replace(working, title="Renamed")
    twin_a = replace(working, uid="twin@test.example")
    twin_b = replace(working, uid="twin@test.example", title="Twin")
    broken = Config(config.settings, (renamed, twin_a, twin_b), config.files)
    with pytest.raises(IntegrityError):
        site.sync(T1, config=broken)
    assert _state(site) == before  # not the rename, not the removal of mayors, not the first twin


def _db_path(db_url: str) -> Path:
    return Path(db_url.removeprefix("sqlite:///"))


class _WriteProbe:
    """Sees whether a database changed: SQLite's data_version, PostgreSQL's row versions (xmin)."""

    def __init__(self, db_url: str) -> None:
        self.db_url = db_url
        if db_url.startswith("sqlite"):
            self.conn = sqlite3.connect(_db_path(db_url))
        else:
            self.engine = create_engine(db_url)

    def read(self) -> object:
        if self.db_url.startswith("sqlite"):
            return self.conn.execute("PRAGMA data_version").fetchone()[0]
        with self.engine.connect() as conn:
            return conn.execute(text("SELECT uid, xmin::text FROM meetings ORDER BY uid")).all()

    def close(self) -> None:
        if self.db_url.startswith("sqlite"):
            self.conn.close()
        else:
            self.engine.dispose()


def test_an_unchanged_config_writes_nothing(site_dir: SiteDir, site: Site, db_url: str) -> None:
    site_dir.meeting("working.yaml", WORKING_CALL)
    site_dir.meeting("mayors.yaml", MAYORS_CALL)
    site.sync(T0)
    probe = _WriteProbe(db_url)
    try:
        before = probe.read()
        assert site.sync(T1).changes == []
        assert probe.read() == before
        # The probe does see a write (so the check above can fail):
        site_dir.meeting("mayors.yaml", MAYORS_CALL.replace("40m", "45m"))
        assert site.sync(T2).changes
        assert probe.read() != before
    finally:
        probe.close()


def test_the_sync_command_twice_writes_nothing_the_second_time(site_dir: SiteDir) -> None:
    site_dir.meeting("working.yaml", WORKING_CALL)
    site_dir.meeting("mayors.yaml", MAYORS_CALL)
    first = site_dir.run("sync", check=True)
    assert first.stdout.splitlines() == [
        "2 meetings from 2 files: 2 added",
        f"  added    {MAYORS}  SEQUENCE 0",
        f"  added    {WORKING}  SEQUENCE 0",
    ]
    db = site_dir.root / "var" / "meet-sched.db"
    probe = sqlite3.connect(db)
    try:
        version = probe.execute("PRAGMA data_version").fetchone()[0]
        again = site_dir.run("sync", check=True)
        assert again.stdout == "2 meetings from 2 files: nothing changed\n"
        assert probe.execute("PRAGMA data_version").fetchone()[0] == version
    finally:
        probe.close()
