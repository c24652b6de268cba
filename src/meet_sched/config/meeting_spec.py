"""What a meeting file may say: its keys, their defaults and help, each checked by a field validator.

:class:`MeetingSpec` (with :class:`OverrideSpec` and :class:`AttendeeSpec`) only describes and
converts; :mod:`meet_sched.config.build` makes a :class:`~meet_sched.model.Meeting` of it and
:mod:`meet_sched.config.loader` turns its errors into problem lines with file and line.  The JSON
Schema editors read is generated from it (:mod:`meet_sched.config.json_schema`).
"""

from __future__ import annotations

import email.policy
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, ConfigDict, Field, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue

from ..model import CALENDAR_NAME_WORDS
from . import limits
from .fields import (
    CalendarName,
    Country,
    Day,
    Email,
    Language,
    Line,
    MeetingDuration,
    PlaceName,
    Reminders,
    RRule,
    Strict,
    Text,
    Url,
    WallTime,
    Zone,
    at_most_items,
    check_line,
    check_skip_holidays,
)


class PersonSpec(Strict):
    name: Line = Field("", description="Display name.")
    email: Email = Field(description="Email address.")


class AttendeeSpec(Strict):
    name: Line = Field("", description="Display name, as shown in calendars and emails.")
    email: Email = Field(description="Where invitations and reminders go.")
    timezone: Zone | None = Field(None, description="The attendee's IANA zone; default: the meeting's.")
    language: Language = Field("en", description="ko, zh, vi, en…; emails fall back to English.")
    city: Line | None = Field(None, description="City name used to label the attendee's zone.")
    role: Literal["chair", "required", "optional", "non-participant"] = "required"
    reminders: Reminders | None = Field(None, description="Overrides the meeting's reminders.")
    place: PlaceName | None = Field(None, description="A place of [places.<name>]: gives zone, country and hours.")
    country: Country | None = Field(None, description="ISO 3166 code whose public holidays apply; default: the zone's.")


def attendee_from_text(value: Any) -> Any:
    """``li@chengdu.example`` or ``Li Ming <li@chengdu.example>``: an attendee with just a name and address."""
    if not isinstance(value, str):
        return value
    text = check_line(value)
    if "<" not in text and ">" not in text:
        return {"email": text}
    header = email.policy.default.header_factory("to", text)
    addresses: tuple[Any, ...] = tuple(getattr(header, "addresses", ()))
    if len(addresses) != 1 or header.defects or not addresses[0].addr_spec:
        raise ValueError(f'{text!r} is not one attendee such as "Li Ming <li@chengdu.example>" or an address')
    return {"name": addresses[0].display_name, "email": addresses[0].addr_spec}


class _OrText:
    """In the JSON Schema: an attendee may also be written as one string."""

    def __get_pydantic_json_schema__(self, core_schema: Any, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        inner = handler(core_schema)
        text = {"type": "string", "description": "An address, or Name <address>.", "minLength": 3}
        return {"anyOf": [inner, text]}


Attendee = Annotated[AttendeeSpec, BeforeValidator(attendee_from_text), _OrText()]


class OverrideSpec(Strict):
    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        str_strip_whitespace=True,
        json_schema_extra={"not": {"required": ["duration", "end"]}},  # one of them, not both
    )

    occurrence: WallTime = Field(
        description="The occurrence changed, as the series gives it: its local date, or date and time."
    )
    status: Literal["confirmed", "cancelled"] = Field("confirmed", description="cancelled: this occurrence only.")
    start: WallTime | None = Field(None, description="Where it moves: a local wall time in the meeting's zone.")
    duration: MeetingDuration | None = None
    end: WallTime | None = None
    title: Line | None = None
    description: Text | None = None
    location: Line | None = None
    video_url: Url | None = None
    attendees: Annotated[list[Attendee], at_most_items(limits.MAX_ATTENDEES, "attendees")] | None = Field(
        None, description="Who is invited to this occurrence (instead of the meeting's attendees)."
    )


class MeetingSpec(Strict):
    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        str_strip_whitespace=True,
        json_schema_extra={"not": {"required": ["duration", "end"]}},  # one of them, not both
    )

    uid: Line | None = Field(None, description="Stable id; default derived from the file path.")
    calendar: CalendarName = Field("default", description=f"Feed name: {CALENDAR_NAME_WORDS}.")
    title: Line = Field(description="What the meeting is called.")
    description: Text = ""
    location: Line = ""
    video_url: Url | None = None
    city: Line | None = Field(None, description="The organizer's city, labels the meeting's own zone.")
    organizer: PersonSpec | None = None
    start: WallTime | None = Field(None, description="Local wall time in 'timezone', e.g. 2021-04-14T10:00.")
    date: Day | None = Field(None, description="An all-day meeting's (first) date, the same for everyone.")
    days: Annotated[int, Field(strict=True)] | None = Field(
        None, description="How many dates an all-day meeting covers (default 1)."
    )
    end_date: Day | None = Field(None, description="An all-day meeting's last date (inclusive).")
    related_to: Line | None = Field(None, description="UID of the series this one continues (RELATED-TO).")
    timezone: Zone
    duration: MeetingDuration | None = None
    end: WallTime | None = None
    recurrence: RRule | None = Field(None, description="An RFC 5545 RRULE, e.g. FREQ=WEEKLY;BYDAY=TH.")
    exdates: Annotated[list[WallTime], at_most_items(limits.MAX_EXDATES, "exdates")] = Field(default_factory=list)
    rdates: Annotated[list[WallTime], at_most_items(limits.MAX_RDATES, "rdates")] = Field(default_factory=list)
    overrides: Annotated[list[OverrideSpec], at_most_items(limits.MAX_OVERRIDES, "overrides")] = Field(
        default_factory=list, description="Single occurrences of the series moved, changed or cancelled."
    )
    skip_holidays: Annotated[bool | list[Country], BeforeValidator(check_skip_holidays)] = Field(
        False,
        description="Leave out occurrences on a participant's public holiday (true), or those of the countries listed.",
    )
    status: Literal["confirmed", "tentative", "cancelled"] = "confirmed"
    attendees: Annotated[list[Attendee], at_most_items(limits.MAX_ATTENDEES, "attendees")] = Field(default_factory=list)
    reminders: Reminders | None = Field(None, description="Offsets before start; default from settings.")
