"""How a moment reads in a zone: a zone's city and abbreviation, the start of an occurrence in every
zone involved, the dates of an all-day occurrence and when its reminders fall (no I/O)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

if TYPE_CHECKING:
    from .model import Meeting


def zone_city(zone: ZoneInfo) -> str:
    """``Asia/Ho_Chi_Minh`` → ``Ho Chi Minh``."""
    return zone.key.rsplit("/", 1)[-1].replace("_", " ")


def zone_abbreviation(moment: datetime) -> str:
    """KST, CST, CEST…; a numeric tzdata abbreviation such as ``+07`` becomes ``UTC+7``."""
    name = moment.tzname() or ""
    if name.isalpha():
        return name
    offset = moment.utcoffset() or timedelta(0)
    minutes = int(offset.total_seconds()) // 60
    sign = "+" if minutes >= 0 else "-"
    h, m = divmod(abs(minutes), 60)
    return f"UTC{sign}{h}" + (f":{m:02d}" if m else "")


@dataclass(frozen=True)
class LocalTime:
    label: str
    moment: datetime  # aware, in the zone
    other_day: bool  # the local date differs from the meeting's own

    def short(self) -> str:
        text = f"{self.label} {self.moment:%H:%M} {zone_abbreviation(self.moment)}"
        return text + (f" ({self.moment:%a %d %b})" if self.other_day else "")


def all_day_dates(meeting: Meeting, start: datetime) -> tuple[date, date]:
    """The first and last calendar date (inclusive) of the all-day occurrence starting at ``start``."""
    first = start.astimezone(meeting.timezone).date()
    return first, first + timedelta(days=max(meeting.days, 1) - 1)


def all_day_reminder(day: date, offset: timedelta, at: time, zone: ZoneInfo) -> datetime:
    """When (UTC) a reminder of an all-day occurrence on ``day`` is due for someone in ``zone``:
    at the wall time ``at`` there, ``offset`` counted in whole days before (less than a day: on the day)."""
    local = datetime.combine(day - timedelta(days=offset.days), at, zone)
    return local.astimezone(UTC)


def local_times(meeting: Meeting, start: datetime) -> list[LocalTime]:
    """The start of one occurrence in every zone involved, the meeting's own first."""
    home = start.astimezone(meeting.timezone).date()
    out = []
    for label, zone in meeting.zones():
        local = start.astimezone(zone)
        out.append(LocalTime(label, local, local.date() != home))
    return out
