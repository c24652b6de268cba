"""What a valid config file looks like: one place for every key, its default, help and check.

The pydantic models here only describe and convert; :mod:`meet_sched.config.loader`
turns their errors into :class:`~meet_sched.errors.Problem` lines with file and line.
"""

from __future__ import annotations

import email.policy
import re
import zoneinfo
from collections.abc import Iterable, Mapping
from datetime import date, datetime, time, timedelta
from email.headerregistry import Address
from functools import cache
from typing import Annotated, Any, Literal

from email_validator import EmailNotValidError, validate_email
from icalendar.prop import vRecur
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    GetJsonSchemaHandler,
    WithJsonSchema,
)
from pydantic.json_schema import JsonSchemaValue

from ..durations import format_duration, parse_duration
from . import limits
from .languages import check_language

# C0 controls (line breaks and HTAB aside), DEL and the C1 controls (U+0080-U+009F): no calendar or
# email can carry them, and some terminals act on them (U+009B starts an escape sequence).
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
# Bidirectional embeddings, overrides and isolates: they make a line read differently from what it
# holds ("Budget review" that displays as something else).  The marks U+200E and U+200F stay
# allowed: right-to-left names need them and they only affect the characters next to them.
_BIDI = re.compile(r"[\u202a-\u202e\u2066-\u2069]")
# Overrides alone, in free text: embeddings and isolates have honest uses in mixed-direction prose.
_BIDI_OVERRIDE = re.compile(r"[\u202d\u202e]")


@cache
def _zone_names() -> tuple[str, ...]:
    return tuple(sorted(zoneinfo.available_timezones()))


