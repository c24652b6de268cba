"""What ``validate`` warns of: occurrences on a participant's holiday or weekend, in their lunch or
outside their working hours, and stretches of the year that daylight saving moves out of them.

Computed from validated meetings alone (no database).  Each place's day is worked out once per
local date (:func:`~meet_sched.places.days.day_plan`), and each occurrence is checked once per
distinct place, whatever the number of attendees there.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache
from zoneinfo import ZoneInfo

from ..localtimes import zone_abbreviation
from ..model import Attendee, Meeting
from .days import Verdict, Why, clash, rules_id, verdict
from .holidays import holiday_on
from .rules import Place, Rules, countries_sharing, participants

MAX_OCCURRENCES = 10_000  # occurrences of one meeting checked in the window (an hourly series for a year fits)
MEMO_LIMIT = 200_000  # (place, instant, end) verdicts kept while checking, shared by meetings at the same times


@dataclass(frozen=True)
class Clash:
    """One participant's problem with one occurrence."""

    attendee: Attendee
    place: Place
    verdict: Verdict

    @property
    def who(self) -> str:
        return self.attendee.name or self.attendee.email

    def reasons(self) -> list[str]:
        """``public holiday: Chuseok (추석)``, ``07:30 CST, before working hours 09:00–18:00`` …"""
        v, local = self.verdict, self.verdict.local
        out = []
        at = f"{local:%H:%M} {zone_abbreviation(local)}"
        for why in v.reasons:
            if why is Why.HOLIDAY:
                h = holiday_on(self.place.country, v.plan.day, self.attendee.language) or v.plan.holiday
                out.append(f"public holiday {h}")
            elif why is Why.WEEKEND:
                out.append(f"weekend ({v.plan.day:%A})")
            elif why is Why.LUNCH:
                out.append(f"{at}, during lunch {self.place.lunch}")
            else:
                out.append(f"{at}, {why.value} {self.place.hours}")
        return out

    def to_json(self) -> dict[str, object]:
        h = holiday_on(self.place.country, self.verdict.plan.day, self.attendee.language)
        return {
            "attendee": self.attendee.email,
            "name": self.attendee.name,
            "place": self.place.label,
            "local": self.verdict.local.isoformat(),
            "reasons": [why.value for why in self.verdict.reasons],
            "holiday": None if h is None else {"name": h.name, "local_name": h.local_name, "country": h.country},
            "text": self.reasons(),
        }


@dataclass(frozen=True)
class OccurrenceClash:
    start: datetime  # in the meeting's zone
    found: tuple[tuple[Place, Verdict, tuple[Attendee, ...]], ...]  # per place: its verdict and who is there

    @property
    def clashes(self) -> list[Clash]:
        return [Clash(a, place, v) for place, v, who in self.found for a in who]


@dataclass(frozen=True)
class Stretch:
    """Part of the year daylight saving moves a series out of someone's working hours."""

    attendee: Attendee
    place: Place
    first: Verdict
    last: Verdict
    occurrences: int
    reasons: tuple[Why, ...]

    def text(self) -> str:
        local = self.first.local
        who = self.attendee.name or self.attendee.email
        why = " and ".join(r.value for r in self.reasons)
        return (
            f"daylight saving: {who} ({self.place.label}) from {self.first.local:%Y-%m-%d} to "
            f"{self.last.local:%Y-%m-%d} ({self.occurrences} occurrences) at {local:%H:%M} "
            f"{zone_abbreviation(local)}, {why} {self.place.hours}; inside them the rest of the time"
        )


@dataclass
class MeetingWarnings:
    meeting: Meeting
    checked: int = 0  # occurrences in the window
    occurrences: list[OccurrenceClash] = field(default_factory=list)
    stretches: list[Stretch] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.occurrences) + len(self.stretches) + len(self.notes)


@dataclass(frozen=True)
class Window:
    after: datetime
    before: datetime


def check_meetings(meetings: Iterable[Meeting], rules: Rules, window: Window) -> list[MeetingWarnings]:
    """Every meeting that has something to warn of, in the order given."""
    out = []
    memo: dict[tuple[int, float, float], Verdict | None] = {}  # many meetings share their times
    for meeting in meetings:
        if len(memo) > MEMO_LIMIT:
            memo.clear()
        found = check_meeting(meeting, rules, window, memo)
        if found.count:
            out.append(found)
    return out


