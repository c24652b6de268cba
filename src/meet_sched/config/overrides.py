"""``overrides:`` of a meeting file → :class:`~meet_sched.model.Override`: one occurrence moved, changed or cancelled.

Each names the occurrence as the series gives it (a local date, or date and time); it must be one
(exdates removed, rdates added), with the nearest ones named when it is not.  A moved start is
checked like the meeting's: within the supported years, not in a daylight-saving gap or overlap,
and not where another occurrence already starts.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Sequence
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from ..durations import format_duration
from ..model import Attendee, Meeting, Override
from ..recurrence import outside_years
from .dates import wall_problem
from .limits import MAX_MEETING_DURATION, MAX_OVERRIDE_SUGGESTIONS
from .meeting_spec import AttendeeSpec, OverrideSpec
from .sources import KeyPath

Bad = Callable[[KeyPath, str], None]
BuildAttendees = Callable[[Sequence[AttendeeSpec], KeyPath], tuple[Attendee, ...] | None]
NEAR = timedelta(days=400)  # occurrences are listed this far past the latest override, for suggestions


def _shown(moment: datetime) -> str:
    return f"{moment:%Y-%m-%d %H:%M}"


def build_overrides(
    specs: Sequence[OverrideSpec], series: Meeting, bad: Bad, attendees: BuildAttendees
) -> tuple[Override, ...]:
    """The overrides of ``series`` (a meeting built without them); every problem goes to ``bad``."""
    if not specs:
        return ()
    if not series.recurrence:
        bad(("overrides", 0), "overrides only make sense with a recurrence")
        return ()
    zone = series.timezone
    wanted = [_wall(s.occurrence, zone) for s in specs]
    moved_to = [_wall(s.start, zone) for s in specs if s.start is not None]
    limit = max([w for w in wanted + moved_to if outside_years(w) is None] or [series.start]) + NEAR
    starts = list(series.occurrences(series.start, limit))  # one pass, bounded by the series' own limits
    found: dict[datetime, int] = {}
    out: list[tuple[int, Override]] = []
    for i, spec in enumerate(specs):
        where: KeyPath = ("overrides", i)
        occurrence = _match(spec.occurrence, zone, starts, _at(bad, (*where, "occurrence")))
        if occurrence is None:
            continue
        if occurrence in found:
            bad((*where, "occurrence"), f"{_shown(occurrence)} is already changed by override {found[occurrence] + 1}")
            continue
        found[occurrence] = i
        built = _override(spec, occurrence, series, where, bad, attendees)
        if built is not None:
            out.append((i, built))
    taken = set(starts) - {o.occurrence for _, o in out if o.moved or o.cancelled}
    moved: dict[datetime, int] = {}
    result = []
    for i, o in out:
        if o.moved and not o.cancelled:
            if o.start in taken or o.start in moved:
                other = f"override {moved[o.start] + 1}" if o.start in moved else "another occurrence of the series"
                bad(("overrides", i, "start"), f"{_shown(o.start)} is when {other} starts")
                continue
            moved[o.start] = i
        result.append(o)
    return tuple(sorted(result, key=lambda o: o.occurrence))


def _at(bad: Bad, where: KeyPath) -> Callable[[str], None]:
    return lambda message: bad(where, message)


def _wall(value: date | datetime, zone: ZoneInfo) -> datetime:
    moment = value if isinstance(value, datetime) else datetime.combine(value, datetime.min.time())
    return moment.replace(tzinfo=zone)


def _match(
    value: date | datetime, zone: ZoneInfo, starts: list[datetime], bad: Callable[[str], None]
) -> datetime | None:
    """The occurrence ``value`` names: the one at that wall time, or the only one on that local date."""
    if (why := outside_years(value)) is not None:
        bad(why)
        return None
    if isinstance(value, datetime):
        moment = value.replace(tzinfo=zone)
        i = bisect.bisect_left(starts, moment)
        if i < len(starts) and starts[i] == moment:
            return moment
        what = _shown(moment)
    else:
        lo = bisect.bisect_left(starts, _wall(value, zone))
        hi = bisect.bisect_left(starts, _wall(value + timedelta(days=1), zone))
        if hi - lo == 1:
            return starts[lo]
        if hi - lo > 1:
            times = ", ".join(f"{s:%H:%M}" for s in starts[lo : min(hi, lo + MAX_OVERRIDE_SUGGESTIONS)])
            bad(f"the series meets {hi - lo} times on {value.isoformat()} ({times}…): give the date and time")
            return None
        moment, i, what = _wall(value, zone), lo, value.isoformat()
    near = sorted(
        starts[max(0, i - MAX_OVERRIDE_SUGGESTIONS) : i + MAX_OVERRIDE_SUGGESTIONS], key=lambda s: abs(s - moment)
    )
    hint = ", ".join(_shown(s) for s in sorted(near[:MAX_OVERRIDE_SUGGESTIONS]))
    bad(f"{what} is not an occurrence of the series" + (f" (did you mean {hint}?)" if hint else ""))
    return None


def _override(
    spec: OverrideSpec, occurrence: datetime, series: Meeting, where: KeyPath, bad: Bad, attendees: BuildAttendees
) -> Override | None:
    zone = series.timezone
    problems = False

    def fail(key: str, message: str) -> None:
        nonlocal problems
        problems = True
        bad((*where, key), message)

    start = occurrence
    if spec.start is not None:
        if not isinstance(spec.start, datetime):
            fail("start", "give a time of day too, e.g. 2027-03-12T15:00")
            return None
        if (why := outside_years(spec.start) or wall_problem(spec.start, zone)) is not None:
            fail("start", why)
            return None
        start = spec.start.replace(tzinfo=zone)
    if spec.duration is not None and spec.end is not None:
        fail("end", "give either 'duration' or 'end', not both")
        return None
    if spec.end is not None:
        wall_end = spec.end if isinstance(spec.end, datetime) else None
        if wall_end is None:
            fail("end", "give a time of day too, e.g. 2027-03-12T16:00")
            return None
        if (why := outside_years(wall_end) or wall_problem(wall_end, zone)) is not None:
            fail("end", why)
            return None
        end = wall_end.replace(tzinfo=zone)
        if end <= start:
            fail("end", f"{_shown(end)} is not after the start {_shown(start)}")
            return None
        if end - start > MAX_MEETING_DURATION:
            fail("end", f"{format_duration(end - start)} is longer than {format_duration(MAX_MEETING_DURATION)}")
            return None
    else:
        end = start + (spec.duration if spec.duration is not None else series.duration)
        if (why := outside_years(end)) is not None:
            fail("duration", why)
            return None
    people = None
    if spec.attendees is not None:
        people = attendees(spec.attendees, (*where, "attendees"))
        if people is None:
            return None
    return Override(
        occurrence=occurrence,
        start=start,
        end=end,
        cancelled=spec.status == "cancelled",
        title=spec.title,
        description=spec.description,
        location=spec.location,
        video_url=spec.video_url,
        attendees=people,
    )
