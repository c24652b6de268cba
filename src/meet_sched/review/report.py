"""A sync's report, meeting by meeting, for a reviewer: fields old → new, local times, emails."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from ..durations import format_duration
from ..localtimes import zone_abbreviation
from ..model import Meeting, Override, StoredMeeting
from ..site import SyncReport
from ..store.meetings import ChangeKind, SyncChange
from ..store.outbox import Mail

SHOWN_RECIPIENTS = 20  # recipients listed by address per kind of email in the text; more are counted


@dataclass(frozen=True)
class FieldChange:
    name: str
    old: Any
    new: Any


@dataclass(frozen=True)
class MovedStart:
    """A change of start as someone sees it (the meeting itself, or one attendee)."""

    who: str  # "meeting" or an attendee's address
    zone: str
    old: datetime | None
    new: datetime | None

    @property
    def date_changed(self) -> bool:
        return self.old is not None and self.new is not None and self.old.date() != self.new.date()


@dataclass
class MeetingDiff:
    uid: str
    title: str
    kind: str  # added | changed | cancelled | removed | restored | unchanged (its emails change only)
    sequence: int | None  # the SEQUENCE it would get (None: unchanged)
    source: str
    fields: list[FieldChange] = field(default_factory=list)
    times: list[MovedStart] = field(default_factory=list)
    planned: list[Mail] = field(default_factory=list)
    dropped: list[Mail] = field(default_factory=list)


@dataclass
class Diff:
    meetings: list[MeetingDiff]
    total: int  # meetings in the config
    files: int

    @property
    def changed(self) -> bool:
        return bool(self.meetings)

    def mail_counts(self) -> tuple[Counter[str], Counter[str]]:
        planned = Counter(m.kind for d in self.meetings for m in d.planned)
        dropped = Counter(m.kind for d in self.meetings for m in d.dropped)
        return planned, dropped


def build(report: SyncReport) -> Diff:
    by_uid: dict[str, MeetingDiff] = {}
    for change in report.changes:
        by_uid[change.after.uid] = _meeting(change)
    for mail in report.outbox.added:
        _entry(by_uid, mail, report).planned.append(mail)
    for mail in report.outbox.removed:
        _entry(by_uid, mail, report).dropped.append(mail)
    return Diff(sorted(by_uid.values(), key=lambda d: d.uid), report.meetings, report.files)


def _entry(by_uid: dict[str, MeetingDiff], mail: Mail, report: SyncReport) -> MeetingDiff:
    found = by_uid.get(mail.meeting_uid)
    if found is None:
        found = by_uid[mail.meeting_uid] = MeetingDiff(mail.meeting_uid, "", "unchanged", None, "")
    return found


def _kind(change: SyncChange) -> str:
    if change.kind is ChangeKind.UPDATED:
        assert change.before is not None
        if change.after.meeting.cancelled and not change.before.meeting.cancelled:
            return "cancelled"
        return "changed"
    return change.kind.value


def _meeting(change: SyncChange) -> MeetingDiff:
    after = change.after
    diff = MeetingDiff(after.uid, after.meeting.title, _kind(change), after.sequence, after.meeting.source)
    if change.before is not None and change.kind is not ChangeKind.REMOVED:
        diff.fields = fields(change.before.meeting, after.meeting)
        diff.times = local_times(change.before, after)
    return diff


IGNORED = {"uid", "start", "end", "attendees", "overrides", "all_day"}  # shown their own way


def fields(old: Meeting, new: Meeting) -> list[FieldChange]:
    """Each field that differs, old → new, in the config's own terms."""
    a, b = old.to_data(), new.to_data()
    out: list[FieldChange] = []
    if old.start != new.start or old.timezone != new.timezone or old.all_day != new.all_day:
        out.append(FieldChange("start", _start(old), _start(new)))
    elif old.all_day and old.days != new.days:
        out.append(FieldChange("date", _start(old), _start(new)))
    if old.duration != new.duration and not (old.all_day or new.all_day):
        out.append(FieldChange("duration", str(old.duration), str(new.duration)))
    for key in sorted(set(a) | set(b)):
        if key not in IGNORED and a.get(key) != b.get(key):
            out.append(FieldChange(key, a.get(key), b.get(key)))
    out += occurrence_changes(old, new)
    before = {x["email"].lower(): x for x in a["attendees"]}
    now = {x["email"].lower(): x for x in b["attendees"]}
    for email in sorted(set(before) | set(now)):
        if email not in before:
            out.append(FieldChange(f"attendee {email}", None, "added"))
        elif email not in now:
            out.append(FieldChange(f"attendee {email}", "invited", "removed"))
        else:
            for key in sorted(set(before[email]) | set(now[email])):
                if before[email].get(key) != now[email].get(key):
                    out.append(FieldChange(f"attendee {email} {key}", before[email].get(key), now[email].get(key)))
    return out