def check_meeting(
    meeting: Meeting, rules: Rules, window: Window, memo: dict[tuple[int, float, float], Verdict | None] | None = None
) -> MeetingWarnings:
    result = MeetingWarnings(meeting)
    if meeting.cancelled or meeting.all_day:  # all day: on dates, at no hour of anyone's working day
        return result
    people = participants(meeting.attendees)
    places = [rules.for_attendee(a) for a in people]
    result.notes.extend(_country_notes(people, places))
    distinct: dict[Place, list[int]] = {}
    for i, place in enumerate(places):
        distinct.setdefault(place, []).append(i)
    # only a place whose offset from the meeting's zone changes in the window can have a DST stretch
    dst = bool(meeting.recurrence)
    rows: list[tuple[Place, int, tuple[Attendee, ...], list[_Seen] | None]] = [
        (
            place,
            rules_id(place),
            tuple(people[i] for i in who),
            [] if dst and _gap_changes(meeting.timezone, place.zone, window) else None,
        )
        for place, who in distinct.items()
    ]
    duration = meeting.duration
    for n, start in enumerate(meeting.occurrences(window.after, window.before)):
        if n >= MAX_OCCURRENCES:
            result.notes.append(f"only the first {MAX_OCCURRENCES} occurrences were checked")
            break
        result.checked += 1
        s = start.timestamp()
        e = s + duration.total_seconds()
        clashes: list[tuple[Place, Verdict, tuple[Attendee, ...]]] = []
        for place, rid, who, history in rows:
            key = (rid, s, e)
            if memo is not None and key in memo:
                found = memo[key]
            else:
                found = clash(place, start, s, e)
                if memo is not None:
                    memo[key] = found
            if history is not None:
                local = found.local if found is not None else start.astimezone(place.zone)
                gap = (local.utcoffset() or timedelta()) - (start.utcoffset() or timedelta())
                history.append((start, found, gap))
            if found is not None:
                clashes.append((place, found, who))
        if clashes:
            result.occurrences.append(OccurrenceClash(start, tuple(clashes)))
    for place, _, who, history in rows:
        for run, reasons in _dst_stretches(history or []):
            first = verdict(place, run[0][0], run[0][0] + duration)
            last = verdict(place, run[-1][0], run[-1][0] + duration)
            for a in who:
                result.stretches.append(Stretch(a, place, first, last, len(run), reasons))
    return result


@cache
def _gap_changes(home: ZoneInfo, zone: ZoneInfo, window: Window) -> bool:
    """Whether the offset between two zones differs somewhere in the window (sampled every two weeks)."""
    if home.key == zone.key:
        return False
    gaps = set()
    moment = window.after
    while moment <= window.before + timedelta(days=14):
        gaps.add((moment.astimezone(zone).utcoffset(), moment.astimezone(home).utcoffset()))
        moment += timedelta(days=14)
    return len({(a or timedelta()) - (b or timedelta()) for a, b in gaps}) > 1


def _country_notes(people: Sequence[Attendee], places: Sequence[Place]) -> list[str]:
    out = []
    for a, place in zip(people, places, strict=True):
        if not place.holidays or a.country:
            continue
        who = a.name or a.email
        shared = countries_sharing(place.zone)
        if shared and place.name is None:
            out.append(
                f"{who}: {place.zone.key} is kept by {', '.join(shared)}; the public holidays of "
                f"{place.country} are assumed (give 'country:' to choose)"
            )
        elif place.country is None:
            out.append(f"{who}: no country is known for {place.zone.key}; weekends only (give 'country:')")
    return out


_Seen = tuple[datetime, Verdict | None, timedelta]  # an occurrence, its clash (None: fits), the zones' offset gap
_HOURS = (Why.EARLY, Why.LATE)


def _dst_stretches(seen: list[_Seen]) -> list[tuple[list[_Seen], tuple[Why, ...]]]:
    """Runs of occurrences with one offset between the meeting's zone and the place's that fall outside
    working hours, when another run (another offset) falls inside them."""
    runs: list[tuple[timedelta, list[_Seen]]] = []
    for item in seen:
        if runs and runs[-1][0] == item[2]:
            runs[-1][1].append(item)
        else:
            runs.append((item[2], [item]))
    if len({gap for gap, _ in runs}) < 2:
        return []

    def outside(run: list[_Seen]) -> tuple[Why, ...]:
        found: dict[Why, None] = {}
        for _, v, _ in run:
            if v is not None and not v.plan.off:
                found.update(dict.fromkeys(r for r in v.reasons if r in _HOURS))
        return tuple(found)

    out_by_gap: dict[timedelta, bool] = {}
    for gap, run in runs:
        out_by_gap[gap] = out_by_gap.get(gap, False) or bool(outside(run))
    if all(out_by_gap.values()) or not any(out_by_gap.values()):
        return []  # always out (the occurrence lines say so) or always in
    return [(run, why) for _, run in runs if (why := outside(run))]
