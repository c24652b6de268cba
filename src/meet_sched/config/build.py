"""A validated meeting spec → a :class:`~meet_sched.model.Meeting`: times, recurrence, attendees, UID."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from ..durations import format_duration
from ..errors import Problem
from ..model import (
    UID_MAX_LENGTH,
    Attendee,
    Expansion,
    Meeting,
    MeetingStatus,
    Person,
    Role,
)
from ..places.skip import holiday_skips
from ..recurrence import SUPPORTED_YEARS, outside_years
from .dates import check_rrule, wall_problem
from .limits import MAX_ALL_DAY_DAYS, MAX_MEETING_DURATION
from .meeting_spec import AttendeeSpec, MeetingSpec
from .overrides import build_overrides
from .places import resolve_place
from .places import rules as place_rules
from .settings import MEETINGS_DIR, Settings
from .sources import KeyPath, Source


def default_uid(shown: str, loc: KeyPath, domain: str) -> str:
    """A UID derived from the file path: stable across syncs and title edits."""
    stem = re.sub(r"\.(ya?ml|toml)$", "", shown.removeprefix(MEETINGS_DIR + "/"))
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", stem).strip("-")
    if loc and isinstance(loc[-1], int):
        slug += f"-{loc[-1] + 1}"
    return f"{slug}@{domain}"


def build_meeting(
    spec: MeetingSpec,
    source: Source,
    loc: KeyPath,
    settings: Settings,
    problems: list[Problem],
    multi: bool,
    notes: list[Problem] | None = None,
) -> Meeting | None:
    """The meeting ``spec`` describes, or None after adding to ``problems``; ``notes`` receives what is
    not an error but changes what was written (a recurring start off its rule moves to the first occurrence)."""
    before = len(problems)

    def bad(key: str | KeyPath, message: str) -> None:
        problems.append(source.problem((*loc, *((key,) if isinstance(key, str) else key)), message))

    zone = ZoneInfo(spec.timezone)
    all_day = spec.date is not None or spec.days is not None or spec.end_date is not None
    if all_day:
        span = _all_day_span(spec, bad)
        start_outside = None if span is not None else "no date"  # the problem is told; the rest is still checked
        start, end = span or (datetime(2000, 1, 1), datetime(2000, 1, 2))
    else:
        start, end, start_outside = _timed_span(spec, zone, bad)

    recurrence = None
    expanded: list[Expansion] = []  # the check's expansion of the rule, reused by the meeting
    first: list[datetime] = []
    if spec.recurrence and not start_outside:
        recurrence = check_rrule(
            spec.recurrence,
            start,
            zone,
            lambda m: bad("recurrence", m),
            allow_hourly=settings.spec.limits.allow_hourly,
            all_day=all_day,
            expanded=expanded,
            first=first,
        )
    if recurrence and first and first[0] != start.replace(tzinfo=None):
        # RFC 5545 leaves a DTSTART off its rule open (most programs show one there, dateutil does not): the
        # series starts on its first occurrence, as Google Calendar does, so programs and reminders agree
        key, shown = ("date", "%Y-%m-%d") if all_day else ("start", "%Y-%m-%dT%H:%M")
        if notes is not None:
            notes.append(
                source.problem(
                    (*loc, key if getattr(spec, key, None) is not None else "start"),
                    f"{start:{shown}} is not an occurrence of {spec.recurrence!r}: the series starts on its "
                    f"first occurrence, {first[0]:{shown}} (write that to keep this message away)",
                )
            )
        start, end = first[0], first[0] + (end - start)
        expanded.clear()  # expanded from the written start: the rule is expanded again from the first one
    exdates: list[datetime] = []
    for i, ex in enumerate(spec.exdates):
        moment = datetime.combine(ex, start.time()) if not isinstance(ex, datetime) else ex
        if not spec.recurrence:
            bad(("exdates", i), "exdates only make sense with a recurrence")
            break
        if all_day and isinstance(ex, datetime):
            bad(("exdates", i), f"give a date without a time of day ({ex:%Y-%m-%d}): the meeting is all day")
            continue
        if (why := outside_years(moment)) is not None:
            bad(("exdates", i), why)
            continue
        exdates.append(moment.replace(tzinfo=zone))
    rdates: list[datetime] = []
    for i, extra in enumerate(spec.rdates):
        moment = datetime.combine(extra, start.time()) if not isinstance(extra, datetime) else extra
        if not spec.recurrence:
            bad(("rdates", i), "rdates only make sense with a recurrence")
            break
        if all_day and isinstance(extra, datetime):
            bad(("rdates", i), f"give a date without a time of day ({extra:%Y-%m-%d}): the meeting is all day")
            continue
        if (why := outside_years(moment) or (None if all_day else wall_problem(moment, zone))) is not None:
            bad(("rdates", i), why)
            continue
        if moment < start and not start_outside:
            shown = "%Y-%m-%d" if all_day else "%Y-%m-%d %H:%M"
            bad(("rdates", i), f"{moment:{shown}} is before the start {start:{shown}}")
            continue
        rdates.append(moment.replace(tzinfo=zone))

    if spec.skip_holidays is not False and not spec.recurrence:
        bad("skip_holidays", "skip_holidays only makes sense with a recurrence")

    reminders = spec.reminders if spec.reminders is not None else settings.spec.reminders.default

    def people(specs: Sequence[AttendeeSpec], at: KeyPath) -> tuple[Attendee, ...] | None:
        count = len(problems)
        found = _attendees(specs, zone, settings, lambda key, message: bad((*at, *key), message))
        return None if len(problems) > count else found

    attendees = people(spec.attendees, ("attendees",)) or ()
    if len(problems) > before:
        return None
    uid = spec.uid or default_uid(source.path, loc, settings.spec.calendar.domain)
    if "@" not in uid:
        uid = f"{uid}@{settings.spec.calendar.domain}"
    if len(uid) > UID_MAX_LENGTH:
        bad("uid", f"the UID is {len(uid)} characters long, at most {UID_MAX_LENGTH} fit (give a shorter 'uid')")
        return None
    organizer = Person(spec.organizer.name, spec.organizer.email) if spec.organizer else settings.organizer
    series = Meeting(
        uid=uid,
        calendar=spec.calendar,
        title=spec.title,
        description=spec.description,
        location=spec.location,
        video_url=spec.video_url,
        city=spec.city,
        organizer=organizer,
        timezone=zone,
        start=start.replace(tzinfo=zone),
        end=end.replace(tzinfo=zone),
        recurrence=recurrence,
        exdates=tuple(exdates),
        rdates=tuple(sorted(set(rdates))),
        status=MeetingStatus(spec.status),
        attendees=tuple(attendees),
        reminders=_offsets(reminders),
        source=f"{source.path}:{source.line(loc) or 1}",
        all_day=all_day,
        related_to=_related_uid(spec.related_to, settings.spec.calendar.domain),
        skip_holidays=spec.skip_holidays if isinstance(spec.skip_holidays, bool) else tuple(spec.skip_holidays),
    )
    overrides = build_overrides(spec.overrides, series, bad, people)
    if len(problems) > before:
        return None
    meeting = replace(series, overrides=overrides) if overrides else series
    if meeting.skip_holidays is not False:
        meeting = replace(meeting, skipped=holiday_skips(meeting, place_rules(settings.spec)))
    return meeting.reuse_expansion(expanded[0]) if expanded else meeting


def _attendees(
    specs: Sequence[AttendeeSpec], zone: ZoneInfo, settings: Settings, bad: Callable[[KeyPath, str], None]
) -> tuple[Attendee, ...]:
    """The attendees of a meeting (or of one occurrence), each checked; problems go to ``bad``."""
    attendees = []
    emails: dict[str, int] = {}
    for i, a in enumerate(specs):
        key = a.email.lower()
        if key in emails:
            bad((i, "email"), f"{a.email} is already attendee {emails[key] + 1}")
            continue
        emails[key] = i
        where = resolve_place(a, zone, settings.spec, _at(bad, (i,)))
        if where is None:
            continue
        attendees.append(
            Attendee(
                name=a.name,
                email=a.email,
                timezone=where[0],
                language=a.language.replace("_", "-"),
                city=a.city,
                role=Role(a.role),
                reminders=None if a.reminders is None else _offsets(a.reminders),
                country=where[1],
                place=where[2],
            )
        )
    return tuple(attendees)


def _related_uid(value: str | None, domain: str) -> str | None:
    """A ``related_to`` UID completed as ``uid`` is: without ``@``, at the calendar's domain."""
    if not value:
        return None
    return value if "@" in value else f"{value}@{domain}"


