"""An edit that breaks config/meet-sched.toml under a running `serve`: said with file and line, the settings it
started with and the last good feed are kept, meeting edits keep syncing, and nothing is lost when it is fixed."""

from __future__ import annotations

import re

import httpx
import pytest

from .conftest import SiteDir
from .serving import Served, poll

pytestmark = pytest.mark.slow

MEETING = """
uid: call
title: Working call
timezone: Asia/Seoul
start: 2027-03-04T10:00
duration: 1h
attendees:
  - { name: Kim, email: kim@daegu.example }
"""


def test_a_broken_settings_edit_keeps_the_running_site(site_dir: SiteDir) -> None:
    settings = site_dir.settings('[server]\nlisten = "127.0.0.1:0"\npublic_calendars = ["default"]\n')
    site_dir.meeting("call.yaml", MEETING)
    server = Served(site_dir.root)
    try:
        first = server.client.get("/calendars/default.ics")
        assert first.status_code == 200
        good = settings.read_text()
        settings.write_text(good + "\n[server\nlisten = 8080\n")  # a TOML syntax error
        server.wait_for_log(re.compile(r"event=settings-invalid config/meet-sched\.toml:\d+: "), timeout=10)
        health = server.client.get("/healthz").json()
        # still serving, with the settings it started with; the refused edit is named for the operator
        assert health["status"] == "degraded" and health["problems"] == ["config"], health
        assert health["config_problems"][0].startswith("config/meet-sched.toml:"), health
        same = server.client.get("/calendars/default.ics", headers={"If-None-Match": first.headers["etag"]})
        assert same.status_code == 304

        site_dir.meeting("call.yaml", MEETING.replace("title: Working call", "title: Working call (moved)"))

        def fetch() -> httpx.Response:
            return server.client.get("/calendars/default.ics", headers={"If-None-Match": first.headers["etag"]})

        changed = poll(fetch, lambda r: r.status_code == 200, timeout=10)
        assert b"SUMMARY:Working call (moved)" in changed.content

        settings.write_text(good)
        fixed = poll(lambda: server.client.get("/healthz").json(), lambda h: not h["settings_changed_restart_needed"])
        assert fixed["status"] == "ok" and fixed["problems"] == [], fixed
    finally:
        code = server.stop()
    assert code == 0, server.log
    assert "Traceback" not in server.log, server.log
