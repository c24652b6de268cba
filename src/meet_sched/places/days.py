"""One place's day as instants, worked out once per (place, local date), and how a meeting fits it."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
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

    def __post_init__(self) -> None:
        # the same instants as POSIX seconds, for the comparisons every occurrence makes
        lunch = (self.lunch[0].timestamp(), self.lunch[1].timestamp()) if self.lunch else None
        object.__setattr__(self, "_edges", (self.hours[0].timestamp(), self.hours[1].timestamp(), lunch))

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


def _plan(place: Place, day: date) -> DayPlan:
    holiday = holiday_on(place.country, day) if place.holidays else None
    weekend = day.weekday() in place.weekend and not (place.holidays and weekend_workday(place.country, day))
    lunch = _instant(day, place.lunch, place.zone) if place.lunch is not None else None
    return DayPlan(day, holiday, weekend, _instant(day, place.hours, place.zone), lunch)


_rules_ids: dict[tuple[object, ...], int] = {}
_plans: dict[tuple[int, date], DayPlan] = {}


def rules_id(place: Place) -> int:
    """A small number for the place's rules (its label aside), kept on the place: cheap cache keys."""
    found: int | None = place.__dict__.get("_rules_id")
    if found is None:
        found = _rules_ids.setdefault(place.key, len(_rules_ids))
        object.__setattr__(place, "_rules_id", found)
    return found


def day_plan(place: Place, day: date) -> DayPlan:
    """``place``'s working day on its local date ``day``, worked out once per (rules, date)."""
    key = (rules_id(place), day)
    plan = _plans.get(key)
    if plan is None:
        if len(_plans) >= DAY_PLAN_CACHE:
            _plans.clear()
        plan = _plans[key] = _plan(place, day)
    return plan


@dataclass(frozen=True)
class Verdict:
    """How [start, end) fits one place's day: every reason it does not (empty: it fits)."""

    place: Place
    local: datetime  # the start in the place's zone
    plan: DayPlan
    reasons: tuple[Why, ...]

    @property
    def fits(self) -> bool:
        return not self.reasons


_NONE: tuple[Why, ...] = ()


def verdict(place: Place, start: datetime, end: datetime) -> Verdict:
    """Where [start, end) falls in ``place``'s day: holiday, weekend, before or after hours, lunch."""
    found = clash(place, start, start.timestamp(), end.timestamp())
    if found is not None:
        return found
    local = start.astimezone(place.zone)
    return Verdict(place, local, day_plan(place, local.date()), _NONE)


def clash(place: Place, start: datetime, s: float, e: float) -> Verdict | None:
    """:func:`verdict` for callers that check many places at one instant (``s``, ``e``: POSIX seconds):
    None when the span fits, so that the usual case builds nothing."""
    local = start.astimezone(place.zone)
    plan = day_plan(place, local.date())
    lo, hi, lunch = plan.__dict__["_edges"]
    if not plan.off and lo <= s and e <= hi and (lunch is None or e <= lunch[0] or s >= lunch[1]):
        return None
    reasons: list[Why] = []
    if plan.holiday is not None:
        reasons.append(Why.HOLIDAY)
    elif plan.weekend:
        reasons.append(Why.WEEKEND)
    if s < lo:
        reasons.append(Why.EARLY)
    if e > hi:
        reasons.append(Why.LATE)
    if lunch is not None and s < lunch[1] and lunch[0] < e and lunch[0] >= lo:
        reasons.append(Why.LUNCH)
    return Verdict(place, local, plan, tuple(reasons))
