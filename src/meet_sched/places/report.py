"""``validate``'s warnings as terminal lines (``path:line: …``, long series summarized) or as JSON."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..localtimes import zone_abbreviation
from ..model import Meeting, Skipped
from .warnings import MeetingWarnings, Window

SHOWN_PER_MEETING = 5  # clashing occurrences listed per meeting without --all


def where(found: MeetingWarnings) -> str:
    return found.meeting.source or found.meeting.uid


def render_text(found: Sequence[MeetingWarnings], window: Window, *, show_all: bool = False) -> list[str]:
    lines: list[str] = []
    span = f"{window.after:%Y-%m-%d} to {window.before:%Y-%m-%d}"
    for mw in found:
        at = where(mw)
        m = mw.meeting
        if mw.occurrences:
            lines.append(
                f"{at}: warning: {m.title!r}: {len(mw.occurrences)} of {mw.checked} occurrences from {span} "
                "fall outside someone's working time"
            )
        shown = mw.occurrences if show_all else mw.occurrences[:SHOWN_PER_MEETING]
        for occ in shown:
            who = "; ".join(f"{c.who} ({c.place.label}): {', '.join(c.reasons())}" for c in occ.clashes)
            lines.append(f"{at}:   {occ.start:%a %Y-%m-%d %H:%M} {zone_abbreviation(occ.start)}: {who}")
        if len(mw.occurrences) > len(shown):
            lines.append(f"{at}:   … {len(mw.occurrences) - len(shown)} more, --all shows every date")
        for stretch in mw.stretches:
            lines.append(f"{at}: warning: {m.title!r}: {stretch.text()}")
        for note in mw.notes:
            lines.append(f"{at}: warning: {m.title!r}: {note}")
    return lines


def summary(found: Sequence[MeetingWarnings]) -> str:
    total = sum(mw.count for mw in found)
    return f"{total} warning{'s' if total != 1 else ''} in {len(found)} meeting{'s' if len(found) != 1 else ''}"


def to_json(found: Sequence[MeetingWarnings], window: Window) -> dict[str, Any]:
    return {
        "from": window.after.isoformat(),
        "to": window.before.isoformat(),
        "warnings": sum(mw.count for mw in found),
        "meetings": [
            {
                "uid": mw.meeting.uid,
                "title": mw.meeting.title,
                "source": mw.meeting.source,
                "checked": mw.checked,
                "clashing": len(mw.occurrences),
                "occurrences": [
                    {"start": occ.start.isoformat(), "clashes": [c.to_json() for c in occ.clashes]}
                    for occ in mw.occurrences
                ],
                "daylight_saving": [
                    {
                        "attendee": s.attendee.email,
                        "place": s.place.label,
                        "from": s.first.local.date().isoformat(),
                        "to": s.last.local.date().isoformat(),
                        "occurrences": s.occurrences,
                        "local": s.first.local.isoformat(),
                        "reasons": [r.value for r in s.reasons],
                        "text": s.text(),
                    }
                    for s in mw.stretches
                ],
                "notes": mw.notes,
            }
            for mw in found
        ],
    }


def skipped_in(meetings: Sequence[Meeting], window: Window) -> list[tuple[Meeting, list[Skipped]]]:
    """The occurrences ``skip_holidays`` leaves out in the window, per meeting (information, not warnings)."""
    out = []
    for m in meetings:
        if m.cancelled:
            continue
        found = [s for s in m.skipped if window.after <= s.start < window.before]
        if found:
            out.append((m, found))
    return out


def render_skipped(
    skipped: Sequence[tuple[Meeting, Sequence[Skipped]]], window: Window, *, show_all: bool = False
) -> list[str]:
    """``path:line: info: 'Title': skips 2 occurrences …`` and one line per skipped date."""
    lines: list[str] = []
    span = f"{window.after:%Y-%m-%d} to {window.before:%Y-%m-%d}"
    for m, found in skipped:
        at = m.source or m.uid
        lines.append(f"{at}: info: {m.title!r}: skip_holidays leaves out {len(found)} occurrences from {span}")
        shown = found if show_all else found[:SHOWN_PER_MEETING]
        for s in shown:
            lines.append(f"{at}:   {s.start:%a %Y-%m-%d %H:%M} {zone_abbreviation(s.start)}: skipped: {s.reason}")
        if len(found) > len(shown):
            lines.append(f"{at}:   … {len(found) - len(shown)} more, --all shows every date")
    return lines


def skipped_json(skipped: Sequence[tuple[Meeting, Sequence[Skipped]]]) -> list[dict[str, Any]]:
    return [
        {
            "uid": m.uid,
            "title": m.title,
            "source": m.source,
            "occurrences": [{"start": s.start.isoformat(), "reason": s.reason} for s in found],
        }
        for m, found in skipped
    ]
