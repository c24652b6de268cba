"""Working days and hours in each city, and where a span of time falls in each city's day.

Pure functions (no I/O but the tz database and the ``holidays`` package's tables): the
agenda page draws from what they return.  Working hours are local wall times
(09:00–18:00 unless configured); a day is a working day unless it is the weekend or
a public holiday of the country the zone belongs to (``zone.tab`` of the tz database).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from importlib import resources
from pathlib import Path
from zoneinfo import ZoneInfo

import holidays

from .model import zone_abbreviation

_HOURS = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*[-–]\s*(\d{1,2}):(\d{2})\s*$")
Span = tuple[datetime, datetime]  # aware UTC instants, start < end


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
        start, end = time(h1, m1), time(23, 59, 59, 999999) if h2 == 24 else time(h2, m2)
        if end <= start:
            raise ValueError(f"{text!r} ends before it starts (night shifts are not supported)")
        return cls(start, end)

    def __str__(self) -> str:
        end = "24:00" if self.end == time(23, 59, 59, 999999) else f"{self.end:%H:%M}"
        return f"{self.start:%H:%M}–{end}"


DEFAULT_HOURS = WorkingHours(time(9), time(18))


# -- days off ---------------------------------------------------------------------


@cache
def _zone_countries() -> dict[str, str]:
    """IANA zone → ISO 3166 country code, from the tz database's ``zone.tab``."""
    text = None
    try:
        text = resources.files("tzdata").joinpath("zoneinfo/zone.tab").read_text(encoding="utf-8")
    except (ModuleNotFoundError, FileNotFoundError, OSError):
        system = Path("/usr/share/zoneinfo/zone.tab")
        text = system.read_text(encoding="utf-8") if system.is_file() else ""
    out: dict[str, str] = {}
    for line in text.splitlines():
        if line.startswith("#") or not line.strip():
            continue
        parts = line.split("\t")
        if len(parts) >= 3:
            out[parts[2]] = parts[0]
    return out


def country_of(zone: ZoneInfo) -> str | None:
    return _zone_countries().get(zone.key)


@cache
def _calendar(country: str, year: int) -> holidays.HolidayBase | None:
    try:
        return holidays.country_holidays(country, years=year, language="en_US")
    except (NotImplementedError, KeyError):
        return None


def day_off(zone: ZoneInfo, day: date, *, use_holidays: bool = True) -> str | None:
    """Why ``day`` is not a working day where ``zone`` is (``Saturday``, ``Chuseok``), or None."""
    country = country_of(zone) if use_holidays else None
    table = _calendar(country, day.year) if country else None
    if table is None:
        return f"{day:%A}" if day.weekday() >= 5 else None
    if table.is_working_day(day):
        return None
    name = table.get(day)
    return str(name).split(";")[0].strip() if name else f"{day:%A}"


# -- working spans ------------------------------------------------------------------


@dataclass(frozen=True)
class Workweek:
    """How to tell working hours in a zone: its hours, and whether to look up holidays."""

    default: WorkingHours = DEFAULT_HOURS
    by_zone: Mapping[str, WorkingHours] = field(default_factory=dict)
    holidays: bool = True

    def hours(self, zone: ZoneInfo) -> WorkingHours:
        return self.by_zone.get(zone.key, self.default)

    def spans(self, zone: ZoneInfo, start: datetime, end: datetime) -> list[Span]:
        """The working spans in ``zone`` that meet [start, end), clipped to it (UTC)."""
        hours = self.hours(zone)
        first = start.astimezone(zone).date() - timedelta(days=1)
        last = end.astimezone(zone).date()
        out: list[Span] = []
        day = first
        while day <= last:
            if day_off(zone, day, use_holidays=self.holidays) is None:
                lo = datetime.combine(day, hours.start, zone).astimezone(UTC)
                hi = datetime.combine(day, hours.end, zone).astimezone(UTC)
                lo, hi = max(lo, start.astimezone(UTC)), min(hi, end.astimezone(UTC))
                if lo < hi:
                    out.append((lo, hi))
            day += timedelta(days=1)
        return out

    def at_work(self, zone: ZoneInfo, start: datetime, end: datetime) -> bool:
        """Does [start, end) lie wholly inside working hours of a working day in ``zone``?"""
        return any(lo <= start.astimezone(UTC) and end.astimezone(UTC) <= hi for lo, hi in self.spans(zone, start, end))


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


@dataclass(frozen=True)
class Row:
    label: str
    zone: ZoneInfo
    work: list[tuple[float, float]]  # fractions of the window
    ticks: list[Tick]
    off: str | None  # why the (main) local day is not a working day
    hours: WorkingHours


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
    rows: list[Row]
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

    rows: list[Row] = []
    all_spans: list[list[Span]] = []
    for label, zone in cities:
        spans = week.spans(zone, start, end)
        all_spans.append(spans)
        middle = (start + (end - start) / 2).astimezone(zone).date()
        rows.append(
            Row(
                label=label,
                zone=zone,
                work=[(frac(lo), frac(hi)) for lo, hi in spans],
                ticks=_ticks(zone, start, end, frac),
                off=day_off(zone, middle, use_holidays=week.holidays),
                hours=week.hours(zone),
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
            out.append(Tick(frac(wall), f"{wall:%a %d}" if midnight else f"{wall:%H}", midnight))
        moment = (moment.astimezone(UTC) + timedelta(hours=1)).astimezone(zone)
    return out
