"""An update names what changed since the version its recipient last received — old value beside new,
in their language and zone — and a change of attendees alone reaches only the people it concerns."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from meet_sched.config import load_settings
from meet_sched.delivery.dispatcher import Dispatcher
from meet_sched.site import Site

from .conftest import SiteDir
from .mail_helpers import Clock, calendar_of, calendar_part, html_body, smtp_settings, text_body
from .smtp_sink import Received, SmtpSink

T0 = datetime(2026, 12, 1, 0, 0, tzinfo=UTC)
KIM, LI, HA, ELLIS = (
    "jihyun.kim@daegu.example",
    "li.ming@chengdu.example",
    "thuha.nguyen@bacninh.example",
    "jordan.ellis@atlanta.example",
)
NEW = "park.minjun@daegu.example"

CALL = """
uid: working-call
title: Working call
location: City Hall, room 301
video_url: https://video.daegu.example/r/working-call
city: Daegu
timezone: Asia/Seoul
start: 2026-12-10T10:00
duration: 1h
organizer: { name: Daegu International Relations Office, email: intl@daegu.example }
reminders: []
attendees:
  - { name: 김지현, email: jihyun.kim@daegu.example, language: ko, city: Daegu }
  - { name: 李明, email: li.ming@chengdu.example, timezone: Asia/Shanghai, language: zh, city: Chengdu }
  - name: Nguyễn Thu Hà
    email: thuha.nguyen@bacninh.example
    timezone: Asia/Ho_Chi_Minh
    language: vi
    city: Bac Ninh
  - { name: Jordan Ellis, email: jordan.ellis@atlanta.example, timezone: America/New_York, city: Atlanta }
