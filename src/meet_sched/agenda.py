"""The agenda: upcoming occurrences as a plain-text table, one column per time zone."""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from .localtimes import zone_city
from .marks import TableReader
from .model import MeetingStatus

if TYPE_CHECKING:
    from .site import Occurrence


def width(text: str) -> int:
    """Columns a terminal uses for ``text`` (Hangul and Han take two)."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 0 if unicodedata.combining(c) else 1 for c in text)


def pad(text: str, columns: int) -> str:
    return text + " " * max(0, columns - width(text))


def agenda_zones(occurrences: Sequence[Occurrence]) -> list[tuple[str, ZoneInfo]]:
    """Every zone involved, labelled with its participants' cities, the first meeting's zone first."""
    seen: dict[str, tuple[str, ZoneInfo]] = {}
    for occ in occurrences:
        for label, zone in occ.meeting.zones():
            seen.setdefault(zone.key, (label, zone))
    return list(seen.values())


def day_shift(local: datetime, reference: datetime) -> str:
    days = (local.date() - reference.date()).days
    return "" if days == 0 else f" ({days:+d}d)"


def render_agenda(occurrences: Sequence[Occurrence], zones: Sequence[tuple[str, ZoneInfo]]) -> str:
    if not occurrences:
        return "No upcoming meetings."
    if not zones:
        zones = agenda_zones(occurrences)
    first_label, first_zone = zones[0]
    header = ["Date", *[label for label, _ in zones]]
    header.append("Meeting")
    rows: list[list[str]] = []
    for occ in occurrences:
        m = occ.meeting
        table = TableReader(first_zone)
        status = "" if m.status.value in ("confirmed", "cancelled") else f" [{m.status.value}]"
        marks = table.marks(occ.one)
        if m.status is MeetingStatus.CANCELLED and not occ.cancelled:
            marks.append("cancelled")
        said = status + "".join(f" [{mark}]" if not occ.skipped else f" ({mark})" for mark in marks)
        if occ.one.all_day:  # the same dates in every zone: no times
            first, last = occ.one.dates
            cells = [table.date(occ.one), *["all day" for _ in zones]]
            to = f" (to {last:%a %Y-%m-%d})" if last != first else ""
            cells.append(m.title + to + said)
            rows.append(cells)
            continue
        ref = occ.start.astimezone(first_zone)
        cells = [table.date(occ.one)]
        for _, zone in zones:
            local = occ.start.astimezone(zone)
            cells.append(f"{TableReader(zone).time(local)}{day_shift(local, ref)}")
        cells.append(m.title + said)
        rows.append(cells)
    note = f"Dates are {first_label}'s; (+1d)/(-1d): the local date there is a day later/earlier."
    return render_table(header, rows) + "\n\n" + note


def render_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Columns padded to their widest cell as a terminal shows it; the last column is not padded."""
    widths = [max(width(r[i]) for r in [header, *rows]) for i in range(len(header) - 1)]
    lines = []
    for r in [header, *rows]:
        lines.append("  ".join(pad(c, w) for c, w in zip(r, widths, strict=False)) + "  " + r[-1])
    lines.insert(1, "  ".join("-" * w for w in widths) + "  " + "-" * width(header[-1]))
    return "\n".join(line.rstrip() for line in lines)


def zone_columns(names: Sequence[str], occurrences: Sequence[Occurrence] = ()) -> list[tuple[str, ZoneInfo]]:
    """Columns for the zones asked for, labelled with the participants' cities where the meetings name them."""
    known = {zone.key: label for label, zone in agenda_zones(occurrences)}
    return [(known.get(n) or zone_city(ZoneInfo(n)), ZoneInfo(n)) for n in names]
