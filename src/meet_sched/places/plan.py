"""Finding a time: candidate slots ranked by how well they fit every place's working day,
and how a recurring pattern shares the burden among places (with a rotation when no time fits).

Pure: the places, the participants' busy spans and the window come from the caller.
"""

from __future__ import annotations

import bisect
import zoneinfo
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from difflib import get_close_matches
from functools import cache
from zoneinfo import ZoneInfo

from dateutil import rrule

from ..localtimes import zone_city
from . import gazetteer
from .days import Verdict, Why, verdict
from .rules import Place, Rules

MAX_DAYS = 62  # plan --days
MAX_PLACES = 12  # plan --with
PATTERN_OCCURRENCES = 12  # plan --every evaluates this many occurrences
GRIDS = (timedelta(minutes=15), timedelta(minutes=30))


class PlanError(ValueError):
    """Something a user asked for that cannot be planned; the message says what to do."""


# -- which places ----------------------------------------------------------------------


def _norm(text: str) -> str:
    return "".join(c for c in text.lower() if c.isalnum())


@cache
def _zone_cities() -> dict[str, str]:
    return {_norm(zone_city(ZoneInfo(z))): z for z in sorted(zoneinfo.available_timezones()) if "/" in z}


def _zone_hint(name: str) -> str:
    from .zones import zone_hint

    return zone_hint(name)


def resolve_places(names: Sequence[str], rules: Rules, cities: Mapping[str, ZoneInfo] | None = None) -> list[Place]:
    """Place names of the settings, IANA zones, or city names (known from the meetings, or the tz database's)."""
    known_cities = {_norm(k): (k, v) for k, v in (cities or {}).items()}
    by_norm = {_norm(n): n for n in rules.places}
    out: list[Place] = []
    for raw in names:
        name = raw.strip()
        if not name:
            continue
        if name in rules.places:
            out.append(rules.places[name])
        elif _norm(name) in by_norm:
            out.append(rules.places[by_norm[_norm(name)]])
        elif name in zoneinfo.available_timezones() and name.lower() != "localtime":
            out.append(rules.for_zone(ZoneInfo(name)))
        elif _norm(name) in known_cities:
            label, zone = known_cities[_norm(name)]
            out.append(rules.for_zone(zone, label))
        elif _norm(name) in _zone_cities():
            out.append(rules.for_zone(ZoneInfo(_zone_cities()[_norm(name)]), name))
        elif "/" not in name and (town := gazetteer.city(name)) is not None:  # Hanoi, Bac Ninh: GeoNames
            out.append(rules.for_zone(ZoneInfo(town.zone), name))
        else:
            choices = [*rules.places, *(k for k, _ in known_cities.values())]
            close = get_close_matches(name, choices, n=1, cutoff=0.6)
            hint = f" (did you mean {close[0]!r}?)" if close else _zone_hint(name) if "/" in name else ""
            raise PlanError(
                f"--with {name!r}: not a place of [places], an IANA zone or a known city{hint}"
                + (f"; places: {', '.join(sorted(rules.places))}" if rules.places and not close else "")
            )
    if not out:
        raise PlanError("--with names no place (e.g. --with daegu,chengdu or --with Asia/Seoul,Europe/Berlin)")
    if len(out) > MAX_PLACES:
        raise PlanError(f"--with names {len(out)} places; at most {MAX_PLACES}")
    return out


def unique(places: Iterable[Place]) -> list[Place]:
    """One column per place: the same zone and rules under another label is the same place."""
    seen: dict[tuple[object, ...], Place] = {}
    for p in places:
        seen.setdefault(p.key, p)
    return list(seen.values())


# -- slots ---------------------------------------------------------------------------------


