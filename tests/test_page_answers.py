"""The answers on the pages (README "The agenda page"): in the page's language, on a meeting's own page per
occurrence with the answers given for one occurrence alone, and a delegation with the address delegated to."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote
from zoneinfo import ZoneInfo

import pytest

from meet_sched.model import utc
from meet_sched.site import Site
from meet_sched.store import attendance
from meet_sched.store.attendance import PartStat, Via
from meet_sched.web.page import PageRenderer

from .conftest import SiteDir
from .serving import Served
from .test_agenda_page import Cards, browse, squash

pytestmark = [pytest.mark.slow, pytest.mark.browser]

SEOUL = ZoneInfo("Asia/Seoul")
UID = "weekly-call@test.example"
MEETING = """
uid: weekly-call@test.example
title: Weekly call
timezone: Asia/Seoul
city: Daegu
start: {start}T10:00
duration: 1h
recurrence: FREQ=WEEKLY
attendees:
  - {{ name: 김지현, email: jihyun.kim@daegu.example, language: ko, city: Daegu }}
  - {{ name: Li Ming, email: li.ming@chengdu.example, timezone: Asia/Shanghai, city: Chengdu }}
  - {{ name: Nguyễn Thu Hà, email: thuha.nguyen@bacninh.example, timezone: Asia/Ho_Chi_Minh, city: Bac Ninh }}
  - {{ name: Ellis Carter, email: ellis@atlanta.example, timezone: America/New_York, city: Atlanta }}
"""


def _answered(site_dir: SiteDir, public: bool) -> datetime:
    """The weekly call from tomorrow on, answered: Kim and Li accept the series, Li declines the second
    occurrence alone, Ha delegates to someone not in the file, Ellis says nothing.  Returns the second start."""
    site_dir.settings(
        f'[server]\nlisten = "127.0.0.1:0"\npublic_calendars = ["default"]\npublic_attendees = {str(public).lower()}\n'
    )
    tomorrow = (datetime.now(SEOUL) + timedelta(days=1)).date()
    site_dir.meeting("weekly-call.yaml", MEETING.format(start=tomorrow))
    second = utc(datetime.combine(tomorrow + timedelta(days=7), datetime.min.time().replace(hour=10), SEOUL))
    now = datetime.now(UTC)
    site = Site(site_dir.root)
    site.open()
    try:
        site.sync(now)
        with site.db.transaction() as session:
            for who, partstat, occurrence, to in (
                ("jihyun.kim@daegu.example", PartStat.ACCEPTED, None, ()),
                ("li.ming@chengdu.example", PartStat.ACCEPTED, None, ()),
                ("li.ming@chengdu.example", PartStat.DECLINED, second, ()),
                ("thuha.nguyen@bacninh.example", PartStat.DELEGATED, None, ("wang.fang@chengdu.example",)),
            ):
                attendance.record(
                    session,
                    meeting_uid=UID,
                    attendee=who,
                    partstat=partstat,
                    via=Via.IMIP,
                    sequence=0,
                    now=now,
                    occurrence=occurrence,
                    delegated_to=to,
                )
    finally:
        site.close()
    return second


@pytest.fixture
def served(site_dir: SiteDir) -> Iterator[Served]:
    _answered(site_dir, public=True)
    server = Served(site_dir.root)
    try:
        yield server
    finally:
        assert server.stop() == 0, server.log


def _cards(served: Served, path: str, tmp: Path) -> list[str]:
    dom = browse(served.url + path, tmp, "--dump-dom").stdout
    page = Cards()
    page.feed(dom)
    return [squash(c) for c in page.cards]


EXPECTED = {
    # language: (the first occurrence's answers, the second's, and its answer for that occurrence alone)
    "en": (
        "2 accepted: 김지현, Li Ming 0 tentative 0 declined 1 no answer: Ellis Carter "
        "1 delegated: Nguyễn Thu Hà (delegated to wang.fang@chengdu.example)",
        "1 accepted: 김지현 0 tentative 1 declined: Li Ming 1 no answer: Ellis Carter "
        "1 delegated: Nguyễn Thu Hà (delegated to wang.fang@chengdu.example)",
        "Li Ming: declined for this meeting only",
    ),
    "ko": (
        "2명 수락: 김지현, Li Ming 0명 미정 0명 거절 1명 아직 회신 없음: Ellis Carter "
        "1명 위임: Nguyễn Thu Hà(wang.fang@chengdu.example에게 위임)",
        "1명 수락: 김지현 0명 미정 1명 거절: Li Ming 1명 아직 회신 없음: Ellis Carter "
        "1명 위임: Nguyễn Thu Hà(wang.fang@chengdu.example에게 위임)",
        "Li Ming: 이번 회의만 거절",
    ),
    "vi": (
        "2 chấp nhận: 김지현, Li Ming 0 có thể 0 từ chối 1 chưa trả lời: Ellis Carter "
        "1 đã ủy quyền: Nguyễn Thu Hà (đã ủy quyền cho wang.fang@chengdu.example)",
        "1 chấp nhận: 김지현 0 có thể 1 từ chối: Li Ming 1 chưa trả lời: Ellis Carter "
        "1 đã ủy quyền: Nguyễn Thu Hà (đã ủy quyền cho wang.fang@chengdu.example)",
        "Li Ming: từ chối riêng cuộc họp này",
    ),
}


@pytest.mark.parametrize("language", sorted(EXPECTED))
def test_the_meeting_page_shows_each_occurrences_answers(served: Served, tmp_path: Path, language: str) -> None:
    first, second, only = EXPECTED[language]
    cards = _cards(served, f"/meetings/{quote(UID, safe='')}?lang={language}", tmp_path / "profile")
    assert len(cards) >= 3, cards
    assert cards[0].endswith(first), cards[0]
    assert cards[1].endswith(f"{second} {only}"), cards[1]
    assert cards[2].endswith(first), cards[2]  # the series answers again: the decline was for one occurrence
    assert all(only not in c for c in (cards[0], *cards[2:]))


def test_the_agenda_shows_the_answers_in_korean(served: Served, tmp_path: Path) -> None:
    first, second, only = EXPECTED["ko"]
    cards = _cards(served, "/?lang=ko", tmp_path / "profile")
    assert cards[0].endswith(first) and cards[1].endswith(f"{second} {only}"), cards[:2]


def test_without_public_attendees_the_pages_show_counts_only(site_dir: SiteDir) -> None:
    _answered(site_dir, public=False)
    site = Site(site_dir.root)
    site.open()
    try:
        renderer = PageRenderer(site, lambda: datetime.now(UTC), "")
        page = renderer.render(datetime.now(UTC), "zh", ("meeting", UID))
    finally:
        site.close()
    assert page is not None
    cards = Cards()
    cards.feed(page.html)
    first, second = (squash(c) for c in cards.cards[:2])
    assert first.endswith("2人 接受 0人 待定 0人 拒绝 1人 尚未回复 1人 已委托")
    assert second.endswith("1人 接受 0人 待定 1人 拒绝 1人 尚未回复 1人 已委托 1人仅对此次会议另行回复")
    assert "Li Ming" not in page.html and "wang.fang" not in page.html
