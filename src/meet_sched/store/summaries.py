"""Organizers' summaries of the answers (``[replies] summary``), planned into the outbox.

Planned only where answers are recorded (the reply intake, a one-click answer): the summary's own
delivery never plans anything, so no mail answers a mail.  It goes to the meeting's organizer only.

- ``each``: one row per organizer and meeting, due ``[delivery] update_quiet`` after the latest
  change; a change while it waits replaces it (one mail for a burst of answers), but it waits at
  most :data:`MAX_WAIT` after the first.
- ``daily``: one row per organizer, due at the next ``summary_at`` in the organizer's zone; changes
  until then join it.

A row carries everything its mail shows (the changes, and the totals as they were when it was
planned), so the dispatcher renders it from the row alone.  It records what it covers (``through``:
the newest answer per meeting); the next summary starts after that.  Only answers that change
something are listed: a stale reply, the same answer again or a reset after a new time are not.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from itertools import islice
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, delete, func, select
from sqlalchemy.orm import Session

from ..model import Attendee, Meeting, StoredMeeting, utc
from . import attendance
from .attendance import Answer, PartStat, Via
from .db import OUTBOX_CHANNEL, notify_at_commit
from .meetings import ROW_ERRORS, get_meeting
from .notices import SITE_UID
from .outbox import MessageKind, OutboxStatus
from .outbox.rows import NewRow, insert_new
from .tables import AnswerRow, OutboxRow

MAX_WAIT = timedelta(hours=1)  # "each": a summary waits at most this long (or update_quiet) after its first change
FIRST_LOOKBACK = timedelta(days=1)  # with no summary before: answers older than this count as known
MAX_CHANGES = 100  # changes listed per meeting (the rest are counted)
MAX_MEETINGS = 50  # meetings in one daily summary (the rest are counted)
TOTALS_AHEAD = 3  # upcoming occurrences of a series whose totals are shown (and any a change was about)
MAX_TOTALS = 10
LOOKAHEAD = timedelta(days=800)
GROUPS = ("ACCEPTED", "TENTATIVE", "DECLINED", "DELEGATED", "NEEDS-ACTION")


@dataclass(frozen=True)
class SummaryPolicy:
    mode: str  # each | daily | off
    at: time  # daily: local time in the organizer's zone
    quiet: timedelta  # each: how long a summary waits for more answers
    language: str  # [calendar] language: for an organizer who is not an attendee
    zone: str | None  # [calendar] timezone


def plan_summaries(session: Session, now: datetime, policy: SummaryPolicy, uids: Iterable[str]) -> int:
    """Plan (or re-plan) the summaries the answers just recorded for ``uids`` call for; returns how
    many rows were planned.  ``off``: drops every pending summary."""
    now = utc(now)
    if policy.mode == "off":
        session.execute(
            delete(OutboxRow).where(
                OutboxRow.kind == MessageKind.SUMMARY.value, OutboxRow.status == OutboxStatus.PENDING.value
            )
        )
        return 0
    by_organizer: dict[str, list[StoredMeeting]] = {}
    for stored in _meetings(session, uids):
        by_organizer.setdefault(stored.meeting.organizer.email.lower(), []).append(stored)
    planned = 0
    for organizer, group in sorted(by_organizer.items()):
        if policy.mode == "each":
            for stored in group:
                planned += _plan(session, now, policy, organizer, [stored], stored.uid)
        else:
            planned += _plan(session, now, policy, organizer, group, SITE_UID)
    return planned


def _meetings(session: Session, uids: Iterable[str]) -> list[StoredMeeting]:
    out = []
    for uid in sorted(set(uids)):
        try:
            stored = get_meeting(session, uid)
        except ROW_ERRORS:  # cannot be read: nothing to summarize of it
            continue
        if stored is not None and not stored.removed:
            out.append(stored)
    return out


def _plan(
    session: Session, now: datetime, policy: SummaryPolicy, organizer: str, group: list[StoredMeeting], uid: str
) -> int:
    """One organizer's summary row (of one meeting, or daily of all theirs, ``uid`` = SITE_UID)."""
    mine = and_(OutboxRow.kind == MessageKind.SUMMARY.value, OutboxRow.recipient == organizer)
    waiting = session.execute(
        select(OutboxRow.id, OutboxRow.attendee, OutboxRow.due_at)
        .where(mine, OutboxRow.meeting_uid == uid, OutboxRow.status == OutboxStatus.PENDING.value)
        .order_by(OutboxRow.id)
    ).all()
    pending = waiting[-1] if waiting else None
    pending_after: dict[str, int] = dict(pending.attendee.get("after") or {}) if pending else {}
    meetings = {s.uid: s for s in group}
    meetings.update({s.uid: s for s in _meetings(session, set(pending_after) - set(meetings))})
    # What the summaries sent lately covered (older answers are older than FIRST_LOOKBACK anyway).
    done: dict[str, int] = {}
    for (covered,) in session.execute(
        select(OutboxRow.attendee).where(
            mine,
            OutboxRow.meeting_uid.in_([SITE_UID, *meetings]),
            OutboxRow.status != OutboxStatus.PENDING.value,
            OutboxRow.created_at >= now - FIRST_LOOKBACK - timedelta(days=1),
        )
    ):
        for key, value in (covered.get("through") or {}).items():
            done[key] = max(done.get(key, 0), int(value))
    after: dict[str, int] = {}
    through: dict[str, int] = {}
    sections: list[dict[str, Any]] = []
    for key in sorted(meetings, key=lambda k: (meetings[k].meeting.title, k)):
        stored = meetings[key]
        known = max(done.get(key, 0), _known_before(session, key, now - FIRST_LOOKBACK))
        after[key] = pending_after.get(key, known)
        history = attendance.history(session, key)
        through[key] = max([after[key], *(a.id for a in history)])
        section = _section(stored.meeting, history, after[key], now)
        if section is not None:
            sections.append(section)
    if not sections:
        return 0  # nothing changed that is worth telling: a waiting summary stays as it is
    who = next((a for s in meetings.values() for a in s.meeting.attendees if a.email.lower() == organizer), None)
    first = next(iter(meetings.values())).meeting
    zone = who.timezone.key if who else policy.zone or first.timezone.key
    if pending is not None:
        since = datetime.fromisoformat(str(pending.attendee.get("since") or now.isoformat()))
    else:
        since = now
    if policy.mode == "each":
        due = min(now + policy.quiet, since + max(policy.quiet, MAX_WAIT))
    else:
        due = utc(pending.due_at) if pending is not None else next_at(now, policy.at, ZoneInfo(zone))
    key = f"{MessageKind.SUMMARY.value}/{max(through.values())}/{organizer}/{uid or 'daily'}"
    if pending is not None and (pending.attendee.get("through") or {}) == through:
        return 0  # it says all of it already
    data = {
        "name": first.organizer.name,
        "email": organizer,
        "language": who.language if who else policy.language,
        "timezone": zone,
        "mode": policy.mode,
        "since": since.isoformat(),
        "after": after,
        "through": through,
        "meetings": sections[:MAX_MEETINGS],
        "more_meetings": max(0, len(sections) - MAX_MEETINGS),
    }
    if waiting:
        session.execute(delete(OutboxRow).where(OutboxRow.id.in_([r.id for r in waiting])))
    row: NewRow = {
        "key": key,
        "kind": MessageKind.SUMMARY.value,
        "meeting_uid": uid,
        "recipient": organizer,
        "attendee": data,
        "sequence": 0,
        "version": None,
        "occurrence": None,
        "offset_seconds": None,
        "due_at": due,
        "not_before": due,
        "status": OutboxStatus.PENDING.value,
        "attempts": 0,
        "created_at": now,
    }
    added = len(insert_new(session, [row]))
    if added:  # planned by `replies import` or another instance: every dispatcher wakes for it at commit
        notify_at_commit(session, OUTBOX_CHANNEL, "summary")
    return added


