"""Matching answers to meetings, the trust rules, and recording them (in the caller's transaction).

An answer is applied only when every answer of its message passes:

- its UID is a current meeting of ours (not removed, not cancelled; Outlook/Exchange may leave
  ORGANIZER out: the UID is what matches); an ORGANIZER, when given, is that meeting's organizer;
- a RECURRENCE-ID names an occurrence by its original start, in any form clients write it
  (:func:`meet_sched.rsvp.rules.identity`), and the ATTENDEE is invited to what it answers: the
  series, or that occurrence (an override's own attendees);
- the originator is the attendee (RFC 6047 section 3, :func:`_trusted`): the message's From is the
  ATTENDEE (or its SENT-BY, when that is the meeting's organizer), and its envelope sender
  (Return-Path), when there is one, too, or that of a calendar service that sends its users'
  replies itself (:data:`~meet_sched.replies.parse.CALENDAR_SERVICES`); a bare .ics file has
  neither: whoever imports it vouches for it;
- a delegation names addresses other than the attendee's and closes no loop; a COUNTER proposes a
  time in the supported years, not further ahead than :data:`~meet_sched.rsvp.rules.MAX_AHEAD`.

Otherwise the whole message is quarantined with the first reason, and nothing of it is recorded.
A SEQUENCE above the one sent is taken as the one sent, and a DTSTAMP more than
:data:`MAX_CLOCK_SKEW` ahead of the clock as the time the answer came. A REPLY to an older SEQUENCE,
or with an earlier DTSTAMP, than the answer in force is recorded as stale (see
:mod:`meet_sched.store.attendance`); a COUNTER is recorded, never applied.
"""

from __future__ import annotations

import dataclasses
import enum
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from email.errors import HeaderParseError
from email.headerregistry import Address

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..model import Meeting, StoredMeeting, utc
from ..recurrence import SUPPORTED_YEARS
from ..rsvp import rules
from ..store import attendance
from ..store.attendance import PartStat, Via
from ..store.meetings import ROW_ERRORS, get_meeting
from ..store.tables import MeetingRow
from .parse import Incoming, ParsedAnswer, Refused


class ReplyOutcome(enum.StrEnum):
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
    outcome: ReplyOutcome


@dataclass(frozen=True)
class Result:
    outcome: ReplyOutcome
    reason: str | None = None  # why it was quarantined
    answers: tuple[Applied, ...] = ()
    changed: frozenset[str] = field(default_factory=frozenset)  # meetings whose answers in force changed
    proposed: frozenset[str] = field(default_factory=frozenset)  # meetings someone proposed a new time for


def quarantined(reason: str) -> Result:
    return Result(ReplyOutcome.QUARANTINED, reason)


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
MAX_CLOCK_SKEW = timedelta(days=1)  # a DTSTAMP further ahead of the clock is taken as the time the answer came


def apply(session: Session, incoming: Incoming, now: datetime, meetings: Meetings | None = None) -> Result:
    """Check and record every answer of ``incoming``; all or nothing."""
    now = utc(now)
    memo = meetings or Meetings()
    try:
        checked = [_check(session, incoming, answer, memo, now) for answer in incoming.answers]
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
            results.append(Applied(stored.uid, a.attendee, a.partstat, item.occurrence, ReplyOutcome.COUNTER))
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
                stored.uid,
                a.attendee,
                a.partstat,
                item.occurrence,
                ReplyOutcome.APPLIED if done.applied else ReplyOutcome.STALE,
            )
        )
    outcomes = {r.outcome for r in results}
    outcome = (
        ReplyOutcome.APPLIED
        if ReplyOutcome.APPLIED in outcomes
        else ReplyOutcome.COUNTER
        if ReplyOutcome.COUNTER in outcomes
        else ReplyOutcome.STALE
    )
    return Result(outcome, None, tuple(results), frozenset(changed), frozenset(proposed))


def _check(session: Session, incoming: Incoming, a: ParsedAnswer, meetings: Meetings, now: datetime) -> _Checked:
    try:
        stored = meetings.get(session, a.uid)
    except ROW_ERRORS:
        raise Refused(f"meeting {a.uid} cannot be read") from None
    if stored is None:
        raise Refused(f"no meeting has UID {a.uid}")
    m = stored.meeting
    if (why := rules.not_current(stored)) is not None:
        raise Refused(why)
    if a.organizer is not None and a.organizer != m.organizer.email.lower():
        raise Refused(f"ORGANIZER {a.organizer} is not the organizer of {a.uid}")
    if a.attendee not in {x.email.lower() for x in m.everyone()}:
        raise Refused(f"ATTENDEE {a.attendee} is not invited to {a.uid}")
    _trusted(incoming, a, m)
    occurrence, known = _occurrence(stored, a, now)
    if known and rules.invited(m, a.attendee, occurrence) is None:
        what = "the series" if occurrence is None else f"the occurrence {_named(a.recurrence_id)}"
        raise Refused(f"ATTENDEE {a.attendee} is not invited to {what} of {a.uid}")
    if a.method == "COUNTER":
        _check_counter(a, m, now)
    _check_delegation(session, a, stored.uid, occurrence)
    return _Checked(_clamped(a, stored, occurrence if known else None, now), stored, occurrence, known)