"""


# An update after a change of time or dates asks for a new answer too (answers are reset, as
# Google Calendar does): the sentence that follows the lead, in each language.
AGAIN = {
    "en": " The time has changed: please answer the invitation again.",
    "ko": " 시간이 변경되었으니 초대에 다시 응답해 주세요.",
    "zh": " 时间已更改，请重新回复此邀请。",
    "vi": " Thời gian đã thay đổi; xin vui lòng trả lời lại lời mời.",
}


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new), encoding="utf-8")


def after_edit(site: SiteDir, sink: SmtpSink, change: Callable[[Path], None], body: str = CALL) -> dict[str, Received]:
    """Invite everyone, apply ``change`` to the file, sync and send: what each recipient got the second time."""
    site.settings(smtp_settings(sink, delivery='update_quiet = "0s"'))
    path = site.meeting("call.yaml", body)
    clock = Clock(T0)
    got: dict[str, Received] = {}

    async def main() -> None:
        s = Site(site.root, load_settings(site.root, environ={}))
        d = Dispatcher(s, clock=clock)
        try:
            s.sync(clock())
            await d.deliver_due()
            sink.clear()
            clock.advance(hours=1)
            change(path)
            s.sync(clock())
            await d.deliver_due()
        finally:
            await d.close()
            s.close()

    asyncio.run(main())
    for r in sink.received:
        (to,) = r.rcpt_tos
        assert to not in got, f"two messages to {to}"
        got[to] = r
    return got


def subject(r: Received) -> str:
    return str(r.message["Subject"])


def lines(r: Received) -> list[str]:
    return text_body(r.message).splitlines()


def moved(path: Path) -> None:
    edit(path, "start: 2026-12-10T10:00", "start: 2026-12-10T15:00")


def test_a_new_time_is_shown_beside_the_old_one_in_each_recipients_zone_and_language(
    site_dir: SiteDir, smtp_server: SmtpSink
) -> None:
    got = after_edit(site_dir, smtp_server, moved)
    assert set(got) == {KIM, LI, HA, ELLIS}
    organizer = "Daegu International Relations Office <intl@daegu.example>"
    video = "https://video.daegu.example/r/working-call"
    assert subject(got[ELLIS]) == "Updated invitation: Working call — Thu, Dec 10 01:00 EST"
    assert lines(got[ELLIS]) == [
        "Working call has changed: time. This is the updated invitation." + AGAIN["en"],
        "",
        "When: Thursday, December 10, 2026 01:00 EST (Atlanta) (was Wednesday, December 9, 2026 20:00 EST)",
        "Other time zones: Daegu 15:00 KST · Chengdu 14:00 CST · Bac Ninh 13:00 UTC+7",
        "Duration: 1 hour",
        "Where: City Hall, room 301",
        f"Video call: {video}",
        f"Organizer: {organizer}",
        "",
        "Your calendar program can add this meeting from this message (or open the attached invite.ics).",
        "",
        "-- ",
        f"This message was sent automatically; replies go to {organizer}.",
    ]
    assert subject(got[KIM]) == "변경된 초대: Working call — 12월 10일 (목) 15:00 KST"
    assert lines(got[KIM])[:4] == [
        "Working call 회의가 변경되었습니다(변경 사항: 시간). 변경된 초대장을 보내 드립니다." + AGAIN["ko"],
        "",
        "일시: 2026년 12월 10일 목요일 15:00 KST (Daegu) (변경 전: 2026년 12월 10일 목요일 10:00 KST)",
        "다른 시간대: Chengdu 14:00 CST · Bac Ninh 13:00 UTC+7 · Atlanta 01:00 EST",
    ]
    assert subject(got[LI]) == "邀请已更新：Working call — 12月10日周四 14:00 CST"
    assert lines(got[LI])[:3] == [
        "Working call有变更（时间），以下是更新后的邀请。" + AGAIN["zh"],
        "",
        "时间：2026年12月10日星期四 14:00 CST (Chengdu) (原为：2026年12月10日星期四 09:00 CST)",
    ]
    assert subject(got[HA]).startswith("Cập nhật lời mời: Working call — ")
    assert lines(got[HA])[:3] == [
        "Working call đã thay đổi: thời gian. Đây là lời mời đã cập nhật." + AGAIN["vi"],
        "",
        "Thời gian: Thứ Năm, 10 tháng 12, 2026 13:00 UTC+7 (Bac Ninh) "
        "(trước đây: Thứ Năm, 10 tháng 12, 2026 8:00 UTC+7)",
    ]
    # HTML: the old time struck through above the new one, as calendar programs show it.
    html = html_body(got[ELLIS].message)
    assert (
        '<del style="color:#8c959f;">Wednesday, December 9, 2026 20:00 EST</del><br>'
        "Thursday, December 10, 2026 01:00 EST (Atlanta)</td>"
    ) in html
    (event,) = calendar_of(calendar_part(got[ELLIS].message)).events()
    assert int(event["SEQUENCE"]) == 1


CHANGES: dict[str, tuple[Callable[[Path], None], dict[str, list[str]]]] = {
    "place": (
        lambda p: edit(p, "location: City Hall, room 301", "location: Chengdu Foreign Affairs Office"),
        {
            ELLIS: [
                "Working call has changed: place. This is the updated invitation.",
                "Where: Chengdu Foreign Affairs Office (was City Hall, room 301)",
            ],
            KIM: [
                "Working call 회의가 변경되었습니다(변경 사항: 장소). 변경된 초대장을 보내 드립니다.",
                "장소: Chengdu Foreign Affairs Office (변경 전: City Hall, room 301)",
            ],
            LI: [
                "Working call有变更（地点），以下是更新后的邀请。",
                "地点：Chengdu Foreign Affairs Office (原为：City Hall, room 301)",
            ],
            HA: [
                "Working call đã thay đổi: địa điểm. Đây là lời mời đã cập nhật.",
                "Địa điểm: Chengdu Foreign Affairs Office (trước đây: City Hall, room 301)",
            ],
        },
    ),
    "video link": (
        lambda p: edit(p, "/r/working-call", "/r/working-call-2"),
        {
            ELLIS: [
                "Working call has changed: video link. This is the updated invitation.",
                "Video call: https://video.daegu.example/r/working-call-2 (was https://video.daegu.example/r/working-call)",
            ],
            KIM: [
                "Working call 회의가 변경되었습니다(변경 사항: 화상 회의 링크). 변경된 초대장을 보내 드립니다.",
                "화상 회의: https://video.daegu.example/r/working-call-2 (변경 전: https://video.daegu.example/r/working-call)",
            ],
            LI: [
                "Working call有变更（视频会议链接），以下是更新后的邀请。",
                "视频会议：https://video.daegu.example/r/working-call-2 (原为：https://video.daegu.example/r/working-call)",
            ],
            HA: [
                "Working call đã thay đổi: liên kết họp trực tuyến. Đây là lời mời đã cập nhật.",
                "Họp trực tuyến: https://video.daegu.example/r/working-call-2 "
                "(trước đây: https://video.daegu.example/r/working-call)",
            ],
        },
    ),
    "title": (
        lambda p: edit(p, "title: Working call", "title: Sister-city working call"),
        {
            ELLIS: [
                "Sister-city working call has changed: title. This is the updated invitation.",
                "Title: Sister-city working call (was Working call)",
            ],
            KIM: [
                "Sister-city working call 회의가 변경되었습니다(변경 사항: 제목). 변경된 초대장을 보내 드립니다.",
                "제목: Sister-city working call (변경 전: Working call)",
            ],
            LI: [
                "Sister-city working call有变更（标题），以下是更新后的邀请。",
                "标题：Sister-city working call (原为：Working call)",
            ],
            HA: [
                "Sister-city working call đã thay đổi: tiêu đề. Đây là lời mời đã cập nhật.",
                "Tiêu đề: Sister-city working call (trước đây: Working call)",
            ],
        },
    ),
    "recurrence": (
        lambda p: edit(p, "duration: 1h\n", "duration: 1h\nrecurrence: FREQ=WEEKLY;COUNT=3\n"),
        {
            ELLIS: [
                "Working call has changed: recurrence. This is the updated invitation." + AGAIN["en"],
                "Next meetings: Wed, Dec 16 20:00 EST · Wed, Dec 23 20:00 EST (was none)",
            ],
            KIM: [
                "Working call 회의가 변경되었습니다(변경 사항: 반복 일정). 변경된 초대장을 보내 드립니다."
                + AGAIN["ko"],
                "다음 회의: 12월 17일 (목) 10:00 KST · 12월 24일 (목) 10:00 KST (변경 전: 없음)",
            ],
            LI: [
                "Working call有变更（重复规则），以下是更新后的邀请。" + AGAIN["zh"],
                "后续会议：12月17日周四 09:00 CST · 12月24日周四 09:00 CST (原为：无)",
            ],
            HA: [
                "Working call đã thay đổi: lịch lặp lại. Đây là lời mời đã cập nhật." + AGAIN["vi"],
                "Các buổi họp tiếp theo: Thứ 5, 17 thg 12 8:00 UTC+7 · Thứ 5, 24 thg 12 8:00 UTC+7 "
                "(trước đây: không có)",
            ],
        },
    ),
}


@pytest.mark.parametrize("what", list(CHANGES))
def test_each_kind_of_change_is_named_with_its_old_value_in_every_language(
    site_dir: SiteDir, smtp_server: SmtpSink, what: str
) -> None:
    change, expected = CHANGES[what]
    got = after_edit(site_dir, smtp_server, change)
    assert set(got) == set(expected)
    for to, (lead, row) in expected.items():
        body = lines(got[to])
        assert body[0] == lead, to
        assert row in body, (to, body)
        assert (
            sum(
                " (was " in line or "(변경 전: " in line or "(原为：" in line or "(trước đây: " in line for line in body
            )
            == 1
        )


def test_an_added_attendee_is_invited_a_removed_one_uninvited_and_nobody_else_mailed(
    site_dir: SiteDir, smtp_server: SmtpSink
) -> None:
    def swap(path: Path) -> None:
        text = path.read_text(encoding="utf-8")
        text = "\n".join(line for line in text.splitlines() if LI not in line)
        path.write_text(text + f"\n  - {{ name: 박민준, email: {NEW}, language: ko }}\n", encoding="utf-8")

    got = after_edit(site_dir, smtp_server, swap)
    assert set(got) == {LI, NEW}
    assert subject(got[NEW]) == "초대: Working call — 12월 10일 (목) 10:00 KST"
    assert lines(got[NEW])[0] == "Working call 회의에 초대합니다."
    # Not "cancelled": the meeting goes on, without him.
    assert subject(got[LI]) == "已移出参会名单：Working call — 12月10日周四 09:00 CST"
    assert lines(got[LI])[0] == "您已不在Working call的参会名单中。"
    assert calendar_part(got[LI].message).get_param("method") == "CANCEL"


UNINVITED = {
    "en": ("No longer invited: Working call — Wed, Dec 9 20:00 EST", "You are no longer invited to Working call."),
    "ko": (
        "참석 대상 제외: Working call — 12월 10일 (목) 10:00 KST",
        "Working call 회의의 참석 대상에서 제외되었습니다.",
    ),
    "vi": (
        "Không còn được mời: Working call — Thứ 5, 10 thg 12 8:00 UTC+7",
        "Quý vị không còn trong danh sách tham dự Working call.",
    ),
}


def test_the_uninvited_subject_in_each_language(site_dir: SiteDir, smtp_server: SmtpSink) -> None:
    gone = {"en": ELLIS, "ko": KIM, "vi": HA}

    def remove(path: Path) -> None:
        text = path.read_text(encoding="utf-8")
        text = text.split("  - name: Nguyễn Thu Hà")[0] + text.split("    city: Bac Ninh\n")[1]
        path.write_text("\n".join(x for x in text.splitlines() if not any(a in x for a in gone.values())) + "\n")

    got = after_edit(site_dir, smtp_server, remove)
    assert set(got) == set(gone.values())
    for language, to in gone.items():
        assert (subject(got[to]), lines(got[to])[0]) == UNINVITED[language]


def test_when_the_meeting_changes_too_everyone_is_told_and_the_attendees_are_listed(
    site_dir: SiteDir, smtp_server: SmtpSink
) -> None:
    def both(path: Path) -> None:
        moved(path)
        text = "\n".join(line for line in path.read_text(encoding="utf-8").splitlines() if LI not in line)
        path.write_text(text + f"\n  - {{ name: 박민준, email: {NEW}, language: ko }}\n", encoding="utf-8")

    got = after_edit(site_dir, smtp_server, both)
    assert set(got) == {KIM, HA, ELLIS, LI, NEW}
    body = lines(got[ELLIS])
    assert body[0] == "Working call has changed: time and attendees. This is the updated invitation." + AGAIN["en"]
    assert body[-7:-5] == ["Added: 박민준", "Removed: 李明"]
    assert (
        lines(got[KIM])[0]
        == "Working call 회의가 변경되었습니다(변경 사항: 시간 및 참석자). 변경된 초대장을 보내 드립니다." + AGAIN["ko"]
    )
    assert "추가된 참석자: 박민준" in lines(got[KIM]) and "제외된 참석자: 李明" in lines(got[KIM])
    lead = "Working call đã thay đổi: thời gian và người tham dự. Đây là lời mời đã cập nhật."
    assert lines(got[HA])[0] == lead + AGAIN["vi"]
    assert lines(got[NEW])[0] == "Working call 회의에 초대합니다."  # new to it: an invitation, not a change
