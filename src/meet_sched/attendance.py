"""Who is coming: per meeting and occurrence, the attendees by answer (``meet-sched attendance``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from .model import Attendee, StoredMeeting, utc, zone_abbreviation
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


@dataclass(frozen=True)
class Row:
    attendee: Attendee
    answer: Answer | None

    @property
    def partstat(self) -> PartStat:
        return PartStat.NEEDS_ACTION if self.answer is None else self.answer.partstat


@dataclass(frozen=True)
class OccurrenceAttendance:
    start: datetime  # in the meeting's zone
    rows: list[Row]

    def by(self, partstat: PartStat) -> list[Row]:
        return [r for r in self.rows if r.partstat is partstat]


@dataclass(frozen=True)
class MeetingAttendance:
    stored: StoredMeeting
    occurrences: list[OccurrenceAttendance]
    counters: list[Answer]


def report(site: Site, after: datetime, uid: str | None = None, days: int = 90) -> list[MeetingAttendance]:
    """Every current meeting (or one) with occurrences from ``after`` on (up to MAX_OCCURRENCES, ``days`` ahead)."""
    meetings = [site.meeting(uid)] if uid else [s for s in site.meetings() if not s.removed and not s.meeting.cancelled]
    out: list[MeetingAttendance] = []
    with site.db.transaction() as session:
        answers = store.current_all(session, [s.uid for s in meetings])
        proposals = {s.uid: store.counters(session, s.uid) for s in meetings}
    for stored in meetings:
        m = stored.meeting
        state = answers.get(stored.uid, store.Attendance(stored.uid))
        starts = []
        for start in m.occurrences(after, after + timedelta(days=days)):
            starts.append(start)
            if len(starts) >= MAX_OCCURRENCES or not m.recurrence:
                break
        occurrences = [
            OccurrenceAttendance(
                start,
                [Row(a, state.answer(a.email, utc(start) if m.recurrence else None)) for a in m.attendees],
            )
            for start in starts
        ]
        if occurrences or uid:
            out.append(MeetingAttendance(stored, occurrences, proposals.get(stored.uid, [])))
    return sorted(out, key=lambda r: (utc(r.occurrences[0].start) if r.occurrences else after, r.stored.uid))


def who(row: Row) -> str:
    a = row.attendee
    place = ", ".join(p for p in (a.city, a.timezone.key) if p)
    text = f"{a.name or a.email} ({place})"
    if row.answer is not None and row.answer.delegated_to:
        text += " → " + ", ".join(row.answer.delegated_to)
    return text


def render(found: list[MeetingAttendance]) -> str:
    lines: list[str] = []
    for item in found:
        m = item.stored.meeting
        lines.append(f"{m.title}  [{m.uid}]")
        if not item.occurrences:
            lines.append("  no occurrence in this period")
        for occ in item.occurrences:
            counts = ", ".join(f"{len(occ.by(p))} {LABELS[p]}" for p in SHOWN if occ.by(p))
            lines.append(f"  {occ.start:%a %Y-%m-%d %H:%M} {zone_abbreviation(occ.start)}: {counts}")
            for p in SHOWN:
                rows = occ.by(p)
                if rows:
                    lines.append(f"    {LABELS[p]}: " + "; ".join(who(r) for r in rows))
        for c in item.counters:
            proposal = c.proposal or {}
            start = datetime.fromisoformat(str(proposal.get("start"))).astimezone(m.timezone)
            note = f" — {c.comment}" if c.comment else ""
            lines.append(f"  proposed by {c.attendee}: {start:%a %Y-%m-%d %H:%M} {zone_abbreviation(start)}{note}")
        lines.append("")
    return "\n".join(lines).rstrip("\n") + "\n" if lines else "no meetings\n"
