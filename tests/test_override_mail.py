"""An override that moves one occurrence: the update of that occurrence says it moved, old time beside the
new one in each recipient's zone and language, and asks for a new answer to it (answers to it are reset,
the other occurrences keep theirs)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

from meet_sched.config import load_settings
from meet_sched.delivery.dispatcher import Dispatcher
from meet_sched.site import Site
from meet_sched.store import attendance
from meet_sched.store.attendance import PartStat, Via

from .conftest import SiteDir
from .mail_helpers import Clock, calendar_of, calendar_part, html_body, smtp_settings, text_body
from .smtp_sink import Received, SmtpSink
from .test_mail_changes import AGAIN, CALL, ELLIS, HA, KIM, LI, T0

SERIES = CALL.replace("duration: 1h\n", "duration: 1h\nrecurrence: FREQ=WEEKLY;COUNT=4\n")
MOVE = "overrides:\n  - occurrence: 2026-12-17\n    start: 2026-12-18T15:00\n"
SECOND = datetime(2026, 12, 17, 1, 0, tzinfo=UTC)  # 10:00 in Daegu
THIRD = datetime(2026, 12, 24, 1, 0, tzinfo=UTC)
UID = "working-call@test.example"  # the file's uid in the calendar's domain


def moved_once(site: SiteDir, sink: SmtpSink, *edits: str) -> tuple[dict[str, Received], Site]:
    """Invite everyone to the series, Kim accepts it; then each of ``edits`` is appended to the file
    in turn, synced and sent.  What each recipient got last, and the site (open: the caller closes it)."""
    site.settings(smtp_settings(sink, delivery='update_quiet = "0s"'))
    path = site.meeting("call.yaml", SERIES)
    clock = Clock(T0)
    s = Site(site.root, load_settings(site.root, environ={}))
    got: dict[str, Received] = {}

    async def main() -> None:
        d = Dispatcher(s, clock=clock)
        try:
            s.sync(clock())
            await d.deliver_due()
            with s.db.transaction(write=True) as session:
                attendance.record(
                    session,
                    meeting_uid=UID,
                    attendee=KIM,
                    partstat=PartStat.ACCEPTED,
                    via=Via.LINK,
                    sequence=0,
                    now=clock(),
                )
            for text in edits:
                sink.clear()
                clock.advance(hours=1)
                with Path(path).open("a", encoding="utf-8") as f:
                    f.write(text)
                s.sync(clock())
                await d.deliver_due()
        finally:
            await d.close()

    asyncio.run(main())
    for r in sink.received:
        (to,) = r.rcpt_tos
        assert to not in got, f"two messages to {to}"
        got[to] = r
    return got, s


def lines(r: Received) -> list[str]:
    return text_body(r.message).splitlines()


def test_a_moved_occurrence_is_shown_beside_its_old_time_in_each_recipients_zone_and_language(
    site_dir: SiteDir, smtp_server: SmtpSink
) -> None:
    got, site = moved_once(site_dir, smtp_server, MOVE)
    site.close()
    assert set(got) == {KIM, LI, HA, ELLIS}
    assert str(got[ELLIS].message["Subject"]) == "Updated invitation: Working call — Fri, Dec 18 01:00 EST"
    assert lines(got[ELLIS])[:5] == [
        "Working call has changed: time. This is the updated invitation." + AGAIN["en"],
        "",
        "When: Friday, December 18, 2026 01:00 EST (Atlanta) (was Wednesday, December 16, 2026 20:00 EST)",
        "Other time zones: Daegu 15:00 KST · Chengdu 14:00 CST · Bac Ninh 13:00 UTC+7",
        "Duration: 1 hour",
    ]
    assert lines(got[KIM])[:3] == [
        "Working call 회의가 변경되었습니다(변경 사항: 시간). 변경된 초대장을 보내 드립니다." + AGAIN["ko"],
        "",
        "일시: 2026년 12월 18일 금요일 15:00 KST (Daegu) (변경 전: 2026년 12월 17일 목요일 10:00 KST)",
    ]
    assert lines(got[LI])[:3] == [
        "Working call有变更（时间），以下是更新后的邀请。" + AGAIN["zh"],
        "",
        "时间：2026年12月18日星期五 14:00 CST (Chengdu) (原为：2026年12月17日星期四 09:00 CST)",
    ]
    assert lines(got[HA])[:3] == [
        "Working call đã thay đổi: thời gian. Đây là lời mời đã cập nhật." + AGAIN["vi"],
        "",
        "Thời gian: Thứ Sáu, 18 tháng 12, 2026 13:00 UTC+7 (Bac Ninh) "
        "(trước đây: Thứ Năm, 17 tháng 12, 2026 8:00 UTC+7)",
    ]
    html = html_body(got[ELLIS].message)
    assert (
        '<del style="color:#8c959f;">Wednesday, December 16, 2026 20:00 EST</del><br>'
        "Friday, December 18, 2026 01:00 EST (Atlanta)</td>"
    ) in html
    (event,) = calendar_of(calendar_part(got[ELLIS].message)).events()
    assert "RECURRENCE-ID" in event  # still about that occurrence alone


def test_moving_an_occurrence_again_shows_the_time_of_the_last_move(site_dir: SiteDir, smtp_server: SmtpSink) -> None:
    again = "    end: 2026-12-18T16:30\n"  # the same override, now longer: the old time is the first move's
    got, site = moved_once(site_dir, smtp_server, MOVE, again)
    site.close()
    assert lines(got[ELLIS])[:5] == [
        "Working call has changed: time. This is the updated invitation." + AGAIN["en"],
        "",
        "When: Friday, December 18, 2026 01:00 EST (Atlanta)",
        "Other time zones: Daegu 15:00 KST · Chengdu 14:00 CST · Bac Ninh 13:00 UTC+7",
        "Duration: 1 hour 30 minutes (was 1 hour)",
    ]


def test_moving_an_occurrence_resets_the_answers_to_it_alone(site_dir: SiteDir, smtp_server: SmtpSink) -> None:
    _, site = moved_once(site_dir, smtp_server, MOVE)
    try:
        with site.db.transaction() as session:
            state = attendance.current(session, UID)
    finally:
        site.close()
    assert state.partstat(KIM, SECOND) is PartStat.NEEDS_ACTION
    assert state.partstat(KIM, THIRD) is PartStat.ACCEPTED
    assert state.partstat(KIM) is PartStat.ACCEPTED
    assert attendance.must_answer(state, KIM, SECOND) and not attendance.must_answer(state, KIM, THIRD)
    assert attendance.must_answer(state, ELLIS, SECOND) and not attendance.must_answer(state, ELLIS)


GUESTS = {  # invited to the second occurrence alone, one per language
    "wang.fang@chengdu.example": ("zh", "邀请：Working call — ", "诚邀您参加Working call。"),
    "park.minjun@daegu.example": ("ko", "초대: Working call — ", "Working call 회의에 초대합니다."),
    "tran.an@bacninh.example": ("vi", "Lời mời: Working call — ", "Kính mời quý vị tham dự Working call."),
    "sam.lee@atlanta.example": ("en", "Invitation: Working call — ", "You are invited to Working call."),
}
UPDATED = ("邀请已更新", "有变更", "변경", "Cập nhật", "đã thay đổi", "Updated", "has changed")


def test_someone_added_to_one_occurrence_alone_gets_a_first_invitation_in_their_language(
    site_dir: SiteDir, smtp_server: SmtpSink
) -> None:
    # the series' attendees as the file lists them (nothing changes for them), then the guests
    series = "".join(f"    {line}\n" for line in CALL.split("attendees:\n", 1)[1].splitlines())
    guests = "".join(
        f"      - {{ email: {e}, timezone: Asia/Seoul, language: {lang} }}\n" for e, (lang, _, _) in GUESTS.items()
    )
    added = "overrides:\n  - occurrence: 2026-12-17\n    attendees:\n" + series + guests
    got, site = moved_once(site_dir, smtp_server, added)
    site.close()
    assert set(got) == set(GUESTS)  # the others hold that occurrence as it still is for them
    for email, (_, subject, lead) in GUESTS.items():
        message = got[email].message
        said = str(message["Subject"])
        assert said.startswith(subject), said
        assert lines(got[email])[0] == lead
        assert not any(word in said or word in lines(got[email])[0] for word in UPDATED)
        (event,) = calendar_of(calendar_part(message)).events()
        assert "RECURRENCE-ID" in event  # a REQUEST of that occurrence alone
