"""The words of the emails, in the attendees' languages, and dates formatted for them with Babel.

A small catalogue (ko, zh, vi, en): an attendee whose language has no entry here reads
English, with English dates, rather than a mixture of two languages.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from functools import cache, lru_cache
from typing import Literal

from babel import Locale
from babel.dates import format_date, format_interval, format_skeleton, format_timedelta
from babel.lists import format_list

from ..lang import language_of
from ..localtimes import zone_abbreviation

FALLBACK = "en"
__all__ = ["CATALOGUE", "FALLBACK", "Words", "language_of", "words"]

CATALOGUE: dict[str, dict[str, str]] = {
    "en": {
        "subject.uninvited": "No longer invited: {title} — {when}",
        "feed.subject": "Your calendar of {name}",
        "feed.lead": "Your meetings of {name}, with your own reminders, as a calendar you can subscribe to:",
        "feed.webcal": "Calendar program (Outlook, Apple Calendar, Thunderbird)",
        "feed.https": "Google Calendar (From URL) or any other",
        "feed.private": "This link is yours alone: anyone who has it can read your meetings. "
        "Any earlier link no longer works.",
        "notice.rejected.subject": "{name}: a configuration change was not applied",
        "notice.rejected.body": (
            "The running service did not apply the last change to the configuration; "
            "meetings and emails stay as they were. The problems:"
        ),
        "notice.more": "… and {count} more",
        "notice.rejected.after": "Fix them and save again: one more message will say when the change is applied.",
        "notice.fixed.subject": "{name}: the configuration is applied again",
        "notice.fixed.body": "The configuration is valid again and the running service has applied it.",
        "lead.changed": "{title} has changed: {changes}. This is the updated invitation.",
        "change.time": "time",
        "change.recurrence": "recurrence",
        "change.title": "title",
        "change.place": "place",
        "change.video": "video link",
        "change.attendees": "attendees",
        "change.details": "details",
        "was": "was {old}",
        "none": "none",
        "label.title": "Title",
        "label.added": "Added",
        "label.removed": "Removed",
        "subject.reminder": "Reminder: {title} — {when}",
        "subject.request": "Invitation: {title} — {when}",
        "subject.update": "Updated invitation: {title} — {when}",
        "subject.cancel": "Cancelled: {title} — {when}",
        "today": "today",
        "tomorrow": "tomorrow",
        "lead.reminder": "{title} starts {relative}.",
        "lead.reminder.all_day": "{title} is {day}, all day.",
        "all_day": "all day",
        "lead.request": "You are invited to {title}.",
        "lead.update": "{title} has changed; this is the updated invitation.",
        "lead.answer_again": "The time has changed: please answer the invitation again.",
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
        "label.holiday": "Public holiday",
        "holiday": "{name}, a public holiday where you are",
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
        "subject.uninvited": "참석 대상 제외: {title} — {when}",
        "feed.subject": "{name} 내 캘린더 구독 링크",
        "feed.lead": "{name}의 내 회의를 내 알림 설정과 함께 구독할 수 있는 캘린더입니다:",
        "feed.webcal": "캘린더 프로그램(Outlook, Apple 캘린더, Thunderbird)",
        "feed.https": "Google 캘린더(URL로 추가) 등",
        "feed.private": "이 링크는 본인 전용입니다. 링크를 가진 사람은 누구나 회의를 볼 수 있습니다. "
        "이전 링크는 더 이상 작동하지 않습니다.",
        "notice.rejected.subject": "{name}: 설정 변경이 적용되지 않았습니다",
        "notice.rejected.body": (
            "실행 중인 서비스가 마지막 설정 변경을 적용하지 않았습니다. 회의와 메일은 이전 상태 그대로입니다. 문제:"
        ),
        "notice.more": "… 외 {count}건",
        "notice.rejected.after": "문제를 고친 뒤 다시 저장하십시오. 변경이 적용되면 메일을 한 번 더 보내 드립니다.",
        "notice.fixed.subject": "{name}: 설정이 다시 적용되었습니다",
        "notice.fixed.body": "설정이 다시 올바르며 실행 중인 서비스에 적용되었습니다.",
        "lead.changed": "{title} 회의가 변경되었습니다(변경 사항: {changes}). 변경된 초대장을 보내 드립니다.",
        "change.time": "시간",
        "change.recurrence": "반복 일정",
        "change.title": "제목",
        "change.place": "장소",
        "change.video": "화상 회의 링크",
        "change.attendees": "참석자",
        "change.details": "내용",
        "was": "변경 전: {old}",
        "none": "없음",
        "label.title": "제목",
        "label.added": "추가된 참석자",
        "label.removed": "제외된 참석자",
        "subject.reminder": "알림: {title} — {when}",
        "subject.request": "초대: {title} — {when}",
        "subject.update": "변경된 초대: {title} — {when}",
        "subject.cancel": "취소: {title} — {when}",
        "today": "오늘",
        "tomorrow": "내일",
        "lead.reminder": "{title} 회의가 {relative} 시작합니다.",
        "lead.reminder.all_day": "{title} 일정은 {day} 종일입니다.",
        "all_day": "종일",
        "lead.request": "{title} 회의에 초대합니다.",
        "lead.update": "{title} 회의 일정이 변경되었습니다. 변경된 초대장을 보내 드립니다.",
        "lead.answer_again": "시간이 변경되었으니 초대에 다시 응답해 주세요.",
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
        "label.holiday": "공휴일",
        "holiday": "{name} (계신 곳의 공휴일)",
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
        "subject.uninvited": "已移出参会名单：{title} — {when}",
        "feed.subject": "您在{name}的订阅日历",
        "feed.lead": "您在{name}的会议（含您自己的提醒）可作为日历订阅：",
        "feed.webcal": "日历程序（Outlook、Apple 日历、Thunderbird）",
        "feed.https": "Google 日历（通过网址添加）或其他",
        "feed.private": "此链接仅供您本人使用：任何拿到链接的人都能看到您的会议。之前的链接已失效。",
        "notice.rejected.subject": "{name}：配置更改未生效",
        "notice.rejected.body": "运行中的服务未应用最近一次配置更改；会议和邮件保持不变。问题如下：",
        "notice.more": "……另有 {count} 项",
        "notice.rejected.after": "请修正后重新保存；更改生效时会再发一封邮件通知。",
        "notice.fixed.subject": "{name}：配置已重新生效",
        "notice.fixed.body": "配置已恢复有效，运行中的服务已应用。",
        "lead.changed": "{title}有变更（{changes}），以下是更新后的邀请。",
        "change.time": "时间",
        "change.recurrence": "重复规则",
        "change.title": "标题",
        "change.place": "地点",
        "change.video": "视频会议链接",
        "change.attendees": "参会人员",
        "change.details": "详情",
        "was": "原为：{old}",
        "none": "无",
        "label.title": "标题",
        "label.added": "新增参会人",
        "label.removed": "移出参会人",
        "subject.reminder": "提醒：{title} — {when}",
        "subject.request": "邀请：{title} — {when}",
        "subject.update": "邀请已更新：{title} — {when}",
        "subject.cancel": "已取消：{title} — {when}",
        "today": "今天",
        "tomorrow": "明天",
        "lead.reminder": "{title}将于{relative}开始。",
        "lead.reminder.all_day": "{title}在{day}全天举行。",
        "all_day": "全天",
        "lead.request": "诚邀您参加{title}。",
        "lead.update": "{title}有变更，以下是更新后的邀请。",
        "lead.answer_again": "时间已更改，请重新回复此邀请。",
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
        "label.holiday": "公众假期",
        "holiday": "{name}（您所在地的公众假期）",
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
        "subject.uninvited": "Không còn được mời: {title} — {when}",
        "feed.subject": "Lịch của quý vị tại {name}",
        "feed.lead": "Các cuộc họp của quý vị tại {name}, kèm lời nhắc riêng, dưới dạng lịch có thể đăng ký:",
        "feed.webcal": "Ứng dụng lịch (Outlook, Apple Calendar, Thunderbird)",
        "feed.https": "Google Calendar (Từ URL) hoặc ứng dụng khác",
        "feed.private": "Liên kết này chỉ dành riêng cho quý vị: ai có nó đều xem được các cuộc họp của quý vị. "
        "Liên kết trước đây không còn dùng được.",
        "notice.rejected.subject": "{name}: thay đổi cấu hình chưa được áp dụng",
        "notice.rejected.body": (
            "Dịch vụ đang chạy chưa áp dụng thay đổi cấu hình gần nhất; các cuộc họp và email vẫn giữ nguyên. Các lỗi:"
        ),
        "notice.more": "… và {count} lỗi khác",
        "notice.rejected.after": "Hãy sửa rồi lưu lại; một email nữa sẽ báo khi thay đổi được áp dụng.",
        "notice.fixed.subject": "{name}: cấu hình đã được áp dụng trở lại",
        "notice.fixed.body": "Cấu hình đã hợp lệ trở lại và dịch vụ đang chạy đã áp dụng.",
        "lead.changed": "{title} đã thay đổi: {changes}. Đây là lời mời đã cập nhật.",
        "change.time": "thời gian",
        "change.recurrence": "lịch lặp lại",
        "change.title": "tiêu đề",
        "change.place": "địa điểm",
        "change.video": "liên kết họp trực tuyến",
        "change.attendees": "người tham dự",
        "change.details": "nội dung",
        "was": "trước đây: {old}",
        "none": "không có",
        "label.title": "Tiêu đề",
        "label.added": "Người được thêm",
        "label.removed": "Người không còn tham dự",
        "subject.reminder": "Nhắc lịch: {title} — {when}",
        "subject.request": "Lời mời: {title} — {when}",
        "subject.update": "Cập nhật lời mời: {title} — {when}",
        "subject.cancel": "Đã hủy: {title} — {when}",
        "today": "hôm nay",
        "tomorrow": "ngày mai",
        "lead.reminder": "{title} sẽ bắt đầu {relative}.",
        "lead.reminder.all_day": "{title} diễn ra cả ngày {day}.",
        "all_day": "cả ngày",
        "lead.request": "Kính mời quý vị tham dự {title}.",
        "lead.update": "{title} đã thay đổi; đây là lời mời đã cập nhật.",
        "lead.answer_again": "Thời gian đã thay đổi; xin vui lòng trả lời lại lời mời.",
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
        "label.holiday": "Ngày lễ",
        "holiday": "{name} (ngày lễ ở nơi bạn ở)",
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

    def listing(self, items: list[str]) -> str:
        """``time and place`` (``시간 및 장소``, ``时间和地点``, ``thời gian và địa điểm``)."""
        return format_list(items, locale=self.locale)

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

    def dates(self, first: date, last: date, now: datetime) -> str:
        """``Wed, Apr 14 – Fri, Apr 16`` (the year when it is not this year's): an all-day meeting's dates."""
        skeleton = "MMMEd" if first.year == last.year == now.date().year else "yMMMEd"
        if first == last:
            return format_skeleton(skeleton, first, locale=self.locale)
        return format_interval(first, last, skeleton, locale=self.locale)

    def day_span(self, first: date, last: date, now: datetime) -> str:
        """``today``, ``tomorrow`` or the dates: when an all-day meeting is, as seen on ``now``'s date."""
        days = (first - now.date()).days
        if first == last and days in (0, 1):
            return self("today" if days == 0 else "tomorrow")
        return self.dates(first, last, now)

    def when(self, moment: datetime, now: datetime) -> str:
        """``tomorrow 10:00 KST``, in the zone of ``moment``."""
        return _when(self, moment.replace(tzinfo=None), zone_abbreviation(moment), now.astimezone(moment.tzinfo).date())

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
# A key never holds an aware datetime: two of them in different zones compare (and hash) equal
# when they are the same instant, so a Sydney recipient would get the Berlin wording.  What the
# text depends on is the wall time and the zone's name for it, and those are the key.


@lru_cache(maxsize=4096)
def _when(w: Words, wall: datetime, zone: str, today: date) -> str:
    """``tomorrow 10:00 KST`` for the naive wall time ``wall`` of a zone called ``zone`` then,
    seen on the local date ``today``."""
    days = (wall.date() - today).days
    if days in (0, 1):
        day = w("today" if days == 0 else "tomorrow")
    else:
        skeleton = "MMMEd" if wall.year == today.year else "yMMMEd"
        day = format_skeleton(skeleton, wall, locale=w.locale)
    return f"{day} {format_skeleton('Hm', wall, locale=w.locale)} {zone}"


@lru_cache(maxsize=4096)
def _relative(w: Words, seconds: int) -> str:
    return format_timedelta(timedelta(seconds=seconds), add_direction=True, locale=w.locale)


@cache
def _locale(language: str) -> Locale:
    return Locale.parse(language)


@cache
def words(language: str | None) -> Words:
    return Words(language_of(language))
