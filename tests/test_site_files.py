"""What `meet-sched` writes and reads in a site: foreign files in calendars/ are left alone and never
read whole, calendars get the umask's mode or [calendar] file_mode, the database stays private."""

from __future__ import annotations

import os
import resource
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import SiteDir, sqlite_only
from .serving import COUNCIL

pytestmark = pytest.mark.slow  # the real command, under a umask and an address-space limit

MEETING = COUNCIL

MEMORY = 1024 * 1024 * 1024  # address space of the command under test: far more than it needs


def run(site: SiteDir, *args: str, umask: int = 0o022, memory: int | None = None) -> subprocess.CompletedProcess[str]:
    """The real command, under a given umask (and address-space limit)."""

    def limits() -> None:
        os.umask(umask)
        if memory is not None:
            resource.setrlimit(resource.RLIMIT_AS, (memory, memory))

    env = {k: v for k, v in os.environ.items() if not k.startswith("MEET_SCHED_")}
    return subprocess.run(
        [sys.executable, "-m", "meet_sched", *args, "--root", str(site.root)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        preexec_fn=limits,
    )


def mode(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


@pytest.fixture
def site(site_dir: SiteDir) -> SiteDir:
    site_dir.meeting("council.yaml", MEETING)
    return site_dir


# -- foreign files in calendars/ --------------------------------------------------------------


def test_export_leaves_links_and_special_files_alone_and_reads_none_whole(site: SiteDir, tmp_path: Path) -> None:
    calendars = site.root / "calendars"
    calendars.mkdir()
    outside = tmp_path / "outside.ics"
    # A file outside the site that looks like one of ours: a link to it must not make export rewrite it.
    outside.write_bytes(b"BEGIN:VCALENDAR\r\nPRODID:-//test.example//meet-sched 0//EN\r\nEND:VCALENDAR\r\n")
    before = outside.read_bytes()
    (calendars / "zero.ics").symlink_to("/dev/zero")
    (calendars / "outside.ics").symlink_to(outside)
    (calendars / "dangling.ics").symlink_to(tmp_path / "nothing-here.ics")
    os.mkfifo(calendars / "fifo.ics")
    (calendars / "notes.ics").write_bytes(b"x" * 10_000_000)  # someone else's big file: only its start is read

    result = run(site, "run", memory=MEMORY)
    assert result.returncode == 0, result.stderr
    assert "MemoryError" not in result.stderr and "Traceback" not in result.stderr
    assert (calendars / "city-hall.ics").is_file()
    assert os.readlink(calendars / "zero.ics") == "/dev/zero"
    assert os.readlink(calendars / "outside.ics") == str(outside)
    assert outside.read_bytes() == before
    assert stat.S_ISFIFO(os.lstat(calendars / "fifo.ics").st_mode)
    assert (calendars / "notes.ics").stat().st_size == 10_000_000


def test_export_still_empties_its_own_calendar_that_lost_its_meetings(site: SiteDir) -> None:
    assert run(site, "run").returncode == 0
    moved = MEETING.replace("calendar: city-hall", "calendar: elsewhere")
    site.meeting("council.yaml", moved)
    result = run(site, "run")
    assert result.returncode == 0, result.stderr
    old = (site.root / "calendars" / "city-hall.ics").read_bytes()
    assert b"BEGIN:VEVENT" not in old and b"PRODID:-//test.example//meet-sched" in old


# -- modes --------------------------------------------------------------------------------------


@pytest.mark.parametrize("umask", [0o077, 0o022, 0o027], ids=oct)
@sqlite_only("the modes of var/meet-sched.db and its -wal and -shm files")
def test_calendars_get_the_umask_and_the_database_stays_private(site: SiteDir, umask: int) -> None:
    result = run(site, "run", umask=umask)
    assert result.returncode == 0, result.stderr
    assert mode(site.root / "calendars" / "city-hall.ics") == 0o666 & ~umask
    var = site.root / "var"
    assert mode(var) == 0o700
    db = var / "meet-sched.db"
    assert mode(db) == 0o600
    # While the database is open in WAL mode, its -wal and -shm files exist: SQLite gives them the
    # database's mode.
    with sqlite3.connect(db) as conn:
        conn.execute("SELECT count(*) FROM meetings").fetchone()
        for suffix in ("-wal", "-shm"):
            side = db.with_name(db.name + suffix)
            assert side.exists() and mode(side) == 0o600, suffix


@sqlite_only("the mode of var/meet-sched.db beside the calendars' mode")
def test_file_mode_setting_is_honoured(site: SiteDir) -> None:
    site.settings('file_mode = "0640"\n')
    result = run(site, "run", umask=0o077)
    assert result.returncode == 0, result.stderr
    assert mode(site.root / "calendars" / "city-hall.ics") == 0o640
    assert mode(site.root / "var" / "meet-sched.db") == 0o600


@sqlite_only("the mode of var/meet-sched.db")
def test_a_database_made_readable_by_others_is_made_private_again(site: SiteDir) -> None:
    assert run(site, "run").returncode == 0
    db = site.root / "var" / "meet-sched.db"
    os.chmod(db, 0o644)
    assert run(site, "run").returncode == 0
    assert mode(db) == 0o600


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ('"0755"', "nobody execute"),
        ('"0444"', "the owner must read and write"),
        ("640", "octal mode in quotes"),
        ('"rw-r-----"', "octal mode in quotes"),
    ],
)
def test_a_bad_file_mode_is_a_config_error(site: SiteDir, value: str, message: str) -> None:
    site.settings(f"file_mode = {value}\n")
    result = run(site, "validate")
    assert result.returncode == 1
    assert "config/meet-sched.toml:" in result.stderr and "file_mode" in result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr
