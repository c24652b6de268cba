"""A real CalDAV server (Radicale, in a throw-away venv) accepts a series with its overrides, and its time-range
REPORT finds a moved occurrence at its new time, not at its old one, and no cancelled one (RFC 4791 9.9)."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from xml.etree import ElementTree
from zoneinfo import ZoneInfo

import httpx
import icalendar
import pytest

from meet_sched.config import load_config, load_settings
from meet_sched.ics import IcsRenderer
from meet_sched.model import StoredMeeting

from .conftest import SiteDir
from .smtp_sink import free_port
from .test_overrides import OVERRIDES, SERIES

pytestmark = pytest.mark.slow
BERLIN = ZoneInfo("Europe/Berlin")
NOW = datetime(2026, 12, 1, tzinfo=UTC)
INSTALL_SECONDS = 300
AUTH = ("office", "x")  # Radicale with auth type none takes any name
COLLECTION = "/office/calendar/"


@pytest.fixture(scope="module")
def radicale(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    base = tmp_path_factory.mktemp("radicale")
    venv = base / "venv"
    subprocess.run([sys.base_prefix + "/bin/python3", "-m", "venv", str(venv)], check=True, timeout=INSTALL_SECONDS)
    result = subprocess.run(
        [str(venv / "bin" / "pip"), "install", "-q", "radicale"],
        capture_output=True,
        text=True,
        timeout=INSTALL_SECONDS,
    )
    if result.returncode != 0:
        pytest.skip(f"radicale could not be installed from PyPI here: {result.stderr[-500:]}")
    port = free_port()
    proc = subprocess.Popen(
        [
            str(venv / "bin" / "python"),
            "-m",
            "radicale",
            "--server-hosts",
            f"127.0.0.1:{port}",
            "--auth-type",
            "none",
            "--storage-filesystem-folder",
            str(base / "collections"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                httpx.get(url + "/", auth=AUTH, timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        made = httpx.request("MKCALENDAR", url + COLLECTION, auth=AUTH, timeout=10)
        assert made.status_code == 201, made.text
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _query(url: str, lo: datetime, hi: datetime, *, expand: bool = False) -> list[icalendar.Event]:
    """A calendar-query REPORT with a time-range filter (and the instances expanded, if asked)."""
    span = f'start="{lo:%Y%m%dT%H%M%SZ}" end="{hi:%Y%m%dT%H%M%SZ}"'
    data = f"<C:calendar-data><C:expand {span}/></C:calendar-data>" if expand else "<C:calendar-data/>"
    body = f"""<?xml version="1.0" encoding="utf-8"?>
<C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">
  <D:prop>{data}</D:prop>
  <C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT">
    <C:time-range {span}/>
  </C:comp-filter></C:comp-filter></C:filter>
</C:calendar-query>"""
    answer = httpx.request(
        "REPORT",
        url + COLLECTION,
        content=body.encode(),
        headers={"Depth": "1", "Content-Type": "application/xml"},
        auth=AUTH,
        timeout=30,
    )
    assert answer.status_code == 207, answer.text
    events: list[icalendar.Event] = []
    for node in ElementTree.fromstring(answer.content).iter("{urn:ietf:params:xml:ns:caldav}calendar-data"):
        if node.text:
            events += icalendar.Calendar.from_ical(node.text).walk("VEVENT")
    return events


def _starts(events: list[icalendar.Event]) -> list[datetime]:
    return sorted(e["DTSTART"].dt.astimezone(UTC) for e in events)


def test_radicale_accepts_the_series_and_finds_its_occurrences_where_they_are(site_dir: SiteDir, radicale: str) -> None:
    site_dir.meeting("m.yaml", SERIES + OVERRIDES)
    (meeting,) = load_config(site_dir.root, environ={}).meetings
    renderer = IcsRenderer(load_settings(site_dir.root, environ={}))
    body = renderer.invitation(StoredMeeting(meeting, 0, NOW, NOW, False))
    cal = icalendar.Calendar.from_ical(body)
    del cal["METHOD"]  # a stored calendar object resource carries no iTIP method (RFC 4791 4.1)
    put = httpx.put(
        radicale + COLLECTION + "weekly.ics",
        content=cal.to_ical(),
        headers={"Content-Type": "text/calendar; charset=utf-8"},
        auth=AUTH,
        timeout=30,
    )
    assert put.status_code == 201, put.text

    def around(wall: datetime) -> tuple[datetime, datetime]:
        moment = wall.replace(tzinfo=BERLIN).astimezone(UTC)
        return moment - timedelta(minutes=30), moment + timedelta(minutes=30)

    assert _query(radicale, *around(datetime(2027, 3, 10, 15))), "the moved occurrence at its new time"
    assert _query(radicale, *around(datetime(2027, 3, 9, 10))) == [], "nothing left at its old time"
    assert _query(radicale, *around(datetime(2027, 6, 1, 10))) == [], "the cancelled occurrence is gone"
    assert _query(radicale, *around(datetime(2027, 4, 16, 11))), "a moved rdate at its new time"

    lo, hi = datetime(2027, 3, 1, tzinfo=UTC), datetime(2027, 4, 1, tzinfo=UTC)
    expected = [s.astimezone(UTC) for s in meeting.occurrences(lo, hi)]
    assert len(expected) == 5  # 2, 10 (moved from the 9th), 16, 23 and 29 March (moved from the 30th)
    assert _starts(_query(radicale, lo, hi, expand=True)) == expected
