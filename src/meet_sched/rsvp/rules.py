"""Who may answer what: the rules an iMIP reply and a one-click answer share.

- **A current meeting.** A meeting removed from the config or with ``status: cancelled`` takes no
  answer (its links are as unknown as a token never issued; a reply to it is refused).
- **An occurrence by its identity.** One occurrence of a series is named by its *original* start,
  as RECURRENCE-ID names it (RFC 5545 3.8.4.4) even after an override moved it: in UTC
  (``20270311T010000Z``, Google), with a TZID (Apple, Outlook), floating (the meeting's zone) or as a
  date (``VALUE=DATE``, all day).  A cancelled occurrence, an exdate or one skipped for a holiday is
  no occurrence; neither is one further ahead than :data:`MAX_AHEAD` or outside the supported years.
- **Its own attendees.** An answer for the series comes from an attendee of the series; an answer for
  one occurrence from an attendee of that occurrence (an override's ``attendees`` when it has them):
  a guest invited to one occurrence alone answers for that one only.

No I/O: the callers read the meeting and turn a reason into a quarantine or a 404.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, time, timedelta

from .. import occurrences
from ..model import Attendee, Meeting, StoredMeeting, utc
from ..recurrence import outside_years

MAX_AHEAD = timedelta(days=3660)  # an answer or a proposed time further ahead of now than this is refused


def not_current(stored: StoredMeeting) -> str | None:
    """Why ``stored`` takes no answer (removed, cancelled), or None."""
    if stored.removed:
        return f"meeting {stored.uid} was removed"
    if stored.meeting.cancelled:
        return f"meeting {stored.uid} is cancelled"
    return None


def recurs(m: Meeting) -> bool:
    """Whether ``m`` has occurrences of its own to answer one by one (a series)."""
    return bool(m.recurrence)


def readable(named: datetime | date) -> bool:
    """Whether a moment from outside (a RECURRENCE-ID, a form field) lies in the supported years, in
    its own zone and in UTC (so that converting it can never overflow)."""
    if outside_years(named) is not None:
        return False
    if isinstance(named, datetime) and named.tzinfo is not None:
        try:
            return outside_years(utc(named)) is None
        except OverflowError:
            return False
    return True


def identity(m: Meeting, named: datetime | date, now: datetime) -> datetime | None:
    """The original start (aware, in the meeting's zone) of the occurrence of series ``m`` that
    ``named`` names, in any form clients write a RECURRENCE-ID; None if ``m`` has no such occurrence."""
    if not recurs(m) or not readable(named):
        return None
    if isinstance(named, datetime):
        moment = named.replace(tzinfo=m.timezone) if named.tzinfo is None else named
        return _original(m, moment.astimezone(m.timezone), now)
    midnight = datetime.combine(named, time(0), m.timezone)
    if m.all_day:
        return _original(m, midnight, now)
    # a date for a timed series (some clients): the occurrence the series starts on that date
    day_end = datetime.combine(named + timedelta(days=1), time(0), m.timezone)
    if utc(midnight) > utc(now) + MAX_AHEAD:
        return None
    candidates = [o.occurrence for o in m.overrides if midnight <= o.occurrence < day_end]
    candidates += [s for s in m.expand(day_end) if s >= midnight]
    for candidate in sorted(candidates, key=utc):
        found = _original(m, candidate, now)
        if found is not None:
            return found
    return None


def _original(m: Meeting, moment: datetime, now: datetime) -> datetime | None:
    override = m.override_of(moment)
    if override is not None:
        return None if override.cancelled else override.occurrence
    if moment in m.excluded() or utc(moment) > utc(now) + MAX_AHEAD:
        return None
    for start in m.expand(moment + timedelta(seconds=1)):
        if start == moment:
            return start
    return None


def located(m: Meeting, moment: datetime, now: datetime) -> datetime | None:
    """The identity of the occurrence ``moment`` names: its identity, or the start a moved one has now."""
    found = identity(m, moment, now)
    if found is not None or not readable(moment):
        return found
    override = m.override_at(moment.astimezone(m.timezone))
    return None if override is None else override.occurrence


def attendees(m: Meeting, occurrence: datetime | None) -> tuple[Attendee, ...]:
    """Who is invited to the series (``occurrence`` None), or to the occurrence with that identity."""
    return m.attendees if occurrence is None else occurrences.of(m, occurrence).attendees


def invited(m: Meeting, email: str, occurrence: datetime | None) -> Attendee | None:
    """``email``'s entry among the attendees of the series or of that one occurrence, or None."""
    key = email.lower()
    return next((a for a in attendees(m, occurrence) if a.email.lower() == key), None)


def ahead(m: Meeting, email: str, after: datetime, now: datetime) -> Iterator[datetime]:
    """Identities of the occurrences from ``after`` on (within :data:`MAX_AHEAD` of now) that ``email``
    is invited to, in order of their start."""
    for one in occurrences.starting(m, after, utc(now) + MAX_AHEAD):
        if invited(m, email, one.original) is not None:
            yield one.original
