"""``skip_holidays``: the occurrences of a series that fall on a participant's public holiday.

Looked up on each participant's own local date of the occurrence (a 01:00 UTC call is not on the
same date everywhere), in the country of their place, and only in the countries listed when the
meeting lists some.  The result is part of the meeting (its EXDATEs), so it is worked out once,
when the config is read, over a bounded span of the series.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from ..model import Meeting, Skipped
from .holidays import holiday_on
from .rules import Rules, participants

SKIP_HOLIDAYS_YEARS = 10  # a series without an end is checked for holidays over its first 10 calendar years


def skip_until(meeting: Meeting) -> datetime:
    """Where the holiday check of a series stops: its end, or :data:`SKIP_HOLIDAYS_YEARS` after its start."""
    cap = datetime(meeting.start.year + SKIP_HOLIDAYS_YEARS, 1, 1, tzinfo=meeting.timezone)
    end = meeting.end_bound()
    return cap if end is None else min(cap, end)


def holiday_skips(meeting: Meeting, rules: Rules) -> tuple[Skipped, ...]:
    """The occurrences of ``meeting`` that its ``skip_holidays`` leaves out, with the holidays' names."""
    if meeting.skip_holidays is False or not meeting.recurrence:
        return ()
    only = None if meeting.skip_holidays is True else frozenset(meeting.skip_holidays)
    # one lookup per distinct (zone, country): many attendees usually share a few places
    where: dict[tuple[str, str], ZoneInfo] = {}
    for a in participants(meeting.attendees):
        place = rules.for_attendee(a)
        if place.country and place.holidays and (only is None or place.country in only):
            where.setdefault((place.zone.key, place.country), place.zone)
    if not where:
        return ()
    out = []
    for start in meeting.occurrences(meeting.start, skip_until(meeting)):
        names: dict[str, None] = {}
        for (_, country), zone in where.items():
            found = holiday_on(country, start.astimezone(zone).date())
            if found is not None:
                names[f"{found.name} ({country})"] = None
        if names:
            out.append(Skipped(start, "; ".join(names)))
    return tuple(out)