Bad = Callable[[str | KeyPath, str], None]


def _timed_span(spec: MeetingSpec, zone: ZoneInfo, bad: Bad) -> tuple[datetime, datetime, str | None]:
    """Start and end wall times of a meeting with a time of day (naive), and why the start is unusable."""
    if spec.start is None:
        bad("start", "give 'start' (a local date-time such as 2021-04-14T10:00) or 'date' (an all-day meeting)")
        return datetime(2000, 1, 1), datetime(2000, 1, 1, 1), "no start"
    start = _as_datetime(spec.start)
    if isinstance(spec.start, date) and not isinstance(spec.start, datetime):
        bad("start", "give a time of day too, e.g. 2021-04-14T10:00, or write 'date:' for an all-day meeting")
    start_outside = outside_years(start)
    if (why := start_outside or wall_problem(start, zone)) is not None:
        bad("start", why)
    if spec.duration is not None and spec.end is not None:
        bad("end", "give either 'duration' or 'end', not both")
    if start_outside:  # no base for any arithmetic
        end = start
    elif spec.end is not None:
        end = _as_datetime(spec.end)
        if (why := outside_years(end) or wall_problem(end, zone)) is not None:
            bad("end", why)
        elif end.replace(tzinfo=zone) <= start.replace(tzinfo=zone):
            bad("end", f"{end:%Y-%m-%d %H:%M} is not after start {start:%Y-%m-%d %H:%M}")
        elif (length := end.replace(tzinfo=zone) - start.replace(tzinfo=zone)) > MAX_MEETING_DURATION:
            bad(
                "end",
                f"{format_duration(length)} after its start is longer than "
                f"{format_duration(MAX_MEETING_DURATION)}, the longest meeting",
            )
    elif spec.duration is not None:
        try:
            end = (start.replace(tzinfo=zone) + spec.duration).replace(tzinfo=None)
            late = outside_years(end) is not None
        except OverflowError:
            end, late = start, True
        if late:
            bad(
                "duration",
                f"{format_duration(spec.duration)} after its start ends outside the supported years {SUPPORTED_YEARS}",
            )
    else:
        bad("duration", "give 'duration' (e.g. 1h) or 'end'")
        end = start + timedelta(hours=1)

    return start, end, start_outside