def check_zone(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError("must be an IANA time zone name such as Asia/Seoul")
    name = value.strip()
    if name not in _zone_names() or name.lower() == "localtime":
        raise UnknownZone(name)
    return name


class UnknownZone(ValueError):
    """A name that is no IANA zone, with a did-you-mean by city, country, abbreviation or offset.

    ``prefer`` and ``cities`` are the site's own zones and city names, known only once every
    file is read: the loader words the message again with them (:meth:`message`).
    """

    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(self.message())

    def message(self, prefer: Iterable[str] = (), cities: Mapping[str, str] | None = None) -> str:
        from ..places.zones import zone_hint

        return f"unknown time zone {self.name!r}{zone_hint(self.name, prefer, cities)}"


def check_email(value: Any) -> str:
    """An address every message can be sent to: 7-bit, as the project's messages are (no SMTPUTF8).

    A non-ASCII domain is kept in its A-label (``xn--``) form, which every mail system reads;
    a non-ASCII local part has no such form and is refused.
    """
    if not isinstance(value, str):
        raise ValueError("must be an email address")
    if value != value.strip() or any(c in value for c in "\r\n<>,;\"'"):
        raise ValueError(f"{value!r} is not a plain email address (no spaces, quotes, <>, commas or line breaks)")
    try:
        checked = validate_email(value, check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError as exc:
        raise ValueError(f"{value!r} is not a valid email address: {exc}") from None
    if checked.ascii_email is None:  # not reached with allow_smtputf8=False; kept for safety
        raise ValueError(f"{value!r} needs SMTPUTF8, which meet-sched does not use; give an ASCII address")
    return checked.ascii_email


def _too_long(text: str, limit: int, what: str) -> None:
    if len(text) > limit:
        raise ValueError(f"is {len(text):,} characters long; at most {limit:,} are allowed in {what}")


def _control_problem(text: str, pattern: re.Pattern[str]) -> str | None:
    m = pattern.search(text)
    return None if m is None else f"contains the control character U+{ord(m.group()):04X} at character {m.start() + 1}"


def check_line(value: Any, limit: int = limits.MAX_LINE_CHARS) -> str:
    """One line of text: names, titles, locations.  Line breaks are refused, not stripped."""
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        raise ValueError("must be text")
    text = str(value).strip()  # the line break YAML's folded style (`title: >`) ends with is no line break inside
    _too_long(text, limit, "one line")
    if any(c in text for c in "\r\n\x85\u2028\u2029"):  # NEL and the Unicode separators break lines too
        raise ValueError("must be a single line (no line breaks)")
    if (why := _control_problem(text, _CONTROL)) is not None:
        raise ValueError(why)
    if (m := _BIDI.search(text)) is not None:
        raise ValueError(
            f"contains the bidirectional control U+{ord(m.group()):04X} at character {m.start() + 1}, "
            "which can make the line display as something other than what it says"
        )
    return text.strip()


def check_text(value: Any) -> str:
    """Free text that may span lines (descriptions)."""
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        raise ValueError("must be text")
    text = str(value).replace("\r\n", "\n").replace("\r", "\n")
    _too_long(text, limits.MAX_DESCRIPTION_CHARS, "a description")
    if (why := _control_problem(text, _CONTROL)) is not None:
        raise ValueError(why)
    if (m := _BIDI_OVERRIDE.search(text)) is not None:
        raise ValueError(
            f"contains the bidirectional override U+{ord(m.group()):04X} at character {m.start() + 1}, "
            "which makes the text display in an order other than the one it is written in"
        )
    return text.strip()


def check_duration(value: Any) -> timedelta:
    if isinstance(value, timedelta):
        return value
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ValueError("must be a duration such as 90m, 1h30m, 1d or PT1H30M")
    if isinstance(value, int):
        raise ValueError(f"{value} has no unit (write {value}m, {value}h, {value}d…)")
    return parse_duration(value)


def check_duration_or_off(value: Any) -> timedelta:
    """A duration, or 0 (``"0"``, ``"0s"``, ``0``): off."""
    if isinstance(value, int) and not isinstance(value, bool) and value == 0:
        return timedelta(0)
    if isinstance(value, str) and re.fullmatch(r"\s*0+[wWdDhHmMsS]?\s*", value):
        return timedelta(0)
    return check_duration(value)


def check_url(value: Any) -> str:
    text = check_line(value, limits.MAX_URL_CHARS)
    if not re.match(r"^https?://[^\s/?#]+[^\s]*$", text):
        raise ValueError(f"{text!r} is not an http(s):// link")
    if (bad := next((c for c in text if c in '"<>\\^`{|}' or not c.isascii()), None)) is not None:
        raise ValueError(
            f"{text!r} contains {bad!r}, which a link may not hold as it is (RFC 3986); write it percent-encoded"
        )
    return text


def check_file_mode(value: Any) -> int:
    """``"0640"``: octal permission bits of a written file; the owner reads and writes, nobody executes."""
    if not isinstance(value, str) or not re.match(r"^0?[0-7]{3}$", value.strip()):
        raise ValueError('must be an octal mode in quotes, such as "0640" or "0644"')
    mode = int(value.strip(), 8)
    if mode & 0o600 != 0o600 or mode & 0o111:
        raise ValueError(f'{value.strip()!r}: the owner must read and write, and nobody execute (e.g. "0640")')
    return mode


def check_sender(value: Any) -> str:
    """``Name <address>`` or a bare address: exactly one mailbox, fit for a From header."""
    text = check_line(value)
    header = email.policy.default.header_factory("from", text)
    addresses: tuple[Any, ...] = tuple(getattr(header, "addresses", ()))
    if len(addresses) != 1 or header.defects or not addresses[0].addr_spec:
        raise ValueError(f'{text!r} is not one sender such as "Daegu International Relations <intl@example.org>"')
    address = check_email(addresses[0].addr_spec)
    if not addresses[0].addr_spec.isascii():  # an internationalized domain: the From header gets its A-label
        return str(Address(display_name=addresses[0].display_name, addr_spec=address))
    return text


def at_most(limit: timedelta, what: str) -> Any:
    """An after-validator: a duration no longer than ``limit`` (named in the README's Limits)."""

    def check(value: timedelta) -> timedelta:
        if value > limit:
            raise ValueError(f"{format_duration(value)} is longer than {format_duration(limit)}, the longest {what}")
        return value

    return AfterValidator(check)


def at_most_items(limit: int, what: str) -> Any:
    """A before-validator: a list of at most ``limit`` items, counted before any item is checked."""

    def check(value: Any) -> Any:
        if isinstance(value, list | tuple) and len(value) > limit:
            raise ValueError(f"has {len(value):,} {what}; at most {limit:,} are allowed")
        return value

    return BeforeValidator(check)


def check_wall_time(value: Any) -> datetime | date:
    """A local wall time without an offset: the zone comes from ``timezone``."""
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            raise ValueError("give the local wall time without a UTC offset; the zone comes from 'timezone'")
        return value
    if isinstance(value, date):
        return value
    if isinstance(value, time) or not isinstance(value, str):
        raise ValueError("must be a local date-time such as 2021-04-14T10:00")
    try:
        parsed: datetime | date = datetime.fromisoformat(value.strip())
    except ValueError:
        try:
            parsed = date.fromisoformat(value.strip())
        except ValueError:
            raise ValueError(f"{value!r} is not an ISO 8601 date-time such as 2021-04-14T10:00") from None
        return parsed
    assert isinstance(parsed, datetime)
    if parsed.tzinfo is not None:
        raise ValueError("give the local wall time without a UTC offset; the zone comes from 'timezone'")
    if len(value.strip()) == 10:  # 2021-04-14: a whole day
        return parsed.date()
    return parsed


def check_day(value: Any) -> date:
    """A calendar date without a time of day: the day of an all-day meeting."""
    timed = "must be a date without a time of day, such as 2027-04-14 (use 'start' for a time)"
    if isinstance(value, datetime | time):
        raise ValueError(timed)
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
        try:
            datetime.fromisoformat(value.strip())
        except ValueError:
            pass
        else:
            raise ValueError(timed)
    raise ValueError(f"{value!r} is not a date such as 2027-04-14")


def check_time_of_day(value: Any) -> time:
    """``09:00``: a local wall time of day."""
    if isinstance(value, time):
        return value
    if isinstance(value, str) and re.fullmatch(r"\s*\d{2}:\d{2}\s*", value):
        try:
            return time.fromisoformat(value.strip())
        except ValueError:
            pass
    raise ValueError(f'{value!r} is not a time of day such as "09:00"')


def check_rrule(value: Any) -> str:
    """The syntax of an RRULE; what it means for the start is checked with the whole meeting."""
    text = check_line(value)
    body = text[6:] if text.upper().startswith("RRULE:") else text
    try:
        recur = vRecur.from_ical(body)
    except (ValueError, TypeError, KeyError) as exc:
        raise ValueError(f"{text!r} is not an RFC 5545 RRULE ({exc})") from None
    if "FREQ" not in recur:
        raise ValueError(f"{text!r} has no FREQ (e.g. FREQ=WEEKLY;BYDAY=TH)")
    if "COUNT" in recur and "UNTIL" in recur:
        raise ValueError("give COUNT or UNTIL, not both (RFC 5545 section 3.3.10)")
    return body


def check_hours(value: Any) -> str:
    """``09:00-18:00``: local working hours."""
    if not isinstance(value, str):
        raise ValueError("must be a span of hours such as 09:00-18:00")
    from ..places.hours import WorkingHours

    WorkingHours.parse(value)
    return value.strip()


def check_country(value: Any) -> str:
    """An ISO 3166 alpha-2 code (``KR``, ``vn``): the country whose public holidays apply."""
    from ..places.holidays import supported_countries

    if not isinstance(value, str) or not re.fullmatch(r"[A-Za-z]{2}", value.strip()):
        raise ValueError("must be a two-letter ISO 3166 country code such as KR, CN or VN")
    code = value.strip().upper()
    if code not in supported_countries():
        raise ValueError(f"{code!r}: the holidays package knows no public holidays of this country")
    return code


def check_weekday(value: Any) -> str:
    from ..places.hours import parse_weekend

    if not isinstance(value, str):
        raise ValueError("must be a day of the week such as sat")
    parse_weekend([value])
    return value.strip().lower()[:3]


Zone = Annotated[str, BeforeValidator(check_zone)]
Country = Annotated[str, BeforeValidator(check_country)]


def check_skip_holidays(value: Any) -> Any:
    """``true``/``false`` or a list of country codes, checked as one value: a mistake is one problem
    about the key (not one per member of the type's union, named after its validators)."""
    if isinstance(value, bool):
        return value
    if not isinstance(value, list | tuple):
        raise ValueError("must be true, false or a list of country codes such as [KR, CN]")
    if len(value) > limits.MAX_SKIP_COUNTRIES:
        raise ValueError(f"has {len(value):,} skip_holidays; at most {limits.MAX_SKIP_COUNTRIES:,} are allowed")
    codes = []
    for item in value:
        try:
            codes.append(check_country(item))
        except ValueError:
            shown = (
                item.strip().upper()
                if isinstance(item, str) and re.fullmatch(r"\s*[A-Za-z]{2}\s*", item)
                else repr(item)
            )
            raise ValueError(
                f"{shown} is not a country code the holidays package has public holidays for "
                "(a two-letter ISO 3166 code such as KR, CN or VN)"
            ) from None
    return codes


Weekday = Annotated[str, BeforeValidator(check_weekday)]
PlaceName = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$")]
Hours = Annotated[str, BeforeValidator(check_hours)]


def _any_case(word: str) -> str:
    """A regex for ``word`` in any case that JavaScript reads too (editors have no inline ``(?i)``)."""
    return "".join(f"[{c.upper()}{c.lower()}]" if c.isalpha() else c for c in word)


_FREQS = "|".join(_any_case(f) for f in ("SECONDLY", "MINUTELY", "HOURLY", "DAILY", "WEEKLY", "MONTHLY", "YEARLY"))
_RRULE_PATTERN = f"^\\s*(?:{_any_case('RRULE:')})?(?:[^;]*;)*{_any_case('FREQ')}=(?:{_FREQS})(?:;[^;]*)*\\s*$"
RRule = Annotated[str, BeforeValidator(check_rrule), WithJsonSchema({"type": "string", "pattern": _RRULE_PATTERN})]
# What the JSON Schema for editors can say of these (the validator says more: see json_schema.py).
_EMAIL_SCHEMA = {"type": "string", "pattern": "^[^@\\s<>,;\"']+@[^@\\s<>,;\"']+\\.[^@\\s<>,;\"']+$"}
_LINE_SCHEMA = {"type": "string", "pattern": "^\\s*[^\\x00-\\x08\\x0a-\\x1f\\x7f-\\x9f\\u2028\\u2029]*\\s*$"}
_TEXT_SCHEMA = {"type": "string", "pattern": "^[^\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f\\x7f-\\x9f]*$"}
Email = Annotated[str, BeforeValidator(check_email), WithJsonSchema(_EMAIL_SCHEMA)]
Line = Annotated[str, BeforeValidator(check_line), WithJsonSchema(_LINE_SCHEMA)]
Text = Annotated[str, BeforeValidator(check_text), WithJsonSchema(_TEXT_SCHEMA)]
Duration = Annotated[
    timedelta,
    BeforeValidator(check_duration),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": r"^\s*(?:(?:[0-9]+[wWdDhHmMsS])+|[pP](?:[0-9]+[wWdD])*(?:[tT](?:[0-9]+[hHmMsS])+)?)\s*$",
            "description": "A duration such as 90m, 1h30m, 1d or PT1H30M.",
        }
    ),
]
DurationOrOff = Annotated[
    timedelta,
    BeforeValidator(check_duration_or_off),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "pattern": r"^\s*(?:0+[wWdDhHmMsS]?|(?:[0-9]+[wWdDhHmMsS])+)\s*$"},
                {"const": 0},
            ],
            "description": "A duration such as 2m or 30s, or 0 for none.",
        }
    ),
]
MeetingDuration = Annotated[Duration, at_most(limits.MAX_MEETING_DURATION, "meeting")]
ReminderOffset = Annotated[Duration, at_most(limits.MAX_REMINDER_OFFSET, "reminder offset")]
Reminders = Annotated[list[ReminderOffset], at_most_items(limits.MAX_REMINDERS, "reminders")]
Url = Annotated[str, BeforeValidator(check_url)]
Sender = Annotated[str, BeforeValidator(check_sender)]
FileMode = Annotated[
    int,
    BeforeValidator(check_file_mode),
    WithJsonSchema({"type": "string", "pattern": "^0?[0-7]{3}$", "description": 'An octal mode such as "0640".'}),
]
WallTime = Annotated[
    datetime | date,
    BeforeValidator(check_wall_time),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": r"^\s*[0-9]{4}-[0-9]{2}-[0-9]{2}(?:[T ][0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]+)?)?)?\s*$",
            "description": "A local wall time without offset, e.g. 2021-04-14T10:00.",
        }
    ),
]
Language = Annotated[str, Field(pattern=r"^[a-z]{2,3}(?:[-_][A-Za-z0-9]{2,8})*$"), BeforeValidator(check_language)]
Day = Annotated[
    date,
    BeforeValidator(check_day),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": r"^\s*[0-9]{4}-[0-9]{2}-[0-9]{2}\s*$",
            "description": "A calendar date, e.g. 2027-04-14.",
        }
    ),
]
TimeOfDay = Annotated[
    time,
    BeforeValidator(check_time_of_day),
    WithJsonSchema({"type": "string", "pattern": r"^\s*[0-9]{2}:[0-9]{2}\s*$", "description": "e.g. 09:00"}),
]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


