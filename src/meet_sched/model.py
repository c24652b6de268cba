"""The domain: plain, frozen meeting objects and pure functions over them.

Nothing here knows about files, SQL, HTTP or SMTP.  Every datetime is aware:
wall times carry their :class:`zoneinfo.ZoneInfo`, instants are UTC.  Beside it, as pure:
:mod:`.durations`, :mod:`.recurrence` (the supported years, what a rule may be) and
:mod:`.localtimes` (zone names, local times, all-day dates).
"""

from __future__ import annotations

import enum
import hashlib
import heapq
import json
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from dateutil import rrule

from .localtimes import zone_city
from .recurrence import (
    MAX_OCCURRENCES_PER_YEAR,
    RANGE_END,
    RULE_COUNT,
    RULE_UNTIL,
    RecurrenceError,
    outside_years,
    recurrence_problem,
)
from .safe_text import refusal

# What a URI or an address may not contain when it is written verbatim into a content line.
_UNSAFE_VERBATIM = re.compile(r"[\s\x00-\x1f\x7f<>\"]")
# A calendar's name: a feed's file name and a segment of its URL (the config's `calendar:` too).
CALENDAR_NAME_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,62}$"
CALENDAR_NAME = re.compile(CALENDAR_NAME_PATTERN)
CALENDAR_NAME_WORDS = "lower-case letters, digits, - and _"
UID_MAX_LENGTH = 255  # the width of the database columns that hold a UID


def _check_text(what: str, value: str | None) -> None:
    if value and (why := refusal(value, one_line=what != "description")) is not None:
        raise ValueError(f"{what} {why}")


def _check_verbatim(what: str, value: str | None) -> None:
    if value is not None and (not value or _UNSAFE_VERBATIM.search(value)):
        raise ValueError(f"{what} {value!r} is empty or contains spaces, line breaks, quotes or <>")


class MeetingStatus(enum.StrEnum):
    CONFIRMED = "confirmed"
    TENTATIVE = "tentative"
    CANCELLED = "cancelled"


class Role(enum.StrEnum):
    CHAIR = "chair"
    REQUIRED = "required"
    OPTIONAL = "optional"
    NON_PARTICIPANT = "non-participant"

    @property
    def ical(self) -> str:
        return {
            "chair": "CHAIR",
            "required": "REQ-PARTICIPANT",
            "optional": "OPT-PARTICIPANT",
            "non-participant": "NON-PARTICIPANT",
        }[self.value]


@dataclass(frozen=True)
class Person:
    name: str
    email: str

    def __post_init__(self) -> None:
        _check_text("name", self.name)
        _check_verbatim("email", self.email)


@dataclass(frozen=True)
class Attendee:
    name: str
    email: str
    timezone: ZoneInfo
    language: str = "en"
    city: str | None = None
    role: Role = Role.REQUIRED
    reminders: tuple[timedelta, ...] | None = None  # None: the meeting's
    country: str | None = None  # ISO 3166 code whose public holidays apply; None: from the zone
    place: str | None = None  # a named place of the settings ([places.<name>])

    def __post_init__(self) -> None:
        for what in ("name", "city"):
            _check_text(what, getattr(self, what))
        _check_verbatim("email", self.email)

    @property
    def person(self) -> Person:
        return Person(self.name, self.email)


ExDate = date | datetime


