"""VTIMEZONE components from the IANA database, written the way most calendar producers write them.

A zone's transitions (found with zoneinfo) are grouped by observance (offsets, name, DST or not).
Each run of yearly transitions that follows one rule ("last Sunday of March at 02:00") becomes an
observance with an RRULE (``FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU``) when the rule is still in force
at the end of the span; without UNTIL, it covers any later date too. Other transitions (no rule,
or a rule that ended) are listed one per RDATE line, the DTSTART among them: some parsers
(vobject) keep only the first value of an RDATE with several; some (the ``ical`` package) count an
observance's DTSTART only as part of an RRULE or RDATE, and refuse an UNTIL in a VTIMEZONE.

Each observance's DTSTART is the local time of the transition in the offset it leaves
(RFC 5545 section 3.6.5: 02:00 for a change from +01:00 to +02:00 at 01:00 UTC).
"""

from __future__ import annotations

import calendar
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from icalendar import Timezone, TimezoneDaylight, TimezoneStandard
from icalendar.prop import vRecur

SCAN_STEP = timedelta(days=7)  # a change undone within a week would be missed
WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
MIN_RULE_YEARS = 2  # a run of fewer yearly transitions is written as RDATEs


@dataclass(frozen=True, order=True)
class Observance:
    offset_from: timedelta
    offset_to: timedelta
    name: str
    dst: bool


@dataclass(frozen=True)
class Transition:
    at: datetime  # UTC, aware
    observance: Observance

    @property
    def local(self) -> datetime:
        """The transition's wall time in the offset it leaves, naive (an observance's DTSTART)."""
        return (self.at + self.observance.offset_from).replace(tzinfo=None)


def _state(zone: ZoneInfo, at: datetime) -> tuple[timedelta, str, bool]:
    local = at.astimezone(zone)
    offset = local.utcoffset()
    assert offset is not None
    return offset, local.tzname() or _offset_name(offset), bool(local.dst())


def _offset_name(offset: timedelta) -> str:
    minutes = int(offset.total_seconds()) // 60
    sign = "-" if minutes < 0 else "+"
    return f"UTC{sign}{abs(minutes) // 60:02d}{abs(minutes) % 60:02d}"


def transitions(zone: ZoneInfo, start: datetime, end: datetime) -> list[Transition]:
    """Every change of offset, name or DST flag between two UTC instants, to the second."""
    out: list[Transition] = []
    at = start
    state = _state(zone, at)
    while at < end:
        step = min(at + SCAN_STEP, end)
        new = _state(zone, step)
        if new != state:
            lo, hi = at, step  # state(lo) == old, state(hi) != old
            while hi - lo > timedelta(seconds=1):
                mid = lo + (hi - lo) / 2
                mid = mid.replace(microsecond=0)
                if mid <= lo:
                    break
                if _state(zone, mid) == state:
                    lo = mid
                else:
                    hi = mid
            new = _state(zone, hi)
            out.append(Transition(hi, Observance(state[0], new[0], new[1], new[2])))
            state = new
            at = hi
            continue
        at = step
    return out


def _rules(local: datetime) -> set[str]:
    """The BYDAY/BYMONTHDAY forms of a yearly rule that give this date in its month."""
    day, weekday = local.day, WEEKDAYS[local.weekday()]
    length = calendar.monthrange(local.year, local.month)[1]
    rules = {f"BYDAY={(day - 1) // 7 + 1}{weekday}"}
    if day + 7 > length:
        rules.add(f"BYDAY=-1{weekday}")
    # "the first Sunday on or after the 2nd": one of seven days in a row (a month's first 28 days all exist)
    for first in range(max(1, day - 6), day + 1):
        if first + 6 <= max(28, length if local.month != 2 else 28):
            days = ",".join(str(d) for d in range(first, first + 7))
            rules.add(f"BYMONTHDAY={days};BYDAY={weekday}")
    return rules


