"""The agenda page's 24-hour strips: where a span of time falls in each city's working day.

Who works when is :mod:`meet_sched.places`'s to say (one source of truth for validate,
plan and the page); this module only lays it out on a common time axis.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from .localtimes import zone_abbreviation
from .places.days import Why, day_plan, verdict
from .places.hours import DEFAULT_HOURS, WorkingHours
from .places.rules import Place, Rules, country_of

Span = tuple[datetime, datetime]  # aware UTC instants, start < end

__all__ = ["DEFAULT_HOURS", "Span", "Strip", "WorkingHours", "Workweek", "common", "country_of", "day_off", "strip"]


def day_off(zone: ZoneInfo, day: date, *, use_holidays: bool = True) -> str | None:
    """Why ``day`` is not a working day where ``zone`` is (``Saturday``, ``Chuseok``), or None."""
    plan = day_plan(Workweek(holidays=use_holidays).place(zone), day)
    if plan.holiday is not None:
        return plan.holiday.name.split(";")[0].strip()
    return f"{day:%A}" if plan.weekend else None


# -- working spans ------------------------------------------------------------------


@dataclass(frozen=True)
class Workweek:
    """How the page tells working hours in a zone: the ``[server]`` hours, over :mod:`meet_sched.places`."""

    default: WorkingHours = DEFAULT_HOURS
    by_zone: Mapping[str, WorkingHours] = field(default_factory=dict)
    holidays: bool = True
    rules: Rules | None = None  # the site's places and defaults; None: built from the fields above
    places: Mapping[str, Place] = field(default_factory=dict)  # zone key → the place of the people there

    def _rules(self) -> Rules:
        return self.rules or Rules(hours=self.default, hours_by_zone=self.by_zone, holidays=self.holidays)

    def place(self, zone: ZoneInfo) -> Place:
        return self.places.get(zone.key) or self._rules().for_zone(zone)

    def among(self, places: Mapping[str, Place]) -> Workweek:
        """The same rules, with the given people's places (attendees' ``place:``, country, hours) by zone."""
        return Workweek(self.default, self.by_zone, self.holidays, self.rules, places)

    def hours(self, zone: ZoneInfo) -> WorkingHours:
        return self.place(zone).hours

    def spans(self, zone: ZoneInfo, start: datetime, end: datetime) -> list[Span]:
        """The working spans in ``zone`` that meet [start, end), clipped to it (UTC); lunch is drawn as work."""
        place = self.place(zone)
        first = start.astimezone(zone).date() - timedelta(days=1)
        last = end.astimezone(zone).date()
        out: list[Span] = []
        day = first
        while day <= last:
            plan = day_plan(place, day)
            if not plan.off:
                lo, hi = plan.hours
                lo, hi = max(lo, start.astimezone(UTC)), min(hi, end.astimezone(UTC))
                if lo < hi:
                    out.append((lo, hi))
            day += timedelta(days=1)
        return out

    def at_work(self, zone: ZoneInfo, start: datetime, end: datetime) -> bool:
        """Does [start, end) lie wholly inside working hours of a working day in ``zone``?"""
        found = verdict(self.place(zone), start, end)
        return not any(why is not Why.LUNCH for why in found.reasons)


def intersect(a: Sequence[Span], b: Sequence[Span]) -> list[Span]:
    out: list[Span] = []
    for lo1, hi1 in a:
        for lo2, hi2 in b:
            lo, hi = max(lo1, lo2), min(hi1, hi2)
            if lo < hi:
                out.append((lo, hi))
    return sorted(out)


def common(spans: Iterable[Sequence[Span]]) -> list[Span]:
    """The time when every row is at work."""
    rows = list(spans)
    if not rows:
        return []
    out = list(rows[0])
    for row in rows[1:]:
        out = intersect(out, row)
    return out


# -- a 24-hour picture ----------------------------------------------------------------


@dataclass(frozen=True)
class Tick:
    at: float  # 0..1 across the window
    label: str  # local hour "06", or a date "Thu 10" at local midnight
    midnight: bool
    day: date | None = None  # the local date that begins, at local midnight


@dataclass(frozen=True)
class StripRow:
    label: str
    zone: ZoneInfo
    work: list[tuple[float, float]]  # fractions of the window
    ticks: list[Tick]
    off: str | None  # why the (main) local day is not a working day
    hours: WorkingHours
    place: Place | None = None  # whose rules the row shows
    day: date | None = None  # the (main) local day of the row


@dataclass(frozen=True)
class Mark:
    start: float
    end: float
    title: str
    local: list[str]  # "Daegu 10:00 KST" … for the tooltip


@dataclass(frozen=True)
class Strip:
    """Several cities' days over one 24-hour window, aligned on the same instants."""

    start: datetime  # UTC
    end: datetime
    rows: list[StripRow]
    overlap: list[tuple[float, float]]
    overlap_spans: list[Span]
    marks: list[Mark]
    now: float | None

    def overlap_text(self) -> list[str]:
        """``10:00–17:00 KST`` for each row, for each common span."""
        out = []
        for lo, hi in self.overlap_spans:
            out.append(
                " · ".join(
                    f"{r.label} {lo.astimezone(r.zone):%H:%M}–{_end_label(hi.astimezone(r.zone))}"
                    f" {zone_abbreviation(lo.astimezone(r.zone))}"
                    for r in self.rows
                )
            )
        return out


