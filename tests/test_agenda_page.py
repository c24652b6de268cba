"""The agenda page in a real browser (headless Chromium): the meetings, every city's time, the strips."""

from __future__ import annotations

import os
import re
import shutil
import struct
import subprocess
from collections.abc import Iterator
from datetime import datetime, time, timedelta
from html.parser import HTMLParser
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from babel.dates import format_skeleton

from meet_sched.workhours import day_off

from .conftest import REPO, SiteDir
from .serving import Served, serving

pytestmark = [pytest.mark.slow, pytest.mark.browser]

ARTIFACTS = REPO / "test-artifacts"
SEOUL = ZoneInfo("Asia/Seoul")


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed (apt-get install chromium; .ci/run does it)")
        pytest.skip("chromium is not installed")
    return found


def browse(url: str, tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = [
        chromium(),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
        f"--user-data-dir={tmp}",
        *args,
        url,
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=90)
    assert result.returncode == 0, result.stderr[-2000:]
    return result


class Cards(HTMLParser):
    """The visible text of each meeting card, and a few elements the tests look for."""

    def __init__(self) -> None:
        super().__init__()
        self.cards: list[str] = []
        self.links: list[str] = []
        self.strip_rows: list[list[str]] = []
        self._depth = 0
        self._in_city_label = False
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        classes = (a.get("class") or "").split()
        if tag == "a" and a.get("href"):
            self.links.append(str(a["href"]))
        if tag in ("title", "style"):
            self._skip += 1
        if tag == "svg" and "strip" in classes:
            self.strip_rows.append([])
        if tag == "text" and "city" in classes:
            self._in_city_label = True
        if tag == "article" and "meeting-card" in classes:
            self._depth = 1
            self.cards.append("")
        elif self._depth and tag == "article":
            self._depth += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in ("title", "style"):
            self._skip -= 1
        if tag == "text":
            self._in_city_label = False
        if tag == "article" and self._depth:
            self._depth -= 1

    def handle_data(self, data: str) -> None:
        if self._in_city_label and self.strip_rows:
            self.strip_rows[-1].append(data.strip())
        if self._depth and not self._skip:
            self.cards[-1] += data


def squash(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


@pytest.fixture
def site(site_dir: SiteDir) -> SiteDir:
    tomorrow = (datetime.now(SEOUL) + timedelta(days=1)).date()
    later = tomorrow + timedelta(days=2)
    site_dir.settings(
        """
        [server]
        listen = "127.0.0.1:0"
        base_url = "https://meet.example.org"
        public_calendars = ["sister-cities"]
        working_hours_by_zone = { "Asia/Ho_Chi_Minh" = "08:00-17:00" }
        """
    )
    site_dir.meeting(
        "working-call.yaml",
        f"""
        uid: working-call
        calendar: sister-cities
        title: Daegu–Chengdu–Bac Ninh working call
        city: Daegu
        timezone: Asia/Seoul
        start: {tomorrow}T10:00
        duration: 1h
        video_url: https://video.test.example/r/working-call
        attendees:
          - {{ name: Kim, email: kim@daegu.example, city: Daegu }}
          - {{ name: Li, email: li@chengdu.example, timezone: Asia/Shanghai, city: Chengdu }}
          - {{ name: Ha, email: ha@bacninh.example, timezone: Asia/Ho_Chi_Minh, city: Bac Ninh }}
        """,
    )
    site_dir.meeting(
        "atlanta.yaml",
        f"""
        uid: atlanta
        calendar: sister-cities
        title: Daegu–Atlanta call <b>&amp; friends</b>
        city: Daegu
        timezone: Asia/Seoul
        start: {later}T08:00
        duration: 45m
        status: tentative
        attendees:
          - {{ name: Jordan, email: jordan@atlanta.example, timezone: America/New_York, city: Atlanta }}
        """,
    )
    site_dir.meeting(
        "internal.yaml",
        f"""
        uid: internal
        calendar: internal
        title: Budget review (internal)
        timezone: Asia/Seoul
        start: {tomorrow}T15:00
        duration: 1h
        """,
    )
    return site_dir


@pytest.fixture
def served(site: SiteDir) -> Iterator[Served]:
    with serving(site.root) as server:
        yield server


def test_the_page_shows_each_meeting_in_every_city(site: SiteDir, served: Served, tmp_path: Path) -> None:
    dom = browse(served.url + "/", tmp_path / "profile-dom", "--dump-dom").stdout
    page = Cards()
    page.feed(dom)
    assert len(page.cards) == 2, page.cards
    working, atlanta = (squash(c) for c in page.cards)

    assert "Daegu–Chengdu–Bac Ninh working call" in working
    assert "Daegu 10:00 KST" in working
    assert "Chengdu 09:00 CST" in working
    assert "Bac Ninh 08:00 UTC+7" in working
    assert "1 h" in working
    tomorrow = (datetime.now(SEOUL) + timedelta(days=1)).date()
    later = tomorrow + timedelta(days=2)
    if any(day_off(ZoneInfo(z), tomorrow) for z in ("Asia/Seoul", "Asia/Shanghai", "Asia/Ho_Chi_Minh")):
        assert "No working hours shared by all these cities on this day." in working
    else:
        overlap = "Daegu 10:00–18:00 KST · Chengdu 09:00–17:00 CST · Bac Ninh 08:00–16:00 UTC+7"
        assert f"Everyone is at work: {overlap}" in working

    # config text is shown as text, never as markup
    assert "Daegu–Atlanta call <b>&amp; friends</b>" in atlanta
    assert "tentative" in atlanta
    assert "Daegu 08:00 KST" in atlanta
    evening = datetime.combine(later, time(8), SEOUL).astimezone(ZoneInfo("America/New_York"))
    day_before = format_skeleton("MMMEd", evening, tzinfo=evening.tzinfo, locale="en")  # dates through Babel
    assert f"Atlanta {evening:%H:%M} {evening.tzname()} {day_before}" in atlanta  # the evening before, in Atlanta
    assert "Budget review" not in dom  # not a public calendar

    # one strip per card (plus today's overview), a row per city
    assert ["Daegu", "Chengdu", "Bac Ninh"] in page.strip_rows
    assert ["Daegu", "Atlanta"] in page.strip_rows
    assert page.strip_rows[0] == ["Daegu", "Chengdu", "Bac Ninh", "Atlanta"]
    assert "webcal://meet.example.org/calendars/sister-cities.ics" in page.links
    assert any(link.startswith("https://calendar.google.com/") for link in page.links)
    assert "https://video.test.example/r/working-call" in page.links


@pytest.mark.parametrize(("name", "width", "height"), [("desktop", 1280, 1800), ("phone", 390, 2200)])
def test_screenshots(served: Served, tmp_path: Path, name: str, width: int, height: int) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / f"agenda-page-{name}.png"
    shot.unlink(missing_ok=True)
    browse(served.url + "/", tmp_path / f"profile-{name}", f"--screenshot={shot}", f"--window-size={width},{height}")
    assert png_size(shot) == (width, height)
    assert shot.stat().st_size > 20_000  # a rendered page, not a blank one
