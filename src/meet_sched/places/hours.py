"""Spans of local hours (``09:00-18:00``) and weekend days, as settings write them."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import time

_HOURS = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*[-–]\s*(\d{1,2}):(\d{2})\s*$")
_END_OF_DAY = time(23, 59, 59, 999999)
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True)
class WorkingHours:
    start: time
    end: time

    @classmethod
    def parse(cls, text: str) -> WorkingHours:
        """``09:00-18:00`` → WorkingHours; ValueError with a message fit for a user."""
        m = _HOURS.match(text)
        if not m:
            raise ValueError(f"{text!r} is not a span of hours such as 09:00-18:00")
        h1, m1, h2, m2 = (int(g) for g in m.groups())
        if h1 > 23 or h2 > 24 or m1 > 59 or m2 > 59 or (h2 == 24 and m2):
            raise ValueError(f"{text!r} has an hour or minute out of range")
        start, end = time(h1, m1), _END_OF_DAY if h2 == 24 else time(h2, m2)
        if end <= start:
            raise ValueError(f"{text!r} ends before it starts (night shifts are not supported)")
        return cls(start, end)

    def __str__(self) -> str:
        end = "24:00" if self.end == _END_OF_DAY else f"{self.end:%H:%M}"
        return f"{self.start:%H:%M}–{end}"

    def minutes(self) -> tuple[int, int]:
        """Start and end as minutes after local midnight."""
        end = 24 * 60 if self.end == _END_OF_DAY else self.end.hour * 60 + self.end.minute
        return self.start.hour * 60 + self.start.minute, end


DEFAULT_HOURS = WorkingHours(time(9), time(18))
DEFAULT_LUNCH = WorkingHours(time(12), time(13))
DEFAULT_WEEKEND = frozenset({5, 6})  # Saturday, Sunday (date.weekday())


def parse_weekend(days: Iterable[str]) -> frozenset[int]:
    """``["sat", "sun"]`` → {5, 6}; ValueError naming the day that is not one."""
    out = set()
    for day in days:
        key = str(day).strip().lower()[:3]
        if key not in WEEKDAYS or len(str(day).strip()) < 3:
            raise ValueError(f"{day!r} is not a day of the week (mon, tue, wed, thu, fri, sat, sun)")
        out.add(WEEKDAYS.index(key))
    return frozenset(out)


def weekend_text(days: frozenset[int]) -> str:
    return ", ".join(WEEKDAYS[d] for d in sorted(days)) or "none"