class Busy:
    """Participants' existing meetings, as UTC spans per person sorted by start."""

    def __init__(self, items: Iterable[tuple[str, datetime, datetime, str]]) -> None:
        by: dict[str, list[tuple[datetime, datetime, str]]] = {}
        for who, start, end, title in items:
            by.setdefault(who, []).append((start.astimezone(UTC), end.astimezone(UTC), title))
        self.spans = {k: sorted(v) for k, v in by.items()}
        self.starts = {k: [lo for lo, _, _ in v] for k, v in self.spans.items()}
        self.longest = {k: max(hi - lo for lo, hi, _ in v) for k, v in self.spans.items()}

    def __len__(self) -> int:
        return sum(len(v) for v in self.spans.values())

    def clashes(self, start: datetime, end: datetime) -> list[tuple[str, str]]:
        """(who, meeting title) for every participant already busy during [start, end)."""
        out = []
        for who, spans in self.spans.items():
            i = bisect.bisect_left(self.starts[who], end)
            earliest = start - self.longest[who]
            for lo, hi, title in reversed(spans[:i]):
                if lo <= earliest:
                    break
                if start < hi:
                    out.append((who, title))
                    break
        return out


@dataclass(frozen=True)
class Slot:
    start: datetime  # UTC
    end: datetime
    verdicts: tuple[Verdict, ...]  # one per place, in the order of the places
    busy: tuple[tuple[str, str], ...] = ()

    @property
    def off(self) -> list[Verdict]:
        return [v for v in self.verdicts if v.plan.off]

    @property
    def out_of_hours(self) -> list[Verdict]:
        return [v for v in self.verdicts if Why.EARLY in v.reasons or Why.LATE in v.reasons]

    @property
    def at_lunch(self) -> list[Verdict]:
        return [v for v in self.verdicts if Why.LUNCH in v.reasons]

    @property
    def fits(self) -> bool:
        return not self.busy and all(v.fits for v in self.verdicts)

    def inconvenience(self) -> int:
        """Minutes between the slot's middle and the middle of each place's working day, summed."""
        total = 0
        middle = self.start + (self.end - self.start) / 2
        for v in self.verdicts:
            lo, hi = v.place.hours.minutes()
            local = middle.astimezone(v.place.zone)
            total += abs(local.hour * 60 + local.minute - (lo + hi) // 2)
        return total

    def beyond(self) -> int:
        """Minutes from the edge of each place's working hours to the far end of the slot, summed."""
        total = timedelta()
        for v in self.out_of_hours:
            lo, hi = v.plan.hours
            total += max(timedelta(), lo - self.start) + max(timedelta(), self.end - hi)
        return int(total.total_seconds() // 60)

    def rank(self) -> tuple[int, int, int, int, int, int, datetime]:
        outside = self.beyond()
        return (
            len(self.off),
            len(self.busy),
            len(self.out_of_hours),
            outside,
            len(self.at_lunch),
            self.inconvenience(),
            self.start,
        )

    def problems(self) -> list[str]:
        """``Chengdu: lunch``, ``Atlanta: 19:00, after working hours``, ``li@…: busy (Weekly call)``."""
        out = []
        for v in self.verdicts:
            for why in v.reasons:
                if why is Why.HOLIDAY and v.plan.holiday is not None:
                    out.append(f"{v.place.label}: {v.plan.holiday.name}")
                elif why is Why.WEEKEND:
                    out.append(f"{v.place.label}: weekend")
                elif why in (Why.EARLY, Why.LATE):
                    out.append(f"{v.place.label}: {why.value}")
                else:
                    out.append(f"{v.place.label}: {why.value}")
        out.extend(f"{who}: busy ({title})" for who, title in self.busy)
        return out


def slot_at(places: Sequence[Place], start: datetime, duration: timedelta, busy: Busy | None = None) -> Slot:
    end = start + duration
    return Slot(
        start.astimezone(UTC),
        end.astimezone(UTC),
        tuple(verdict(p, start, end) for p in places),
        tuple(busy.clashes(start, end)) if busy else (),
    )


def candidates(
    places: Sequence[Place],
    duration: timedelta,
    start: datetime,
    days: int,
    *,
    grid: timedelta = GRIDS[1],
    busy: Busy | None = None,
) -> list[Slot]:
    """Every slot on the grid from ``start`` for ``days`` days, best first."""
    if days < 1 or days > MAX_DAYS:
        raise PlanError(f"--days must be from 1 to {MAX_DAYS}")
    if grid not in GRIDS:
        raise PlanError("the grid is 15 or 30 minutes")
    out = []
    moment = start.astimezone(UTC)
    stop = moment + timedelta(days=days)
    while moment < stop:
        out.append(slot_at(places, moment, duration, busy))
        moment += grid
    return sorted(out, key=Slot.rank)


def first_midnight(places: Sequence[Place], day: date | None, now: datetime) -> datetime:
    """Local midnight of ``day`` in the first place, or of tomorrow there."""
    home = places[0].zone
    if day is not None:
        return datetime.combine(day, time(0), home)
    return datetime.combine(now.astimezone(home).date() + timedelta(days=1), time(0), home)


# -- a recurring pattern ---------------------------------------------------------------------


@dataclass(frozen=True)
class Pattern:
    """The next occurrences of a pattern at one (or, rotating, two) times of day, and who bears what."""

    slots: list[Slot]
    rotation: bool

    def sides(self, places: Sequence[Place]) -> tuple[list[Place], list[Place]]:
        """Who the odd and who the even occurrences keep inside working hours (a rotation)."""

        def inside(slot: Slot) -> set[int]:
            return {i for i, v in enumerate(slot.verdicts) if not {Why.EARLY, Why.LATE} & set(v.reasons)}

        odd = inside(self.slots[0])
        even = inside(self.slots[1]) if len(self.slots) > 1 else set()
        return [places[i] for i in sorted(odd)], [places[i] for i in sorted(even)]

    def burden(self, places: Sequence[Place]) -> list[tuple[Place, int, int]]:
        """(place, occurrences outside its working hours, occurrences on its day off)."""
        out = []
        for i, place in enumerate(places):
            outside = sum(1 for s in self.slots if {Why.EARLY, Why.LATE} & set(s.verdicts[i].reasons))
            off = sum(1 for s in self.slots if s.verdicts[i].plan.off)
            out.append((place, outside, off))
        return out


def pattern(
    places: Sequence[Place],
    every: str,
    first: Slot,
    duration: timedelta,
    *,
    grid: timedelta = GRIDS[1],
    busy: Busy | None = None,
) -> Pattern:
    """``every`` (an RRULE) at ``first``'s time of day.  When even that best time leaves someone outside
    their working hours (no time fits everyone), a rotation: turn about, the occurrences keep the ones
    who fit ``first`` inside their hours, then the ones who did not, each at the best time for that turn."""
    home = places[0].zone
    starts = _occurrences(every, first.start.astimezone(home))
    outside = {i for i, v in enumerate(first.verdicts) if Why.EARLY in v.reasons or Why.LATE in v.reasons}
    if not outside:
        return Pattern([slot_at(places, start, duration, busy) for start in starts], False)
    turns = [set(range(len(places))) - outside, outside]
    slots = []
    for n, start in enumerate(starts):
        keep = turns[n % 2]
        best = None
        moment = datetime.combine(start.date(), time(0), home)
        stop = moment + timedelta(days=1)
        while moment < stop:
            slot = slot_at(places, moment, duration, busy)
            hours_ok = all(not {Why.EARLY, Why.LATE} & set(slot.verdicts[i].reasons) for i in keep)
            if hours_ok and (best is None or slot.rank() < best.rank()):
                best = slot
            moment = (moment.astimezone(UTC) + grid).astimezone(home)
        slots.append(best or slot_at(places, start, duration, busy))
    return Pattern(slots, True)


def _occurrences(every: str, start: datetime) -> list[datetime]:
    body = every[6:] if every.upper().startswith("RRULE:") else every
    try:
        rule = rrule.rrulestr(body, dtstart=start.replace(tzinfo=None))
    except (ValueError, TypeError) as exc:
        raise PlanError(f"--every {every!r} is not an RFC 5545 RRULE ({exc})") from None
    if isinstance(rule, rrule.rruleset):
        raise PlanError(f"--every {every!r}: give one RRULE")
    out = []
    for naive in rule:
        out.append(naive.replace(tzinfo=start.tzinfo))
        if len(out) >= PATTERN_OCCURRENCES:
            break
    if not out:
        raise PlanError(f"--every {every!r} has no occurrence")
    return out