def _trusted(incoming: Incoming, a: ParsedAnswer, m: Meeting) -> None:
    """RFC 6047 section 3: the originator is the ATTENDEE.  The From is the attendee (or the ATTENDEE's
    SENT-BY when that is the meeting's organizer, answering for them); the envelope sender, when there is
    one, is one of those too, or that of a calendar service that sends its users' replies itself."""
    allowed = {a.attendee}
    if a.sent_by is not None and a.sent_by == m.organizer.email.lower():
        allowed.add(a.sent_by)
    if incoming.sender is not None and incoming.sender not in allowed:
        raise Refused(f"From {incoming.sender} is not the attendee {a.attendee}")
    if incoming.envelope is not None and incoming.envelope not in allowed and incoming.service is None:
        raise Refused(f"envelope sender {incoming.envelope or '<>'} is not the attendee {a.attendee}")


def _named(rid: datetime | date | None) -> str:
    if isinstance(rid, datetime):
        return rid.replace(tzinfo=None).isoformat(timespec="minutes") + (
            " UTC" if rid.utcoffset() == timedelta(0) else ""
        )
    return "?" if rid is None else rid.isoformat()


def _occurrence(stored: StoredMeeting, a: ParsedAnswer, now: datetime) -> tuple[datetime | None, bool]:
    """(the identity, UTC, of the occurrence answered — its original start —, or None for the series;
    whether the meeting has it).  A RECURRENCE-ID the meeting does not have is refused, unless the
    answer is to an older SEQUENCE (an occurrence an older version had: recorded as stale)."""
    m, rid = stored.meeting, a.recurrence_id
    if rid is None:
        return None, True
    if not rules.recurs(m):  # a single meeting answered with its own start as RECURRENCE-ID: the meeting
        own = m.start.date() if isinstance(rid, date) and not isinstance(rid, datetime) else m.start
        moment = rid.replace(tzinfo=m.timezone) if isinstance(rid, datetime) and rid.tzinfo is None else rid
        if rules.readable(moment) and moment == own:
            return None, True
        raise Refused(f"RECURRENCE-ID {_named(rid)} is not an occurrence of {a.uid}")
    found = rules.identity(m, rid, now)
    if found is not None:
        return utc(found), True
    if a.sequence < stored.sequence and rules.readable(rid) and isinstance(rid, datetime):
        return utc(rid.replace(tzinfo=m.timezone) if rid.tzinfo is None else rid), False
    raise Refused(f"RECURRENCE-ID {_named(rid)} is not an occurrence of {a.uid}")


def _clamped(a: ParsedAnswer, stored: StoredMeeting, occurrence: datetime | None, now: datetime) -> ParsedAnswer:
    """``a`` ranked no higher than what it can answer: its SEQUENCE at most the one sent (the series', or
    that occurrence's own VEVENT's), its DTSTAMP — when more than MAX_CLOCK_SKEW ahead — the time it
    came.  So neither survives a reset after a change of time, nor makes every later answer stale."""
    sent = stored.sequence
    if occurrence is not None:
        sent = max(sent, stored.instance_version(occurrence.astimezone(stored.meeting.timezone)).sequence)
    stamp = a.dtstamp
    if stamp is not None and stamp > now + MAX_CLOCK_SKEW:
        stamp = now
    if a.sequence <= sent and stamp == a.dtstamp:
        return a
    return dataclasses.replace(a, sequence=min(a.sequence, sent), dtstamp=stamp)


def _check_counter(a: ParsedAnswer, m: Meeting, now: datetime) -> None:
    start, end = a.start, a.end
    if not isinstance(start, datetime):
        raise Refused("a COUNTER without a DTSTART date-time")
    for what, value in (("DTSTART", start), ("DTEND", end)):
        if value is not None and not rules.readable(value):
            raise Refused(f"COUNTER {what} {_named(value)} is outside the supported years {SUPPORTED_YEARS}")
    begins = _counter_time(start, m)
    assert begins is not None
    if end is not None:
        ends = _counter_time(end, m)
        if ends is None or ends <= begins:
            raise Refused("COUNTER DTEND is not after its DTSTART")
    if begins > now + rules.MAX_AHEAD:
        raise Refused(f"COUNTER proposes {_named(start)}, more than {rules.MAX_AHEAD.days} days ahead")


def _check_delegation(session: Session, a: ParsedAnswer, uid: str, occurrence: datetime | None) -> None:
    """RFC 5546 4.2.5: DELEGATED names the delegates in DELEGATED-TO, each an address other than the
    attendee's, and no delegate has (through others) delegated back to the attendee."""
    if a.method != "REPLY":
        return
    if a.partstat == "DELEGATED" and not a.delegated_to:
        raise Refused("PARTSTAT=DELEGATED without DELEGATED-TO")
    for to in a.delegated_to:
        if not _is_address(to):
            raise Refused(f"DELEGATED-TO {to[:80]!r} is not an email address")
        if to == a.attendee:
            raise Refused(f"{a.attendee} delegated to themselves")
    if a.partstat != "DELEGATED":
        return
    state = attendance.current(session, uid)
    seen, queue = set(), list(a.delegated_to)
    while queue:
        who = queue.pop()
        if who in seen:
            continue
        seen.add(who)
        found = state.answer(who, occurrence)
        if found is None or found.partstat is not PartStat.DELEGATED:
            continue
        if a.attendee in found.delegated_to:
            raise Refused(f"delegation loop: {who} delegated to {a.attendee}, who delegates back")
        queue.extend(found.delegated_to)


def _is_address(text: str) -> bool:
    try:
        parsed = Address(addr_spec=text)
    except (ValueError, IndexError, HeaderParseError):
        return False
    return bool(parsed.username) and "." in parsed.domain and parsed.addr_spec == text


def _counter_time(value: datetime | date | None, m: Meeting) -> datetime | None:
    if not isinstance(value, datetime):
        return None
    return utc(value.replace(tzinfo=m.timezone) if value.tzinfo is None else value)
