"""Two `serve` processes on one PostgreSQL database serve the same feed bytes and ETags, and bump SEQUENCE once."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from .conftest import SiteDir
from .serving import BUI_LAN, Served
from .serving import COUNCIL as SHARED_COUNCIL

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

SETTINGS = """
[server]
listen = "127.0.0.1:0"
base_url = "https://calendars.test.example"
public_calendars = ["city-hall"]
"""

COUNCIL = SHARED_COUNCIL.replace("duration: 1h\n", "duration: 1h\nreminders: [1d]\n") + BUI_LAN


def sequence(url: str, uid: str) -> int:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            found = conn.execute(text("SELECT sequence FROM meetings WHERE uid LIKE :u"), {"u": uid + "%"})
            return int(found.scalar_one())
    finally:
        engine.dispose()


@pytest.fixture
def two(tmp_path: Path, pg_url: str) -> Iterator[tuple[list[SiteDir], list[Served]]]:
    """Two hosts: each its own copy of the same config, one database."""
    sites = []
    for name in ("host-a", "host-b"):
        site = SiteDir(tmp_path / name)
        site.settings(SETTINGS)
        site.meeting("council.yaml", COUNCIL)
        sites.append(site)
    served: list[Served] = []
    try:
        for site in sites:
            served.append(Served(site.root, env={"MEET_SCHED_DATABASE_URL": pg_url}))
        yield sites, served
    finally:
        for s in served:
            s.stop()


def feeds(served: list[Served], needle: str, timeout: float = 20) -> list[tuple[bytes, str]]:
    """The public feed from each process, once every one of them shows ``needle``."""
    deadline = time.monotonic() + timeout
    while True:
        got = [s.client.get("/calendars/city-hall.ics") for s in served]
        if all(r.status_code == 200 and needle in r.text for r in got):
            return [(r.content, r.headers["etag"]) for r in got]
        assert time.monotonic() < deadline, [(r.status_code, needle in r.text) for r in got]
        time.sleep(0.2)


def test_every_instance_serves_the_same_bytes_and_etag(two: tuple[list[SiteDir], list[Served]]) -> None:
    _, served = two
    (a, etag_a), (b, etag_b) = feeds(served, "SUMMARY:Council session")
    assert a == b and etag_a == etag_b
    again = served[1].client.get("/calendars/city-hall.ics", headers={"If-None-Match": etag_a})
    assert again.status_code == 304  # a subscriber moved to the other instance by the balancer


EDITED = COUNCIL.replace("title: Council session", "title: Council session (room 2)")


def test_the_same_edit_synced_by_two_instances_at_once_bumps_sequence_once(
    two: tuple[list[SiteDir], list[Served]], pg_url: str
) -> None:
    sites, served = two
    feeds(served, "SUMMARY:Council session")
    assert sequence(pg_url, "council") == 0
    for site in sites:  # the same change reaches both hosts at once: both sync it
        site.meeting("council.yaml", EDITED)
    deadline = time.monotonic() + 20
    while sum(s.log.count("event=synced") for s in served) < 2 and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(3)  # both watchers (2 s) have seen the edit by now
    assert sequence(pg_url, "council") == 1, "one real change, one SEQUENCE bump"
    synced = sum(s.log.count("event=synced") for s in served)
    assert synced == 2, "the first start created the meeting, then one of the two found the edit to sync"


def test_an_edit_synced_by_another_instance_reaches_every_feed(
    two: tuple[list[SiteDir], list[Served]], pg_url: str
) -> None:
    sites, served = two
    feeds(served, "SUMMARY:Council session")
    for site in sites:
        site.meeting("council.yaml", EDITED)
    (a, etag_a), (b, etag_b) = feeds(served, "SUMMARY:Council session (room 2)")
    assert a == b and etag_a == etag_b
    assert b"SEQUENCE:1\r\n" in a
