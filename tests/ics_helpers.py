"""Helpers for tests that read calendars back: two independent parsers and the RFC 5545 line rules."""

from __future__ import annotations

from dataclasses import dataclass

import icalendar
from ical.calendar import Calendar as IcalCalendar
from ical.calendar_stream import IcsCalendarStream

MAX_OCTETS = 75  # RFC 5545 section 3.1, not counting the CRLF


@dataclass(frozen=True)
class Parsed:
    """The same bytes, read by icalendar and by the strict, independent ``ical`` package."""

    icalendar: icalendar.Calendar
    ical: IcalCalendar

    def events(self) -> list[icalendar.Event]:
        return list(self.icalendar.walk("VEVENT"))

    def event(self, uid: str) -> tuple[icalendar.Event, object]:
        """The VEVENT with ``uid`` from both parsers (exactly one each)."""
        a = [e for e in self.icalendar.walk("VEVENT") if str(e["UID"]) == uid]
        b = [e for e in self.ical.events if e.uid == uid]
        assert len(a) == 1 and len(b) == 1, f"{uid}: {len(a)} VEVENTs for icalendar, {len(b)} for ical"
        return a[0], b[0]


def parse_both(body: bytes) -> Parsed:
    check_lines(body)
    return Parsed(
        icalendar.Calendar.from_ical(body),
        IcsCalendarStream.calendar_from_ics(body.decode("utf-8")),
    )


def check_lines(body: bytes) -> None:
    """CRLF line ends only, no line over 75 octets, and no line ends inside a UTF-8 character."""
    assert body.endswith(b"\r\n"), "the last line must end with CRLF"
    lines = body[:-2].split(b"\r\n")
    for number, line in enumerate(lines, start=1):
        assert b"\n" not in line and b"\r" not in line, f"line {number}: a bare CR or LF: {line!r}"
        assert len(line) <= MAX_OCTETS, f"line {number}: {len(line)} octets: {line!r}"
        line.decode("utf-8")  # raises if a fold split a character


def unfolded(body: bytes) -> list[str]:
    """Content lines after unfolding (RFC 5545 section 3.1), as text."""
    return body.decode("utf-8").replace("\r\n ", "").replace("\r\n\t", "").split("\r\n")[:-1]


def names(body: bytes) -> list[str]:
    """The property name (or BEGIN:/END: component marker) of every content line, in order."""
    out = []
    for line in unfolded(body):
        name = line.split(":", 1)[0].split(";", 1)[0]
        out.append(line if name in ("BEGIN", "END") else name)
    return out
