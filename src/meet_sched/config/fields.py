"""The field validators of config files: one check per kind of value (a zone, an address, a line of
text, a duration, a wall time, an RRULE, a country…) and the annotated types the specs are written in.

Each check converts a value or raises :class:`ValueError` with the words a user reads after
``path:line: key:``; :mod:`meet_sched.config.meeting_spec` and :mod:`meet_sched.config.settings_spec`
put them together.  The characters text may not hold are :mod:`meet_sched.safe_text`'s, the shape of a
calendar's name is :mod:`meet_sched.model`'s: a rule has one source.
"""

from __future__ import annotations

import email.policy
import re
import zoneinfo
from collections.abc import Iterable, Mapping
from datetime import date, datetime, time, timedelta
from email.headerregistry import Address
from functools import cache
from typing import Annotated, Any

from email_validator import EmailNotValidError, validate_email
from icalendar.prop import vRecur
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema

from ..durations import format_duration, parse_duration
from ..model import CALENDAR_NAME_PATTERN
from ..safe_text import CONTROLS, refusal
from . import limits
from .languages import check_language


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


def check_line(value: Any, limit: int = limits.MAX_LINE_CHARS) -> str:
    """One line of text: names, titles, locations.  Line breaks are refused, not stripped."""
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        raise ValueError("must be text")
    text = str(value).strip()  # the line break YAML's folded style (`title: >`) ends with is no line break inside
    _too_long(text, limit, "one line")
    if any(c in text for c in "\r\n\x85\u2028\u2029"):  # NEL and the Unicode separators break lines too
        raise ValueError("must be a single line (no line breaks)")
    if (why := refusal(text, one_line=True)) is not None:
        raise ValueError(why)
    return text.strip()


def check_text(value: Any) -> str:
    """Free text that may span lines (descriptions)."""
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        raise ValueError("must be text")
    text = str(value).replace("\r\n", "\n").replace("\r", "\n")
    _too_long(text, limits.MAX_DESCRIPTION_CHARS, "a description")
    if (why := refusal(text, one_line=False)) is not None:
        raise ValueError(why)
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
# A place is named as a calendar is: a TOML key ([places.bac-ninh]) and a word in tables.
PlaceName = Annotated[str, Field(pattern=CALENDAR_NAME_PATTERN)]
CalendarName = Annotated[str, Field(pattern=CALENDAR_NAME_PATTERN)]
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
_TEXT_SCHEMA = {"type": "string", "pattern": f"^[^{CONTROLS}]*$"}
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