def _preference(rule: str) -> tuple[int, str]:
    """Of the forms that fit every year: last weekday, then n-th weekday, then seven days in a row."""
    return (0 if "-1" in rule else 1 if "BYMONTHDAY" not in rule else 2, rule)


def _key(t: Transition) -> tuple[int, object, int]:
    local = t.local
    return local.month, local.time(), local.year


def _runs(items: list[Transition]) -> list[tuple[list[Transition], str | None]]:
    """Split one observance's transitions (in order) into yearly runs of one rule (rule None: no rule)."""
    runs: list[tuple[list[Transition], set[str]]] = []
    for t in items:
        month, time, year = _key(t)
        rules = _rules(t.local)
        if runs:
            run, common = runs[-1]
            p_month, p_time, p_year = _key(run[-1])
            both = common & rules
            if (month, time) == (p_month, p_time) and year == p_year + 1 and both:
                run.append(t)
                runs[-1] = (run, both)
                continue
        runs.append(([t], rules))
    out: list[tuple[list[Transition], str | None]] = []
    for run, rules in runs:
        if len(run) >= MIN_RULE_YEARS:
            out.append((run, min(rules, key=_preference)))
        else:
            out.append((run, None))
    return out


def build_timezone(tzid: str, first: date, last: date) -> Timezone:
    """A VTIMEZONE for ``tzid`` that is right for every time from ``first`` to ``last`` (and, where the
    zone's rule is regular at ``last``, for every later time too)."""
    zone = ZoneInfo(tzid)
    begin = datetime(first.year, first.month, first.day, tzinfo=UTC) - timedelta(days=366)
    # A year past the end: a rule still in force then is written without UNTIL.
    stop = datetime(last.year, last.month, last.day, tzinfo=UTC) + timedelta(days=367)
    found = transitions(zone, begin, stop)
    cut = datetime(last.year, last.month, last.day, tzinfo=UTC) + timedelta(days=1)
    tz = Timezone()
    tz.add("TZID", tzid)
    components: list[tuple[datetime, Observance, Component]] = []
    if not found or found[0].at > datetime(first.year, first.month, first.day, tzinfo=UTC) - timedelta(days=1):
        offset, name, dst = _state(zone, begin)
        obs = Observance(offset, offset, name, dst)
        local = begin.replace(tzinfo=None) + offset
        components.append((begin.replace(tzinfo=None), obs, _component(obs, local, [local])))
    groups: dict[Observance, list[Transition]] = {}
    for t in found:
        groups.setdefault(t.observance, []).append(t)
    for obs, items in groups.items():
        loose: list[Transition] = []
        for run, rule in _runs(items):
            inside = [t for t in run if t.at < cut]
            if not inside:
                continue
            if rule is None or run[-1].at < cut:
                # No rule, or one that ends within the span: an RRULE would need an UNTIL, which some
                # parsers refuse next to a local DTSTART (the ``ical`` package); RDATEs need none.
                loose.extend(inside)
                continue
            comp = _component(obs, run[0].local)
            comp.add("RRULE", vRecur.from_ical(f"FREQ=YEARLY;BYMONTH={run[0].local.month};{rule}"))
            components.append((run[0].at.replace(tzinfo=None), obs, comp))
        if loose:
            comp = _component(obs, loose[0].local, [t.local for t in loose])
            components.append((loose[0].at.replace(tzinfo=None), obs, comp))
    for _, _, comp in sorted(components, key=lambda c: (c[0], c[1])):
        tz.add_component(comp)
    return tz


Component = TimezoneStandard | TimezoneDaylight


def _component(obs: Observance, start: datetime, rdates: Sequence[datetime] = ()) -> Component:
    comp = TimezoneDaylight() if obs.dst else TimezoneStandard()
    comp.add("DTSTART", start)
    for when in rdates:  # one value per line
        comp.add("RDATE", when)
    comp.add("TZNAME", obs.name)
    comp.add("TZOFFSETFROM", obs.offset_from)
    comp.add("TZOFFSETTO", obs.offset_to)
    return comp
