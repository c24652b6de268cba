"""A feed follows a change another process wrote into the database: NOTIFY on PostgreSQL, data_version on SQLite."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from meet_sched.config import load_settings
from meet_sched.site import Site
from meet_sched.web.freshness import FEED_CHECK, Freshness

from .conftest import TEST_DB, SiteDir
from .serving import Served, poll

T0 = datetime(2026, 11, 2, 1, 0, tzinfo=UTC)
SLACK = 10.0  # seconds on top of FEED_CHECK, for a loaded 2-core machine

SETTINGS = """
[server]
listen = "127.0.0.1:0"
public_calendars = ["city-hall"]
"""

COUNCIL = """
uid: council
calendar: city-hall
title: Council session
timezone: Asia/Seoul
start: 2027-03-04T10:00
duration: 1h
"""
EDITED = COUNCIL.replace("title: Council session", "title: Council session (room 2)")


class Rendered:
    """What :class:`Freshness` drives in the web app: counts the drops and the warm-ups."""

    def __init__(self) -> None:
        self.invalidated = 0
        self.warmed = 0

    def invalidate(self) -> None:
        self.invalidated += 1

    async def warm(self) -> None:
        self.warmed += 1


def two_hosts(tmp_path: Path, url: str) -> tuple[Site, Site, SiteDir]:
    """Two sites with their own config/ on one database: ``a`` serves, ``b`` syncs an edit."""
    dirs = []
    for name in ("host-a", "host-b"):
        d = SiteDir(tmp_path / name, url)
        d.settings(SETTINGS)
        d.meeting("council.yaml", COUNCIL)
        dirs.append(d)
    a, b = (Site(d.root, load_settings(d.root, environ={"MEET_SCHED_DATABASE_URL": url})) for d in dirs)
    return a, b, dirs[1]


@pytest.fixture
def hosts(tmp_path: Path, db_url: str) -> Iterator[tuple[Site, Site, SiteDir]]:
    a, b, b_dir = two_hosts(tmp_path, db_url)
    try:
        yield a, b, b_dir
    finally:
        a.close()
        b.close()


def test_a_look_renders_again_only_when_another_process_changed_the_meetings(
    hosts: tuple[Site, Site, SiteDir],
) -> None:
    a, b, b_dir = hosts
    b.sync(T0)
    a.open()
    rendered = Rendered()
    fresh = Freshness(a, rendered)  # type: ignore[arg-type]  # only invalidate() and warm() are used

    async def looks() -> list[bool]:
        seen = [await fresh.check()]  # the first look: whatever was rendered before is dropped
        seen.append(await fresh.check())  # nothing changed in between
        b.sync(T0 + timedelta(minutes=1))  # the same config again: no change
        seen.append(await fresh.check())
        b_dir.meeting("council.yaml", EDITED)
        b.sync(T0 + timedelta(minutes=2))
        seen.append(await fresh.check())
        seen.append(await fresh.check())
        (b_dir.root / "config" / "meetings" / "council.yaml").unlink()  # removed: a cancellation, SEQUENCE+1
        b.sync(T0 + timedelta(minutes=3))
        seen.append(await fresh.check())
        seen.append(await fresh.check(changed=True))  # this process's own sync says so itself
        await asyncio.sleep(0.05)  # the last warm-up runs
        return seen

    assert asyncio.run(looks()) == [True, False, False, True, False, True, True]
    assert rendered.invalidated == 4
    assert rendered.warmed == 4


def test_the_feed_state_moves_with_every_change_and_only_then(hosts: tuple[Site, Site, SiteDir]) -> None:
    a, b, b_dir = hosts
    b.sync(T0)
    first = a.feed_state()
    b.sync(T0 + timedelta(minutes=1))
    assert a.feed_state() == first == b.feed_state()
    assert first[:2] == (1, 0)
    b_dir.meeting("council.yaml", EDITED)
    b.sync(T0 + timedelta(minutes=2))
    edited = a.feed_state()
    assert edited[:2] == (1, 1) and edited[2] is not None and first[2] is not None and edited[2] > first[2]


@pytest.mark.postgres
def test_a_notification_alone_wakes_a_process_at_once(tmp_path: Path, pg_url: str) -> None:
    """With the periodic look an hour away, only the NOTIFY sent at the sync's commit can do it."""
    a, b, b_dir = two_hosts(tmp_path, pg_url)
    try:
        b.sync(T0)
        a.open()
        rendered = Rendered()
        fresh = Freshness(a, rendered, every=3600)  # type: ignore[arg-type]

        async def scenario() -> float:
            await fresh.start()
            await fresh.check()
            await asyncio.sleep(1.5)  # the listening connection is up (it looks once when it connects)
            before = rendered.invalidated
            b_dir.meeting("council.yaml", EDITED)
            await asyncio.to_thread(b.sync, T0 + timedelta(minutes=1))
            started = time.monotonic()
            while rendered.invalidated == before:
                assert time.monotonic() - started < SLACK, "no notification reached the listening process"
                await asyncio.sleep(0.05)
            took = time.monotonic() - started
            await fresh.stop()
            return took

        assert asyncio.run(scenario()) < SLACK
    finally:
        a.close()
        b.close()


@pytest.mark.slow
def test_a_sync_run_beside_serve_reaches_its_feed(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    """`meet-sched sync` from another copy of config/ while `serve` runs: on SQLite, `PRAGMA data_version`
    shows the commit (asked before the request); on PostgreSQL the sync's NOTIFY does."""
    url = str(request.getfixturevalue("pg_url")) if TEST_DB == "postgresql" else f"sqlite:///{tmp_path / 'shared.db'}"
    serving, syncing = SiteDir(tmp_path / "host-a", url), SiteDir(tmp_path / "host-b", url)
    for d in (serving, syncing):
        d.settings(SETTINGS)
        d.meeting("council.yaml", COUNCIL)
    served = Served(serving.root)
    try:
        first = poll(
            lambda: served.client.get("/calendars/city-hall.ics"),
            lambda r: r.status_code == 200 and "SUMMARY:Council session\r\n" in r.text,
        )
        syncing.meeting("council.yaml", EDITED)
        syncing.run("sync", check=True)
        started = time.monotonic()
        after = poll(
            lambda: served.client.get("/calendars/city-hall.ics"),
            lambda r: "SUMMARY:Council session (room 2)" in r.text,
            timeout=FEED_CHECK + SLACK,
        )
        assert time.monotonic() - started < FEED_CHECK + SLACK
        assert b"SEQUENCE:1\r\n" in after.content and after.headers["etag"] != first.headers["etag"]
        assert served.log.count("event=synced") == 1, "serve synced its first start only: the edit came from elsewhere"
    finally:
        assert served.stop() == 0, served.log