# -- meetings ---------------------------------------------------------------


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
    calendar: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$")] = Field(
        "default", description="Feed name: lower-case letters, digits, - and _."
    )
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


# -- settings (config/meet-sched.toml) -----------------------------------------


class CalendarSection(Strict):
    name: Line = Field("Meetings", description="Calendar name shown by clients (NAME, X-WR-CALNAME).")
    domain: Annotated[str, Field(pattern=r"^[A-Za-z0-9.-]+$")] = Field(
        "meet-sched.localhost", description="Domain of UIDs and Message-IDs; PRODID names it too."
    )
    organizer: PersonSpec = Field(
        default_factory=lambda: PersonSpec(name="meet-sched", email="meet-sched@example.org"),
        description="Organizer of meetings whose file names none (RFC 5546 needs one).",
    )
    refresh_interval: Annotated[Duration, at_most(limits.MAX_REFRESH_INTERVAL, "refresh interval")] = Field(
        timedelta(hours=1), description="How often clients should re-fetch feeds."
    )
    language: Language = Field("en", description="Language of feed text (the zone line in descriptions).")
    timezone: Zone | None = Field(
        None,
        description="Zone the commands show times in; default: the organizer's, else the attendees' most common.",
    )
    file_mode: FileMode | None = Field(
        None, description='Mode of the files in calendars/, e.g. "0640"; default: 0666 less the umask.'
    )


