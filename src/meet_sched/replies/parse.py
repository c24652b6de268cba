"""Reading iMIP answers (RFC 6047, RFC 5546 REPLY and COUNTER) out of email messages and .ics files.

The shapes real clients send all come down to ``text/calendar`` parts (``method=REPLY``, inline or
in ``multipart/alternative``) and ``.ics`` attachments (``application/ics``, or any type with a
``.ics`` name): Google Calendar sends both with the same content, Outlook/Exchange one inline
part and often no ORGANIZER, Apple Calendar an attachment, Thunderbird an inline part and an
``invite.ics``.  Every VEVENT of every such part is read; identical answers found twice count once.

Nothing here touches the database: the result is a :class:`Incoming` (who sent it, what it
says) or a :class:`Refused` with the reason, for the quarantine.
"""

from __future__ import annotations

import email
import email.policy
import email.utils
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from email.message import Message
from typing import Any

from icalendar import Calendar

from ..errors import MeetSchedError
from ..recurrence import SUPPORTED_YEARS, outside_years

METHODS = ("REPLY", "COUNTER")
MAX_ANSWERS = 100  # VEVENTs (answers) read from one message; more is refused
MAX_CALENDAR_BYTES = 256 * 1024  # one text/calendar part or .ics file: a bigger one is refused before it is parsed
MAX_COMPONENTS = 500  # BEGIN: lines (VCALENDAR, VEVENT, VTIMEZONE, VALARM…) of one; more is refused before parsing
MAX_CALENDAR_PARTS = 10  # text/calendar parts and .ics attachments read from one message
MAX_MIME_PARTS = 200  # MIME parts walked in one message; more is refused
PARTSTATS = ("NEEDS-ACTION", "ACCEPTED", "DECLINED", "TENTATIVE", "DELEGATED")
SINGLE_HEADERS = ("From", "Sender", "Return-Path")  # RFC 5322 3.6: at most one each; two are refused


@dataclass(frozen=True)
class CalendarService:
    """A calendar service that sends its users' replies itself: its envelope sender (Return-Path) is its
    own, not the attendee's; the From is still the attendee's (RFC 6047 section 3)."""

    name: str
    envelope_domain: str  # Return-Path <…@this domain>
    sender: str  # its Sender header, when it writes one


CALENDAR_SERVICES = (
    CalendarService("Google Calendar", "calendar-server.bounces.google.com", "calendar-notification@google.com"),
)


