"""`meet-sched diff` (README "Reviewing a change"): the emails a following sync plans, exactly; nothing written."""

from __future__ import annotations

import json
import shutil
import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from .conftest import SiteDir
from .db_helpers import execute, query

START = (datetime.now(UTC) + timedelta(days=10)).date()  # every reminder well inside the horizon, none due yet

MEETING = """\
uid: weekly@test.example
title: Weekly call
timezone: Asia/Seoul
start: {start}T10:00
duration: 1h
recurrence: FREQ=WEEKLY;COUNT={count}
reminders: [1d, 1h]
attendees:
  - {{ name: Kim, email: kim@seoul.example }}
  - {{ name: Ellis, email: ellis@atlanta.example, timezone: America/New_York }}
{extra}"""

OTHER = """\
uid: other@test.example
title: Other call
timezone: Europe/Paris
start: {start}T09:00
duration: 30m
reminders: [1h]
attendees:
  - {{ name: Ana, email: ana@paris.example }}
"""


def write(site: SiteDir, **kw: Any) -> None:
    values = {"start": START.isoformat(), "count": 4, "extra": ""} | kw
    site.meeting("weekly.yaml", MEETING.format(**values))
    site.meeting("other.yaml", OTHER.format(start=START.isoformat()))


Mail = tuple[str, str, str, datetime | None, int, datetime | None]


def _due(kind: str, due: datetime | None) -> datetime | None:
    """A reminder's due time; an invitation is due "now", which differs between two runs by design."""
    assert due is not None
    return due if kind == "reminder" else None


def _moment(value: Any) -> datetime | None:
    if value is None:
        return None
    moment = datetime.fromisoformat(str(value))
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def outbox(site: SiteDir) -> dict[str, Mail]:
    """Every outbox row by key, read with SQL (not through meet-sched)."""
    rows = query(site.root, "SELECT key, meeting_uid, kind, recipient, occurrence, sequence, due_at FROM outbox")
    out: dict[str, Mail] = {}
    for key, uid, kind, recipient, occurrence, sequence, due in rows:
        out[key] = (uid, kind, recipient, _moment(occurrence), sequence, _due(kind, _moment(due)))
    return out


def mark_sent(site: SiteDir) -> None:
    """The invitations went out (as a running service would have sent them)."""
    execute(site.root, "UPDATE outbox SET status = 'sent' WHERE kind != 'reminder'")


def from_json(meetings: list[dict[str, Any]], which: str) -> list[Mail]:
    found = []
    for m in meetings:
        for mail in m[which]:
            due = _due(mail["kind"], _moment(mail["due_at"]))
            found.append(
                (m["uid"], mail["kind"], mail["recipient"], _moment(mail["occurrence"]), mail["sequence"], due)
            )
    return sorted(found, key=repr)


def diff(site: SiteDir, *args: str) -> tuple[int, dict[str, Any]]:
    result = site.run("diff", "--format", "json", *args)
    assert result.returncode in (0, 2), result.stderr
    assert result.stderr == ""
    return result.returncode, json.loads(result.stdout)


def retime(site: SiteDir) -> None:
    write(site)
    path = site.root / "config" / "meetings" / "weekly.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("T10:00", "T15:00"), encoding="utf-8")


EDITS: dict[str, Callable[[SiteDir], None]] = {
    "time": retime,
    "title": lambda s: (s.root / "config/meetings/weekly.yaml").write_text(
        MEETING.format(start=START.isoformat(), count=4, extra="").replace("Weekly call", "Weekly sync"),
        encoding="utf-8",
    ),
    "attendee added": lambda s: write(
        s, extra="  - { name: Li, email: li@chengdu.example, timezone: Asia/Shanghai }\n"
    ),
    "attendee removed": lambda s: (s.root / "config/meetings/weekly.yaml").write_text(
        MEETING.format(start=START.isoformat(), count=4, extra="").replace(
            "  - { name: Ellis, email: ellis@atlanta.example, timezone: America/New_York }\n", ""
        ),
        encoding="utf-8",
    ),
    "cancelled": lambda s: write(s, extra="status: cancelled\n"),
    "file removed": lambda s: (s.root / "config/meetings/weekly.yaml").unlink(),
    "recurrence edited": lambda s: write(s, count=2),
}

EXPECTED_KIND = {
    "time": "changed",
    "title": "changed",
    "attendee added": "changed",
    "attendee removed": "changed",
    "cancelled": "cancelled",
    "file removed": "removed",
    "recurrence edited": "changed",
}