CalendarName = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$")]


class CalendarEntry(Strict):
    name: Line | None = Field(None, description="Display name of this calendar (page, NAME / X-WR-CALNAME).")


class DatabaseSection(Strict):
    url: Line | None = Field(
        None, description="SQLAlchemy URL; default sqlite:///var/meet-sched.db; env MEET_SCHED_DATABASE_URL wins."
    )


class RemindersSection(Strict):
    default: Reminders = Field(
        default_factory=lambda: [timedelta(days=1), timedelta(minutes=10)],
        description="Offsets before start for meetings that set none.",
    )
    horizon: Annotated[Duration, at_most(limits.MAX_HORIZON, "reminder horizon")] = Field(
        timedelta(days=60), description="How far ahead reminders are planned."
    )
    all_day_at: TimeOfDay = Field(
        time(9, 0), description="Local time in each attendee's zone at which all-day meetings' reminders go out."
    )


class SmtpSection(Strict):
    host: Line
    port: Annotated[int, Field(ge=1, le=65535)] = 587
    security: Literal["starttls", "tls", "none"] = "starttls"
    username: Line | None = Field(None, description="The password comes only from env MEET_SCHED_SMTP_PASSWORD.")
    sender: Sender = Field(description='From header, e.g. "Daegu International Relations <intl@example.org>".')
    max_connections: Annotated[int, Field(ge=1, le=64)] = 4
    timeout: Annotated[Duration, at_most(limits.MAX_SMTP_TIMEOUT, "SMTP timeout")] = Field(
        timedelta(seconds=30), description="Per-command timeout."
    )
    ca_file: Line | None = Field(
        None, description="PEM file of extra CA certificates to trust (a private CA); relative to the site."
    )


