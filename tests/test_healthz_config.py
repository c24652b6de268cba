"""/healthz names what keeps a config edit from being applied, `path:line: message` as `validate` prints it."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest

from meet_sched.cli import main
from meet_sched.service import Service
from meet_sched.site import Site
from meet_sched.web.app import create_app

from .conftest import SiteDir
from .serving import COUNCIL, web_state

BROKEN = COUNCIL.replace("duration: 1h", "durration: 1h")  # an unknown key: the edit is refused


def validate_problems(root: Path, capsys: pytest.CaptureFixture[str]) -> list[str]:
    """The `path:line: message` lines `meet-sched validate` prints."""
    capsys.readouterr()
    assert main(["validate", "--root", str(root)]) == 1
    printed = capsys.readouterr()
    return [line for line in (printed.out + printed.err).splitlines() if not line.startswith("meet-sched:")]


def test_a_refused_edit_is_named_in_healthz(site_dir: SiteDir, capsys: pytest.CaptureFixture[str]) -> None:
    site_dir.meeting("council.yaml", COUNCIL)
    site = Site(site_dir.root)
    site.open()
    settings = (site_dir.root / "config" / "meet-sched.toml").read_text(encoding="utf-8")

    async def scenario() -> list[dict[str, Any]]:
        service = Service(site)
        web = web_state(service)
        service.scheduler.start(paused=True)  # /healthz asks whether it runs; no job is due in this test
        seen = []
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(web)), base_url="http://t") as c:
            assert await service.refresh() is not None
            seen.append((await c.get("/healthz")).json())
            site_dir.meeting("council.yaml", BROKEN)
            await service.watch()
            seen.append((await c.get("/healthz")).json())
            # a broken settings file too (not applied while running, but said)
            (site_dir.root / "config" / "meet-sched.toml").write_text("[calendar\n" + settings, encoding="utf-8")
            await service.watch()
            seen.append((await c.get("/healthz")).json())
            (site_dir.root / "config" / "meet-sched.toml").write_text(settings, encoding="utf-8")
            site_dir.meeting("council.yaml", COUNCIL)
            await service.watch()
            seen.append((await c.get("/healthz")).json())
        service.scheduler.shutdown(wait=False)
        return seen

    try:
        good, broken, both, fixed = asyncio.run(scenario())
    finally:
        site.close()
    assert (good["status"], good["problems"], good["config_problems"]) == ("ok", [], [])
    site_dir.meeting("council.yaml", BROKEN)
    expected = validate_problems(site_dir.root, capsys)
    assert len(expected) == 1 and expected[0].startswith("config/meetings/council.yaml:")
    assert (broken["status"], broken["problems"]) == ("degraded", ["config"])
    assert broken["config_problems"] == expected
    assert broken["last_sync_error"] == "1 problem in the configuration; nothing was changed"
    assert both["status"] == "degraded" and both["problems"] == ["config"]
    assert both["config_problems"][0].startswith("config/meet-sched.toml:1: invalid TOML")
    assert both["config_problems"][1:] == expected
    assert (fixed["status"], fixed["problems"], fixed["config_problems"]) == ("ok", [], [])


def test_a_sync_that_fails_otherwise_says_sync(site_dir: SiteDir, monkeypatch: pytest.MonkeyPatch) -> None:
    site_dir.meeting("council.yaml", COUNCIL)
    site = Site(site_dir.root)
    site.open()

    def bug(*args: object, **kwargs: object) -> None:
        raise OverflowError("date value out of range")

    async def scenario() -> dict[str, Any]:
        service = Service(site)
        web = web_state(service)
        service.scheduler.start(paused=True)
        monkeypatch.setattr(site, "sync", bug)
        await service.refresh()
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(web)), base_url="http://t") as c:
            body: dict[str, Any] = (await c.get("/healthz")).json()
        service.scheduler.shutdown(wait=False)
        return body

    try:
        body = asyncio.run(scenario())
    finally:
        site.close()
    assert (body["status"], body["problems"], body["config_problems"]) == ("degraded", ["sync"], [])
    assert body["last_sync_error"] == "OverflowError: date value out of range"
