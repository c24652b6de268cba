"""Which occurrences a meeting has in a window, and what each one is: the one answer every surface renders.

An :class:`Occurrence` has an identity (``original``: the start the series gives it, which its
RECURRENCE-ID names even after it moved), a :class:`State` (as planned, moved, cancelled, added by an
RDATE, skipped for a public holiday), a span (aware instants; for an all-day meeting the calendar
dates, the same for everyone) and its attendees (an override's own, else the series').  Feeds,
mails, pages and commands take occurrences from here and differ only in how they show them.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import cached_property
from itertools import islice

from .localtimes import all_day_dates
from .model import Attendee, Meeting, Override, utc


class State(enum.StrEnum):
    PLANNED = "planned"  # where the series (or a single meeting) puts it, perhaps with other details changed
    MOVED = "moved"  # this occurrence alone starts somewhere else now
    CANCELLED = "cancelled"  # this occurrence alone is cancelled (shown as such, not left out)
    ADDED = "added"  # an RDATE: an occurrence besides the rule's
    SKIPPED = "skipped"  # left out by ``skip_holidays``


@dataclass(frozen=True)
class Occurrence:
    series: Meeting
    original: datetime  # aware, in the meeting's zone: the start the series gives it (its RECURRENCE-ID)
    start: datetime  # aware, in the meeting's zone: where it is now
    end: datetime
    state: State = State.PLANNED
    reason: str | None = None  # skipped: why (``Chuseok (KR)``)

    @cached_property
    def override(self) -> Override | None:
        return self.series.override_of(self.original) if self.series.recurrence or self.series.rdates else None

    @cached_property
    def meeting(self) -> Meeting:
        """This occurrence's values: a moved or changed one's own title, length, place and attendees."""
        found = self.override
        return self.series.instance(found)

    @property
    def attendees(self) -> tuple[Attendee, ...]:
        return self.meeting.attendees

    @property
    def recurrence_id(self) -> datetime | None:
        """The RECURRENCE-ID (UTC) naming this occurrence in replies and answers; None for a single meeting."""
        return utc(self.original) if self.series.recurrence or self.series.rdates else None

    @property
    def all_day(self) -> bool:
        return self.series.all_day

    @property
    def dates(self) -> tuple[date, date]:
        """First and last calendar date (inclusive) of an all-day occurrence, the same in every zone."""
        return all_day_dates(self.meeting, self.start)

    @property
    def moved(self) -> bool:
        return self.state is State.MOVED

    @property
    def cancelled(self) -> bool:
        return self.state is State.CANCELLED

    @property
    def skipped(self) -> bool:
        return self.state is State.SKIPPED

    @property
    def moved_from(self) -> datetime | None:
        """The start the series gives this occurrence, when it was moved from there."""
        return self.original if self.moved else None

    @property
    def duration(self) -> timedelta:
        return self.end - self.start


def _starts(m: Meeting, after: datetime, before: datetime) -> Iterator[datetime]:
    return m.occurrences(after, before)


def _state_of(m: Meeting, start: datetime, rdates: frozenset[datetime]) -> tuple[datetime, State]:
    override = m.override_at(start) if m.overrides else None
    if override is not None and override.moved:
        return override.occurrence, State.MOVED
    if start in rdates:
        return start, State.ADDED
    return start, State.PLANNED


def occurrence(m: Meeting, start: datetime) -> Occurrence:
    """The occurrence that starts at ``start`` now (as :func:`between` gives it)."""
    start = start.astimezone(m.timezone)
    original, state = _state_of(m, start, frozenset(m.rdates))
    return Occurrence(m, original, start, start + m.at(start).duration, state)


def of(m: Meeting, original: datetime) -> Occurrence:
    """The occurrence the series names ``original`` (its RECURRENCE-ID), wherever it is now."""
    original = original.astimezone(m.timezone)
    override = m.override_of(original)
    if override is None:
        state = State.ADDED if original in m.rdates else State.PLANNED
        return Occurrence(m, original, original, original + m.duration, state)
    if override.cancelled:  # shown where the series has it: that is the occurrence called off
        return Occurrence(m, original, original, original + m.duration, State.CANCELLED)
    state = State.MOVED if override.moved else State.PLANNED
    return Occurrence(m, original, override.start, override.end, state)


def between(
    m: Meeting, after: datetime, before: datetime, *, cancelled: bool = True, skipped: bool = False
) -> list[Occurrence]:
    """The occurrences of ``m`` overlapping [after, before), soonest first: those going ahead, the
    cancelled ones (``cancelled``) and those left out for a public holiday (``skipped``), each marked."""
    out = [o for o in starting(m, after - m.duration, before) if utc(o.end) > utc(after)]
    if cancelled:
        out += [
            of(m, o.occurrence)
            for o in m.overrides
            if o.cancelled and o.occurrence < before and o.occurrence + m.duration > after
        ]
    if skipped:
        out += [
            Occurrence(m, k.start, k.start, k.start + m.duration, State.SKIPPED, k.reason)
            for k in m.skipped
            if k.start < before and k.start + m.duration > after
        ]
    return sorted(out, key=lambda o: utc(o.start))


def starting(m: Meeting, after: datetime, before: datetime) -> Iterator[Occurrence]:
    """The occurrences going ahead that start in [after, before), soonest first, lazily."""
    rdates = frozenset(m.rdates)
    for start in _starts(m, after, before):
        original, state = _state_of(m, start, rdates)
        yield Occurrence(m, original, start, start + m.at(start).duration, state)


def upcoming(m: Meeting, after: datetime, count: int, horizon: timedelta) -> list[Occurrence]:
    """The next ``count`` occurrences going ahead that start at or after ``after`` (within ``horizon``),
    with the cancelled ones among them marked."""
    going = list(islice(starting(m, after, after + horizon), count))
    until = going[-1].start if len(going) == count else after + horizon
    cancelled = [
        of(m, o.occurrence) for o in m.overrides if o.cancelled and utc(after) <= utc(o.occurrence) <= utc(until)
    ]
    return sorted([*going, *cancelled], key=lambda o: utc(o.start))