@dataclass(frozen=True)
class Override:
    """One occurrence of a series changed or cancelled, "this event only" (a VEVENT with RECURRENCE-ID).

    ``occurrence`` is the start the series gives it (its RECURRENCE-ID); ``start``/``end`` are where it
    is now (the same when it did not move).  ``None`` fields are the series' own.
    """

    occurrence: datetime  # aware, in the meeting's zone
    start: datetime  # aware, in the meeting's zone
    end: datetime  # aware, in the meeting's zone
    cancelled: bool = False
    title: str | None = None
    description: str | None = None
    location: str | None = None
    video_url: str | None = None
    attendees: tuple[Attendee, ...] | None = None

    def __post_init__(self) -> None:
        for name in ("occurrence", "start", "end"):
            value = getattr(self, name)
            if value.tzinfo is None:
                raise ValueError(f"override {name} must be an aware datetime")
            if (why := outside_years(value)) is not None:
                raise ValueError(f"override {name}: {why}")
        if self.end <= self.start:
            raise ValueError("override end must be after its start")
        for what in ("title", "description", "location"):
            _check_text(what, getattr(self, what))
        _check_verbatim("video_url", self.video_url)

    @property
    def moved(self) -> bool:
        return self.start != self.occurrence

    def to_data(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "occurrence": self.occurrence.replace(tzinfo=None).isoformat(),
            "start": self.start.replace(tzinfo=None).isoformat(),
            "end": self.end.replace(tzinfo=None).isoformat(),
            "cancelled": self.cancelled,
        }
        for key in ("title", "description", "location", "video_url"):
            if getattr(self, key) is not None:
                data[key] = getattr(self, key)
        if self.attendees is not None:
            data["attendees"] = [_attendee_data(a) for a in self.attendees]
        return data

    @classmethod
    def from_data(cls, data: dict[str, Any], zone: ZoneInfo) -> Override:
        def wall(s: str) -> datetime:
            return datetime.fromisoformat(s).replace(tzinfo=zone)

        people = data.get("attendees")
        return cls(
            occurrence=wall(data["occurrence"]),
            start=wall(data["start"]),
            end=wall(data["end"]),
            cancelled=bool(data.get("cancelled", False)),
            title=data.get("title"),
            description=data.get("description"),
            location=data.get("location"),
            video_url=data.get("video_url"),
            attendees=None if people is None else tuple(_attendee_from(a) for a in people),
        )

    def content_hash(self) -> str:
        """Changes exactly when what this one occurrence shows changes (its own SEQUENCE follows it)."""
        blob = json.dumps(self.to_data(), sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        return hashlib.sha256(blob.encode()).hexdigest()


def _attendee_data(a: Attendee) -> dict[str, Any]:
    return {
        "name": a.name,
        "email": a.email,
        "timezone": a.timezone.key,
        "language": a.language,
        "city": a.city,
        "role": a.role.value,
        "reminders": None if a.reminders is None else [int(r.total_seconds()) for r in a.reminders],
        # only when given, so that meetings without them keep their content hash
        **({"country": a.country} if a.country else {}),
        **({"place": a.place} if a.place else {}),
    }


def _attendee_from(a: dict[str, Any]) -> Attendee:
    return Attendee(
        name=a["name"],
        email=a["email"],
        timezone=ZoneInfo(a["timezone"]),
        language=a["language"],
        city=a.get("city"),
        role=Role(a.get("role", "required")),
        reminders=None if a["reminders"] is None else tuple(timedelta(seconds=s) for s in a["reminders"]),
        country=a.get("country"),
        place=a.get("place"),
    )


@dataclass(frozen=True)
class Expansion:
    """Starts of a rule worked out already: every one before ``through`` (None: every one there is)."""

    starts: tuple[datetime, ...]
    through: datetime | None


@dataclass(frozen=True)
class Skipped:
    """An occurrence a meeting leaves out because it falls on a participant's public holiday."""

    start: datetime  # aware, in the meeting's zone
    reason: str  # ``Chuseok (KR)``; several holidays joined by ``; ``


@dataclass(frozen=True)
class Meeting:
    """One meeting (a single event or a recurring series) as the config describes it."""

    uid: str
    title: str
    start: datetime  # aware, in ``timezone``
    end: datetime  # aware, in ``timezone``
    timezone: ZoneInfo
    organizer: Person
    calendar: str = "default"
    description: str = ""
    location: str = ""
    video_url: str | None = None
    city: str | None = None  # the organizer's city, used to label the meeting's own zone
    recurrence: str | None = None  # an RFC 5545 RRULE value, without "RRULE:"
    exdates: tuple[datetime, ...] = ()  # aware, in ``timezone``
    rdates: tuple[datetime, ...] = ()  # aware, in ``timezone``: occurrences besides the rule's (RDATE)
    status: MeetingStatus = MeetingStatus.CONFIRMED
    attendees: tuple[Attendee, ...] = ()
    reminders: tuple[timedelta, ...] = ()
    overrides: tuple[Override, ...] = ()  # by occurrence: single occurrences changed or cancelled
    # ``skip_holidays``: False, True (every participant's country) or the countries listed
    skip_holidays: bool | tuple[str, ...] = False
    skipped: tuple[Skipped, ...] = ()  # the occurrences it leaves out, worked out by the config loader
    source: str = field(default="", compare=False)  # path:line of the config it came from
    # All day: start and end are midnights in ``timezone`` standing for calendar dates (end exclusive),
    # the same dates for everyone; written as VALUE=DATE, exdates and rdates too.
    all_day: bool = False
    related_to: str | None = None  # the UID of the series this one continues (RELATED-TO)

    def __post_init__(self) -> None:
        for name in ("start", "end"):
            value = getattr(self, name)
            if value.tzinfo is None:
                raise ValueError(f"{name} must be an aware datetime")
            if self.all_day and value.timetz().replace(tzinfo=None) != time(0):
                raise ValueError(f"{name} of an all-day meeting must be a midnight")
        if self.end <= self.start:
            raise ValueError("end must be after start")
        moments = [("start", self.start), ("end", self.end), *(("exdate", e) for e in self.exdates)]
        for what, moment in [*moments, *(("rdate", r) for r in self.rdates)]:
            if (why := outside_years(moment)) is not None:
                raise ValueError(f"{what}: {why}")
        if self.recurrence and (why := recurrence_problem(self.recurrence)) is not None:
            raise RecurrenceError(f"recurrence: {why}")
        # The config refuses all of these with a message; this keeps a Meeting built in code
        # from writing a calendar no client can read (or a file outside calendars/).
        for what in ("uid", "title", "description", "location", "city", "related_to"):
            _check_text(what, getattr(self, what))
        _check_verbatim("video_url", self.video_url)
        if not CALENDAR_NAME.match(self.calendar):
            raise ValueError(f"calendar {self.calendar!r} must be {CALENDAR_NAME_WORDS}")

    @property
    def duration(self) -> timedelta:
        return self.end - self.start

    @property
    def days(self) -> int:
        """How many calendar dates an all-day occurrence covers."""
        return (self.end.date() - self.start.date()).days

    @property
    def cancelled(self) -> bool:
        return self.status is MeetingStatus.CANCELLED

    def reminders_for(self, attendee: Attendee) -> tuple[timedelta, ...]:
        return self.reminders if attendee.reminders is None else attendee.reminders

    def guest_of(self, email: str) -> list[tuple[Override, Attendee]]:
        """The occurrences ``email`` is invited to alone (not an attendee of the series), with their entry."""
        key = email.lower()
        if any(a.email.lower() == key for a in self.attendees):
            return []
        out = []
        for o in self.overrides:
            mine = None if o.cancelled else next((a for a in o.attendees or () if a.email.lower() == key), None)
            if mine is not None:
                out.append((o, mine))
        return out

    def everyone(self) -> list[Attendee]:
        """The series' attendees, then those invited to one of its occurrences alone (once each)."""
        seen = {a.email.lower() for a in self.attendees}
        out = list(self.attendees)
        for o in self.overrides:
            for a in () if o.cancelled else o.attendees or ():
                if a.email.lower() not in seen:
                    seen.add(a.email.lower())
                    out.append(a)
        return out

    # -- recurrence ---------------------------------------------------------

    def occurrences(self, after: datetime, before: datetime) -> Iterator[datetime]:
        """Starts (aware, in the meeting's zone) of occurrences with ``after <= start < before``.

        Recurrences are expanded in wall time, so a 10:00 meeting stays at 10:00 local
        time across daylight-saving changes of its own zone.  Lazily, and never past the
        supported years: an open series asked for a century yields a century, one at a time.
        """
        if after.tzinfo is None or before.tzinfo is None:
            raise ValueError("occurrence bounds must be aware datetimes")
        if not self.recurrence:
            if after <= self.start < before:
                yield self.start
            return
        excluded = self.excluded()
        changed = {o.occurrence for o in self.overrides if o.cancelled or o.moved}
        moved = sorted(o.start for o in self.overrides if o.moved and not o.cancelled and after <= o.start < before)
        series = (s for s in self.expand(before) if s >= after and s not in excluded and s not in changed)
        yield from heapq.merge(series, moved)

    def override_at(self, start: datetime) -> Override | None:
        """The override of the occurrence that starts at ``start`` now (moved there, or changed in place)."""
        return next((o for o in self.overrides if o.start == start and not o.cancelled), None)

    def override_of(self, occurrence: datetime) -> Override | None:
        """The override of the occurrence the series starts at ``occurrence`` (its RECURRENCE-ID)."""
        return next((o for o in self.overrides if o.occurrence == occurrence), None)

    def instance(self, override: Override | None) -> Meeting:
        """One occurrence as a single meeting: the series' values with ``override``'s on top (no recurrence)."""
        if override is None:
            return self
        return replace(
            self,
            start=override.start,
            end=override.end,
            title=self.title if override.title is None else override.title,
            description=self.description if override.description is None else override.description,
            location=self.location if override.location is None else override.location,
            video_url=self.video_url if override.video_url is None else override.video_url,
            attendees=self.attendees if override.attendees is None else override.attendees,
            status=MeetingStatus.CANCELLED if override.cancelled else self.status,
            recurrence=None,
            exdates=(),
            rdates=(),
            overrides=(),
            skip_holidays=False,
            skipped=(),
        )

    def at(self, start: datetime) -> Meeting:
        """The occurrence starting at ``start`` (as :meth:`occurrences` gives it): its override's, or the series'."""
        return self.instance(self.override_at(start))

    def plain_instance(self, occurrence: datetime) -> Meeting:
        """The occurrence the series starts at ``occurrence`` with no override: the series' values."""
        return self.instance(Override(occurrence, occurrence, occurrence + self.duration))

    def excluded(self) -> frozenset[datetime]:
        """Starts left out of the series: the exdates and the occurrences skipped for holidays."""
        found: frozenset[datetime] | None = self.__dict__.get("_excluded")
        if found is None:
            found = frozenset(self.exdates) | {s.start for s in self.skipped}
            object.__setattr__(self, "_excluded", found)
        return found

    def all_exdates(self) -> list[datetime]:
        """Every EXDATE of the series, in order: the exdates and the skipped occurrences."""
        return sorted(self.excluded())

    def skipped_reason(self, start: datetime) -> str | None:
        """Why the occurrence at ``start`` is skipped (``Chuseok (KR)``), or None."""
        return next((s.reason for s in self.skipped if s.start == start), None)

    def expand(self, before: datetime | None = None) -> Iterator[datetime]:
        """Every start of the rule from the first one up to ``before`` (default: the end of the
        supported years), and the rdates, in order, exdates included, one at a time.

        Raises :class:`RecurrenceError` past :data:`MAX_OCCURRENCES_PER_YEAR` a year on average:
        nothing that validated gets there, so only a corrupt or outdated row can.
        """
        end = RANGE_END.replace(tzinfo=self.timezone)
        if before is not None:
            end = min(end, before)
        known: Expansion | None = self.__dict__.get("_expansion")
        covered = known is not None and (known.through is None or end <= known.through)
        rule: Iterable[datetime] = known.starts if known is not None and covered else self._rule_starts()
        budget = MAX_OCCURRENCES_PER_YEAR * (max(end.astimezone(self.timezone).year - self.start.year, 0) + 2)
        budget += len(self.rdates)
        previous = None
        for n, start in enumerate(heapq.merge(rule, sorted(self.rdates))):
            if start >= end:
                return
            if start == previous:  # an rdate the rule also gives
                continue
            previous = start
            if n >= budget:
                raise RecurrenceError(
                    f"{self.uid}: {self.recurrence} has more than {MAX_OCCURRENCES_PER_YEAR:,} occurrences a year"
                )
            yield start

    def reuse_expansion(self, expansion: Expansion) -> Meeting:
        """Let :meth:`expand` take the rule's starts from ``expansion`` (the validator's, of this very rule)
        wherever it covers the span asked for, instead of expanding the rule again.  Returns ``self``."""
        object.__setattr__(self, "_expansion", expansion)
        return self

    def rule(self) -> rrule.rrule:
        """The recurrence rule, expanded in the meeting's wall time (UNTIL is UTC, as RFC 5545 asks).

        Iterate it only through :meth:`expand` or :meth:`occurrences`, which bound it.
        """
        if not self.recurrence:
            raise ValueError(f"{self.uid} does not recur")
        if self.all_day:  # UNTIL is a date (RFC 5545 section 3.3.10): expand naive dates, then give them the zone
            return rrule.rrulestr(self.recurrence, dtstart=self.start.replace(tzinfo=None))  # type: ignore[return-value]
        return rrule.rrulestr(self.recurrence, dtstart=self.start)  # type: ignore[return-value]

    def _rule_starts(self) -> Iterator[datetime]:
        if not self.all_day:
            yield from self.rule()
            return
        for naive in self.rule():
            yield naive.replace(tzinfo=self.timezone)

    def bounded(self) -> bool:
        """Whether the series has an end (COUNT or UNTIL); a single meeting has one."""
        return not self.recurrence or bool(RULE_COUNT.search(self.recurrence) or RULE_UNTIL.search(self.recurrence))

    def last_end(self) -> datetime | None:
        """End of the last occurrence, or None for a series without an end."""
        if not self.recurrence:
            return self.end
        if not self.bounded():
            return None
        last = None
        for last in self.expand():  # noqa: B007 - bounded by COUNT/UNTIL and the supported years
            pass
        ends = [o.end for o in self.overrides if not o.cancelled]  # a moved occurrence may end later
        if last is not None:
            ends.append(last + self.duration)
        return max(ends, default=None)

    def end_bound(self) -> datetime | None:
        """No earlier than :meth:`last_end`, without expanding a series that ends by UNTIL (None: open)."""
        if not self.recurrence or not self.bounded() or RULE_COUNT.search(self.recurrence):
            return self.last_end()
        until: datetime = self.rule()._until  # type: ignore[attr-defined]
        if self.all_day:
            until = until.replace(tzinfo=self.timezone)
        until = max(until, *self.rdates) if self.rdates else until
        bound = min(until, RANGE_END.replace(tzinfo=self.timezone)) + self.duration
        return max([bound, *(o.end for o in self.overrides if not o.cancelled)])

    # -- zones and identity -------------------------------------------------

    def zones(self) -> list[tuple[str, ZoneInfo]]:
        """(label, zone) for every zone involved: the meeting's first, then attendees' in order.

        A label is the participants' city names in that zone (``Daegu``), or the
        zone's own city (``Seoul``) when nobody named one.
        """
        cities: dict[str, list[str]] = {self.timezone.key: []}
        zones: dict[str, ZoneInfo] = {self.timezone.key: self.timezone}
        if self.city:
            cities[self.timezone.key].append(self.city)
        for a in self.attendees:
            zones.setdefault(a.timezone.key, a.timezone)
            names = cities.setdefault(a.timezone.key, [])
            if a.city and a.city not in names:
                names.append(a.city)
        return [(" / ".join(cities[k]) or zone_city(zones[k]), zones[k]) for k in zones]

    def to_data(self) -> dict[str, Any]:
        """A JSON-able, canonical form (what the database stores)."""
        return {
            "uid": self.uid,
            "calendar": self.calendar,
            "title": self.title,
            "description": self.description,
            "location": self.location,
            "video_url": self.video_url,
            "city": self.city,
            "organizer": {"name": self.organizer.name, "email": self.organizer.email},
            "timezone": self.timezone.key,
            "start": self.start.replace(tzinfo=None).isoformat(),
            "end": self.end.replace(tzinfo=None).isoformat(),
            "recurrence": self.recurrence,
            "exdates": [e.replace(tzinfo=None).isoformat() for e in self.exdates],
            # only when given, so that meetings without them keep their content hash
            **({"rdates": [r.replace(tzinfo=None).isoformat() for r in self.rdates]} if self.rdates else {}),
            "status": self.status.value,
            # only when set, so that other meetings keep their content hash
            **({"all_day": True} if self.all_day else {}),
            **({"related_to": self.related_to} if self.related_to else {}),
            # only when set, so that meetings without them keep their content hash
            **({"skip_holidays": self._skip_data()} if self.skip_holidays is not False else {}),
            **(
                {"skipped": [[s.start.replace(tzinfo=None).isoformat(), s.reason] for s in self.skipped]}
                if self.skipped
                else {}
            ),
            "reminders": [int(r.total_seconds()) for r in self.reminders],
            "attendees": [_attendee_data(a) for a in self.attendees],
            # only when given, so that meetings without them keep their content hash
            **({"overrides": [o.to_data() for o in self.overrides]} if self.overrides else {}),
        }

    def series_data(self) -> dict[str, Any]:
        """:meth:`to_data` without the overrides: what the series' own VEVENT (and SEQUENCE) follows."""
        data = self.to_data()
        data.pop("overrides", None)
        return data

    def _skip_data(self) -> bool | list[str]:
        return self.skip_holidays if isinstance(self.skip_holidays, bool) else list(self.skip_holidays)

    @classmethod
    def from_data(cls, data: dict[str, Any], source: str = "") -> Meeting:
        tz = ZoneInfo(data["timezone"])

        def wall(s: str) -> datetime:
            return datetime.fromisoformat(s).replace(tzinfo=tz)

        def offsets(v: Sequence[int]) -> tuple[timedelta, ...]:
            return tuple(timedelta(seconds=s) for s in v)

        return cls(
            uid=data["uid"],
            calendar=data["calendar"],
            title=data["title"],
            description=data["description"],
            location=data["location"],
            video_url=data["video_url"],
            city=data.get("city"),
            organizer=Person(**data["organizer"]),
            timezone=tz,
            start=wall(data["start"]),
            end=wall(data["end"]),
            recurrence=data["recurrence"],
            exdates=tuple(wall(e) for e in data["exdates"]),
            rdates=tuple(wall(r) for r in data.get("rdates", ())),
            status=MeetingStatus(data["status"]),
            all_day=bool(data.get("all_day", False)),
            related_to=data.get("related_to"),
            skip_holidays=_skip_value(data.get("skip_holidays", False)),
            skipped=tuple(Skipped(wall(start), reason) for start, reason in data.get("skipped", ())),
            reminders=offsets(data["reminders"]),
            attendees=tuple(_attendee_from(a) for a in data["attendees"]),
            overrides=tuple(Override.from_data(o, tz) for o in data.get("overrides", ())),
            source=source,
        )

    def content_hash(self) -> str:
        """Changes exactly when anything a subscriber could see changes (worked out once: a Meeting never changes)."""
        cached: str | None = self.__dict__.get("_content_hash")
        if cached is None:
            blob = json.dumps(self.to_data(), sort_keys=True, ensure_ascii=False, separators=(",", ":"))
            cached = hashlib.sha256(blob.encode()).hexdigest()
            object.__setattr__(self, "_content_hash", cached)
        return cached


def _skip_value(value: Any) -> bool | tuple[str, ...]:
    return bool(value) if isinstance(value, bool) else tuple(str(c) for c in value)


@dataclass(frozen=True)
class InstanceVersion:
    """The versioning state of one occurrence that has (or had) an override: RFC 5545 lets each
    RECURRENCE-ID instance carry its own SEQUENCE and DTSTAMP."""

    occurrence: datetime  # aware: the RECURRENCE-ID
    sequence: int
    last_modified: datetime  # UTC
    digest: str  # Override.content_hash() of what it was set to ("" once reverted to the series)

    def to_data(self) -> dict[str, Any]:
        return {
            "occurrence": utc(self.occurrence).isoformat(),
            "sequence": self.sequence,
            "last_modified": utc(self.last_modified).isoformat(),
            "digest": self.digest,
        }

    @classmethod
    def from_data(cls, data: dict[str, Any], zone: ZoneInfo) -> InstanceVersion:
        return cls(
            occurrence=datetime.fromisoformat(data["occurrence"]).astimezone(zone),
            sequence=int(data["sequence"]),
            last_modified=datetime.fromisoformat(data["last_modified"]).astimezone(UTC),
            digest=str(data["digest"]),
        )


@dataclass(frozen=True)
class StoredMeeting:
    """A meeting with the versioning state the database keeps for it (RFC 5545 SEQUENCE, LAST-MODIFIED)."""

    meeting: Meeting
    sequence: int
    created_at: datetime  # UTC
    last_modified: datetime  # UTC; also the DTSTAMP of everything rendered from this version
    removed: bool  # its config file is gone; kept as cancelled
    instances: tuple[InstanceVersion, ...] = ()  # versioning of single occurrences changed since first sent

    @property
    def uid(self) -> str:
        return self.meeting.uid

    def instance_version(self, occurrence: datetime) -> InstanceVersion:
        """SEQUENCE and DTSTAMP of one occurrence's own VEVENT (RECURRENCE-ID ``occurrence``)."""
        found = next((v for v in self.instances if v.occurrence == occurrence), None)
        return found or InstanceVersion(occurrence, self.sequence, self.last_modified, "")

    @property
    def cache_key(self) -> tuple[str, int, datetime]:
        return (self.meeting.uid, self.sequence, self.last_modified)


def utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("naive datetime")
    return moment.astimezone(UTC)
