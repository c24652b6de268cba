"""The page's dates and headings read as a native speaker writes them (CLDR patterns, not pieces glued together):
month titles, the week view's day headings, "this week" on the current week only, day counts in their plural form."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from meet_sched.service import Service
from meet_sched.site import Site
from meet_sched.web.app import create_app

from .conftest import SiteDir
from .serving import web_state

NOW = datetime(2027, 4, 7, 3, 0, tzinfo=UTC)  # Wednesday 7 April 2027, noon in Seoul (the display zone)
CALL = """
uid: weekly-call
title: Weekly call
timezone: Asia/Seoul
start: 2027-04-05T10:00
duration: 1h
recurrence: FREQ=WEEKLY;COUNT=10
attendees:
  - { email: kim@daegu.example, language: ko }
"""
MONTH = {"en": "April 2027", "ko": "2027년 4월", "zh": "2027年4月", "vi": "tháng 4 năm 2027"}
# The week of 5 April 2027: each day's heading, Monday and Sunday
DAYS = {
    "en": ("Mon, Apr 5", "Sun, Apr 11"),
    "ko": ("4월 5일 (월)", "4월 11일 (일)"),
    "zh": ("4月5日周一", "4月11日周日"),
    "vi": ("Thứ 2, 5 thg 4", "CN, 11 thg 4"),
}
WEEK = {  # the heading of the current week, and of the next one
    "en": ("This week, from Monday, April 5, 2027", "Week of Monday, April 12, 2027"),
    "ko": ("이번 주(2027년 4월 5일 월요일부터)", "2027년 4월 12일 월요일부터 한 주"),
    "zh": ("本周（2027年4月5日星期一起）", "2027年4月12日星期一起的一周"),
    "vi": ("Tuần này, từ Thứ Hai, 5 tháng 4, 2027", "Tuần từ Thứ Hai, 12 tháng 4, 2027"),
}
NEXT_DAYS = {  # the list's heading for 1 and for 2 days ahead
    "en": ("Next 1 day", "Next 2 days"),
    "ko": ("앞으로 1일", "앞으로 2일"),
    "zh": ("未来 1 天", "未来 2 天"),
    "vi": ("1 ngày tới", "2 ngày tới"),
}


def pages(root: Path, paths: list[str]) -> list[str]:
    """The HTML of each path, from the app in-process, its clock at NOW."""
    site = Site(root)
    site.open()

    def clock() -> datetime:
        return NOW

    async def main() -> list[str]:
        service = Service(site, clock=clock)
        web = web_state(service, clock=clock)
        transport = httpx.ASGITransport(app=create_app(web))
        out = []
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            for path in paths:
                response = await client.get(path)
                assert response.status_code == 200, (path, response.text[:500])
                out.append(response.text)
        return out

    try:
        site.sync(NOW)
        return asyncio.run(main())
    finally:
        site.close()


def headings(html: str) -> list[str]:
    return [re.sub(r"<[^>]+>", "", h).strip() for h in re.findall(r"<h[12][^>]*>(.*?)</h[12]>", html, re.S)]


@pytest.fixture
def site(site_dir: SiteDir) -> SiteDir:
    site_dir.settings('timezone = "Asia/Seoul"\n[server]\npublic_calendars = ["default"]\nagenda_days = 1\n')
    site_dir.meeting("call.yaml", CALL)
    return site_dir


@pytest.mark.parametrize("language", list(MONTH))
def test_month_titles_and_week_headings_in_each_language(site: SiteDir, language: str) -> None:
    month, this_week, next_week = pages(
        site.root, [f"/month/2027-04?lang={language}", f"/week?lang={language}", f"/week/2027-W15?lang={language}"]
    )
    assert headings(month) == [MONTH[language]]
    assert f"<title>{MONTH[language]} · " in month
    found = headings(this_week)
    assert found[0] == WEEK[language][0]
    assert found[1] == DAYS[language][0] and found[-1] == DAYS[language][1]
    assert len(found) == 1 + 7  # the week, its seven days
    assert headings(next_week)[0] == WEEK[language][1]  # "this week" on the current week only


@pytest.mark.parametrize("language", list(NEXT_DAYS))
def test_the_number_of_days_ahead_takes_its_plural_form(site: SiteDir, language: str) -> None:
    [one] = pages(site.root, [f"/?lang={language}"])
    assert NEXT_DAYS[language][0] in headings(one)
    site.settings('timezone = "Asia/Seoul"\n[server]\npublic_calendars = ["default"]\nagenda_days = 2\n')
    [two] = pages(site.root, [f"/?lang={language}"])
    assert NEXT_DAYS[language][1] in headings(two)
