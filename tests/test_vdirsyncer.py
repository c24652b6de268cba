"""A real subscription client (vdirsyncer's `http` storage into a local folder) follows the feeds and their edits."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import icalendar
import pytest

from .conftest import SiteDir
from .serving import Served, poll
from .test_serve_feeds import COUNCIL, make_site, tokens

pytestmark = pytest.mark.slow

VDIRSYNCER = shutil.which("vdirsyncer", path=str(Path(sys.executable).parent)) or shutil.which("vdirsyncer")


@pytest.fixture
def served(site_dir: SiteDir) -> Iterator[Served]:
    make_site(site_dir)
    server = Served(site_dir.root)
    try:
        yield server
    finally:
        assert server.stop() == 0, server.log


class Subscription:
    """One vdirsyncer pair: a feed URL (read-only) into a folder of .ics files."""

    def __init__(self, tmp: Path, url: str) -> None:
        self.folder = tmp / "local"
        self.folder.mkdir(parents=True)
        self.config = tmp / "config"
        self.config.write_text(
            f"""
[general]
status_path = "{tmp / "status"}/"

[pair feed]
a = "feed_remote"
b = "feed_local"
collections = null
conflict_resolution = "a wins"

[storage feed_remote]
type = "http"
url = "{url}"

[storage feed_local]
type = "filesystem"
path = "{self.folder}/"
fileext = ".ics"
""",
            encoding="utf-8",
        )
        self.run("discover", "feed")

    def run(self, *args: str) -> str:
        assert VDIRSYNCER, "vdirsyncer is not installed (pip install -e '.[test]')"
        result = subprocess.run([VDIRSYNCER, "-c", str(self.config), *args], capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stdout + result.stderr
        return result.stdout + result.stderr

    def sync(self) -> dict[str, icalendar.Event]:
        self.run("sync")
        return self.events()

    def events(self) -> dict[str, icalendar.Event]:
        """The synced events by SUMMARY (vdirsyncer's http storage replaces each UID with a content hash)."""
        out: dict[str, icalendar.Event] = {}
        for path in sorted(self.folder.glob("*.ics")):
            cal = icalendar.Calendar.from_ical(path.read_bytes())
            for event in cal.walk("VEVENT"):
                assert str(event["SUMMARY"]) not in out
                out[str(event["SUMMARY"])] = event
        return out


def test_vdirsyncer_follows_the_public_feed_and_its_edits(site_dir: SiteDir, served: Served, tmp_path: Path) -> None:
    sub = Subscription(tmp_path / "public", f"{served.url}/calendars/city-hall.ics")
    events = sub.sync()
    assert set(events) == {"Council session", "Delegation visit"}
    council = events["Council session"]
    assert council.decoded("DTSTART") == datetime(2027, 3, 4, 10, tzinfo=ZoneInfo("Asia/Seoul"))
    assert council.decoded("DTEND") - council.decoded("DTSTART") == timedelta(hours=1)
    assert sorted(a["TRIGGER"].dt for a in council.walk("VALARM")) == [-timedelta(days=1), -timedelta(minutes=10)]
    assert "ATTENDEE" not in council  # a public feed does not hand out the attendees' addresses

    etag = served.client.get("/calendars/city-hall.ics").headers["etag"]
    site_dir.meeting("council.yaml", COUNCIL.replace("start: 2027-03-04T10:00", "start: 2027-03-04T14:30"))
    poll(
        lambda: served.client.get("/calendars/city-hall.ics", headers={"If-None-Match": etag}),
        lambda r: r.status_code == 200,
        timeout=10,
    )
    moved = sub.sync()["Council session"]
    assert moved.decoded("DTSTART") == datetime(2027, 3, 4, 14, 30, tzinfo=ZoneInfo("Asia/Seoul"))
    assert int(moved["SEQUENCE"]) == 1

    (site_dir.root / "config" / "meetings" / "visit.yaml").unlink()
    poll(
        lambda: httpx.get(f"{served.url}/calendars/city-hall.ics").content,
        lambda body: b"STATUS:CANCELLED" in body,
        timeout=10,
    )
    after = sub.sync()
    assert str(after["Delegation visit"]["STATUS"]) == "CANCELLED"
    assert str(after["Council session"]["STATUS"]) == "CONFIRMED"
    assert len(list(sub.folder.glob("*.ics"))) == 2


def test_vdirsyncer_reads_a_personal_feed(site_dir: SiteDir, served: Served, tmp_path: Path) -> None:
    token = tokens(site_dir, "rotate", "mira.ahn@test.example")["mira.ahn@test.example"]
    sub = Subscription(tmp_path / "mira", f"{served.url}/feeds/{token}.ics")
    events = sub.sync()
    assert set(events) == {"Council session", "Board meeting (not public)"}
    assert [a["TRIGGER"].dt for a in events["Council session"].walk("VALARM")] == [-timedelta(hours=2)]
    assert [a["TRIGGER"].dt for a in events["Board meeting (not public)"].walk("VALARM")] == [-timedelta(minutes=30)]