def _occurrence_state(m: Meeting, o: Override | None) -> str:
    if o is None:
        return "as the series"
    if o.cancelled:
        return "cancelled"
    shown = [f"moved to {_wall(o.start, m.all_day)}"] if o.moved else []
    if o.end - o.start != m.duration:
        shown.append(f"lasts {format_duration(o.end - o.start)}")
    changed = [k for k in ("title", "description", "location", "video_url") if getattr(o, k) is not None]
    if o.attendees is not None:
        changed.append("attendees")
    if changed:
        shown.append("own " + ", ".join(changed))
    return "; ".join(shown) or "as the series"


def occurrence_changes(old: Meeting, new: Meeting) -> list[FieldChange]:
    """Each single occurrence moved, changed, cancelled or given back to the series: ``occurrence <start>``."""
    before = {o.occurrence: o for o in old.overrides}
    after = {o.occurrence: o for o in new.overrides}
    out = []
    for when in sorted(set(before) | set(after)):
        o, n = before.get(when), after.get(when)
        if o == n:
            continue
        label = f"occurrence {_wall(when, new.all_day)}"
        if o is None or n is None or o.cancelled != n.cancelled:
            out.append(FieldChange(label, _occurrence_state(old, o), _occurrence_state(new, n)))
            continue
        a, b = o.to_data(), n.to_data()
        for key in sorted(set(a) | set(b)):
            if a.get(key) != b.get(key):
                out.append(FieldChange(f"{label} {key}", a.get(key), b.get(key)))
    return out


def local_times(before: StoredMeeting, after: StoredMeeting) -> list[MovedStart]:
    """The start's change in the meeting's zone and in every attendee's (empty if it did not move)."""
    old, new = before.meeting, after.meeting
    if (old.start == new.start and old.timezone == new.timezone) or (old.all_day and new.all_day):
        return []  # all day: the same dates in every zone, shown by the start field
    out = [MovedStart("meeting", new.timezone.key, old.start.astimezone(new.timezone), new.start)]
    for a in new.attendees:
        zone: ZoneInfo = a.timezone
        out.append(MovedStart(a.email, zone.key, old.start.astimezone(zone), new.start.astimezone(zone)))
    return out


def _start(m: Meeting) -> str:
    """A start as the config writes it: a wall time in a zone, or an all-day meeting's date(s)."""
    if m.all_day:
        return f"{m.start:%Y-%m-%d}, all day" + (f", {m.days} days" if m.days > 1 else "")
    return _wall(m.start)


def _wall(moment: datetime, all_day: bool = False) -> str:
    """``2027-03-09 10:00 Europe/Berlin``; an all-day occurrence: its date alone, the same in every zone."""
    if all_day:
        return f"{moment:%Y-%m-%d}"
    return f"{moment:%Y-%m-%d %H:%M} {getattr(moment.tzinfo, 'key', moment.tzinfo)}"


def _local(moment: datetime | None) -> str:
    return "-" if moment is None else f"{moment:%a %Y-%m-%d %H:%M} {zone_abbreviation(moment)}"


MARKS = {"added": "+", "changed": "~", "cancelled": "x", "removed": "-", "restored": "+", "unchanged": " "}
MAIL_NAMES = {"request": "invitation", "update": "update", "cancel": "cancellation", "reminder": "reminder"}


def _plural(n: int, name: str) -> str:
    return f"{n} {name}{'' if n == 1 else 's'}"


def _recipients(mails: list[Mail]) -> str:
    people = sorted({m.recipient for m in mails})
    shown = ", ".join(people[:SHOWN_RECIPIENTS])
    return shown + (f" and {len(people) - SHOWN_RECIPIENTS} more" if len(people) > SHOWN_RECIPIENTS else "")


