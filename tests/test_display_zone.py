"""README "[calendar] timezone": the commands show people times in the site's zone; UTC stays for machines."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

from meet_sched.config import load_config
from meet_sched.config.display import display_zone

from .conftest import SiteDir


def _call(site_dir: SiteDir, name: str, zone: str, attendees: list[tuple[str, str]], organizer: str = "") -> None:
    lines = [f"title: {name}", f"timezone: {zone}", "start: 2027-01-10T10:00", "duration: 1h"]
    if organizer:
        lines.append(f"organizer: {{ email: {organizer} }}")
    lines.append("attendees:")
    lines += [f"  - {{ email: {email}, timezone: {tz} }}" for email, tz in attendees]
    site_dir.meeting(f"{name}.yaml", "\n".join(lines) + "\n")


def _zone(root: Path) -> str:
    config = load_config(root)
    return display_zone(config.settings, config.meetings).key


def test_the_setting_wins(site_dir: SiteDir) -> None:
    site_dir.settings('timezone = "Europe/Berlin"\n')
    _call(site_dir, "a", "Asia/Seoul", [("x@a.example", "Asia/Seoul")])
    assert _zone(site_dir.root) == "Europe/Berlin"


def test_the_organizers_zone_comes_next(site_dir: SiteDir) -> None:
    # the site's organizer (office@test.example) holds a meeting in Seoul; the others are held by someone else
    _call(site_dir, "a", "Asia/Seoul", [("x@a.example", "America/New_York")])
    for name in ("b", "c"):
        _call(site_dir, name, "Asia/Shanghai", [("y@a.example", "Asia/Shanghai")], organizer="li@chengdu.example")
    assert _zone(site_dir.root) == "Asia/Seoul"


def test_else_the_attendees_most_common_zone(site_dir: SiteDir) -> None:
    attendees = [("x@a.example", "Asia/Ho_Chi_Minh"), ("y@a.example", "Asia/Ho_Chi_Minh"), ("z@a.example", "UTC")]
    _call(site_dir, "a", "Asia/Seoul", attendees, organizer="li@chengdu.example")
    assert _zone(site_dir.root) == "Asia/Ho_Chi_Minh"


def test_run_says_when_the_next_is_due_in_the_sites_zone(sample_site: SiteDir) -> None:
    out = sample_site.run("run", check=True).stdout
    [line] = [line for line in out.splitlines() if "the next is due" in line]
    assert re.search(r"the next is due \d{4}-\d\d-\d\d \d\d:\d\d KST \(", line), line  # the office's zone, not UTC


def test_agenda_from_is_a_date_in_the_sites_zone(site_dir: SiteDir) -> None:
    site_dir.settings('timezone = "America/New_York"\n')
    # 2027-01-10 10:00 in Seoul is 2027-01-09 20:00 in New York (and 01:00 on the 10th in UTC)
    _call(site_dir, "call", "Asia/Seoul", [("x@a.example", "Asia/Seoul")])
    site_dir.run("sync", check=True)
    out = site_dir.run("agenda", "--from", "2027-01-09", "--days", "1", check=True).stdout.splitlines()
    assert out[0].split()[:3] == ["Date", "New", "York"]  # the site's zone first: it gives the dates
    assert out[2].startswith(f"{date(2027, 1, 9):%a} 2027-01-09  20:00 EST")
