"""Who is coming: per meeting and occurrence, the attendees by answer (``meet-sched attendance``).

A delegate (RFC 5546 4.2.5: PARTSTAT=DELEGATED with DELEGATED-TO) is not added to the meeting:
its attendees come from a reviewed config file.  Each delegate who is not an attendee there gets a
``path:line:`` hint at the delegator's entry, saying to add them to invite them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from . import occurrences
from .config.sources import read_source
from .marks import TableReader
from .model import Attendee, Meeting, StoredMeeting, utc
from .occurrences import Occurrence
from .recurrence import outside_years
from .safe_text import neutral
from .site import Site
from .store import attendance as store
from .store.attendance import Answer, PartStat

SHOWN = (PartStat.ACCEPTED, PartStat.TENTATIVE, PartStat.DECLINED, PartStat.DELEGATED, PartStat.NEEDS_ACTION)
LABELS = {
    PartStat.ACCEPTED: "accepted",
    PartStat.TENTATIVE: "tentative",
    PartStat.DECLINED: "declined",
    PartStat.DELEGATED: "delegated",
    PartStat.NEEDS_ACTION: "no answer",
}
MAX_OCCURRENCES = 12  # occurrences of one series listed by `attendance`
DAYS = 90  # `attendance` of every meeting looks this far ahead unless told
ONE_MEETING_DAYS = 3660  # `attendance UID` lists its next occurrences (MAX_OCCURRENCES) this far ahead


@dataclass(frozen=True)
class Row:
    attendee: Attendee
    answer: Answer | None

    @property
    def partstat(self) -> PartStat:
        return PartStat.NEEDS_ACTION if self.answer is None else self.answer.partstat


@dataclass(frozen=True)
class OccurrenceAttendance:
    one: Occurrence
    rows: list[Row]

    @property
    def start(self) -> datetime:
        return self.one.start

    def by(self, partstat: PartStat) -> list[Row]:
        return [r for r in self.rows if r.partstat is partstat]


@dataclass(frozen=True)
class MeetingAttendance:
    stored: StoredMeeting
    occurrences: list[OccurrenceAttendance]
    counters: list[Answer]


def report(site: Site, after: datetime, uid: str | None = None, days: int | None = None) -> list[MeetingAttendance]:
    """Every current meeting (or one) with occurrences from ``after`` on (up to MAX_OCCURRENCES, ``days``
    ahead; without ``days``, :data:`DAYS` for every meeting and the next occurrences of one), the
    cancelled ones among them marked so."""
    meetings = [site.meeting(uid)] if uid else [s for s in site.meetings() if not s.removed and not s.meeting.cancelled]
    horizon = timedelta(days=days if days is not None else DAYS if uid is None else ONE_MEETING_DAYS)
    out: list[MeetingAttendance] = []
    with site.db.transaction() as session:
        answers = store.current_all(session, [s.uid for s in meetings])
        proposals = {s.uid: store.counters(session, s.uid) for s in meetings}
    for stored in meetings:
        m = stored.meeting
        state = answers.get(stored.uid, store.Attendance(stored.uid))
        found = occurrences.upcoming(m, after, MAX_OCCURRENCES, horizon)[:MAX_OCCURRENCES]
        listed = [
            OccurrenceAttendance(one, [Row(a, state.answer(a.email, one.recurrence_id)) for a in one.attendees])
            for one in found
        ]
        if listed or uid:
            out.append(MeetingAttendance(stored, listed, proposals.get(stored.uid, [])))
    return sorted(out, key=lambda r: (utc(r.occurrences[0].start) if r.occurrences else after, r.stored.uid))


UNREADABLE = "(a time that cannot be read)"


def proposed_start(counter: Answer, m: Meeting) -> datetime | None:
    """A COUNTER's proposed start in the meeting's zone, or None when the stored row holds none that can be
    read there (a row an older version stored unchecked: shown as such, never a crash)."""
    try:
        start = datetime.fromisoformat(str((counter.proposal or {}).get("start")))
        if start.tzinfo is None or outside_years(start) is not None:
            return None
        return start.astimezone(m.timezone)
    except (ValueError, OverflowError):
        return None


def _called(m: Meeting, email: str) -> str:
    """An attendee's name (their address if they have none), or the address of someone not invited."""
    found = next((a for a in m.attendees if a.email.lower() == email), None)
    return email if found is None else found.name or found.email