def next_at(now: datetime, at: time, zone: ZoneInfo) -> datetime:
    """The first moment after ``now`` whose wall time in ``zone`` is ``at`` (UTC)."""
    local = now.astimezone(zone)
    for days in (0, 1, 2):
        day = local.date() + timedelta(days=days)
        moment = utc(datetime.combine(day, at, tzinfo=zone))
        if moment > now:
            return moment
    raise AssertionError("a wall time recurs within two days")  # pragma: no cover


def _known_before(session: Session, uid: str, moment: datetime) -> int:
    """The newest answer recorded before ``moment`` (0: none)."""
    found = session.scalar(
        select(func.max(AnswerRow.id)).where(AnswerRow.meeting_uid == uid, AnswerRow.recorded_at < moment)
    )
    return int(found or 0)


def _people(m: Meeting) -> dict[str, Attendee]:
    found: dict[str, Attendee] = {}
    for a in [*m.attendees, *(a for o in m.overrides for a in (o.attendees or ()))]:
        found.setdefault(a.email.lower(), a)
    return found


def _section(m: Meeting, history: Sequence[Answer], after: int, now: datetime) -> dict[str, Any] | None:
    """The changes of one meeting after answer ``after``, and its totals now; None if nothing changed."""
    people = _people(m)
    state = attendance._fold([a for a in history if a.id <= after], m.uid)
    changes: list[dict[str, Any]] = []
    for a in history:
        if a.id <= after:
            continue
        who = people.get(a.attendee)
        base: dict[str, Any] = {
            "name": who.name if who else "",
            "email": a.attendee,
            "occurrence": None if a.occurrence is None else utc(a.occurrence).isoformat(),
        }
        if a.kind is attendance.AnswerKind.COUNTER:
            proposal = dict(a.proposal or {})
            changes.append(
                {**base, "answer": "COUNTER", "start": proposal.get("start"), "end": proposal.get("end")}
                | {"comment": a.comment}
            )
            continue
        if a.stale:
            continue
        before = state.partstat(a.attendee, a.occurrence)
        state = attendance._with(state, a)
        if a.via is Via.CONFIG or state.partstat(a.attendee, a.occurrence) == before:
            continue
        changes.append({**base, "answer": a.partstat.value, "delegated_to": list(a.delegated_to), "comment": a.comment})
    if not changes:
        return None
    return {
        "uid": m.uid,
        "title": m.title,
        "all_day": m.all_day,
        "series": bool(m.recurrence),
        "changes": changes[:MAX_CHANGES],
        "more": max(0, len(changes) - MAX_CHANGES),
        "totals": _totals(m, state, changes, now),
    }


