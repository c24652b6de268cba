"""An answer written by another process (`replies import`, another instance) reaches running feeds, pages, calendars."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

from meet_sched.cli import main
from meet_sched.config import load_settings
from meet_sched.replies.intake import Intake
from meet_sched.service import Service
from meet_sched.site import Site
from meet_sched.web.app import create_app
from meet_sched.web.middleware import Guard
from meet_sched.web.server import WebServer

from .conftest import TEST_DB, SiteDir
from .replies_helpers import UID, reply
from .serving import Served, poll
from .test_replies import partstats

NOW = datetime.now(UTC)  # a real `serve` reads the real clock: the meeting is a week ahead of it
ELLIS = "ellis@atlanta.example"
MEETING = f"""
uid: {UID}
title: Working call
timezone: Asia/Seoul
start: {(NOW + timedelta(days=7)).date()}T10:00
duration: 1h
recurrence: FREQ=WEEKLY
attendees:
  - {{ name: 김지현, email: jihyun.kim@daegu.example, language: ko }}
  - {{ name: Ellis Carter, email: {ELLIS}, timezone: America/New_York }}
"""
SETTINGS = """
[server]
listen = "127.0.0.1:0"
public_calendars = ["default"]
public_attendees = true
"""
ACCEPTED_ON_PAGE = '<li class="answer-accepted"><span class="count">1</span>'
PROMPTLY = 5.0  # seconds: "within a couple of seconds", with room for a loaded 2-core machine


def ellis(body: bytes) -> str:
    return partstats(body)[(ELLIS, None)]


def hosts(tmp_path: Path, url: str) -> tuple[SiteDir, SiteDir]:
    """Two copies of the site on one database: ``serving`` runs the web server, ``importing`` takes answers in."""
    dirs = []
    for name in ("serving", "importing"):
        d = SiteDir(tmp_path / name, url)
        d.settings(SETTINGS)
        d.meeting("working-call.yaml", MEETING)
        dirs.append(d)
    return dirs[0], dirs[1]


def opened(d: SiteDir, url: str) -> Site:
    site = Site(d.root, load_settings(d.root, environ={"MEET_SCHED_DATABASE_URL": url}))
    site.open()
    return site


def shared_url(tmp_path: Path, request: pytest.FixtureRequest) -> str:
    return str(request.getfixturevalue("pg_url")) if TEST_DB == "postgresql" else f"sqlite:///{tmp_path / 'shared.db'}"


def test_an_answer_applied_through_another_engine_reaches_the_next_get(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """In process: the feeds and the page were rendered, then a second Site (its own engine, as
    `replies import` would have) records an answer in the same database."""
    url = shared_url(tmp_path, request)
    serving_dir, importing_dir = hosts(tmp_path, url)
    serving, importing = opened(serving_dir, url), opened(importing_dir, url)
    try:
        serving.sync(NOW)
        token = serving.rotate_feed_token(ELLIS, NOW).token
        service = Service(serving)
        server = WebServer(serving)
        paths = ("/calendars/default.ics", f"/feeds/{token}.ics")

        async def scenario() -> None:
            await server.start(service)
            assert server.web is not None
            transport = httpx.ASGITransport(app=Guard(create_app(server.web)))
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
                for path in paths:
                    assert ellis((await client.get(path)).content) == "NEEDS-ACTION"
                page = await client.get(f"/meetings/{quote(UID, safe='')}")
                assert page.status_code == 200 and ACCEPTED_ON_PAGE not in page.text

                tally = await asyncio.to_thread(Intake(importing).take_all, [("r.eml", reply("ACCEPTED"), False)], NOW)
                assert tally.changed == {UID}

                async def shown() -> tuple[list[str], str]:
                    feeds = [ellis((await client.get(path)).content) for path in paths]
                    return feeds, (await client.get(f"/meetings/{quote(UID, safe='')}")).text

                # SQLite: the very next request sees data_version move; PostgreSQL: the NOTIFY comes within moments
                deadline = time.monotonic() + (0 if TEST_DB == "sqlite" else PROMPTLY)
                while True:
                    feeds, page_text = await shown()
                    if feeds == ["ACCEPTED", "ACCEPTED"] and ACCEPTED_ON_PAGE in page_text:
                        break
                    assert time.monotonic() < deadline, (feeds, ACCEPTED_ON_PAGE in page_text)
                    await asyncio.sleep(0.05)
            await server.stop()

        asyncio.run(scenario())
    finally:
        serving.close()
        importing.close()


async def _until(check: Callable[[], Awaitable[bool]], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        assert time.monotonic() < deadline, f"not within {timeout}s"
        await asyncio.sleep(0.05)


def _beside_serve(tmp_path: Path, url: str) -> None:
    """A real `serve` on one copy of the site, `replies import` run on the other: the public and the
    personal feed of the running server show the answer within seconds, and both calendars/ folders
    hold it (the import's own export, and the server's on noticing the commit)."""
    serving_dir, importing_dir = hosts(tmp_path, url)
    site = opened(serving_dir, url)
    try:
        site.sync(NOW)
        token = site.rotate_feed_token(ELLIS, NOW).token
    finally:
        site.close()
    served = Served(serving_dir.root)
    try:
        paths = ("/calendars/default.ics", f"/feeds/{token}.ics")
        for path in paths:
            first = poll(lambda p=path: served.client.get(p), lambda r: r.status_code == 200)  # type: ignore[misc]
            assert ellis(first.content) == "NEEDS-ACTION"
        exported = serving_dir.root / "calendars" / "default.ics"
        poll(exported.exists, bool)
        assert ellis(exported.read_bytes()) == "NEEDS-ACTION"
        message = tmp_path / "accepted.eml"
        message.write_bytes(reply("ACCEPTED"))
        assert main(["replies", "import", str(message), "--root", str(importing_dir.root)]) == 0
        started = time.monotonic()
        # the import's own calendars/ at once
        assert ellis((importing_dir.root / "calendars" / "default.ics").read_bytes()) == "ACCEPTED"
        for path in paths:
            poll(lambda p=path: ellis(served.client.get(p).content), lambda s: s == "ACCEPTED", timeout=PROMPTLY)  # type: ignore[misc]
        poll(lambda: ellis(exported.read_bytes()), lambda s: s == "ACCEPTED", timeout=PROMPTLY)
        assert time.monotonic() - started < PROMPTLY
        poll(lambda: served.log, lambda log: "event=exported" in log, timeout=PROMPTLY)  # written just after the file
    finally:
        assert served.stop() == 0, served.log
        assert "Traceback" not in served.log, served.log


@pytest.mark.slow
def test_replies_import_beside_serve_on_sqlite(tmp_path: Path) -> None:
    _beside_serve(tmp_path, f"sqlite:///{tmp_path / 'shared.db'}")


@pytest.mark.slow
@pytest.mark.postgres
def test_replies_import_beside_serve_on_postgresql(tmp_path: Path, pg_url: str) -> None:
    _beside_serve(tmp_path, pg_url)


def test_replies_import_writes_calendars(site_dir: SiteDir) -> None:
    """`replies import` by itself: calendars/*.ics carry the PARTSTAT it applied, without an `export`."""
    site_dir.settings(SETTINGS)
    site_dir.meeting("working-call.yaml", MEETING)
    assert main(["run", "--root", str(site_dir.root)]) == 0
    exported = site_dir.root / "calendars" / "default.ics"
    before = exported.read_bytes()
    assert ellis(before) == "NEEDS-ACTION"
    message = site_dir.root / "accepted.eml"
    message.write_bytes(reply("ACCEPTED"))
    assert main(["replies", "import", str(message), "--root", str(site_dir.root)]) == 0
    assert ellis(exported.read_bytes()) == "ACCEPTED"