class DeliverySection(Strict):
    maildir: Line = Field(
        "var/mail", description="Without [smtp], every message is delivered into this Maildir (relative to the site)."
    )
    retry_base: Annotated[Duration, at_most(limits.MAX_RETRY_BASE, "first retry wait")] = Field(
        timedelta(seconds=30), description="Wait after a first temporary failure; doubles each time, with jitter."
    )
    retry_max: Annotated[Duration, at_most(limits.MAX_RETRY_MAX, "wait between retries")] = Field(
        timedelta(hours=1), description="Longest wait between two attempts."
    )
    give_up_after: Annotated[Duration, at_most(limits.MAX_GIVE_UP_AFTER, "time to keep retrying")] = Field(
        timedelta(days=2), description="An invitation still failing this long after it was due is marked failed."
    )
    lease: Annotated[Duration, at_most(limits.MAX_LEASE, "lease")] = Field(
        timedelta(minutes=2), description="How long a claimed message is reserved for the process sending it."
    )
    update_quiet: Annotated[DurationOrOff, at_most(limits.MAX_UPDATE_QUIET, "update quiet period")] = Field(
        timedelta(minutes=2),
        description="Updates wait this long after an edit, so that quick edits make one update; 0s: at once.",
    )


class NotifySection(Strict):
    errors_to: list[Email] = Field(
        default_factory=list,
        description="Who is mailed when the running service refuses a config change, and when it is fixed; "
        "default: the [calendar] organizer.",
    )