def _totals(m: Meeting, state: attendance.Attendance, changes: list[dict[str, Any]], now: datetime) -> list[Any]:
    """Per upcoming occurrence (the next few, and those a change was about): who said what."""
    if m.recurrence:
        ahead = set(islice(m.occurrences(now, now + LOOKAHEAD), TOTALS_AHEAD))
        for c in changes:
            if c["occurrence"] is not None:
                moment = datetime.fromisoformat(c["occurrence"])
                override = m.override_of(moment.astimezone(m.timezone))
                start = override.start if override is not None else moment
                if utc(start) + m.duration > now and not (override is not None and override.cancelled):
                    ahead.add(start)
        starts = sorted(ahead, key=utc)[:MAX_TOTALS]
    else:
        starts = [m.start] if utc(m.start) + m.duration > now else []
    out = []
    for start in starts:
        instance = m.at(start)
        override = m.override_at(start)
        answered_as = None if not m.recurrence else utc(override.occurrence if override else start)
        groups: dict[str, list[str]] = {g: [] for g in GROUPS}
        for a in instance.attendees:
            said = state.partstat(a.email, answered_as)
            groups[said.value if said.value in groups else PartStat.NEEDS_ACTION.value].append(a.name or a.email)
        out.append({"start": utc(start).isoformat(), "groups": groups})
    return out
