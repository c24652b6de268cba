"""Matching answers to meetings, the trust rules, and recording them (in the caller's transaction).

An answer is applied only when every answer of its message passes:

- its UID is a meeting of ours (Outlook/Exchange may leave ORGANIZER out: the UID is what matches);
  an ORGANIZER, when given, is that meeting's organizer;
- its ATTENDEE is invited to that meeting;
- the message's From, and its envelope sender (Return-Path) when there is one, are that attendee's
  address (a bare .ics file has neither: whoever imports it vouches for it);
- a RECURRENCE-ID names an occurrence of the meeting.

Otherwise the whole message is quarantined with the first reason, and nothing of it is recorded.
A REPLY to an older SEQUENCE, or with an earlier DTSTAMP, than the answer in force is recorded as
stale (see :mod:`meet_sched.store.attendance`); a COUNTER is recorded, never applied.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..model import Meeting, StoredMeeting, utc
from ..store import attendance
from ..store.attendance import PartStat, Via
from ..store.meetings import ROW_ERRORS, get_meeting
from ..store.tables import MeetingRow
from .parse import Incoming, ParsedAnswer, Refused


class Outcome(enum.StrEnum):
    APPLIED = "applied"  # at least one answer applied
    STALE = "stale"  # every answer lost to a newer one: recorded, nothing changed
    COUNTER = "counter"  # a proposed new time: recorded for the organizer
    QUARANTINED = "quarantined"  # refused: nothing recorded


@dataclass(frozen=True)
class Applied:
    uid: str
    attendee: str
    partstat: str
    occurrence: datetime | None
    outcome: Outcome


@dataclass(frozen=True)
class Result:
    outcome: Outcome
    reason: str | None = None  # why it was quarantined
    answers: tuple[Applied, ...] = ()
    changed: frozenset[str] = field(default_factory=frozenset)  # meetings whose answers in force changed
    proposed: frozenset[str] = field(default_factory=frozenset)  # meetings someone proposed a new time for


def quarantined(reason: str) -> Result:
    return Result(Outcome.QUARANTINED, reason)


@dataclass(frozen=True)
class _Checked:
    answer: ParsedAnswer
    stored: StoredMeeting
    occurrence: datetime | None
    known_occurrence: bool


class Meetings:
    """Stored meetings by UID, each parsed once per version (SEQUENCE, LAST-MODIFIED): a batch of
    replies to the same meetings reads one short row per reply, not the whole meeting."""

    def __init__(self) -> None:
        self._memo: dict[str, StoredMeeting] = {}
        self._checked: tuple[Session, set[str]] | None = None  # UIDs whose version this transaction read

    def get(self, session: Session, uid: str) -> StoredMeeting | None:
        if self._checked is None or self._checked[0] is not session:
            self._checked = (session, set())
        if uid in self._checked[1]:  # the same transaction sees the same row
            return self._memo.get(uid)
        version = session.execute(
            select(MeetingRow.sequence, MeetingRow.last_modified).where(MeetingRow.uid == uid)
        ).first()
        if version is None:
            return None
        found = self._memo.get(uid)
        self._checked[1].add(uid)
        if found is not None and (found.sequence, found.last_modified) == tuple(version):
            return found
        found = get_meeting(session, uid)
        if len(self._memo) >= MEMO_SIZE:
            self._memo.clear()
        if found is None:
            self._memo.pop(uid, None)
        else:
            self._memo[uid] = found
        return found


MEMO_SIZE = 1000  # meetings remembered by one intake


def apply(session: Session, incoming: Incoming, now: datetime, meetings: Meetings | None = None) -> Result:
    """Check and record every answer of ``incoming``; all or nothing."""
    now = utc(now)
    memo = meetings or Meetings()
    try:
        checked = [_check(session, incoming, answer, memo) for answer in incoming.answers]
    except Refused as exc:
        return quarantined(exc.reason)
    if not checked:
        return quarantined("no answer in the message")
    results: list[Applied] = []
    changed: set[str] = set()
    proposed: set[str] = set()
    for item in checked:
        a, stored = item.answer, item.stored
        if a.method == "COUNTER":
            start = _counter_time(a.start, stored.meeting)
            assert start is not None  # checked
            attendance.record_counter(
                session,
                meeting_uid=stored.uid,
                attendee=a.attendee,
                sequence=a.sequence,
                now=now,
                start=start,
                end=_counter_time(a.end, stored.meeting),
                dtstamp=a.dtstamp,
                occurrence=item.occurrence,
                comment=a.comment,
            )
            results.append(Applied(stored.uid, a.attendee, a.partstat, item.occurrence, Outcome.COUNTER))
            proposed.add(stored.uid)
            continue
        done = attendance.record(
            session,
            meeting_uid=stored.uid,
            attendee=a.attendee,
            partstat=PartStat(a.partstat),
            via=Via.IMIP,
            sequence=a.sequence,
            now=now,
            dtstamp=a.dtstamp,
            occurrence=item.occurrence,
            delegated_to=a.delegated_to,
            comment=a.comment,
            stale=not item.known_occurrence,  # an occurrence an older version had: kept, never applied
        )
        if done.changed:
            changed.add(stored.uid)
        results.append(
            Applied(
                stored.uid, a.attendee, a.partstat, item.occurrence, Outcome.APPLIED if done.applied else Outcome.STALE
            )
        )
    outcomes = {r.outcome for r in results}
    outcome = (
        Outcome.APPLIED
        if Outcome.APPLIED in outcomes
        else Outcome.COUNTER
        if Outcome.COUNTER in outcomes
        else Outcome.STALE
    )
    return Result(outcome, None, tuple(results), frozenset(changed), frozenset(proposed))


def _check(session: Session, incoming: Incoming, a: ParsedAnswer, meetings: Meetings) -> _Checked:
    try:
        stored = meetings.get(session, a.uid)
    except ROW_ERRORS:
        raise Refused(f"meeting {a.uid} cannot be read") from None
    if stored is None:
        raise Refused(f"no meeting has UID {a.uid}")
    m = stored.meeting
    if stored.removed:
        raise Refused(f"meeting {a.uid} was removed")
    if a.organizer is not None and a.organizer != m.organizer.email.lower():
        raise Refused(f"ORGANIZER {a.organizer} is not the organizer of {a.uid}")
    invited = {x.email.lower() for x in m.attendees}
    if a.attendee not in invited:
        raise Refused(f"ATTENDEE {a.attendee} is not invited to {a.uid}")
    if incoming.sender is not None and incoming.sender != a.attendee:
        raise Refused(f"From {incoming.sender} is not the attendee {a.attendee}")
    if incoming.envelope is not None and incoming.envelope != a.attendee:
        raise Refused(f"envelope sender {incoming.envelope or '<>'} is not the attendee {a.attendee}")
    occurrence, known = _occurrence(m, a.recurrence_id)
    if not known and a.sequence >= stored.sequence:
        raise Refused(f"RECURRENCE-ID {a.recurrence_id} is not an occurrence of {a.uid}")
    if a.method == "COUNTER" and _counter_time(a.start, m) is None:
        raise Refused("a COUNTER without a DTSTART date-time")
    return _Checked(a, stored, occurrence, known)


def _occurrence(m: Meeting, rid: datetime | date | None) -> tuple[datetime | None, bool]:
    """(the occurrence's UTC start, or None for the series; whether the meeting has that occurrence)."""
    if rid is None:
        return None, True
    if isinstance(rid, datetime):
        moment = rid.replace(tzinfo=m.timezone) if rid.tzinfo is None else rid
        start = next(iter(m.occurrences(moment, moment + timedelta(seconds=1))), None)
        when = utc(moment)
    else:
        midnight = datetime(rid.year, rid.month, rid.day, tzinfo=m.timezone)
        start = next(iter(m.occurrences(midnight, midnight + timedelta(days=1))), None)
        when = utc(start) if start is not None else midnight.astimezone(UTC)
    if not m.recurrence and start is not None:
        return None, True  # a single meeting answered with its own start as RECURRENCE-ID: the meeting
    return (utc(start) if start is not None else when), start is not None


def _counter_time(value: datetime | date | None, m: Meeting) -> datetime | None:
    if not isinstance(value, datetime):
        return None
    return utc(value.replace(tzinfo=m.timezone) if value.tzinfo is None else value)
