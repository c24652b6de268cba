"""Start-up promises: the schema is migrated once before anything touches the database, a database
that is away gives 503 (never 500) until it is back, and the watch job reports each failure once."""

from __future__ import annotations

import asyncio
import logging
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, inspect, text

from .conftest import PG_ADMIN_URL, SiteDir
from .mail_helpers import smtp_settings
from .serving import COUNCIL, Served, poll, web_state
from .smtp_sink import SmtpSink

SETTINGS = """
[calendar]
name = "City Hall"
domain = "test.example"
organizer = { name = "Office", email = "office@test.example" }

[server]
listen = "127.0.0.1:0"
public_calendars = ["city-hall"]
"""


BROKEN = COUNCIL.replace("duration: 1h", "durration: 1h")  # an unknown key: the config is rejected

TABLES = {"alembic_version", "meetings", "outbox", "feed_tokens"}


def new_site(root: Path, meeting: str = BROKEN) -> SiteDir:
    site = SiteDir(root)
    (root / "config" / "meet-sched.toml").write_text(SETTINGS, encoding="utf-8")
    site.meeting("council.yaml", meeting)
    return site


@pytest.fixture
def busy_cpus() -> Iterator[None]:
    """Two processes spinning beside the service, as on a loaded two-core machine."""
    spinners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(2)]
    try:
        yield
    finally:
        for proc in spinners:
            proc.kill()
        for proc in spinners:
            proc.wait(timeout=10)


def hammer(url: str, paths: list[str], seconds: float) -> list[tuple[str, int, str]]:
    """GET each path over and over from one thread per path for ``seconds``; every answer."""
    answers: list[tuple[str, int, str]] = []
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def loop(path: str) -> None:
        with httpx.Client(base_url=url, timeout=20) as client:
            while time.monotonic() < deadline:
                try:
                    r = client.get(path)
                except httpx.HTTPError as exc:  # a dropped connection is an answer too, and a bad one
                    answer = (path, 0, repr(exc))
                else:
                    answer = (path, r.status_code, r.text[:300])
                with lock:
                    answers.append(answer)

    threads = [threading.Thread(target=loop, args=(p,)) for p in paths]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=seconds + 30)
    return answers


# -- migrations once ----------------------------------------------------------------------


@pytest.mark.slow
def test_new_site_with_a_broken_meeting_under_load_never_answers_500(tmp_path: Path, busy_cpus: None) -> None:
    """No var/ yet, the only meeting file rejected, requests from the first moment: 200 or 503, no traceback."""
    for attempt in range(5):
        site = new_site(tmp_path / f"site{attempt}")
        served = Served(site.root)
        try:
            answers = hammer(served.url, ["/calendars/city-hall.ics", "/healthz", "/"], seconds=1.0)
            health = served.client.get("/healthz").json()
        finally:
            code = served.stop()
        assert answers, "no request was answered"
        bad = [a for a in answers if a[1] not in (200, 503)]
        assert not bad, f"start {attempt}: {bad[:3]}\n{served.log}"
        assert "Traceback" not in served.log, served.log
        assert code == 0, served.log
        assert health["status"] == "degraded" and health["last_sync_error"], health
        tables = set(inspect(create_engine(f"sqlite:///{site.root / 'var' / 'meet-sched.db'}")).get_table_names())
        assert tables >= TABLES, tables


def start_together(roots: list[Path], env: dict[str, str]) -> list[Served]:
    """``serve`` on each root, all launched within the same moment (one thread each)."""
    served: list[Served | BaseException] = [RuntimeError("not started")] * len(roots)

    def start(i: int) -> None:
        try:
            served[i] = Served(roots[i], env=env, timeout=60)
        except BaseException as exc:
            served[i] = exc

    threads = [threading.Thread(target=start, args=(i,)) for i in range(len(roots))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=90)
    started = [s for s in served if isinstance(s, Served)]
    if len(started) != len(roots):
        for s in started:
            s.stop()
        raise AssertionError(f"not every serve started: {served}")
    return started


def schema_state(url: str) -> tuple[list[str], set[str]]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            versions = [row[0] for row in conn.execute(text("SELECT version_num FROM alembic_version"))]
        return versions, set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def head() -> str:
    from meet_sched.store.db import Database

    db = Database("sqlite://")
    try:
        found = db.head()
        assert found is not None
        return found
    finally:
        db.dispose()