class InvitationsSection(Strict):
    enabled: bool = Field(True, description="Email invitations, updates and cancellations (iMIP).")
    feed_link: bool = Field(
        False,
        description="A first invitation to an attendee without a personal feed carries a new one "
        "(webcal:// and https://); needs [server] base_url.",
    )


class ServerSection(Strict):
    listen: Annotated[str, Field(pattern=r"^(\[[0-9A-Fa-f:]+\]|[A-Za-z0-9.-]+):\d{1,5}$")] = "127.0.0.1:8080"
    base_url: Url | None = Field(None, description="Public base of links; default http://<listen>.")
    public_calendars: list[str] = Field(default_factory=list, description="Served without a token.")
    public_attendees: bool = Field(
        False,
        description="List attendees (names and email addresses) in public feeds; off, anyone with the URL "
        "could collect them. Personal feeds always list them.",
    )
    working_hours: Hours = Field("09:00-18:00", description="Local working hours, drawn on the agenda page.")
    working_hours_by_zone: dict[Zone, Hours] = Field(
        default_factory=dict, description='Other hours for some zones, e.g. { "Asia/Ho_Chi_Minh" = "08:00-17:00" }.'
    )
    holidays: bool = Field(True, description="Mark weekends and public holidays (country from the zone) on the page.")
    agenda_days: Annotated[int, Field(ge=1, le=366)] = Field(60, description="How many days ahead the page lists.")


