"""Checks of a meeting's times and recurrence: the supported years, daylight-saving gaps and
overlaps, the frequency and density of a series.

Every check here is bounded: a series is followed at most to the end of the supported years,
and the daylight-saving check expands it only when one of its wall times can fall into a gap
or an overlap at all.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from dateutil import rrule
from icalendar.prop import vRecur

from ..model import Expansion
from ..recurrence import (
    LAST_YEAR,
    MAX_COUNT,
    MAX_OCCURRENCES_PER_YEAR,
    NEVER_FREQUENCIES,
    RANGE_END,
    SETTING_FREQUENCIES,
    SUPPORTED_YEARS,
    outside_years,
)

WallSpan = tuple[datetime, datetime]  # naive wall times [from, to) of a gap or an overlap
REUSED_OCCURRENCES = 1_000  # a series' occurrences the check hands on to the meeting (a year of a daily one)


@functools.cache
def transitions(zone: ZoneInfo, year: int) -> tuple[WallSpan, ...]:
    """The wall times of ``year`` that do not exist (a gap) or happen twice (an overlap) in ``zone``.

    A wall time can only be wrong in such a span, so a long series needs the exact check for a
    few of its occurrences only.  The offset is compared week by week, then day by day in a week
    that changed it, then the instant of the change is found to the second.
    """

    def offset(day: date) -> timedelta | None:
        return datetime.combine(day, time(12), zone).utcoffset()

    out: list[WallSpan] = []
    week = date(year, 1, 1) - timedelta(days=1)
    while week.year <= year:
        if offset(week) != offset(week + timedelta(days=7)):
            for day in (week + timedelta(days=i) for i in range(1, 8)):
                before, after = offset(day - timedelta(days=1)), offset(day)
                if day.year == year and before != after and before is not None and after is not None:
                    out.append(_change(zone, day, before, after))
        week += timedelta(days=7)
    return tuple(out)


def _change(zone: ZoneInfo, day: date, before: timedelta, after: timedelta) -> WallSpan:
    """The span of wall times around the offset change between noon before ``day`` and noon on it."""
    lo = datetime.combine(day - timedelta(days=1), time(12), zone).astimezone(UTC)
    hi = datetime.combine(day, time(12), zone).astimezone(UTC)
    while hi - lo > timedelta(seconds=1):
        mid = lo + (hi - lo) / 2
        if mid.astimezone(zone).utcoffset() == before:
            lo = mid
        else:
            hi = mid
    change = hi.replace(tzinfo=None, microsecond=0)
    return change + min(before, after), change + max(before, after)


def wall_problem(moment: datetime, zone: ZoneInfo) -> str | None:
    """Why a local wall time is not one instant in ``zone``: a DST gap or overlap."""
    aware = moment.replace(tzinfo=zone)
    back = aware.astimezone(UTC).astimezone(zone).replace(tzinfo=None)
    if back != moment:
        return (
            f"{moment:%Y-%m-%d %H:%M} does not exist in {zone.key} (the clocks skip it for daylight saving time); "
            "pick a time outside the gap"
        )
    if aware.utcoffset() != aware.replace(fold=1).utcoffset():
        return (
            f"{moment:%Y-%m-%d %H:%M} happens twice in {zone.key} (the clocks turn back); "
            "pick a time outside the overlap"
        )
    return None


def _times_of_day(recur: vRecur, start: datetime) -> list[time]:
    """Every wall time of day an occurrence of the rule can have (more, for HOURLY, never fewer)."""
    freq = str(recur["FREQ"][0]).upper()
    hours = [int(h) for h in recur.get("BYHOUR", [])] or (list(range(24)) if freq == "HOURLY" else [start.hour])
    minutes = [int(m) for m in recur.get("BYMINUTE", [])] or [start.minute]
    seconds = [int(s) for s in recur.get("BYSECOND", [])] or [start.second]
    return [time(h, m, min(s, 59)) for h in hours for m in minutes for s in seconds]


def risky_walls(recur: vRecur, start: datetime, zone: ZoneInfo, last_year: int) -> set[datetime]:
    """The wall times, from ``start`` to the end of ``last_year``, at which an occurrence of the rule
    would fall into a gap or an overlap: only these need the rule expanded."""
    times = _times_of_day(recur, start)
    out: set[datetime] = set()
    for year in range(start.year, last_year + 1):
        for lo, hi in transitions(zone, year):
            day = lo.date()
            while day <= hi.date():
                out.update(w for t in times if lo <= (w := datetime.combine(day, t)) < hi and w >= start)
                day += timedelta(days=1)
    return out


def check_rrule(
    text: str,
    start: datetime,
    zone: ZoneInfo,
    bad: Callable[[str], None],
    *,
    allow_hourly: bool = False,
    all_day: bool = False,
    expanded: list[Expansion] | None = None,
    first: list[datetime] | None = None,
) -> str | None:
    """The canonical RRULE (UNTIL in UTC) for a meeting starting at wall time ``start``, or None after
    calling ``bad`` with what is wrong: a frequency below daily (hourly only when allowed), COUNT
    above :data:`MAX_COUNT`, UNTIL or an occurrence outside the supported years, more than
    :data:`MAX_OCCURRENCES_PER_YEAR` occurrences in a year, an occurrence in a DST gap or overlap.

    ``all_day``: the occurrences are dates; UNTIL stays a date (RFC 5545 section 3.3.10) and no
    daylight-saving check applies.

    The check expands the series' first year (a COUNT series: all of it); ``expanded`` receives
    those occurrences (not for an all-day series, whose dates it expands naive), for
    :meth:`~meet_sched.model.Meeting.reuse_expansion`, so that nothing downstream expands them again.
    ``first`` receives the rule's first occurrence (naive wall time), which may not be ``start``."""
    recur = vRecur.from_ical(text)  # the syntax was checked by the schema
    freq = str(recur["FREQ"][0]).upper()
    if freq in NEVER_FREQUENCIES or (freq in SETTING_FREQUENCIES and not allow_hourly):
        allowed = "DAILY, WEEKLY, MONTHLY or YEARLY"
        bad(
            f"{text!r}: FREQ={freq} is not allowed for a meeting ({allowed}; HOURLY only where "
            "config/meet-sched.toml sets [limits] allow_hourly = true)"
            if freq in NEVER_FREQUENCIES
            else f"{text!r}: FREQ=HOURLY is allowed only where config/meet-sched.toml sets [limits] allow_hourly = true"
        )
        return None
    count = recur.get("COUNT", [None])[0]
    if isinstance(count, int) and count > MAX_COUNT:
        bad(f"{text!r}: COUNT={count} is more than the {MAX_COUNT:,} occurrences a series may have")
        return None
    canonical: str = vRecur(recur).to_ical().decode()  # type: ignore[no-untyped-call]
    if "UNTIL" in recur:
        # RFC 5545 wants UNTIL in UTC when DTSTART has a zone; people write local dates.
        until = recur["UNTIL"][0]
        if (why := outside_years(until)) is not None:
            bad(f"{text!r}: UNTIL {why}")
            return None
        if all_day:
            recur["UNTIL"] = [
                until.astimezone(zone).date()
                if isinstance(until, datetime) and until.tzinfo
                else until.date()
                if isinstance(until, datetime)
                else until
            ]
        else:
            if not isinstance(until, datetime):
                until = datetime.combine(until, time(23, 59, 59))
            if until.tzinfo is None:
                until = until.replace(tzinfo=zone)
            recur["UNTIL"] = [until.astimezone(UTC)]
        canonical = vRecur(recur).to_ical().decode()  # type: ignore[no-untyped-call]
    interval = recur.get("INTERVAL", [1])[0]
    if not isinstance(interval, int) or interval < 1:
        # dateutil repeats the first occurrence forever with INTERVAL=0
        bad(f"{text!r}: INTERVAL must be a whole number of 1 or more")
        return None
    try:
        aware = start if all_day else start.replace(tzinfo=zone)  # dates: naive, as the model expands them
        rule = rrule.rrulestr(canonical, dtstart=aware)
        end = RANGE_END if all_day else RANGE_END.replace(tzinfo=zone)
        year_later = aware + timedelta(days=365)
        last: datetime | None = None
        seen: list[datetime] = []
        through: datetime | None = None  # None: every occurrence of the rule is in ``seen``
        for n, occurrence in enumerate(rule):
            if occurrence >= end:
                if "COUNT" in recur or "UNTIL" in recur:
                    bad(
                        f"{text!r}: occurrence {n + 1}, {occurrence:%Y-%m-%dT%H:%M}, "
                        f"is outside the supported years {SUPPORTED_YEARS}"
                    )
                    return None
                break
            if n >= MAX_OCCURRENCES_PER_YEAR and occurrence < year_later:
                bad(
                    f"{text!r} has more than {MAX_OCCURRENCES_PER_YEAR:,} occurrences in its first year "
                    "(a meeting may have at most that many a year)"
                )
                return None
            if last is None and first is not None:
                first.append(occurrence.replace(tzinfo=None))
            last = occurrence
            if occurrence >= year_later and "COUNT" not in recur:
                through = year_later
                break  # an UNTIL or an open series ends in the supported years; COUNT is followed to its end
            seen.append(occurrence)
        if last is None:
            bad(f"{text!r} has no occurrence at or after the start")
            return None
        # the last year the series can reach: its COUNT's last occurrence, its UNTIL, or the supported years'
        last_year = last.year if "COUNT" in recur else LAST_YEAR
        if "UNTIL" in recur:
            until = recur["UNTIL"][0]
            last_year = min(LAST_YEAR, until.astimezone(zone).year if isinstance(until, datetime) else until.year)
        hits = set() if all_day else risky_walls(recur, start, zone, last_year)
        if hits:
            latest = max(hits)
            for occurrence in rule:
                naive = occurrence.replace(tzinfo=None)
                if naive > latest:
                    break
                if naive in hits and (why := wall_problem(naive, zone)) is not None:
                    bad(f"an occurrence falls on a daylight-saving change: {why}")
                    return None
        if expanded is not None and not all_day and len(seen) <= REUSED_OCCURRENCES:
            expanded.append(Expansion(tuple(seen), through))
    except (ValueError, TypeError, OverflowError) as exc:
        bad(f"{text!r} is not a valid RRULE ({exc})")
        return None
    return canonical
