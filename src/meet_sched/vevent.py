"""One meeting → its VEVENTs (RFC 5545), built with icalendar's typed API, never with string templates.

The series' (or single meeting's) VEVENT with its VALARMs and ATTENDEE answers, and the VEVENT of one
occurrence of a series (a RECURRENCE-ID instance).  :mod:`meet_sched.ics` assembles them into feeds and
invitations.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, time, timedelta

from icalendar import Alarm, Conference, Event, vCalAddress
from icalendar.prop import vRecur, vText

from .lang import feed_separator, feed_word, short_day
from .localtimes import all_day_dates, local_times, zone_abbreviation
from .model import Meeting, StoredMeeting, utc


class Text(vText):
    """A TEXT value written exactly as given (RFC 5545 section 3.3.11).

    icalendar reads the two characters ``\\N`` in a Python string as a line break, so a
    description mentioning ``C:\\New`` would lose its backslash; this escapes the backslash
    first, then ``;``, ``,`` and line breaks (CR LF and a lone CR become ``\\n``, the only
    line break TEXT knows).
    """

    __slots__ = ()

    def to_ical(self) -> bytes:
        text = str(self).replace("\r\n", "\n").replace("\r", "\n")
        escaped = text.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,").replace("\n", "\\n")
        return escaped.encode("utf-8")


def zones_line(meeting: Meeting, start: datetime, language: str = "en") -> str:
    """``Daegu 10:00 KST · Chengdu 09:00 CST · Bac Ninh 08:00 UTC+7``; for an all-day meeting, its dates
    (``2027-04-14 – 2027-04-16, all day``), which are the same everywhere."""
    if meeting.all_day:
        return f"{dates_text(meeting, start)}, {feed_word(language, 'all_day')}"
    out = []
    for t in local_times(meeting, start):
        text = f"{t.label} {t.moment:%H:%M} {zone_abbreviation(t.moment)}"
        out.append(text + (f" ({short_day(t.moment, language)})" if t.other_day else ""))
    return " · ".join(out)


def dates_text(meeting: Meeting, start: datetime) -> str:
    """``2027-04-14`` or ``2027-04-14 – 2027-04-16``: the dates of one all-day occurrence."""
    first, last = all_day_dates(meeting, start)
    return f"{first:%Y-%m-%d}" if first == last else f"{first:%Y-%m-%d} – {last:%Y-%m-%d}"


def event_description(meeting: Meeting, language: str = "en") -> str:
    """The description's own text, then the generated lines in ``language`` ([calendar] language)."""
    sep = feed_separator(language)
    parts = []
    if meeting.description:
        parts.append(meeting.description)
    if meeting.video_url:
        parts.append(f"{feed_word(language, 'video')}{sep}{meeting.video_url}")
    times = zones_line(meeting, meeting.start, language)
    if meeting.recurrence and meeting.all_day:
        times = f"{times} ({feed_word(language, 'first')})"
    elif meeting.recurrence:
        series = feed_word(language, "series", date=f"{meeting.start:%Y-%m-%d}", zone=meeting.timezone.key)
        times = f"{times} ({series})"
    parts.append(f"{feed_word(language, 'time')}{sep}{times}")
    return "\n\n".join(parts)


def _address(email: str) -> str:
    return f"mailto:{email}"


@dataclass(frozen=True)
class Answers:
    """The attendees' answers in force for one meeting, as the calendar shows them (RFC 5545 PARTSTAT).

    ``series``: (lower-cased email, PARTSTAT) of those whose answer for the whole series is not
    NEEDS-ACTION; ``occurrences``: (UTC start of an occurrence, its (email, PARTSTAT) pairs) for
    the occurrences someone answered differently, written as a RECURRENCE-ID instance.
    """

    series: tuple[tuple[str, str], ...] = ()
    occurrences: tuple[tuple[datetime, tuple[tuple[str, str], ...]], ...] = ()

    def partstat(self, email: str, occurrence: datetime | None = None) -> str:
        key = email.lower()
        if occurrence is not None:
            for when, pairs in self.occurrences:
                if when == occurrence:
                    return dict(pairs).get(key, "NEEDS-ACTION")
        return dict(self.series).get(key, "NEEDS-ACTION")


NO_ANSWERS = Answers()