class ImapSection(Strict):
    host: Line = Field(description="The IMAP server's name (its certificate must name it).")
    port: Annotated[int, Field(ge=1, le=65535)] = 993
    security: Literal["tls", "starttls"] = Field(
        "tls", description="tls: IMAPS (port 993); starttls: plain IMAP upgraded before login (port 143)."
    )
    username: Line = Field(description="The password comes only from env MEET_SCHED_IMAP_PASSWORD.")
    folder: Line = Field("INBOX", description="Where replies arrive.")
    processed_folder: Line = Field("meet-sched-processed", description="Handled messages are moved here.")
    quarantine_folder: Line = Field("meet-sched-quarantine", description="Refused messages are moved here.")
    poll: Annotated[Duration, at_most(limits.MAX_IMAP_POLL, "IMAP poll interval")] = Field(
        timedelta(minutes=1), description="How often to look without IDLE (and the longest IDLE wait)."
    )
    ca_file: Line | None = Field(
        None, description="PEM file of extra CA certificates to trust (a private CA); relative to the site."
    )


class RepliesSection(Strict):
    enabled: bool = Field(True, description="Read attendees' answers (iMIP REPLY, COUNTER) while serving.")
    maildir: Line = Field(
        "var/inbox", description="Without [replies.imap], answers are read from this Maildir (relative to the site)."
    )
    max_bytes: Annotated[int, Field(ge=1024, le=limits.MAX_REPLY_BYTES_LIMIT)] = Field(
        limits.MAX_REPLY_BYTES, description="A bigger message is quarantined unread."
    )
    imap: ImapSection | None = None
    summary: Literal["each", "daily", "off"] = Field(
        "off",
        description="Mail each meeting's organizer who answered what: each (one mail a short while after "
        "answers change, [delivery] update_quiet), daily (one mail a day at summary_at, if anything changed), off.",
    )
    summary_at: TimeOfDay = Field(
        time(8, 0),
        description="summary = daily: local time of the mail, in the organizer's zone (their own attendee "
        "entry's, else [calendar] timezone, else the meeting's).",
    )


class LimitsSection(Strict):
    allow_hourly: bool = Field(
        False, description="Accept FREQ=HOURLY recurrences (still at most 1,000 occurrences a year)."
    )


class PlaceSection(Strict):
    timezone: Zone = Field(description="The place's IANA zone.")
    country: Country | None = Field(None, description="Whose public holidays apply; default: the zone's (zone.tab).")
    city: Line | None = Field(None, description="Label in tables; default: the place's name.")
    hours: Hours | None = Field(None, description="Local working hours; default: [server] working_hours(_by_zone).")
    lunch: Hours | Literal["none"] = Field("12:00-13:00", description='Local lunch break, or "none".')
    weekend: list[Weekday] = Field(default_factory=lambda: ["sat", "sun"], description="Days off every week.")
    holidays: bool = Field(True, description="Look up the country's public holidays.")


class WarningsSection(Strict):
    enabled: bool = Field(True, description="validate warns of holidays, weekends, lunch, hours off work.")
    months: Annotated[int, Field(ge=1, le=60)] = Field(12, description="How far ahead the warnings look.")


class SettingsSpec(Strict):
    calendar: CalendarSection = Field(default_factory=CalendarSection)
    database: DatabaseSection = Field(default_factory=DatabaseSection)
    reminders: RemindersSection = Field(default_factory=RemindersSection)
    smtp: SmtpSection | None = None
    delivery: DeliverySection = Field(default_factory=DeliverySection)
    invitations: InvitationsSection = Field(default_factory=InvitationsSection)
    notify: NotifySection = Field(default_factory=NotifySection)
    server: ServerSection = Field(default_factory=ServerSection)
    limits: LimitsSection = Field(default_factory=LimitsSection)
    places: dict[PlaceName, PlaceSection] = Field(default_factory=dict, description="Named places ([places.daegu]).")
    calendars: dict[CalendarName, CalendarEntry] = Field(
        default_factory=dict, description="Per calendar ([calendars.sister-cities]): its display name."
    )
    warnings: WarningsSection = Field(default_factory=WarningsSection)
    replies: RepliesSection = Field(default_factory=RepliesSection)