def who(row: Row, m: Meeting) -> str:
    a = row.attendee
    place = ", ".join(p for p in (a.city, a.timezone.key) if p)
    text = f"{a.name or a.email} ({place})"
    if row.answer is not None and row.answer.delegated_to:
        text += " delegated to " + ", ".join(_called(m, d) for d in row.answer.delegated_to)
    return text


def _entry_line(root: Path, m: Meeting, email: str) -> str:
    """``path:line`` of ``email``'s entry among the meeting's attendees in its file (else the meeting's)."""
    path, _, line = m.source.rpartition(":")
    source = read_source(root / path, path, []) if path and line.isdigit() else None
    if source is None:
        return m.source or m.uid
    data: Any = source.data
    locs: list[tuple[str | int, ...]] = [()]
    if isinstance(data, dict) and isinstance(data.get("meetings"), list):
        locs = [("meetings", i) for i in range(len(data["meetings"]))]
    for loc in locs:
        if (source.line((*loc, "uid")) or source.line(loc) or 1) != int(line):
            continue
        entry: Any = data
        for key in loc:
            entry = entry[key]
        listed = entry.get("attendees") if isinstance(entry, dict) else None
        for i, a in enumerate(listed if isinstance(listed, list) else []):
            if isinstance(a, dict) and str(a.get("email", "")).lower() == email:
                return f"{path}:{source.line((*loc, 'attendees', i))}"
    return m.source


def delegate_hints(root: Path, item: MeetingAttendance) -> list[str]:
    """``path:line: a@… delegated to b@…; add them to attendees to invite them``, per delegate not invited."""
    m = item.stored.meeting
    invited = {a.email.lower() for a in m.attendees}
    seen: list[tuple[str, str]] = []
    for occ in item.occurrences:
        for row in occ.by(PartStat.DELEGATED):
            assert row.answer is not None
            for to in row.answer.delegated_to:
                if to not in invited and (row.answer.attendee, to) not in seen:
                    seen.append((row.answer.attendee, to))
    return [
        f"{_entry_line(root, m, by)}: {by} delegated to {to}; add them to attendees to invite them" for by, to in seen
    ]


def render(found: list[MeetingAttendance], root: Path | None = None) -> str:
    """The report as text; with the site's ``root``, a hint for each delegate not invited (:func:`delegate_hints`)."""
    lines: list[str] = []
    for item in found:
        m = item.stored.meeting
        lines.append(f"{m.title}  [{m.uid}]")
        if not item.occurrences:
            lines.append("  no occurrence in this period")
        for occ in item.occurrences:
            counts = ", ".join(f"{len(occ.by(p))} {LABELS[p]}" for p in SHOWN if occ.by(p))
            table = TableReader(m.timezone)
            marks = "".join(f" [{mark}]" for mark in table.marks(occ.one))
            lines.append(f"  {table.when(occ.one)}{marks}: {counts}")
            for p in SHOWN:
                rows = occ.by(p)
                if rows:
                    lines.append(f"    {LABELS[p]}: " + "; ".join(who(r, m) for r in rows))
        for c in item.counters:
            start = proposed_start(c, m)
            when = UNREADABLE if start is None else f"{start:%a %Y-%m-%d} {TableReader(m.timezone).time(start)}"
            note = f" — {c.comment}" if c.comment else ""
            lines.append(f"  proposed by {c.attendee}: {when}{note}")
        if root is not None:
            lines += [f"  {hint}" for hint in delegate_hints(root, item)]
        lines.append("")
    # Comments, addresses and DELEGATED-TO come from replies: no line break or control in them acts.
    return "\n".join(neutral(line) for line in lines).rstrip("\n") + "\n" if lines else "no meetings\n"
