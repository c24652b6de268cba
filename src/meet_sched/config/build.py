"""A validated meeting spec → a :class:`~meet_sched.model.Meeting`: times, recurrence, attendees, UID."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from ..errors import Problem
from ..model import (
    SUPPORTED_YEARS,
    UID_MAX_LENGTH,
    Attendee,
    Expansion,
    Meeting,
    Person,
    Role,
    Status,
    format_duration,
    outside_years,
)
from ..places.skip import holiday_skips
from .dates import check_rrule, wall_problem
from .limits import MAX_MEETING_DURATION
from .places import resolve_place
from .places import rules as place_rules
from .schema import MeetingSpec
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
    spec: MeetingSpec, source: Source, loc: KeyPath, settings: Settings, problems: list[Problem], multi: bool
) -> Meeting | None:
    before = len(problems)

    def bad(key: str | KeyPath, message: str) -> None:
        problems.append(source.problem((*loc, *((key,) if isinstance(key, str) else key)), message))

    zone = ZoneInfo(spec.timezone)
    start = _as_datetime(spec.start)
    if isinstance(spec.start, date) and not isinstance(spec.start, datetime):
        bad("start", "give a time of day too, e.g. 2021-04-14T10:00 (all-day meetings are not supported)")
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

    recurrence = None
    expanded: list[Expansion] = []  # the check's expansion of the rule, reused by the meeting
    if spec.recurrence and not start_outside:
        recurrence = check_rrule(
            spec.recurrence,
            start,
            zone,
            lambda m: bad("recurrence", m),
            allow_hourly=settings.spec.limits.allow_hourly,
            expanded=expanded,
        )
    exdates: list[datetime] = []
    for i, ex in enumerate(spec.exdates):
        moment = datetime.combine(ex, start.time()) if not isinstance(ex, datetime) else ex
        if not spec.recurrence:
            bad(("exdates", i), "exdates only make sense with a recurrence")
            break
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
        if (why := outside_years(moment) or wall_problem(moment, zone)) is not None:
            bad(("rdates", i), why)
            continue
        if moment < start:
            bad(("rdates", i), f"{moment:%Y-%m-%d %H:%M} is before the start {start:%Y-%m-%d %H:%M}")
            continue
        rdates.append(moment.replace(tzinfo=zone))

    if spec.skip_holidays is not False and not spec.recurrence:
        bad("skip_holidays", "skip_holidays only makes sense with a recurrence")

    reminders = spec.reminders if spec.reminders is not None else settings.spec.reminders.default
    attendees = []
    emails: dict[str, int] = {}
    for i, a in enumerate(spec.attendees):
        key = a.email.lower()
        if key in emails:
            bad(("attendees", i, "email"), f"{a.email} is already attendee {emails[key] + 1}")
            continue
        emails[key] = i
        where = resolve_place(a, zone, settings.spec, _at(bad, ("attendees", i)))
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
    if len(problems) > before:
        return None
    uid = spec.uid or default_uid(source.path, loc, settings.spec.calendar.domain)
    if "@" not in uid:
        uid = f"{uid}@{settings.spec.calendar.domain}"
    if len(uid) > UID_MAX_LENGTH:
        bad("uid", f"the UID is {len(uid)} characters long, at most {UID_MAX_LENGTH} fit (give a shorter 'uid')")
        return None
    organizer = Person(spec.organizer.name, spec.organizer.email) if spec.organizer else settings.organizer
    meeting = Meeting(
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
        status=Status(spec.status),
        attendees=tuple(attendees),
        reminders=_offsets(reminders),
        skip_holidays=spec.skip_holidays if isinstance(spec.skip_holidays, bool) else tuple(spec.skip_holidays),
        source=f"{source.path}:{source.line(loc) or 1}",
    )
    if expanded:
        meeting.reuse_expansion(expanded[0])
    if meeting.skip_holidays is False:
        return meeting
    skipping = replace(meeting, skipped=holiday_skips(meeting, place_rules(settings.spec)))
    return skipping.reuse_expansion(expanded[0]) if expanded else skipping


def _at(bad: Callable[[KeyPath, str], None], loc: KeyPath) -> Callable[[str, str], None]:
    return lambda key, message: bad((*loc, key), message)


def _offsets(values: Iterable[timedelta]) -> tuple[timedelta, ...]:
    return tuple(sorted(set(values), reverse=True))


def _as_datetime(value: date | datetime) -> datetime:
    return value if isinstance(value, datetime) else datetime.combine(value, time(0))
