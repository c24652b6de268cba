"""Meetings → iCalendar (RFC 5545), built with icalendar's typed API, never with string templates.

Two kinds of output:

* **feeds** (``METHOD:PUBLISH``): a whole calendar, with one VALARM per reminder;
* **invitations** (iTIP, RFC 5546): ``METHOD:REQUEST`` for one meeting, or
  ``METHOD:CANCEL`` once it is cancelled; no VALARM, same UID and SEQUENCE as the feed.

Each meeting's VEVENTs come from :mod:`meet_sched.vevent`; serialized, they are cached per (UID,
SEQUENCE, LAST-MODIFIED, variant), so an unchanged calendar is re-assembled from bytes instead of
being rebuilt.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from icalendar import Calendar
from icalendar.prop import vDuration
from icalendar.timezone.tzid import tzid_from_tzinfo

from . import __version__
from .config import Settings
from .model import (
    Attendee,
    Meeting,
    MeetingStatus,
    StoredMeeting,
    utc,
)
from .recurrence import LAST_YEAR
from .vevent import NO_ANSWERS, Answers, Text, build_event, build_instance
from .vtimezone import build_timezone

END_CALENDAR = b"END:VCALENDAR\r\n"
ZONES_UNTIL = date(LAST_YEAR, 12, 31)  # nothing happens after the supported years: an open series' zone ends here


def prodid(settings: Settings) -> str:
    return f"-//{settings.spec.calendar.domain}//meet-sched {__version__}//EN"


def zone_span(m: Meeting) -> tuple[str, date, date] | None:
    """The TZID a meeting's times are written with, and the dates its VTIMEZONE must cover.

    None for a zone that icalendar writes as UTC (``Africa/Abidjan``, ``Iceland``… are UTC all
    year): UTC needs no VTIMEZONE.
    """
    if m.all_day:  # dates carry no zone
        return None
    tzid = tzid_from_tzinfo(m.timezone)
    if tzid is None or tzid == "UTC":
        return None
    first = min([m.start, *(o.start for o in m.overrides)]).date() - timedelta(days=1)
    last_end = m.end_bound()  # a series ending by UNTIL is not expanded: the rules may cover a few days more
    if last_end is None:  # an open series is published for as long as it runs: every supported year
        return tzid, first, ZONES_UNTIL
    return tzid, first, min(last_end.date() + timedelta(days=1), ZONES_UNTIL)


def _period(spans: Iterable[tuple[str, date, date] | None]) -> dict[str, tuple[date, date]]:
    """For every TZID used, the span of dates its VTIMEZONE must cover."""
    out: dict[str, tuple[date, date]] = {}
    for span in spans:
        if span is None:
            continue
        tzid, first, last = span
        lo, hi = out.get(tzid, (first, last))
        out[tzid] = (min(lo, first), max(hi, last))
    return out


@dataclass(frozen=True)
class CalendarInfo:
    name: str  # the feed's name (file name, URL segment)
    title: str  # NAME / X-WR-CALNAME


Failed = Callable[[StoredMeeting, Exception], None]


class IcsRenderer:
    """Builds feeds and invitations; remembers serialized events and time zones between calls.

    With ``failed``, a meeting that cannot be rendered is left out of a feed (and ``failed`` is told),
    so one bad meeting cannot stop a calendar; an invitation, which is about one meeting, still raises.
    """

    def __init__(self, settings: Settings, failed: Failed | None = None) -> None:
        self.settings = settings
        self.failed = failed
        self._events: dict[tuple[object, ...], bytes] = {}
        self._zones: dict[tuple[str, date, date], bytes] = {}
        self._spans: dict[tuple[object, ...], tuple[str, date, date] | None] = {}

    # -- pieces --------------------------------------------------------------

    def event_bytes(
        self,
        stored: StoredMeeting,
        alarms: Sequence[timedelta],
        attendees: bool = True,
        answers: Answers = NO_ANSWERS,
    ) -> bytes:
        """The meeting's VEVENT, then one per occurrence whose answers differ from the series' (with
        ATTENDEE lines only: without them there is nothing to tell apart)."""
        if not attendees:
            answers = NO_ANSWERS
        # The meeting itself is part of the key: a variant of one version (a CANCEL for one removed
        # attendee shares UID, SEQUENCE and LAST-MODIFIED) must not get the version's bytes.
        key = (*stored.cache_key, stored.meeting, tuple(alarms), attendees, answers)
        cached = self._events.get(key)
        if cached is None:
            at = self.settings.spec.reminders.all_day_at
            lang = self.settings.spec.calendar.language
            first = build_event(
                stored, alarms=alarms, attendees=attendees, all_day_at=at, answers=answers, language=lang
            )
            parts = [first.to_ical()]
            m = stored.meeting
            instances = {utc(o.occurrence) for o in m.overrides}
            for o in m.overrides:  # a cancelled occurrence is an EXDATE of the master
                if not o.cancelled:
                    instance = build_instance(
                        stored,
                        o.occurrence,
                        alarms=alarms,
                        attendees=attendees,
                        all_day_at=at,
                        answers=answers,
                        language=lang,
                    )
                    parts.append(instance.to_ical())
            if m.recurrence:  # an occurrence someone answered differently from the series: its own instance
                for when, _ in answers.occurrences:
                    local = when.astimezone(m.timezone)
                    if utc(when) in instances:
                        continue  # its override's instance carries the answers already
                    if next(iter(m.occurrences(local, local + timedelta(seconds=1))), None) is None:
                        continue  # not an occurrence of this version (the time changed since)
                    instance = build_instance(
                        stored, local, alarms=alarms, attendees=attendees, all_day_at=at, answers=answers, language=lang
                    )
                    parts.append(instance.to_ical())
            cached = b"".join(parts)
            self._events[key] = cached
        return cached

    def timezone_bytes(self, tzid: str, first: date, last: date) -> bytes:
        key = (tzid, first.replace(month=1, day=1), last.replace(month=12, day=31))
        cached = self._zones.get(key)
        if cached is None:
            cached = build_timezone(tzid, key[1], key[2]).to_ical()
            self._zones[key] = cached
        return cached

    def zone_span(self, stored: StoredMeeting) -> tuple[str, date, date] | None:
        """:func:`zone_span`, remembered per meeting version (a series' last end takes expanding it)."""
        key = stored.cache_key
        if key not in self._spans:
            self._spans[key] = zone_span(stored.meeting)
        return self._spans[key]

    def forget(self, keep: Iterable[StoredMeeting]) -> None:
        """Drop cached events of meetings that are no longer current."""
        live = {s.cache_key for s in keep}
        self._events = {k: v for k, v in self._events.items() if k[:3] in live}
        self._spans = {k: v for k, v in self._spans.items() if k in live}

    # -- calendars -------------------------------------------------------------

    def _header(self, method: str, title: str | None) -> bytes:
        cal = Calendar.new(
            prodid=prodid(self.settings),
            method=method,
            calscale="GREGORIAN",
            name=None if title is None else Text(title),
            refresh_interval=self.settings.spec.calendar.refresh_interval if method == "PUBLISH" else None,
        )
        cal.pop("UID", None)  # Calendar.new() invents a random one; the same input must give the same bytes
        if method == "PUBLISH":
            cal["REFRESH-INTERVAL"].params["VALUE"] = "DURATION"  # RFC 7986 section 5.7: required
            cal.add("x-published-ttl", vDuration(self.settings.spec.calendar.refresh_interval))
        body: bytes = cal.to_ical()
        assert body.endswith(END_CALENDAR)
        return body[: -len(END_CALENDAR)]

    def _assemble(
        self,
        method: str,
        title: str | None,
        items: Sequence[tuple[StoredMeeting, Sequence[timedelta]]],
        attendees: bool = True,
        answers: Mapping[str, Answers] | None = None,
        alone: Sequence[tuple[StoredMeeting, datetime, Sequence[timedelta]]] = (),
    ) -> bytes:
        found = answers or {}
        if self.failed is not None and method == "PUBLISH":
            items = [(s, alarms) for s, alarms in items if self._renders(s, alarms, attendees, found)]
        parts = [self._header(method, title)]
        spans = [self.zone_span(s) for s, _ in items] + [self.zone_span(s) for s, _, _ in alone]
        for tzid, (first, last) in sorted(_period(spans).items()):
            parts.append(self.timezone_bytes(tzid, first, last))
        parts.extend(self.event_bytes(s, alarms, attendees, found.get(s.uid, NO_ANSWERS)) for s, alarms in items)
        spec = self.settings.spec
        for s, occurrence, alarms in alone:  # one occurrence of a series someone is invited to alone
            event = build_instance(
                s,
                occurrence,
                alarms=alarms,
                attendees=attendees,
                all_day_at=spec.reminders.all_day_at,
                answers=found.get(s.uid, NO_ANSWERS),
                language=spec.calendar.language,
            )
            parts.append(event.to_ical())
        parts.append(END_CALENDAR)
        return b"".join(parts)

    def _renders(
        self, stored: StoredMeeting, alarms: Sequence[timedelta], attendees: bool, answers: Mapping[str, Answers]
    ) -> bool:
        try:
            self.zone_span(stored)
            self.event_bytes(stored, alarms, attendees, answers.get(stored.uid, NO_ANSWERS))
        except Exception as exc:  # anything one meeting's data can raise; the others are still served
            assert self.failed is not None
            self.failed(stored, exc)
            return False
        return True

    def feed(
        self,
        title: str,
        meetings: Sequence[StoredMeeting],
        *,
        attendees: bool = True,
        answers: Mapping[str, Answers] | None = None,
    ) -> bytes:
        """A subscribable calendar (METHOD:PUBLISH) with each meeting's reminders as VALARMs; ``answers``
        (by UID) give the attendees' PARTSTAT."""
        return self._assemble("PUBLISH", title, [(s, s.meeting.reminders) for s in meetings], attendees, answers)

    def personal_feed(
        self,
        title: str,
        attendee_email: str,
        meetings: Sequence[StoredMeeting],
        answers: Mapping[str, Answers] | None = None,
    ) -> bytes:
        """Only the meetings ``attendee_email`` is invited to, with that attendee's own reminders; of a
        series they are invited to one occurrence of alone, that occurrence's VEVENT (its RECURRENCE-ID),
        as their invitation carried it."""
        items = []
        alone: list[tuple[StoredMeeting, datetime, Sequence[timedelta]]] = []
        for s in meetings:
            who = _find(s.meeting, attendee_email)
            if who is not None:
                items.append((s, s.meeting.reminders_for(who)))
            alone += [(s, o.occurrence, s.meeting.reminders_for(a)) for o, a in s.meeting.guest_of(attendee_email)]
        return self._assemble("PUBLISH", title, items, answers=answers, alone=alone)

    def reminder(self, title: str, stored: StoredMeeting, alarms: Sequence[timedelta]) -> bytes:
        """The ``meeting.ics`` of a reminder: METHOD:PUBLISH, the recipient's alarms, the ORGANIZER and no
        ATTENDEE lines (RFC 5546 section 3.2.1: in a PUBLISH, "Attendees MUST NOT be present"), so its
        size does not grow with the attendee list and one copy serves every recipient with the same alarms."""
        return self._assemble("PUBLISH", title, [(stored, alarms)], attendees=False)

    def invitation(self, stored: StoredMeeting, answers: Answers | None = None) -> bytes:
        """The iTIP object for one meeting: REQUEST (a series with its overrides), or CANCEL once it is
        cancelled (RFC 5546); ``answers``: the PARTSTAT each attendee has given (an answer never changes
        SEQUENCE)."""
        method = "CANCEL" if stored.meeting.status is MeetingStatus.CANCELLED else "REQUEST"
        return self._assemble(method, None, [(stored, ())], answers=None if answers is None else {stored.uid: answers})

    def occurrence_invitation(self, stored: StoredMeeting, occurrence: datetime) -> bytes:
        """The iTIP object for one occurrence of a series: a REQUEST with only that occurrence's VEVENT
        (RFC 5546 section 3.2.2, an update of one instance), or a CANCEL with only its RECURRENCE-ID
        (section 3.2.5) when it is cancelled."""
        override = stored.meeting.override_of(occurrence)
        method = "CANCEL" if override is not None and override.cancelled else "REQUEST"
        parts = [self._header(method, None)]
        span = self.zone_span(stored)
        if span is not None:
            parts.append(self.timezone_bytes(*span))
        parts.append(build_instance(stored, occurrence, language=self.settings.spec.calendar.language).to_ical())
        parts.append(END_CALENDAR)
        return b"".join(parts)


def _find(meeting: Meeting, email: str) -> Attendee | None:
    email = email.lower()
    return next((a for a in meeting.attendees if a.email.lower() == email), None)