class Refused(MeetSchedError):
    """A message that cannot be applied: it goes to the quarantine with this reason."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


@dataclass(frozen=True)
class ParsedAnswer:
    """One VEVENT of a REPLY or COUNTER."""

    method: str  # REPLY | COUNTER
    uid: str
    sequence: int
    dtstamp: datetime | None  # UTC; None: the object gave none
    recurrence_id: datetime | date | None  # as written (aware, floating or a date); None: the whole series
    attendee: str  # lower-cased address of the one who answers
    partstat: str
    delegated_to: tuple[str, ...] = ()
    organizer: str | None = None  # lower-cased, when the object names one
    sent_by: str | None = None  # the ATTENDEE's SENT-BY (lower-cased): who answered on their behalf
    comment: str | None = None
    start: datetime | date | None = None  # COUNTER: the proposed time
    end: datetime | date | None = None


@dataclass(frozen=True)
class Incoming:
    """What one message (or file) says, and who says it."""

    sender: str | None  # From, lower-cased (None: an .ics file, which has no sender)
    envelope: str | None  # Return-Path, lower-cased ("" for the null sender <>); None: absent
    message_id: str | None
    answers: tuple[ParsedAnswer, ...] = field(default_factory=tuple)
    service: str | None = None  # the calendar service (CALENDAR_SERVICES) whose envelope it came with


def address(value: object) -> str:
    """``mailto:Li.Ming@Chengdu.example`` (any case of ``mailto:``) → ``li.ming@chengdu.example``."""
    text = str(value).strip()
    if text[:7].lower() == "mailto:":
        text = text[7:]
    return text.strip().lower()


def _one_line(text: str, limit: int = 200) -> str:
    return " ".join(text.split())[:limit]


def _header_address(message: Message, name: str) -> str | None:
    raw = message.get(name)
    if raw is None:
        return None
    pairs = email.utils.getaddresses([str(raw)])
    if len(pairs) != 1:
        raise Refused(f"{name} header names {len(pairs)} addresses")
    return pairs[0][1].strip().lower()


def read_message(data: bytes) -> Incoming:
    """An email message (RFC 5322 bytes) → its answers; raises :class:`Refused` with the reason."""
    _few_components(data)
    try:
        message = email.message_from_bytes(data, policy=email.policy.compat32)
    except Exception as exc:  # the parser is lenient; anything it still raises is broken input
        raise Refused(f"unreadable message ({type(exc).__name__})") from None
    if message.defects and not message.get_payload():
        raise Refused("broken MIME: " + _one_line(", ".join(type(d).__name__ for d in message.defects)))
    for name in SINGLE_HEADERS:
        found = len(message.get_all(name) or ())
        if found > 1:
            raise Refused(f"{found} {name} headers (a message has one)")
    sender = _header_address(message, "From")
    if not sender or "@" not in sender:
        raise Refused("no From address")
    envelope = None
    if message.get("Return-Path") is not None:
        raw = str(message.get("Return-Path")).strip()
        envelope = "" if raw in ("<>", "") else (_header_address(message, "Return-Path") or "")
    service = _service(envelope, _header_address(message, "Sender"), sender)
    calendars = list(_calendar_parts(message))
    if not calendars:
        raise Refused("no text/calendar part or .ics attachment")
    answers: list[ParsedAnswer] = []
    for body in dict.fromkeys(calendars):  # the same object inline and attached (Google, Thunderbird): read once
        answers.extend(read_calendar(body))
    return Incoming(sender, envelope, _message_id(message), tuple(_unique(answers)), service)


def _service(envelope: str | None, sender_header: str | None, sender: str) -> str | None:
    """The calendar service whose envelope sender the message came with (its Sender, if any, the
    service's own or the From), or None."""
    for service in CALENDAR_SERVICES:
        came_with = envelope is not None and envelope.endswith("@" + service.envelope_domain)
        if came_with and sender_header in (None, service.sender, sender):
            return service.name
    return None


def read_ics(data: bytes) -> Incoming:
    """A bare .ics file (a REPLY or COUNTER saved from a mail client) → its answers."""
    return Incoming(None, None, None, tuple(_unique(read_calendar(data))))


def _message_id(message: Message) -> str | None:
    raw = message.get("Message-ID")
    return None if raw is None else _one_line(str(raw), 300)


def _calendar_parts(message: Message) -> Iterator[bytes]:
    found = 0
    for n, part in enumerate(message.walk()):
        if n >= MAX_MIME_PARTS:
            raise Refused(f"more than {MAX_MIME_PARTS} MIME parts")
        if part.is_multipart():
            continue
        ctype = part.get_content_type()
        name = (part.get_filename() or "").lower()
        if ctype not in ("text/calendar", "application/ics") and not name.endswith(".ics"):
            continue
        found += 1
        if found > MAX_CALENDAR_PARTS:
            raise Refused(f"more than {MAX_CALENDAR_PARTS} calendar parts")
        try:
            payload = part.get_payload(decode=True)
        except Exception:
            raise Refused("broken MIME: a calendar part cannot be decoded") from None
        if isinstance(payload, bytes) and payload.strip():
            yield payload


def _unique(answers: list[ParsedAnswer]) -> Iterator[ParsedAnswer]:
    seen: set[ParsedAnswer] = set()
    for answer in answers:
        if answer not in seen:
            seen.add(answer)
            yield answer


def _instant(value: object, name: str) -> datetime | date | None:
    moment = getattr(value, "dt", None)
    if not isinstance(moment, datetime | date):
        return None
    if outside_years(moment) is not None:  # the years a meeting may have; date arithmetic stays in range
        shown = moment.replace(tzinfo=None).isoformat(timespec="minutes") if isinstance(moment, datetime) else moment
        utc = " UTC" if isinstance(moment, datetime) and moment.utcoffset() == timedelta(0) else ""
        raise Refused(f"{name} {shown}{utc} is outside the supported years {SUPPORTED_YEARS}")
    return moment


def _utc(value: object, name: str) -> datetime | None:
    moment = _instant(value, name)
    if isinstance(moment, datetime):
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return None


_FOLD = re.compile(rb"\r?\n[ \t]")  # RFC 5545 3.1: a line break then a space or tab continues the line
_BEGIN = re.compile(rb"^BEGIN:(\S*)", re.IGNORECASE | re.MULTILINE)


def _bounded(data: bytes) -> None:
    """Refuse an object too big or of too many components before the parser builds it (a parsed VEVENT
    costs some kilobytes: 140,000 of them, 20 MB of text, take gigabytes and most of a minute)."""
    if len(data) > MAX_CALENDAR_BYTES:
        raise Refused(f"an iCalendar object larger than {MAX_CALENDAR_BYTES} bytes")
    events = 0
    for components, begin in enumerate(_BEGIN.finditer(_FOLD.sub(b"", data)), start=1):
        events += begin.group(1).upper() == b"VEVENT"
        if events > MAX_ANSWERS:
            raise Refused(f"more than {MAX_ANSWERS} answers in one message")
        if components > MAX_COMPONENTS:
            raise Refused(f"more than {MAX_COMPONENTS} components in one iCalendar object")


def _few_components(message: bytes) -> None:
    """Before the message is parsed: no more components in all its calendar parts together than they may
    hold (what its parts hide in an encoding is counted part by part, once decoded)."""
    most = MAX_CALENDAR_PARTS * MAX_COMPONENTS
    for n, _ in enumerate(_BEGIN.finditer(message), start=1):
        if n > most:
            raise Refused(f"more than {most} iCalendar components in one message")


def read_calendar(data: bytes) -> list[ParsedAnswer]:
    """Every answer of one iCalendar object; raises :class:`Refused` if it is not a REPLY/COUNTER one can read."""
    _bounded(data)
    try:
        calendars = Calendar.from_ical(data, multiple=True)
    except Exception as exc:
        raise Refused(f"unreadable iCalendar ({_one_line(str(exc), 120) or type(exc).__name__})") from None
    answers: list[ParsedAnswer] = []
    for cal in calendars:
        method = str(cal.get("METHOD", "")).strip().upper()
        if method not in METHODS:
            raise Refused(f"METHOD:{_one_line(method, 20) or '(none)'} is not an answer (REPLY or COUNTER)")
        for event in cal.walk("VEVENT"):
            answers.append(_answer(method, event))
            if len(answers) > MAX_ANSWERS:
                raise Refused(f"more than {MAX_ANSWERS} answers in one message")
    if not answers:
        raise Refused("no VEVENT in the iCalendar object")
    return answers


def _answer(method: str, event: Any) -> ParsedAnswer:
    uid = str(event.get("UID", "")).strip()
    if not uid:
        raise Refused("a VEVENT without UID")
    try:
        sequence = int(str(event.get("SEQUENCE", 0)))
    except ValueError:
        raise Refused("SEQUENCE is not a number") from None
    if not 0 <= sequence < 2**31:
        raise Refused("SEQUENCE out of range")
    raw = event.get("ATTENDEE")
    attendees = [] if raw is None else raw if isinstance(raw, list) else [raw]
    who = _replier(attendees)
    partstat = str(who.params.get("PARTSTAT", "NEEDS-ACTION")).upper()
    if method == "REPLY" and partstat not in PARTSTATS:
        raise Refused(f"PARTSTAT={_one_line(partstat, 30)} is not one a VEVENT may have")
    delegated = who.params.get("DELEGATED-TO")
    delegates = [] if delegated is None else delegated if isinstance(delegated, list) else [delegated]
    organizer = event.get("ORGANIZER")
    sent_by = who.params.get("SENT-BY")
    comment = event.get("COMMENT")
    if isinstance(comment, list):
        comment = comment[0] if comment else None
    return ParsedAnswer(
        method=method,
        uid=uid,
        sequence=sequence,
        dtstamp=_utc(event.get("DTSTAMP"), "DTSTAMP"),
        recurrence_id=_instant(event.get("RECURRENCE-ID"), "RECURRENCE-ID"),
        attendee=address(who),
        partstat=partstat if method == "REPLY" else "NEEDS-ACTION",
        delegated_to=tuple(address(d) for d in delegates),
        organizer=None if organizer is None else address(organizer),
        sent_by=None if not sent_by else address(sent_by),
        comment=None if comment is None else str(comment),
        start=_instant(event.get("DTSTART"), f"{method} DTSTART") if method == "COUNTER" else None,
        end=_instant(event.get("DTEND"), f"{method} DTEND") if method == "COUNTER" else None,
    )


def _replier(attendees: list[Any]) -> Any:
    """The one ATTENDEE who answers (RFC 5546 3.2.3: a REPLY names exactly one), or — when a delegator's
    reply also names the delegate (RFC 5546 4.2.5) — the delegator."""
    if len(attendees) == 1:
        return attendees[0]
    if not attendees:
        raise Refused("no ATTENDEE in the answer")
    delegators = [a for a in attendees if str(getattr(a, "params", {}).get("PARTSTAT", "")).upper() == "DELEGATED"]
    if len(attendees) == 2 and len(delegators) == 1:
        delegator = delegators[0]
        other = next(a for a in attendees if a is not delegator)
        sent_to = getattr(delegator, "params", {}).get("DELEGATED-TO")
        sent_to = [] if sent_to is None else sent_to if isinstance(sent_to, list) else [sent_to]
        came_from = getattr(other, "params", {}).get("DELEGATED-FROM")
        if address(other) in {address(s) for s in sent_to} and came_from and address(came_from) == address(delegator):
            return delegator
    raise Refused(f"{len(attendees)} ATTENDEEs in one answer (a REPLY names the one who answers)")
