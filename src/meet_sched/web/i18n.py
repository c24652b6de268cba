"""The page's words in ko, zh, vi and en, and its dates through Babel (the emails' :class:`Words`).

Languages and their choice are :mod:`meet_sched.lang`'s; dates, times and durations are
formatted by the emails' :class:`~meet_sched.mail.i18n.Words`, so a page and a mail in one
language write a date the same way.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from functools import cache

from babel.dates import format_date, format_skeleton, get_day_names
from babel.numbers import format_decimal

from ..lang import FALLBACK, language_of
from ..mail.answer_words import ANSWER_WORDS, answer_word
from ..mail.i18n import Words, words
from ..places import Place, day_plan, holiday_on
from ..places.days import Why

PAGE: dict[str, dict[str, str]] = {
    "en": {
        "upcoming": "upcoming meetings",
        "lead": "Upcoming meetings, with the time in every participant's city.",
        "nav": "Views",
        "nav.list": "List",
        "nav.week": "Week",
        "nav.month": "Month",
        "language": "Language",
        "subscribe.h": "Subscribe",
        "subscribe": "Subscribe",
        "google": "Google Calendar",
        "outlook": "Outlook on the web",
        "subscribe.url": "Or add this address to your calendar app:",
        "subscribe.hint": "Invited to meetings? Ask the office for your personal feed: only your meetings, "
        "with your own reminders.",
        "subscribe.unset": "Subscription links appear here once this site has a public address ([server] base_url "
        "in the settings). Calendar apps and services elsewhere cannot reach an address on this computer.",
        "overview.h": "Today in each city",
        "strip.today": "Working hours today in {cities}",
        "strip.meeting": "{title} in each city's day",
        "everyone": "Everyone is at work: {spans}",
        "everyone.title": "Everyone's working hours",
        "overlap.none.today": "The cities' working hours do not overlap today.",
        "overlap.none": "No working hours shared by all these cities on this day.",
        "legend.work": "working hours",
        "legend.meeting": "meeting",
        "legend.now": "now",
        "agenda.h": "Next {days} days",
        "agenda.h.one": "Next {days} day",
        "agenda.empty": "No upcoming meetings in the next {days} days.",
        "agenda.empty.one": "No upcoming meetings in the next {days} day.",
        "more": "…and {count} more in the next {days} days; subscribe to see them all.",
        "more.one": "…and {count} more in the next {days} day; subscribe to see them all.",
        "status.tentative": "tentative",
        "status.cancelled": "cancelled",
        "cancelled": "This meeting is cancelled.",
        "all_day": "all day",
        "days_all_day": "{days} days, all day",
        "moved_from": "moved from {when}",
        "video": "video link",
        "details": "details",
        "note.holiday": "public holiday: {name}",
        "note.weekend": "weekend ({day})",
        "note.outside": "outside working hours ({hours})",
        "footer.hours": "Working hours: {hours} local time, on working days.",
        "footer.marked": "Weekends and public holidays are marked.",
        "footer.zone": "Times in {zone} unless a city is named; from the IANA time zone database.",
        "footer.updated": "Updated {when}.",
        "week.h": "Week of {date}",
        "week.this": "This week, from {date}",
        "week.prev": "← Previous week",
        "week.next": "Next week →",
        "month.prev": "← Previous month",
        "month.next": "Next month →",
        "none": "No meetings.",
        "meeting.add": "Add to my calendar (.ics)",
        "meeting.next": "Next meetings",
        "meeting.none": "No upcoming meetings.",
        "meeting.all": "All meetings",
        "meeting.attendees": "Attendees",
        "meeting.calendar": "Calendar",
        "meeting.duration": "Duration",
        "meeting.where": "Where",
        "answer.ACCEPTED": "accepted",
        "answer.TENTATIVE": "tentative",
        "answer.DECLINED": "declined",
        "answer.NEEDS-ACTION": "no answer",
        "answer.DELEGATED": "delegated",
        "turnout.count": "{count}",
        "turnout.delegated_to": "{who} (delegated to {to})",
        "turnout.only": "{who}: {answer} for this meeting only",
        "turnout.only.count": "{count} answered for this meeting only",
    },
    "ko": {
        "upcoming": "예정된 회의",
        "lead": "예정된 회의와 참석자 도시별 현지 시각입니다.",
        "nav": "보기",
        "nav.list": "목록",
        "nav.week": "주",
        "nav.month": "월",
        "language": "언어",
        "subscribe.h": "구독",
        "subscribe": "구독하기",
        "google": "Google 캘린더",
        "outlook": "웹용 Outlook",
        "subscribe.url": "또는 캘린더 앱에 이 주소를 추가하세요:",
        "subscribe.hint": "회의에 초대받으셨나요? 사무실에 개인 피드를 요청하세요. 본인의 회의만, 본인의 알림과 함께 "
        "표시됩니다.",
        "subscribe.unset": "이 사이트에 공개 주소(설정의 [server] base_url)가 지정되면 여기에 구독 링크가 "
        "표시됩니다. 다른 곳의 캘린더 앱과 서비스는 이 컴퓨터의 주소에 접속할 수 없습니다.",
        "overview.h": "오늘 각 도시",
        "strip.today": "오늘의 근무 시간: {cities}",
        "strip.meeting": "각 도시의 하루 속 {title}",
        "everyone": "모두 근무 중: {spans}",
        "everyone.title": "모두의 근무 시간",
        "overlap.none.today": "오늘은 도시들의 근무 시간이 겹치지 않습니다.",
        "overlap.none": "이날은 모든 도시가 함께 근무하는 시간이 없습니다.",
        "legend.work": "근무 시간",
        "legend.meeting": "회의",
        "legend.now": "현재",
        "agenda.h": "앞으로 {days}일",
        "agenda.empty": "앞으로 {days}일 동안 예정된 회의가 없습니다.",
        "more": "…앞으로 {days}일 동안 {count}건이 더 있습니다. 모두 보려면 구독하세요.",
        "status.tentative": "미정",
        "status.cancelled": "취소됨",
        "cancelled": "이 회의는 취소되었습니다.",
        "all_day": "종일",
        "days_all_day": "{days}일, 종일",
        "moved_from": "{when}에서 옮김",
        "video": "화상 회의 링크",
        "details": "자세히",
        "note.holiday": "공휴일: {name}",
        "note.weekend": "주말({day})",
        "note.outside": "근무 시간 외({hours})",
        "footer.hours": "근무 시간: {hours} 현지 시각, 근무일 기준.",
        "footer.marked": "주말과 공휴일이 표시됩니다.",
        "footer.zone": "도시가 적히지 않은 시각은 {zone} 기준이며, IANA 시간대 데이터베이스를 따릅니다.",
        "footer.updated": "{when} 업데이트.",
        "week.h": "{date}부터 한 주",
        "week.this": "이번 주({date}부터)",
        "week.prev": "← 이전 주",
        "week.next": "다음 주 →",
        "month.prev": "← 이전 달",
        "month.next": "다음 달 →",
        "none": "회의가 없습니다.",
        "meeting.add": "내 캘린더에 추가(.ics)",
        "meeting.next": "다음 회의",
        "meeting.none": "예정된 회의가 없습니다.",
        "meeting.all": "전체 회의",
        "meeting.attendees": "참석자",
        "meeting.calendar": "캘린더",
        "meeting.duration": "소요 시간",
        "meeting.where": "장소",
        "answer.DELEGATED": "위임",
        "turnout.count": "{count}명",
        "turnout.delegated_to": "{who}({to}에게 위임)",
        "turnout.only": "{who}: 이번 회의만 {answer}",
        "turnout.only.count": "{count}명이 이번 회의만 따로 회신",
    },
    "zh": {
        "upcoming": "即将举行的会议",
        "lead": "即将举行的会议，以及每位参会者所在城市的时间。",
        "nav": "视图",
        "nav.list": "列表",
        "nav.week": "周",
        "nav.month": "月",
        "language": "语言",
        "subscribe.h": "订阅",
        "subscribe": "订阅",
        "google": "Google 日历",
        "outlook": "Outlook 网页版",
        "subscribe.url": "或在日历应用中添加此地址：",
        "subscribe.hint": "受邀参会？请向办公室索取您的个人订阅：只含您的会议，并带有您自己的提醒。",
        "subscribe.unset": "本站设置公开地址（设置中的 [server] base_url）后，订阅链接将显示在这里。"
        "其他地方的日历应用和服务无法访问本机地址。",
        "overview.h": "今天各城市",
        "strip.today": "今天的工作时间：{cities}",
        "strip.meeting": "{title}在各城市一天中的位置",
        "everyone": "大家都在上班：{spans}",
        "everyone.title": "大家共同的工作时间",
        "overlap.none.today": "今天各城市的工作时间没有重叠。",
        "overlap.none": "这一天所有城市没有共同的工作时间。",
        "legend.work": "工作时间",
        "legend.meeting": "会议",
        "legend.now": "现在",
        "agenda.h": "未来 {days} 天",
        "agenda.empty": "未来 {days} 天没有会议。",
        "more": "……未来 {days} 天还有 {count} 场；订阅即可查看全部。",
        "status.tentative": "暂定",
        "status.cancelled": "已取消",
        "cancelled": "此会议已取消。",
        "all_day": "全天",
        "days_all_day": "{days}天，全天",
        "moved_from": "由{when}改期",
        "video": "视频会议链接",
        "details": "详情",
        "note.holiday": "公众假期：{name}",
        "note.weekend": "周末（{day}）",
        "note.outside": "不在工作时间内（{hours}）",
        "footer.hours": "工作时间：当地时间 {hours}，仅限工作日。",
        "footer.marked": "已标出周末和公众假期。",
        "footer.zone": "未注明城市的时间为 {zone} 时间；时区数据来自 IANA 时区数据库。",
        "footer.updated": "更新于 {when}。",
        "week.h": "{date}起的一周",
        "week.this": "本周（{date}起）",
        "week.prev": "← 上一周",
        "week.next": "下一周 →",
        "month.prev": "← 上个月",
        "month.next": "下个月 →",
        "none": "没有会议。",
        "meeting.add": "添加到我的日历（.ics）",
        "meeting.next": "后续会议",
        "meeting.none": "没有即将举行的会议。",
        "meeting.all": "全部会议",
        "meeting.attendees": "参会者",
        "meeting.calendar": "日历",
        "meeting.duration": "时长",
        "meeting.where": "地点",
        "answer.DELEGATED": "已委托",
        "turnout.count": "{count}人",
        "turnout.delegated_to": "{who}（已委托给 {to}）",
        "turnout.only": "{who}：仅此次会议{answer}",
        "turnout.only.count": "{count}人仅对此次会议另行回复",
    },
    "vi": {
        "upcoming": "các cuộc họp sắp tới",
        "lead": "Các cuộc họp sắp tới, kèm giờ tại thành phố của từng người tham dự.",
        "nav": "Chế độ xem",
        "nav.list": "Danh sách",
        "nav.week": "Tuần",
        "nav.month": "Tháng",
        "language": "Ngôn ngữ",
        "subscribe.h": "Đăng ký theo dõi",
        "subscribe": "Đăng ký",
        "google": "Google Lịch",
        "outlook": "Outlook trên web",
        "subscribe.url": "Hoặc thêm địa chỉ này vào ứng dụng lịch:",
        "subscribe.hint": "Được mời họp? Hãy đề nghị văn phòng cấp lịch cá nhân: chỉ các cuộc họp của quý vị, "
        "với lời nhắc riêng.",
        "subscribe.unset": "Liên kết đăng ký sẽ hiện ở đây khi trang có địa chỉ công khai ([server] base_url "
        "trong phần cài đặt). Ứng dụng và dịch vụ lịch ở nơi khác không truy cập được địa chỉ trên máy này.",
        "overview.h": "Hôm nay ở từng thành phố",
        "strip.today": "Giờ làm việc hôm nay: {cities}",
        "strip.meeting": "{title} trong ngày của từng thành phố",
        "everyone": "Mọi người đều đang làm việc: {spans}",
        "everyone.title": "Giờ làm việc chung",
        "overlap.none.today": "Hôm nay giờ làm việc của các thành phố không trùng nhau.",
        "overlap.none": "Ngày này không có giờ làm việc chung của tất cả các thành phố.",
        "legend.work": "giờ làm việc",
        "legend.meeting": "cuộc họp",
        "legend.now": "bây giờ",
        "agenda.h": "{days} ngày tới",
        "agenda.empty": "Không có cuộc họp nào trong {days} ngày tới.",
        "more": "…và {count} cuộc họp nữa trong {days} ngày tới; đăng ký để xem tất cả.",
        "status.tentative": "tạm định",
        "status.cancelled": "đã hủy",
        "cancelled": "Cuộc họp này đã bị hủy.",
        "all_day": "cả ngày",
        "days_all_day": "{days} ngày, cả ngày",
        "moved_from": "dời từ {when}",
        "video": "liên kết họp trực tuyến",
        "details": "chi tiết",
        "note.holiday": "ngày lễ: {name}",
        "note.weekend": "cuối tuần ({day})",
        "note.outside": "ngoài giờ làm việc ({hours})",
        "footer.hours": "Giờ làm việc: {hours} giờ địa phương, vào ngày làm việc.",
        "footer.marked": "Cuối tuần và ngày lễ được đánh dấu.",
        "footer.zone": "Giờ theo {zone} khi không ghi thành phố; theo cơ sở dữ liệu múi giờ IANA.",
        "footer.updated": "Cập nhật {when}.",
        "week.h": "Tuần từ {date}",
        "week.this": "Tuần này, từ {date}",
        "week.prev": "← Tuần trước",
        "week.next": "Tuần sau →",
        "month.prev": "← Tháng trước",
        "month.next": "Tháng sau →",
        "none": "Không có cuộc họp.",
        "meeting.add": "Thêm vào lịch của tôi (.ics)",
        "meeting.next": "Các buổi họp tiếp theo",
        "meeting.none": "Không có buổi họp sắp tới.",
        "meeting.all": "Tất cả cuộc họp",
        "meeting.attendees": "Người tham dự",
        "meeting.calendar": "Lịch",
        "meeting.duration": "Thời lượng",
        "meeting.where": "Địa điểm",
        "answer.DELEGATED": "đã ủy quyền",
        "turnout.count": "{count}",
        "turnout.delegated_to": "{who} (đã ủy quyền cho {to})",
        "turnout.only": "{who}: {answer} riêng cuộc họp này",
        "turnout.only.count": "{count} người trả lời riêng cho cuộc họp này",
    },
}


class PageWords:
    """The page's catalogue in one language, and Babel's dates in it."""

    def __init__(self, language: str) -> None:
        self.language = language_of(language)
        self.mail: Words = words(self.language)
        self.locale = self.mail.locale
        self._messages = PAGE[self.language]

    def __call__(self, key: str, **values: object) -> str:
        template = self._messages.get(key) or PAGE[FALLBACK][key]
        return template.format(**values)

    def counted(self, key: str, count: int, **values: object) -> str:
        """``key`` in the plural form CLDR gives ``count`` in this language (``Next 1 day``, ``Next 2 days``):
        the catalogue's ``key.one``, ``key.few``… when it has one, else ``key`` (the "other" form)."""
        form = self.locale.plural_form(count)
        found = self._messages.get(f"{key}.{form}")
        return found.format(**values) if found is not None else self(key, **values)

    def answer(self, partstat: str) -> str:
        """``accepted``, ``거절``, ``尚未回复``, ``từ chối``: an answer (a PARTSTAT) as the page shows it.

        The words of the one-click answers in the mails (:mod:`meet_sched.mail.answer_words`), so a
        mail and the page agree, written in lower case after a count; the page's own ``answer.*``
        words where it has some (English: the mails' are buttons, ``Accept``)."""
        own = self._messages.get(f"answer.{partstat}")
        if own is None and partstat in ANSWER_WORDS[FALLBACK]:
            said = answer_word(self.mail, partstat)
            return said[:1].lower() + said[1:]
        return self(f"answer.{partstat}")

    def count(self, value: int) -> str:
        """A number of people: ``3``, ``3명``, ``3人``, its digits grouped as the language does."""
        return self("turnout.count", count=format_decimal(value, locale=self.locale))

    def time(self, moment: datetime) -> str:
        return format_skeleton("Hm", moment, tzinfo=moment.tzinfo, locale=self.locale)

    def full_date(self, day: date) -> str:
        return format_date(day, "full", locale=self.locale)

    def short_date(self, moment: datetime) -> str:
        """``Thu, Dec 10``: Babel's abbreviated month and weekday."""
        return format_skeleton("MMMEd", moment, tzinfo=moment.tzinfo, locale=self.locale)

    def day_month(self, day: date) -> str:
        """``Dec 7`` (``12월 7일``, ``12月7日``, ``7 thg 12``)."""
        return format_skeleton("MMMd", day, locale=self.locale)

    def day_heading(self, day: date) -> str:
        """A day of the week view: ``Mon, Dec 7`` (``12월 7일 (월)``, ``12月7日周一``, ``Thứ 2, 7 thg 12``)."""
        return format_skeleton("MMMEd", day, locale=self.locale)

    def month_title(self, day: date) -> str:
        """``April 2027`` (``2027년 4월``, ``2027年4月``, ``tháng 4 năm 2027``): the month as a title."""
        return format_skeleton("yMMMM", day, locale=self.locale)

    def weekday(self, day: date, width: str = "wide") -> str:
        names = get_day_names(width, locale=self.locale)  # type: ignore[arg-type]
        return str(names[day.weekday()])

    def tick_day(self, day: date) -> str:
        """``Thu 10`` (``목 10``, ``周四 10``, ``T5 10``): a short label for local midnight on a strip."""
        if self.language == "en":
            return f"{day:%a %d}"
        return f"{self.weekday(day, 'short')} {day.day}"

    def weekdays(self) -> list[str]:
        names = get_day_names("abbreviated", locale=self.locale)
        return [str(names[i]) for i in range(7)]

    def duration(self, value: timedelta) -> str:
        return self.mail.duration(value)

    def holiday(self, place: Place, day: date) -> str | None:
        """The public holiday of ``place`` on its local ``day`` in this language (its English name if the
        ``holidays`` package has none in it), or None."""
        found = holiday_on(place.country, day, self.language) if place.holidays else None
        if found is None:
            return None
        name = found.local_name or found.name
        return name.split(";")[0].strip()

    def day_off(self, place: Place, day: date) -> str | None:
        """Why ``day`` is off where ``place`` is: the holiday's name or the weekday, or None."""
        plan = day_plan(place, day)
        if plan.holiday is not None:
            return self.holiday(place, day) or plan.holiday.name
        return self.weekday(day) if plan.weekend else None

    def note(self, place: Place, reasons: tuple[Why, ...], day: date) -> str | None:
        """A city's note for one occurrence: its holiday, weekend, or time outside working hours."""
        if Why.HOLIDAY in reasons:
            return self("note.holiday", name=self.holiday(place, day) or day_plan(place, day).holiday)
        if Why.WEEKEND in reasons:
            return self("note.weekend", day=self.weekday(day))
        if Why.EARLY in reasons or Why.LATE in reasons:
            return self("note.outside", hours=str(place.hours))
        return None


@cache
def page_words(language: str) -> PageWords:
    return PageWords(language_of(language))