def test_threads_never_migrate_at_the_same_time(tmp_path: Path) -> None:
    """Alembic's context is a process global: threads opening sites (one, or several new ones) at once."""
    from meet_sched.site import Site

    sites = [Site(new_site(tmp_path / f"site{i}", COUNCIL).root) for i in range(4)]
    shared = Site(new_site(tmp_path / "shared", COUNCIL).root)
    barrier = threading.Barrier(8)
    errors: list[BaseException] = []

    def use(site: Site) -> None:
        try:
            barrier.wait(timeout=30)
            site.calendar_names()  # the first use opens and migrates
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=use, args=(s,)) for s in [*sites, shared, shared, shared, shared]]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    try:
        assert errors == []
        for site in [*sites, shared]:
            versions, tables = schema_state(site.settings.database_url)
            assert versions == [head()] and tables >= TABLES
    finally:
        for site in [*sites, shared]:
            site.close()


@pytest.mark.slow
@pytest.mark.postgres
def test_three_serves_on_an_empty_postgresql_database_migrate_once(tmp_path: Path, pg_url: str) -> None:
    roots = [new_site(tmp_path / f"site{i}", COUNCIL).root for i in range(3)]
    servers = start_together(roots, {"MEET_SCHED_DATABASE_URL": pg_url})
    try:
        for server in servers:
            health = poll(lambda s=server: s.client.get("/healthz"), lambda r: r.json()["last_sync_at"] is not None)
            assert health.status_code == 200 and health.json()["status"] == "ok", health.text
            feed = server.client.get("/calendars/city-hall.ics")
            assert feed.status_code == 200 and b"Council session" in feed.content
    finally:
        codes = [server.stop() for server in servers]
    logs = [server.log for server in servers]
    assert codes == [0, 0, 0], logs
    for log in logs:
        assert " ERROR " not in log and "Traceback" not in log, log
    assert sum(log.count("event=migrated") for log in logs) == 1, logs
    versions, tables = schema_state(pg_url)
    assert versions == [head()]
    assert tables >= TABLES


@pytest.mark.slow
def test_three_syncs_on_a_new_sqlite_file_migrate_once(tmp_path: Path) -> None:
    site = new_site(tmp_path / "site", COUNCIL)
    command = [sys.executable, "-m", "meet_sched", "sync", "--root", str(site.root)]
    procs = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(3)]
    outputs = [p.communicate(timeout=120) for p in procs]
    results = [(p.returncode, out, err) for p, (out, err) in zip(procs, outputs, strict=True)]
    for code, _, err in results:
        assert code == 0 and err == "", results
    assert sorted(out.splitlines()[0] for _, out, _ in results) == [
        "1 meetings from 1 files: 1 added",
        "1 meetings from 1 files: nothing changed",
        "1 meetings from 1 files: nothing changed",
    ], results
    versions, tables = schema_state(f"sqlite:///{site.root / 'var' / 'meet-sched.db'}")
    assert versions == [head()]
    assert tables >= TABLES


# -- a database that is away --------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.postgres
def test_postgresql_missing_at_start_answers_503_then_comes_up_by_itself(tmp_path: Path, pg_url: str) -> None:
    """The database does not exist yet when serve starts: 503s with Retry-After, then it is created."""
    root = new_site(tmp_path / "site", COUNCIL).root
    missing = f"{pg_url}_later"  # a database nobody created (yet)
    name = missing.rsplit("/", 1)[1]
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    server = Served(root, env={"MEET_SCHED_DATABASE_URL": missing})
    try:
        for path in ("/calendars/city-hall.ics", "/", "/feeds/" + "A" * 43 + ".ics"):
            for _ in range(5):
                r = server.client.get(path)
                assert r.status_code == 503, (path, r.status_code, r.text)
                assert int(r.headers["retry-after"]) > 0
                assert r.headers["content-type"].startswith("text/plain")
                assert "database" in r.text and "Traceback" not in r.text and "postgresql" not in r.text
        assert server.client.get("/calendars/not-public.ics").status_code == 404  # nothing to do with the database
        health = server.client.get("/healthz")
        assert health.status_code == 503
        body = health.json()
        assert body["status"] == "unhealthy" and body["problems"] == ["database"]
        assert f'database "{name}" does not exist' in body["database"], body
        assert server.proc.poll() is None  # still running

        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        poll(lambda: server.client.get("/healthz").status_code, lambda code: code == 200, timeout=20)
        feed = poll(lambda: server.client.get("/calendars/city-hall.ics"), lambda r: b"Council session" in r.content)
        assert feed.status_code == 200
        assert server.client.get("/").status_code == 200
        server.wait_for_log(re.compile(r"event=dispatcher-started"), timeout=10)
    finally:
        code = server.stop()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    assert code == 0, server.log
    assert "Traceback" not in server.log, server.log
    assert server.log.count("event=database-unavailable") == 1, server.log
    assert server.log.count("event=database-available") == 1, server.log
    assert server.log.count("event=migrated") == 1, server.log