@pytest.mark.parametrize("edit", list(EDITS))
def test_diff_and_sync_agree_message_for_message(site_dir: SiteDir, tmp_path: Path, edit: str) -> None:
    write(site_dir)
    base = tmp_path / "base"
    shutil.copytree(site_dir.root / "config", base / "config")
    site_dir.run("sync", check=True)
    mark_sent(site_dir)
    assert diff(site_dir)[0] == 0  # in step: nothing to do

    EDITS[edit](site_dir)
    status, against_db = diff(site_dir)
    status_base, against_base = diff(site_dir, "--base", str(base))
    before = outbox(site_dir)
    site_dir.run("sync", check=True)
    after = outbox(site_dir)

    planned = sorted((after[k] for k in set(after) - set(before)), key=repr)
    dropped = sorted((before[k] for k in set(before) - set(after)), key=repr)
    assert planned, "every edit here sends someone an email"
    for body in (against_db, against_base):
        assert from_json(body["meetings"], "planned") == planned
        assert from_json(body["meetings"], "dropped") == dropped
        [weekly] = [m for m in body["meetings"] if m["uid"] == "weekly@test.example"]
        assert weekly["kind"] == EXPECTED_KIND[edit]
        assert weekly["sequence"] == 1
        assert all(m["uid"] == "weekly@test.example" for m in body["meetings"])
    assert status == status_base == 2
    assert diff(site_dir)[0] == 0


def test_a_change_of_time_is_shown_in_every_attendees_zone(site_dir: SiteDir) -> None:
    write(site_dir)
    site_dir.run("sync", check=True)
    mark_sent(site_dir)
    retime(site_dir)
    _, body = diff(site_dir)
    [weekly] = body["meetings"]
    times = {t["who"]: t for t in weekly["times"]}
    assert set(times) == {"meeting", "kim@seoul.example", "ellis@atlanta.example"}
    assert times["meeting"]["zone"] == "Asia/Seoul" and not times["meeting"]["date_changed"]
    assert datetime.fromisoformat(times["meeting"]["new"]).hour == 15
    # 10:00 in Seoul is the evening before in New York; 15:00 is 01:00 the same day
    ny = times["ellis@atlanta.example"]
    assert ny["date_changed"]
    assert datetime.fromisoformat(ny["new"]).date() == START
    assert datetime.fromisoformat(ny["old"]).date() == START - timedelta(days=1)
    assert [f["name"] for f in weekly["fields"]] == ["start"]

    text = site_dir.run("diff")
    assert text.returncode == 2
    assert "ellis@atlanta.example (America/New_York)" in text.stdout
    assert "(date changes)" in text.stdout
    assert "2 updates to ellis@atlanta.example, kim@seoul.example" in text.stdout


def test_removing_an_attendee_sends_them_a_cancellation(site_dir: SiteDir) -> None:
    write(site_dir)
    site_dir.run("sync", check=True)
    mark_sent(site_dir)
    EDITS["attendee removed"](site_dir)
    _, body = diff(site_dir)
    [weekly] = body["meetings"]
    kinds = {(m["kind"], m["recipient"]) for m in weekly["planned"] if m["kind"] != "reminder"}
    assert kinds == {("cancel", "ellis@atlanta.example")}  # the others' meeting did not change for them
    assert {m["recipient"] for m in weekly["dropped"]} == {"ellis@atlanta.example"}
    assert {m["kind"] for m in weekly["dropped"]} == {"reminder"}
    assert {"name": "attendee ellis@atlanta.example", "old": "invited", "new": "removed"} in weekly["fields"]


def test_diff_writes_nothing(site_dir: SiteDir) -> None:
    write(site_dir)
    site_dir.run("run", check=True)  # sync and export: var/ and calendars/ exist
    retime(site_dir)
    db = site_dir.root / "var" / "meet-sched.db"
    watched = [p for d in ("var", "calendars") for p in sorted((site_dir.root / d).rglob("*"))]
    mtimes = {p: p.stat().st_mtime_ns for p in watched}
    tables = {t: query(site_dir.root, f"SELECT * FROM {t} ORDER BY id") for t in ("meetings", "outbox")}
    reader = sqlite3.connect(db) if site_dir.database_url is None else None  # SQLite counts every commit
    try:
        version = reader.execute("PRAGMA data_version").fetchone() if reader else None
        for args in ((), ("--format", "json")):
            assert site_dir.run("diff", *args).returncode == 2
        if reader is not None:
            assert reader.execute("PRAGMA data_version").fetchone() == version
    finally:
        if reader is not None:
            reader.close()
    assert {t: query(site_dir.root, f"SELECT * FROM {t} ORDER BY id") for t in tables} == tables
    assert query(site_dir.root, "SELECT max(sequence) FROM meetings") == [(0,)]
    now = [p for d in ("var", "calendars") for p in sorted((site_dir.root / d).rglob("*"))]
    assert {p: p.stat().st_mtime_ns for p in now if p in mtimes} == mtimes
    assert set(now) <= set(watched) | {db.with_name(db.name + s) for s in ("-wal", "-shm")}