def _about(mails: list[Mail]) -> str:
    """`` for the occurrence of <start UTC>`` when the messages are about single occurrences of a series."""
    days = sorted({m.occurrence for m in mails if m.occurrence is not None})
    if not days:
        return ""
    shown = ", ".join(f"{d:%Y-%m-%d %H:%M} UTC" for d in days)
    return f" about the occurrence{'s' if len(days) > 1 else ''} of {shown} only"


def render_text(diff: Diff) -> list[str]:
    lines: list[str] = []
    for d in diff.meetings:
        head = f"{MARKS[d.kind]} {d.kind:9} {d.uid}"
        if d.title:
            head += f"  {d.title!r}"
        if d.sequence is not None:
            head += f"  SEQUENCE {d.sequence}"
        if d.source:
            head += f"  ({d.source})"
        lines.append(head)
        for f in d.fields:
            lines.append(f"    {f.name}: {_value(f.old)} → {_value(f.new)}")
        for t in d.times:
            mark = "  (date changes)" if t.date_changed else ""
            who = "in the meeting's zone" if t.who == "meeting" else t.who
            lines.append(f"      {who} ({t.zone}): {_local(t.old)} → {_local(t.new)}{mark}")
        for kind in ("request", "update", "cancel"):
            mails = [m for m in d.planned if m.kind == kind]
            if mails:
                what = f"{_plural(len(mails), MAIL_NAMES[kind])} to {_recipients(mails)}"
                lines.append(f"    email: {what}{_about(mails)}")
            gone = [m for m in d.dropped if m.kind == kind]
            if gone:
                what = _plural(len(gone), "pending " + MAIL_NAMES[kind])
                lines.append(f"    email: {what} dropped ({_recipients(gone)})")
        planned = sum(1 for m in d.planned if m.kind == "reminder")
        dropped = sum(1 for m in d.dropped if m.kind == "reminder")
        if planned or dropped:
            lines.append(f"    reminders: {dropped} pending dropped, {planned} planned")
    lines.append(summary(diff))
    return lines


def summary(diff: Diff) -> str:
    if not diff.changed:
        return f"{diff.total} meetings from {diff.files} files: sync would change nothing"
    kinds = Counter(d.kind for d in diff.meetings if d.kind != "unchanged")
    what = ", ".join(f"{n} {k}" for k, n in sorted(kinds.items())) or "no meeting changes"
    planned, dropped = diff.mail_counts()
    mails = ", ".join(_plural(planned[k], MAIL_NAMES[k]) for k in MAIL_NAMES if planned[k]) or "no emails"
    gone = sum(dropped.values())
    return f"sync would make: {what}; plan {mails}" + (f"; drop {gone} pending" if gone else "")


def _value(value: Any) -> str:
    if value is None:
        return "(none)"
    if isinstance(value, str):
        return repr(value)
    return str(value)


def _mail_json(m: Mail) -> dict[str, Any]:
    return {
        "kind": m.kind,
        "recipient": m.recipient,
        "sequence": m.sequence,
        "due_at": m.due_at.isoformat(),
        "occurrence": None if m.occurrence is None else m.occurrence.isoformat(),
    }


def to_json(diff: Diff) -> dict[str, Any]:
    planned, dropped = diff.mail_counts()
    return {
        "changed": diff.changed,
        "meetings": [
            {
                "uid": d.uid,
                "title": d.title,
                "kind": d.kind,
                "sequence": d.sequence,
                "source": d.source,
                "fields": [{"name": f.name, "old": f.old, "new": f.new} for f in d.fields],
                "times": [
                    {
                        "who": t.who,
                        "zone": t.zone,
                        "old": None if t.old is None else t.old.isoformat(),
                        "new": None if t.new is None else t.new.isoformat(),
                        "date_changed": t.date_changed,
                    }
                    for t in d.times
                ],
                "planned": [_mail_json(m) for m in d.planned],
                "dropped": [_mail_json(m) for m in d.dropped],
            }
            for d in diff.meetings
        ],
        "planned": dict(planned),
        "dropped": dict(dropped),
        "total": diff.total,
        "files": diff.files,
    }
