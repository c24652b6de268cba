"""The marks that set an occurrence apart (moved from …, cancelled, skipped) in each language, and how the
commands' tables read an occurrence: ``Wed 2027-03-03 10:00 KST``, all-day dates, the English marks.

Without Babel, so that commands which only print tables do not load it; the mails' and pages' reading
(:mod:`meet_sched.mail.reading`) takes its marks from here too.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from .localtimes import zone_abbreviation
from .occurrences import Occurrence

FALLBACK = "en"

MARKS: dict[str, dict[str, str]] = {
    "en": {
        "moved_from": "moved from {when}",
        "cancelled": "cancelled",
        "skipped": "skipped: {why}",
        "label.changed": "Moved or cancelled",
    },
    "ko": {
        "moved_from": "{when}에서 옮김",
        "cancelled": "취소됨",
        "skipped": "건너뜀: {why}",
        "label.changed": "옮기거나 취소된 회의",
    },
    "zh": {
        "moved_from": "由{when}改期",
        "cancelled": "已取消",
        "skipped": "已跳过：{why}",
        "label.changed": "改期或取消的会议",
    },
    "vi": {
        "moved_from": "dời từ {when}",
        "cancelled": "đã hủy",
        "skipped": "bỏ qua: {why}",
        "label.changed": "Buổi họp dời lịch hoặc bị hủy",
    },
}


@dataclass(frozen=True)
class TableReader:
    """The commands' tables: ``Wed 2027-03-03 10:00 KST``, all-day dates, and the marks in English."""

    zone: ZoneInfo

    def date(self, occ: Occurrence) -> str:
        return f"{occ.dates[0]:%a %Y-%m-%d}" if occ.all_day else f"{occ.start.astimezone(self.zone):%a %Y-%m-%d}"

    def time(self, moment: datetime) -> str:
        local = moment.astimezone(self.zone)
        return f"{local:%H:%M} {zone_abbreviation(local)}"

    def when(self, occ: Occurrence) -> str:
        """``Wed 2027-03-03 10:00 KST``; all day: ``Wed 2027-04-14 – Fri 2027-04-16 (all day)``."""
        return self.at(occ, occ.start)

    def at(self, occ: Occurrence, start: datetime) -> str:
        if occ.all_day:
            first = start.astimezone(occ.series.timezone).date()
            last = first + (occ.dates[1] - occ.dates[0])
            span = f"{first:%a %Y-%m-%d}" + (f" – {last:%a %Y-%m-%d}" if last != first else "")
            return f"{span} (all day)"
        return f"{start.astimezone(self.zone):%a %Y-%m-%d} {self.time(start)}"

    def marks(self, occ: Occurrence) -> list[str]:
        english = MARKS[FALLBACK]
        if occ.moved_from is not None:
            return [english["moved_from"].format(when=self.at(occ, occ.moved_from))]
        if occ.cancelled:
            return [english["cancelled"]]
        if occ.skipped and occ.reason:
            return [english["skipped"].format(why=occ.reason)]
        return []