@pytest.mark.slow
def test_a_corrupt_sqlite_file_at_start_answers_503_until_it_is_replaced(tmp_path: Path) -> None:
    site = new_site(tmp_path / "site", COUNCIL)
    db_file = site.root / "var" / "meet-sched.db"
    db_file.parent.mkdir()
    db_file.write_bytes(b"not an SQLite database, only named like one\n" * 50)
    server = Served(site.root)
    try:
        r = server.client.get("/calendars/city-hall.ics")
        assert r.status_code == 503 and r.headers["retry-after"], r.text
        health = server.client.get("/healthz")
        assert health.status_code == 503 and "file is not a database" in health.json()["database"]
        db_file.unlink()  # the operator moves the broken file away
        feed = poll(lambda: server.client.get("/calendars/city-hall.ics"), lambda r: b"Council session" in r.content)
        assert feed.status_code == 200
        assert server.client.get("/healthz").json()["status"] == "ok"
    finally:
        code = server.stop()
    assert code == 0 and "Traceback" not in server.log, server.log
    assert server.log.count("event=database-unavailable") == 1, server.log


# -- the watch job ---------------------------------------------------------------------------


def test_the_watch_job_reports_a_failure_once_and_keeps_serving_the_last_good_state(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A sync that raises something other than a config problem: one log line (a traceback once, for a
    bug), /healthz degraded, the last good feed served; a later fix clears it."""
    import meet_sched.service
    from meet_sched.errors import MeetSchedError
    from meet_sched.service import Service
    from meet_sched.site import Site
    from meet_sched.web.app import create_app

    caplog.set_level(logging.INFO, logger="meet_sched")
    monkeypatch.setattr(meet_sched.service, "SYNC_RETRY", 0.0)  # retry at every tick: still said only once
    site_dir = new_site(tmp_path / "site", COUNCIL)
    site = Site(site_dir.root)
    site.open()
    moved = COUNCIL.replace("title: Council session", "title: Council session (moved)")

    async def scenario() -> None:
        service = Service(site)
        web = web_state(service)
        service.on_refresh(lambda report: web.invalidate() if report.changes else None)
        service.scheduler.start(paused=True)  # /healthz asks whether it runs; no job is due in this test
        transport = httpx.ASGITransport(app=create_app(web))
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:

            async def state() -> tuple[dict[str, object], bytes]:
                health = await client.get("/healthz")
                assert health.status_code == 200, health.text
                feed = await client.get("/calendars/city-hall.ics")
                assert feed.status_code == 200
                return health.json(), feed.content

            assert (await service.refresh()) is not None
            health, feed = await state()
            assert health["status"] == "ok" and b"Council session" in feed

            def bug(*args: object, **kwargs: object) -> None:
                raise OverflowError("date value out of range")

            monkeypatch.setattr(site, "load", bug)
            caplog.clear()
            site_dir.meeting("council.yaml", moved)
            for _ in range(3):
                await service.watch()  # the edit, then two retries
            site_dir.meeting("council.yaml", moved + "description: again\n")
            await service.watch()  # another edit, the same failure
            failed = [r for r in caplog.records if "event=sync-failed" in r.getMessage()]
            assert len(failed) == 1, [r.getMessage() for r in caplog.records]
            assert failed[0].exc_info is not None  # not a MeetSchedError: a bug, so its traceback, once
            assert "OverflowError: date value out of range" in failed[0].getMessage()
            health, feed = await state()
            assert health["status"] == "degraded"
            assert health["last_sync_error"] == "OverflowError: date value out of range"
            assert b"Council session" in feed and b"(moved)" not in feed  # the last good state

            def known(*args: object, **kwargs: object) -> None:
                raise MeetSchedError("calendars/ cannot be written")

            monkeypatch.setattr(site, "load", known)
            caplog.clear()
            for _ in range(2):
                await service.watch()
            failed = [r for r in caplog.records if "event=sync-failed" in r.getMessage()]
            assert len(failed) == 1 and failed[0].exc_info is None  # an error for a person: one line
            assert "calendars/ cannot be written" in failed[0].getMessage()

            monkeypatch.delattr(site, "load")  # fixed
            caplog.clear()
            await service.watch()
            assert [r.getMessage() for r in caplog.records if "sync-" in r.getMessage()] == ["event=sync-recovered"]
            health, feed = await state()
            assert health["status"] == "ok" and health["last_sync_error"] is None
            assert b"Council session (moved)" in feed
        service.scheduler.shutdown(wait=False)

    try:
        asyncio.run(scenario())
    finally:
        site.close()


# -- run's exit status ------------------------------------------------------------------------


def test_run_exits_non_zero_while_messages_wait_or_failed(tmp_path: Path, smtp_server: SmtpSink) -> None:
    """A cron job notices: 3 when a message waits for a retry, 4 when one failed for good, 0 when all went."""
    site = new_site(tmp_path / "site", COUNCIL)
    site.settings(smtp_settings(smtp_server))
    site.meeting(
        "council.yaml",
        COUNCIL
        + "  - { name: Bui Lan, email: lan.bui@test.example }\n  - { name: Cho Min, email: min.cho@test.example }\n",
    )
    smtp_server.replies["lan.bui@test.example"] = "451 4.3.0 try again later"
    first = site.run("run")
    assert first.returncode == 3, first.stdout + first.stderr
    assert "meet-sched: 1 message(s) wait for a retry" in first.stderr
    assert "Traceback" not in first.stderr
    assert sorted(to for r in smtp_server.received for to in r.rcpt_tos) == [
        "min.cho@test.example",
        "mira.ahn@test.example",
    ]

    site.meeting("council.yaml", COUNCIL + "  - { name: Do Ha, email: ha.do@test.example }\n")
    smtp_server.replies["ha.do@test.example"] = "550 5.1.1 no such mailbox"
    second = site.run("run")
    assert second.returncode == 4, second.stdout + second.stderr
    assert "meet-sched: 1 message(s) failed for good in this pass" in second.stderr

    third = site.run("run")  # nothing new is due (the retry waits for its time): nothing to report
    assert third.returncode == 0, third.stdout + third.stderr


@pytest.mark.slow
def test_serve_reports_a_file_it_cannot_take_once_and_keeps_the_last_good_feed(tmp_path: Path) -> None:
    """A meeting file whose name is not UTF-8 (whatever the layer that refuses it): said once, not every tick."""
    site = new_site(tmp_path / "site", COUNCIL)
    server = Served(site.root)
    try:
        good = server.client.get("/calendars/city-hall.ics")
        assert good.status_code == 200 and b"Council session" in good.content
        odd = os.path.join(os.fsencode(site.root / "config" / "meetings"), b"\xff-visit.yaml")
        with open(odd, "wb") as out:
            out.write(COUNCIL.replace("uid: council", "uid: visit").replace("Council session", "Visit").encode())
        health = poll(lambda: server.client.get("/healthz").json(), lambda h: h["last_sync_error"] is not None)
        assert health["status"] == "degraded", health
        time.sleep(3 * 2.0 + 0.5)  # three more ticks of the watch job with the same file there
        reports = [line for line in server.lines if "event=sync-failed" in line or "event=sync-rejected" in line]
        assert len(reports) == 1, server.log
        assert server.log.count("Traceback") <= 1, server.log  # a bug's traceback, once
        feed = server.client.get("/calendars/city-hall.ics")
        assert feed.status_code == 200 and feed.content == good.content  # the last good state
        os.unlink(odd)
        poll(lambda: server.client.get("/healthz").json(), lambda h: h["status"] == "ok")
    finally:
        code = server.stop()
    assert code == 0, server.log


@pytest.mark.slow
@pytest.mark.postgres
def test_postgresql_going_away_under_serve_is_said_once_and_answered_with_503(tmp_path: Path, pg_url: str) -> None:
    """Connections refused while serve runs: what needs the database is a 503, the log says it once each way."""
    root = new_site(tmp_path / "site", COUNCIL).root
    name = pg_url.rsplit("/", 1)[1]
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    server = Served(root, env={"MEET_SCHED_DATABASE_URL": pg_url})
    try:
        assert server.client.get("/calendars/city-hall.ics").status_code == 200
        with admin.connect() as conn:
            conn.execute(text(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS false'))
            conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"), {"n": name})
        for _ in range(5):
            r = server.client.get("/feeds/" + "A" * 43 + ".ics")  # looking the token up needs the database
            assert r.status_code == 503 and r.headers["retry-after"], (r.status_code, r.text)
            assert server.client.get("/healthz").status_code == 503
        assert server.client.get("/calendars/city-hall.ics").status_code == 200  # rendered before: still served
        time.sleep(2 * 2.0 + 0.5)  # a few ticks of the watch job
        with admin.connect() as conn:
            conn.execute(text(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS true'))
        poll(lambda: server.client.get("/healthz").status_code, lambda code: code == 200, timeout=20)
        assert server.client.get("/feeds/" + "A" * 43 + ".ics").status_code == 404
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS true'))
        admin.dispose()
        code = server.stop()
    assert code == 0, server.log
    assert "Traceback" not in server.log, server.log
    assert server.log.count("event=database-unavailable") == 1, server.log
    assert server.log.count("event=database-available") == 1, server.log
