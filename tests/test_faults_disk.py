"""A full or read-only disk under calendars/ or the Maildir (a real small tmpfs): a `path: reason` message, the
previous feed intact (atomic write), the message still pending, and everything proceeds once space is back."""

from __future__ import annotations

import errno
import mailbox
import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from .conftest import SiteDir
from .db_helpers import query
from .serving import Served, poll

MEETING = """
uid: call
title: Working call
timezone: Asia/Seoul
start: 2027-03-04T10:00
duration: 1h
reminders: [1d]
attendees:
  - { name: Kim, email: kim@daegu.example }
  - { name: Li, email: li@chengdu.example }
"""

SIZE = 256 * 1024  # bytes: room for a few feeds, filled on purpose


class SmallDisk:
    """A tmpfs of SIZE bytes mounted on ``path``: a real file system that fills up or turns read-only."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.filler = path / ".filler"

    def mount(self) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={SIZE},mode=0755", "tmpfs", str(self.path)],
            capture_output=True,
            text=True,
            timeout=10,
        )
        if done.returncode != 0:
            reason = f"mount -t tmpfs is not allowed here ({done.stderr.strip()})"
            if os.environ.get("CI"):
                pytest.fail(reason)
            pytest.skip(reason)

    def fill(self) -> None:
        """Write zeros until the file system says it is full."""
        with open(self.filler, "wb", buffering=0) as out:
            try:
                while True:
                    out.write(b"\0" * 4096)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC
        assert os.statvfs(self.path).f_bavail == 0

    def free(self) -> None:
        self.filler.unlink()

    def read_only(self, on: bool) -> None:
        flag = "ro" if on else "rw"
        subprocess.run(["mount", "-o", f"remount,{flag}", str(self.path)], check=True, timeout=10)

    def unmount(self) -> None:
        subprocess.run(["umount", "-l", str(self.path)], capture_output=True, timeout=10)


@pytest.fixture
def small_disk(site_dir: SiteDir, request: pytest.FixtureRequest) -> Iterator[SmallDisk]:
    disk = SmallDisk(site_dir.root / str(request.param))
    disk.mount()
    try:
        yield disk
    finally:
        disk.unmount()


def outbox(root: Path) -> dict[str, str]:
    return {f"{kind} {to}": status for kind, to, status in query(root, "SELECT kind, recipient, status FROM outbox")}


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob("*.tmp"))


@pytest.mark.parametrize("fault", ["full", "read-only"])
@pytest.mark.parametrize("small_disk", ["calendars"], indirect=True)
def test_calendars_full_or_read_only(site_dir: SiteDir, small_disk: SmallDisk, fault: str) -> None:
    site_dir.settings('[delivery]\nupdate_quiet = "0s"\n')  # the update goes out on the next run, not 2 min later
    site_dir.meeting("call.yaml", MEETING)
    site_dir.run("run", check=True)
    feed = site_dir.root / "calendars" / "default.ics"
    before = feed.read_bytes()
    assert b"SUMMARY:Working call" in before

    site_dir.meeting("call.yaml", MEETING.replace("title: Working call", "title: Working call (room 2)"))
    if fault == "full":
        small_disk.fill()
        reason = "No space left on device"
    else:
        small_disk.read_only(True)
        reason = "Read-only file system"
    failed = site_dir.run("run")
    assert failed.returncode == 1
    assert failed.stderr.strip().splitlines() == [f"meet-sched: {feed}: {reason}"]  # one line, no traceback
    assert feed.read_bytes() == before  # the subscribers' feed is the last good one, whole
    assert leftovers(small_disk.path) == []
    assert outbox(site_dir.root)["update kim@daegu.example"] == "pending"  # waiting, not lost

    if fault == "full":
        small_disk.free()
    else:
        small_disk.read_only(False)
    again = site_dir.run("run", check=True)
    assert "wrote calendars/default.ics" in again.stdout
    assert b"SUMMARY:Working call (room 2)" in feed.read_bytes()
    assert outbox(site_dir.root)["update kim@daegu.example"] == "sent"


@pytest.mark.slow
@pytest.mark.parametrize("fault", ["full", "read-only"])
@pytest.mark.parametrize("small_disk", ["var/mail"], indirect=True)
def test_maildir_full_or_read_only(site_dir: SiteDir, small_disk: SmallDisk, fault: str) -> None:
    site_dir.meeting("call.yaml", MEETING)
    site_dir.run("sync", check=True)  # the database lives in var/, outside the small disk
    maildir = small_disk.path
    if fault == "full":
        small_disk.fill()
        reason = "No space left on device"
    else:
        small_disk.read_only(True)
        reason = "Read-only file system"
    result = site_dir.run("run")
    # The messages wait in the outbox: not the exit status of a command that could not do its work (1).
    assert result.returncode in (0, 3) and "Traceback" not in result.stderr, result.stderr
    assert f"cannot write to {maildir}: {reason}" in result.stdout
    assert "1 to retry, 1 not tried yet" in result.stdout
    assert set(outbox(site_dir.root).values()) == {"pending"}
    assert not (maildir / "new").exists() or list((maildir / "new").iterdir()) == []
    assert not (maildir / "tmp").exists() or list((maildir / "tmp").iterdir()) == []  # no half-written message

    if fault == "full":
        small_disk.free()
    else:
        small_disk.read_only(False)
    # The retry waits its backoff (30 s to 1 min by default); a short one keeps the test short.
    settings = site_dir.root / "config" / "meet-sched.toml"
    settings.write_text(settings.read_text() + '\n[delivery]\nretry_base = "1s"\nretry_max = "1s"\n')

    def run_once() -> set[str]:
        done = site_dir.run("run")
        assert done.returncode in (0, 3) and "Traceback" not in done.stderr, done.stderr
        return set(outbox(site_dir.root).values())

    poll(run_once, lambda statuses: statuses == {"sent"}, timeout=30, every=1)
    box = mailbox.Maildir(maildir, create=False)
    ids = sorted(str(message["Message-ID"]) for message in box)
    assert len(ids) == 2 and len(set(ids)) == 2
    assert outbox(site_dir.root)["request kim@daegu.example"] == "sent"


def full_under_serve(site_dir: SiteDir, disk: SmallDisk, server: Served) -> tuple[httpx.Response, bytes]:
    """Fill the disk under a running serve, then edit the meeting: (the feed served before, its file's bytes)."""
    feed = site_dir.root / "calendars" / "default.ics"
    first = server.client.get("/calendars/default.ics")
    assert first.status_code == 200 and b"SUMMARY:Working call" in first.content
    before = feed.read_bytes()
    disk.fill()
    site_dir.meeting("call.yaml", MEETING.replace("title: Working call", "title: Working call (room 2)"))
    server.wait_for_log(re.compile(rf'event=sync-failed reason="{re.escape(str(feed))}: No space left on device"'))
    return first, before


def serve_site(site_dir: SiteDir) -> None:
    site_dir.settings('[server]\nlisten = "127.0.0.1:0"\npublic_calendars = ["default"]\n')
    site_dir.meeting("call.yaml", MEETING)


@pytest.mark.slow
@pytest.mark.parametrize("small_disk", ["calendars"], indirect=True)
def test_serve_with_calendars_full_logs_it_and_keeps_serving_the_last_feed(
    site_dir: SiteDir, small_disk: SmallDisk
) -> None:
    serve_site(site_dir)
    feed = site_dir.root / "calendars" / "default.ics"
    server = Served(site_dir.root)
    try:
        first, before = full_under_serve(site_dir, small_disk, server)
        assert feed.read_bytes() == before and leftovers(small_disk.path) == []
        assert server.client.get("/healthz").json()["last_sync_error"] == f"{feed}: No space left on device"
        # The sync is committed: the feed served from the database has the change, the file keeps its old bytes.
        served = server.client.get("/calendars/default.ics", headers={"If-None-Match": first.headers["etag"]})
        assert served.status_code == 200 and b"SUMMARY:Working call (room 2)" in served.content
    finally:
        code = server.stop()
    assert code == 0, server.log
    assert "Traceback" not in server.log, server.log


@pytest.mark.slow
@pytest.mark.parametrize("small_disk", ["calendars"], indirect=True)
def test_serve_catches_up_when_space_is_back_without_another_edit(site_dir: SiteDir, small_disk: SmallDisk) -> None:
    serve_site(site_dir)
    feed = site_dir.root / "calendars" / "default.ics"
    server = Served(site_dir.root)
    try:
        first, _ = full_under_serve(site_dir, small_disk, server)
        small_disk.free()
        poll(lambda: feed.read_bytes(), lambda body: b"SUMMARY:Working call (room 2)" in body, timeout=10)

        def fetch() -> httpx.Response:
            return server.client.get("/calendars/default.ics", headers={"If-None-Match": first.headers["etag"]})

        changed = poll(fetch, lambda r: r.status_code == 200, timeout=10)
        assert b"SUMMARY:Working call (room 2)" in changed.content
        assert server.client.get("/healthz").json()["last_sync_error"] is None
    finally:
        server.stop()