def build_event(
    stored: StoredMeeting,
    *,
    alarms: Sequence[timedelta] = (),
    attendees: bool = True,
    all_day_at: time = time(9, 0),
    answers: Answers = NO_ANSWERS,
    answers_at: datetime | None = None,
    language: str = "en",
) -> Event:
    """One VEVENT for one meeting (a whole series, if it recurs); ``attendees=False`` leaves out
    the ATTENDEE lines (names and addresses) for a calendar anyone may read.  Each ATTENDEE
    carries the PARTSTAT ``answers`` give it (for the occurrence starting at ``answers_at``, UTC,
    when this VEVENT is one occurrence of a series).

    An all-day meeting is written with DATE values (DTEND the day after its last date, RFC 5545
    section 3.6.1) and its alarms at ``all_day_at`` local time of the day, or of days before."""
    m = stored.meeting
    event = Event.new(
        uid=Text(m.uid),
        summary=Text(m.title),
        description=Text(event_description(m, language)),
        location=Text(m.location) if m.location else None,
        url=m.video_url,
        start=m.start.date() if m.all_day else m.start,
        end=m.end.date() if m.all_day else m.end,
        stamp=stored.last_modified,
        created=stored.created_at,
        last_modified=stored.last_modified,
        sequence=stored.sequence,
        status=m.status.value.upper(),  # type: ignore[arg-type]
        organizer=vCalAddress.new(_address(m.organizer.email), cn=m.organizer.name or None),
        attendees=[
            vCalAddress.new(
                _address(a.email),
                cn=a.name or None,
                cutype="INDIVIDUAL",
                role=a.role.ical,
                partstat=answers.partstat(a.email, answers_at),
                rsvp=True,
                language=a.language,
            )
            for a in (m.attendees if attendees else ())
        ],
        conferences=[Conference(m.video_url, feature=["VIDEO", "AUDIO"], label=m.title)] if m.video_url else None,
    )
    if m.video_url:
        # icalendar writes the features as one quoted value, FEATURE="VIDEO,AUDIO", which RFC 5545 reads as
        # a single feature named "VIDEO,AUDIO"; a list is written as two values (RFC 7986 section 5.11).
        event["CONFERENCE"].params["FEATURE"] = ["VIDEO", "AUDIO"]
    if m.related_to:
        event.add("related-to", Text(m.related_to))  # RELTYPE=PARENT, the default (RFC 5545 section 3.8.4.5)
    if m.recurrence:
        event.add("rrule", vRecur.from_ical(m.recurrence))
        # A cancelled occurrence is an EXDATE of the series, like a skipped one: every client honours
        # EXDATE, while an override with STATUS:CANCELLED is shown as an ordinary meeting by some.
        # The occurrences skipped for holidays too: clients expand the RRULE themselves.
        skipped = sorted({*m.excluded(), *(o.occurrence for o in m.overrides if o.cancelled)})
        if skipped:
            event.add("exdate", [e.date() for e in skipped] if m.all_day else skipped)
        for extra in m.rdates:  # one value per line: some parsers (vobject) read only the first of several
            event.add("rdate", extra.date() if m.all_day else extra)
    seen: set[timedelta] = set()
    for offset in alarms:
        trigger = -offset
        if m.all_day:  # relative to the date's midnight where the calendar is shown: at all_day_at
            trigger = _all_day_trigger(offset, all_day_at)
            if trigger in seen:  # two offsets of less than a day apart: one alarm on that day
                continue
            seen.add(trigger)
        alarm = Alarm.new_display(
            description=Text(f"{m.title} ({_human_day(offset) if m.all_day else _human(offset)})"),
            trigger=trigger,
            uid=f"{m.uid}#alarm-{int(offset.total_seconds())}",
        )
        event.add_component(alarm)
    return event


def build_instance(
    stored: StoredMeeting,
    occurrence: datetime,
    *,
    alarms: Sequence[timedelta] = (),
    attendees: bool = True,
    all_day_at: time = time(9, 0),
    answers: Answers = NO_ANSWERS,
    language: str = "en",
) -> Event:
    """The VEVENT of one occurrence of a series (RFC 5545 section 3.8.4.4): the same UID, a
    ``RECURRENCE-ID`` with the master's TZID naming the occurrence as the series gives it, and the
    occurrence's own values, SEQUENCE and DTSTAMP.  An occurrence without an override (one that was
    reverted to the series) gets the series' values; a cancelled one ``STATUS:CANCELLED``."""
    m = stored.meeting
    override = m.override_of(occurrence)
    instance = m.instance(override) if override is not None else m.plain_instance(occurrence)
    version = stored.instance_version(occurrence)
    variant = replace(stored, meeting=instance, sequence=version.sequence, last_modified=version.last_modified)
    event = build_event(
        variant,
        alarms=alarms,
        attendees=attendees,
        all_day_at=all_day_at,
        answers=answers,
        answers_at=utc(occurrence),
        language=language,
    )
    local = occurrence.astimezone(m.timezone)
    event.add("recurrence-id", local.date() if m.all_day else local)
    for alarm in event.walk("VALARM"):  # an alarm's UID names the occurrence too (RFC 9074: unique)
        alarm["UID"] = f"{alarm['UID']}@{utc(occurrence):%Y%m%dT%H%M%SZ}"
    return event


def _all_day_trigger(offset: timedelta, at: time) -> timedelta:
    """TRIGGER of an all-day meeting's alarm: ``at`` on the date, ``offset`` counted in whole days before."""
    return -timedelta(days=offset.days) + timedelta(hours=at.hour, minutes=at.minute)


def _human_day(offset: timedelta) -> str:
    return "today" if offset.days == 0 else "tomorrow" if offset.days == 1 else f"in {offset.days} days"


def _human(offset: timedelta) -> str:
    seconds = int(offset.total_seconds())
    for size, unit in ((86400, "day"), (3600, "hour"), (60, "minute")):
        if seconds % size == 0:
            n = seconds // size
            return f"in {n} {unit}{'s' if n != 1 else ''}"
    return f"in {seconds} seconds"