def _end_label(moment: datetime) -> str:
    return "24:00" if moment.time() == time(0) else f"{moment:%H:%M}"


def strip(
    cities: Sequence[tuple[str, ZoneInfo]],
    day: date,
    home: ZoneInfo,
    week: Workweek,
    marks: Sequence[tuple[datetime, datetime, str]] = (),
    now: datetime | None = None,
) -> Strip:
    """The 24 hours of ``day`` in ``home``, one row per city, with each city's working hours."""
    start = datetime.combine(day, time(0), home).astimezone(UTC)
    end = datetime.combine(day + timedelta(days=1), time(0), home).astimezone(UTC)
    length = (end - start).total_seconds()  # 23 or 25 hours on a daylight-saving day

    def frac(moment: datetime) -> float:
        return min(1.0, max(0.0, (moment.astimezone(UTC) - start).total_seconds() / length))

    rows: list[StripRow] = []
    all_spans: list[list[Span]] = []
    for label, zone in cities:
        spans = week.spans(zone, start, end)
        all_spans.append(spans)
        middle = (start + (end - start) / 2).astimezone(zone).date()
        place = week.place(zone)
        plan = day_plan(place, middle)
        off = plan.holiday.name.split(";")[0].strip() if plan.holiday else f"{middle:%A}" if plan.weekend else None
        rows.append(
            StripRow(
                label=label,
                zone=zone,
                work=[(frac(lo), frac(hi)) for lo, hi in spans],
                ticks=_ticks(zone, start, end, frac),
                off=off,
                hours=place.hours,
                place=place,
                day=middle,
            )
        )
    shared = common(all_spans)
    out_marks = []
    for lo, hi, title in marks:
        if hi <= start or lo >= end:
            continue
        local = [
            f"{label} {lo.astimezone(zone):%H:%M} {zone_abbreviation(lo.astimezone(zone))}" for label, zone in cities
        ]
        out_marks.append(Mark(frac(lo), frac(hi), title, local))
    return Strip(
        start=start,
        end=end,
        rows=rows,
        overlap=[(frac(lo), frac(hi)) for lo, hi in shared],
        overlap_spans=shared,
        marks=out_marks,
        now=frac(now) if now is not None and start <= now < end else None,
    )


def _ticks(zone: ZoneInfo, start: datetime, end: datetime, frac: Callable[[datetime], float]) -> list[Tick]:
    """Local 00/06/12/18 o'clock within the window; local midnight carries the date."""
    out = []
    local = start.astimezone(zone)
    moment = local.replace(minute=0, second=0, microsecond=0)
    if moment < local:
        moment += timedelta(hours=1)
    while moment.astimezone(UTC) < end:
        wall = moment.astimezone(zone)
        if wall.minute == 0 and wall.hour % 6 == 0:
            midnight = wall.hour == 0
            label = f"{wall:%a %d}" if midnight else f"{wall:%H}"
            out.append(Tick(frac(wall), label, midnight, wall.date() if midnight else None))
        moment = (moment.astimezone(UTC) + timedelta(hours=1)).astimezone(zone)
    return out
