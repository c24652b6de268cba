"""The words of the emails, in the attendees' languages, and dates formatted for them with Babel.

A small catalogue (ko, zh, vi, en): an attendee whose language has no entry here reads
English, with English dates, rather than a mixture of two languages.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from functools import cache, lru_cache
from typing import Literal

from babel import Locale
from babel.dates import format_date, format_skeleton, format_timedelta

from ..lang import language_of
from ..model import zone_abbreviation

FALLBACK = "en"
__all__ = ["CATALOGUE", "FALLBACK", "Words", "language_of", "words"]

CATALOGUE: dict[str, dict[str, str]] = {
    "en": {
        "subject.reminder": "Reminder: {title} — {when}",
        "subject.request": "Invitation: {title} — {when}",
        "subject.update": "Updated invitation: {title} — {when}",
        "subject.cancel": "Cancelled: {title} — {when}",
        "today": "today",
        "tomorrow": "tomorrow",
        "lead.reminder": "{title} starts {relative}.",
        "lead.request": "You are invited to {title}.",
        "lead.update": "{title} has changed; this is the updated invitation.",
        "lead.cancel": "{title} has been cancelled.",
        "lead.uninvited": "You are no longer invited to {title}.",
        "sep": ": ",
        "label.when": "When",
        "label.zones": "Other time zones",
        "label.duration": "Duration",
        "label.next": "Next meetings",
        "label.shift": "Your local time changes",
        "shift": "from {date}: {time}",
        "label.where": "Where",
        "label.video": "Video call",
        "label.organizer": "Organizer",
        "label.details": "Details",
        "join": "Join the video call",
        "calendar.reminder": "The attached file adds this meeting to your calendar.",
        "calendar.request": (
            "Your calendar program can add this meeting from this message (or open the attached invite.ics)."
        ),
        "calendar.cancel": "Your calendar program can remove this meeting from this message.",
        "footer": "This message was sent automatically; replies go to {organizer}.",
        "test.subject": "Test message from {name}",
        "test.body": "This is a test message from {name}. If you can read it, email delivery works.",
    },
    "ko": {
        "subject.reminder": "알림: {title} — {when}",
        "subject.request": "초대: {title} — {when}",
        "subject.update": "일정 변경: {title} — {when}",
        "subject.cancel": "취소: {title} — {when}",
        "today": "오늘",
        "tomorrow": "내일",
        "lead.reminder": "{title} 회의가 {relative} 시작합니다.",
        "lead.request": "{title} 회의에 초대합니다.",
        "lead.update": "{title} 회의 일정이 변경되었습니다. 변경된 초대장을 보내 드립니다.",
        "lead.cancel": "{title} 회의가 취소되었습니다.",
        "lead.uninvited": "{title} 회의의 참석 대상에서 제외되었습니다.",
        "sep": ": ",
        "label.when": "일시",
        "label.zones": "다른 시간대",
        "label.duration": "소요 시간",
        "label.next": "다음 회의",
        "label.shift": "현지 시각 변경",
        "shift": "{date}부터 {time}",
        "label.where": "장소",
        "label.video": "화상 회의",
        "label.organizer": "주최",
        "label.details": "내용",
        "join": "화상 회의 참여하기",
        "calendar.reminder": "첨부 파일을 열면 이 회의를 캘린더에 추가할 수 있습니다.",
        "calendar.request": (
            "캘린더 프로그램에서 이 메일로 회의를 추가할 수 있습니다(첨부된 invite.ics 파일을 열어도 됩니다)."
        ),
        "calendar.cancel": "캘린더 프로그램에서 이 메일로 회의를 삭제할 수 있습니다.",
        "footer": "이 메일은 자동으로 발송되었습니다. 회신은 {organizer}(으)로 전달됩니다.",
        "test.subject": "{name} 테스트 메일",
        "test.body": "{name}에서 보낸 테스트 메일입니다. 이 메일이 보이면 메일 발송이 정상입니다.",
    },
    "zh": {
        "subject.reminder": "提醒：{title} — {when}",
        "subject.request": "邀请：{title} — {when}",
        "subject.update": "邀请已更新：{title} — {when}",
        "subject.cancel": "已取消：{title} — {when}",
        "today": "今天",
        "tomorrow": "明天",
        "lead.reminder": "{title}将于{relative}开始。",
        "lead.request": "诚邀您参加{title}。",
        "lead.update": "{title}有变更，以下是更新后的邀请。",
        "lead.cancel": "{title}已取消。",
        "lead.uninvited": "您已不在{title}的参会名单中。",
        "sep": "：",
        "label.when": "时间",
        "label.zones": "其他时区",
        "label.duration": "时长",
        "label.next": "后续会议",
        "label.shift": "当地时间变化",
        "shift": "自{date}起 {time}",
        "label.where": "地点",
        "label.video": "视频会议",
        "label.organizer": "组织者",
        "label.details": "详情",
        "join": "加入视频会议",
        "calendar.reminder": "打开附件即可将此会议添加到您的日历。",
        "calendar.request": "您的日历程序可直接从此邮件添加会议（也可打开附件 invite.ics）。",
        "calendar.cancel": "您的日历程序可直接从此邮件删除该会议。",
        "footer": "此邮件由系统自动发送；回复将转至{organizer}。",
        "test.subject": "来自{name}的测试邮件",
        "test.body": "这是来自{name}的测试邮件。如果您能看到此邮件，说明邮件发送正常。",
    },
    "vi": {
        "subject.reminder": "Nhắc lịch: {title} — {when}",
        "subject.request": "Lời mời: {title} — {when}",
        "subject.update": "Cập nhật lời mời: {title} — {when}",
        "subject.cancel": "Đã hủy: {title} — {when}",
        "today": "hôm nay",
        "tomorrow": "ngày mai",
        "lead.reminder": "{title} sẽ bắt đầu {relative}.",
        "lead.request": "Kính mời quý vị tham dự {title}.",
        "lead.update": "{title} đã thay đổi; đây là lời mời đã cập nhật.",
        "lead.cancel": "{title} đã bị hủy.",
        "lead.uninvited": "Quý vị không còn trong danh sách tham dự {title}.",
        "sep": ": ",
        "label.when": "Thời gian",
        "label.zones": "Múi giờ khác",
        "label.duration": "Thời lượng",
        "label.next": "Các buổi họp tiếp theo",
        "label.shift": "Giờ địa phương thay đổi",
        "shift": "từ {date}: {time}",
        "label.where": "Địa điểm",
        "label.video": "Họp trực tuyến",
        "label.organizer": "Người tổ chức",
        "label.details": "Nội dung",
        "join": "Tham gia họp trực tuyến",
        "calendar.reminder": "Mở tệp đính kèm để thêm cuộc họp này vào lịch của quý vị.",
        "calendar.request": "Ứng dụng lịch có thể thêm cuộc họp từ email này (hoặc mở tệp invite.ics đính kèm).",
        "calendar.cancel": "Ứng dụng lịch có thể xóa cuộc họp này khỏi lịch từ email này.",
        "footer": "Email này được gửi tự động; thư trả lời sẽ được chuyển tới {organizer}.",
        "test.subject": "Email thử nghiệm từ {name}",
        "test.body": "Đây là email thử nghiệm từ {name}. Nếu quý vị đọc được email này, việc gửi email đã hoạt động.",
    },
}


class Words:
    """The catalogue and Babel formats of one language."""

    def __init__(self, language: str) -> None:
        self.language = language_of(language)
        self.locale = _locale(self.language)
        self._messages = CATALOGUE[self.language]

    def __call__(self, key: str, **values: str) -> str:
        template = self._messages.get(key) or CATALOGUE[FALLBACK][key]
        return template.format(**values)

    # -- dates and times, always in the zone of the moment given ----------------

    def time(self, moment: datetime) -> str:
        """``10:00 KST``: 24-hour time and the zone's abbreviation."""
        return f"{format_skeleton('Hm', moment, tzinfo=moment.tzinfo, locale=self.locale)} {zone_abbreviation(moment)}"

    def full_date(self, moment: datetime) -> str:
        return format_date(moment.date(), "full", locale=self.locale)

    def short_date(self, moment: datetime, now: datetime) -> str:
        """``Thu, Dec 10`` (with the year when it is not this year's)."""
        skeleton = "MMMEd" if moment.year == now.astimezone(moment.tzinfo).year else "yMMMEd"
        return format_skeleton(skeleton, moment, tzinfo=moment.tzinfo, locale=self.locale)

    def day(self, moment: datetime, now: datetime) -> str:
        """``today``, ``tomorrow`` or a short date, as seen in the zone of ``moment``."""
        days = (moment.date() - now.astimezone(moment.tzinfo).date()).days
        if days == 0:
            return self("today")
        if days == 1:
            return self("tomorrow")
        return self.short_date(moment, now)

    def when(self, moment: datetime, now: datetime) -> str:
        """``tomorrow 10:00 KST``."""
        return _when(self, moment, now.astimezone(moment.tzinfo).date())

    def relative(self, delta: timedelta) -> str:
        """``in 10 minutes`` (``10분 후``, ``10分钟后``, ``sau 10 phút nữa``)."""
        return _relative(self, max(int(delta.total_seconds()), 60))

    def duration(self, value: timedelta) -> str:
        """``1 hour 30 minutes`` (``1시간 30분``, ``1小时30分钟``)."""
        total = int(value.total_seconds())
        parts = []
        units: tuple[tuple[Literal["day", "hour", "minute"], int], ...] = (
            ("day", 86400),
            ("hour", 3600),
            ("minute", 60),
        )
        for unit, size in units:
            n, total = divmod(total, size)
            if n:
                parts.append(
                    format_timedelta(timedelta(seconds=n * size), threshold=1, granularity=unit, locale=self.locale)
                )
        if not parts:
            parts.append(format_timedelta(value, granularity="second", locale=self.locale))
        return ("" if self.language == "zh" else " ").join(parts)


# A burst of messages asks for the same few texts again and again: Babel formats each once.


@lru_cache(maxsize=4096)
def _when(w: Words, moment: datetime, today: date) -> str:
    now = datetime.combine(today, time(12), moment.tzinfo)
    return f"{w.day(moment, now)} {w.time(moment)}"


@lru_cache(maxsize=4096)
def _relative(w: Words, seconds: int) -> str:
    return format_timedelta(timedelta(seconds=seconds), add_direction=True, locale=w.locale)


@cache
def _locale(language: str) -> Locale:
    return Locale.parse(language)


@cache
def words(language: str | None) -> Words:
    return Words(language_of(language))
