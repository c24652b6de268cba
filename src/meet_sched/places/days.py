"""One place's day as instants, worked out once per (place, local date), and how a meeting fits it."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from .holidays import Holiday, holiday_on, weekend_workday
from .hours import WorkingHours
from .rules import Place

DAY_PLAN_CACHE = 65536  # (place, date) day plans kept in memory: 1,000 meetings x 12 months fit
Span = tuple[datetime, datetime]  # aware UTC instants, start < end


class Why(enum.StrEnum):
    HOLIDAY = "holiday"
    WEEKEND = "weekend"
    EARLY = "before working hours"
    LATE = "after working hours"
    LUNCH = "lunch"
    BUSY = "busy"

    @property
    def day_off(self) -> bool:
        return self in (Why.HOLIDAY, Why.WEEKEND)


@dataclass(frozen=True)
class DayPlan:
    """A local date of one place: why it is off (if it is), its working hours and lunch as UTC instants."""

    day: date
    holiday: Holiday | None
    weekend: bool
    hours: Span
    lunch: Span | None

    @property
    def off(self) -> bool:
        return self.holiday is not None or self.weekend

    def work(self) -> list[Span]:
        """Working spans of the day (hours without lunch); none on a day off."""
        if self.off:
            return []
        lo, hi = self.hours
        if self.lunch is None or self.lunch[1] <= lo or self.lunch[0] >= hi:
            return [self.hours]
        return [s for s in ((lo, max(lo, self.lunch[0])), (min(hi, self.lunch[1]), hi)) if s[0] < s[1]]


def _instant(day: date, hours: WorkingHours, zone: ZoneInfo) -> Span:
    """Local wall times of ``day`` as UTC instants (a daylight-saving day keeps 09:00 at 09:00)."""
    start, end = hours.minutes()
    lo = datetime.combine(day, time(start // 60, start % 60), zone)
    hi = datetime.combine(day + timedelta(days=end // (24 * 60)), time((end // 60) % 24, end % 60), zone)
    return lo.astimezone(UTC), hi.astimezone(UTC)


@lru_cache(maxsize=DAY_PLAN_CACHE)
def _plan(place: Place, day: date) -> DayPlan:
    holiday = holiday_on(place.country, day) if place.holidays else None
    weekend = day.weekday() in place.weekend and not (place.holidays and weekend_workday(place.country, day))
    lunch = _instant(day, place.lunch, place.zone) if place.lunch is not None else None
    return DayPlan(day, holiday, weekend, _instant(day, place.hours, place.zone), lunch)


def day_plan(place: Place, day: date) -> DayPlan:
    """``place``'s working day on its local date ``day`` (cached by the place's rules, not its label)."""
    return _plan(_canonical(place), day)


@lru_cache(maxsize=1024)
def _canonical(place: Place) -> Place:
    return Place("", place.zone, place.country, place.hours, place.lunch, place.weekend, place.holidays)


@dataclass(frozen=True)
class Verdict:
    """How [start, end) fits one place's day: every reason it does not (empty: it fits)."""

    place: Place
    local: datetime  # the start in the place's zone
    plan: DayPlan
    reasons: tuple[Why, ...]
    outside: timedelta  # how much of the meeting lies outside working hours (lunch included)

    @property
    def fits(self) -> bool:
        return not self.reasons


def verdict(place: Place, start: datetime, end: datetime) -> Verdict:
    """Where [start, end) falls in ``place``'s day: holiday, weekend, before or after hours, lunch."""
    local = start.astimezone(place.zone)
    plan = day_plan(place, local.date())
    s, e = start.astimezone(UTC), end.astimezone(UTC)
    reasons: list[Why] = []
    if plan.holiday is not None:
        reasons.append(Why.HOLIDAY)
    elif plan.weekend:
        reasons.append(Why.WEEKEND)
    lo, hi = plan.hours
    if s < lo:
        reasons.append(Why.EARLY)
    if e > hi:
        reasons.append(Why.LATE)
    if plan.lunch is not None and s < plan.lunch[1] and plan.lunch[0] < e and plan.lunch[0] >= lo:
        reasons.append(Why.LUNCH)
    inside = sum(((min(e, b) - max(s, a)) for a, b in plan.work() if min(e, b) > max(s, a)), timedelta())
    return Verdict(place, local, plan, tuple(reasons), (e - s) - inside)