def _all_day_span(spec: MeetingSpec, bad: Bad) -> tuple[datetime, datetime] | None:
    """Midnights (naive) of an all-day meeting's first date and of the date after its last, or None."""
    problems: list[str] = []

    def wrong(key: str, message: str) -> None:
        problems.append(key)
        bad(key, message)

    if spec.date is None:
        wrong("date", "an all-day meeting needs 'date' (its first date, e.g. 2027-04-14)")
    if spec.start is not None:
        wrong("start", "give either 'start' (a time) or 'date' (all day), not both")
    for key in ("duration", "end"):
        if getattr(spec, key) is not None:
            wrong(key, f"'{key}' is not allowed with 'date': give 'days' or 'end_date' (inclusive)")
    if spec.days is not None and spec.end_date is not None:
        wrong("end_date", "give either 'days' or 'end_date', not both")
    if spec.days is not None and not 1 <= spec.days <= MAX_ALL_DAY_DAYS:
        wrong("days", f"must be from 1 to {MAX_ALL_DAY_DAYS} (the most dates one all-day meeting covers)")
    if problems or spec.date is None:
        return None
    first = spec.date
    if (why := outside_years(first)) is not None:
        bad("date", why)
        return None
    days = spec.days or 1
    if spec.end_date is not None:
        days = (spec.end_date - first).days + 1
        if days < 1:
            bad("end_date", f"{spec.end_date:%Y-%m-%d} is before the date {first:%Y-%m-%d}")
            return None
        if days > MAX_ALL_DAY_DAYS:
            bad(
                "end_date",
                f"{first:%Y-%m-%d} to {spec.end_date:%Y-%m-%d} covers {days} dates; "
                f"at most {MAX_ALL_DAY_DAYS} are allowed",
            )
            return None
    last = first + timedelta(days=days)
    if (why := outside_years(last)) is not None:
        bad("days" if spec.days is not None else "end_date", why)
        return None
    return datetime.combine(first, time(0)), datetime.combine(last, time(0))


def _at(bad: Callable[[KeyPath, str], None], loc: KeyPath) -> Callable[[str, str], None]:
    return lambda key, message: bad((*loc, key), message)


def _offsets(values: Iterable[timedelta]) -> tuple[timedelta, ...]:
    return tuple(sorted(set(values), reverse=True))


def _as_datetime(value: date | datetime) -> datetime:
    return value if isinstance(value, datetime) else datetime.combine(value, time(0))