def test_diff_without_a_database_creates_none(site_dir: SiteDir) -> None:
    write(site_dir)
    status, body = diff(site_dir)
    assert status == 2
    assert {m["kind"] for m in body["meetings"]} == {"added"}
    assert body["planned"] == {"request": 3, "reminder": 4 * 2 * 2 + 1}
    assert not (site_dir.root / "var").exists()


def test_an_invalid_config_exits_1_with_its_place(site_dir: SiteDir, tmp_path: Path) -> None:
    write(site_dir)
    base = tmp_path / "base"
    shutil.copytree(site_dir.root / "config", base / "config")
    (site_dir.root / "config/meetings/weekly.yaml").write_text("uid: x\ntitle: [\n", encoding="utf-8")
    for args in ((), ("--base", str(base))):
        result = site_dir.run("diff", *args)
        assert result.returncode == 1
        assert "weekly.yaml:" in result.stderr
        assert "Traceback" not in result.stderr
        assert result.stdout == ""


@pytest.mark.postgres
def test_diff_against_postgresql_plans_what_sync_then_does(site_dir: SiteDir, pg_url: str) -> None:
    from sqlalchemy import create_engine, text

    env = {"MEET_SCHED_DATABASE_URL": pg_url}
    write(site_dir)
    site_dir.run("sync", env=env, check=True)
    engine = create_engine(pg_url)
    query = text("SELECT key, meeting_uid, kind, recipient, occurrence, sequence, due_at FROM outbox")

    def rows() -> dict[str, Mail]:
        with engine.connect() as conn:
            return {
                key: (uid, kind, rcpt, _moment(occ), seq, _due(kind, _moment(due)))
                for key, uid, kind, rcpt, occ, seq, due in conn.execute(query)
            }

    try:
        with engine.begin() as conn:
            conn.execute(text("UPDATE outbox SET status = 'sent' WHERE kind != 'reminder'"))
        EDITS["attendee added"](site_dir)
        before = rows()
        result = site_dir.run("diff", "--format", "json", env=env)
        assert result.returncode == 2, result.stderr
        body = json.loads(result.stdout)
        assert rows() == before  # rolled back: nothing planned, nothing dropped
        with engine.connect() as conn:
            assert conn.execute(text("SELECT max(sequence) FROM meetings")).scalar() == 0
        site_dir.run("sync", env=env, check=True)
        after = rows()
        assert from_json(body["meetings"], "planned") == sorted((after[k] for k in set(after) - set(before)), key=repr)
        assert from_json(body["meetings"], "dropped") == sorted((before[k] for k in set(before) - set(after)), key=repr)
        assert ("weekly@test.example", "request", "li@chengdu.example") in {m[:3] for m in after.values()}
    finally:
        engine.dispose()


def test_a_base_never_reads_a_file_a_link_takes_out_of_it(
    site_dir: SiteDir, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A base tree (another checkout, say a proposed change's) is read by the loader's link rule for
    every file, its settings included: a link out of it is refused unread, nothing of the target shown."""
    from meet_sched.cli import main

    write(site_dir)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.toml").write_text(
        '[calendar]\nname = "T"\nlanguage = "hunter2-secret"\n[database]\nurl = "postgresql://u:hunter2@db/x"\n',
        encoding="utf-8",
    )
    (outside / "secret.yaml").write_text("title: hunter2-secret\ntimezone: [hunter2]\n", encoding="utf-8")
    base = tmp_path / "base"
    shutil.copytree(site_dir.root / "config", base / "config")
    settings = base / "config" / "meet-sched.toml"
    settings.unlink()
    settings.symlink_to(outside / "secret.toml")
    assert main(["diff", "--base", str(base), "--root", str(site_dir.root)]) == 1
    err = capsys.readouterr().err
    assert "config/meet-sched.toml: is a symbolic link to a file outside the site; copy the file into config/" in err
    assert "hunter2" not in err
    # A meeting folder linked out of the base: its files are outside the base as much.
    shutil.rmtree(base / "config" / "meetings")
    (base / "config" / "meetings").symlink_to(outside, target_is_directory=True)
    assert main(["diff", "--base", str(base), "--root", str(site_dir.root)]) == 1
    err = capsys.readouterr().err
    assert "config/meetings/secret.yaml: is a symbolic link to a file outside the site" in err
    assert "hunter2" not in err
    # The same base with its own files is read as before.
    settings.unlink()
    shutil.copy(site_dir.root / "config" / "meet-sched.toml", settings)
    (base / "config" / "meetings").unlink()
    shutil.copytree(site_dir.root / "config" / "meetings", base / "config" / "meetings")
    assert main(["diff", "--base", str(base), "--root", str(site_dir.root)]) == 0
