"""Attendance: the answers attendees give (iMIP replies, links, resets), kept with their history.

Every answer is a row of its own; the *current* answer is derived, never overwritten:

- an answer is ranked by (SEQUENCE answered, DTSTAMP, arrival): a reply to an older SEQUENCE, or
  with an earlier DTSTAMP at the same SEQUENCE, than the answer it would replace is recorded as
  *stale* and changes nothing (RFC 5546 3.2.3: the newest version and the latest reply win);
- an answer for one occurrence (``occurrence`` = the UTC instant of its RECURRENCE-ID) applies to
  that occurrence only; an answer for the series (``occurrence=None``) to every occurrence, and
  the higher-ranked of the two is what an occurrence shows;
- a change of time resets everyone to NEEDS-ACTION (:func:`reset`): a series answer at the new
  SEQUENCE, which outranks everything answered before it; one occurrence moved resets that
  occurrence alone (:func:`reset_occurrence`), at the SEQUENCE of its own VEVENT;
- a COUNTER (a proposed new time) is recorded and listed, never applied.

Every function takes the session of the caller's transaction.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from types import SimpleNamespace
from typing import Any

from sqlalchemy import bindparam, func, insert, select
from sqlalchemy.orm import Session

from .db import CHANGES_CHANNEL, notify_at_commit
from .tables import AnswerRow


class PartStat(enum.StrEnum):
    """RFC 5545 3.2.12 participation status of a VEVENT attendee."""

    NEEDS_ACTION = "NEEDS-ACTION"
    ACCEPTED = "ACCEPTED"
    DECLINED = "DECLINED"
    TENTATIVE = "TENTATIVE"
    DELEGATED = "DELEGATED"


class Via(enum.StrEnum):
    """How an answer reached meet-sched."""

    IMIP = "imip"  # an iTIP REPLY or COUNTER by email (or imported from a file)
    LINK = "link"  # a one-click answer page
    CONFIG = "config"  # meet-sched itself: reset to NEEDS-ACTION after a change of time


class AnswerKind(enum.StrEnum):
    REPLY = "reply"
    COUNTER = "counter"


MAX_DELEGATES = 20  # DELEGATED-TO addresses kept per answer; the rest are dropped
MAX_COMMENT = 2000  # characters of an answer's COMMENT kept


@dataclass(frozen=True)
class Answer:
    """One recorded answer (a row of the history)."""

    id: int
    meeting_uid: str
    occurrence: datetime | None  # None: the whole series
    attendee: str  # lower-cased address
    kind: AnswerKind
    partstat: PartStat
    via: Via
    sequence: int
    dtstamp: datetime
    recorded_at: datetime
    stale: bool = False
    delegated_to: tuple[str, ...] = ()
    proposal: Mapping[str, Any] | None = None  # COUNTER: {"start": ISO UTC, "end": ISO UTC | None}
    comment: str | None = None

    @property
    def rank(self) -> tuple[int, datetime, int]:
        return (self.sequence, self.dtstamp, self.id)


@dataclass(frozen=True)
class Recorded:
    """What :func:`record` did: the row, and whether it changed what the attendee's answer is."""

    answer: Answer
    applied: bool  # False: stale (recorded, not applied)
    changed: bool  # the current PARTSTAT of that occurrence (or series) differs from before


@dataclass(frozen=True)
class Attendance:
    """The current answers of one meeting: per attendee, the series answer and per-occurrence answers."""

    meeting_uid: str
    series: Mapping[str, Answer] = field(default_factory=dict)  # attendee → current series answer
    occurrences: Mapping[tuple[str, datetime], Answer] = field(default_factory=dict)  # (attendee, occurrence) →

    def answer(self, attendee: str, occurrence: datetime | None = None) -> Answer | None:
        """The answer in force for ``attendee`` at ``occurrence`` (None: for the series), or None if none."""
        key = attendee.lower()
        whole = self.series.get(key)
        if occurrence is None:
            return whole
        own = self.occurrences.get((key, occurrence))
        if own is None or (whole is not None and whole.rank > own.rank):
            return whole
        return own

    def partstat(self, attendee: str, occurrence: datetime | None = None) -> PartStat:
        found = self.answer(attendee, occurrence)
        return PartStat.NEEDS_ACTION if found is None else found.partstat

    def declined(self, attendee: str, occurrence: datetime | None = None) -> bool:
        return self.partstat(attendee, occurrence) is PartStat.DECLINED

    def answered_occurrences(self) -> list[datetime]:
        """Occurrences some attendee answered on their own, in order."""
        return sorted({when for _, when in self.occurrences})


def _answer(row: Any) -> Answer:
    """An :class:`AnswerRow`, or a Core row of its table (the same attribute names)."""
    return Answer(
        id=row.id,
        meeting_uid=row.meeting_uid,
        occurrence=row.occurrence,
        attendee=row.attendee,
        kind=AnswerKind(row.kind),
        partstat=PartStat(row.partstat),
        via=Via(row.via),
        sequence=row.sequence,
        dtstamp=row.dtstamp,
        recorded_at=row.recorded_at,
        stale=row.stale,
        delegated_to=tuple(row.delegated_to or ()),
        proposal=row.proposal,
        comment=row.comment,
    )


def _keep(series: dict[str, Answer], occurrences: dict[tuple[str, datetime], Answer], answer: Answer) -> None:
    """One step of the fold: ``answer`` takes its place (the series, or its occurrence) if it outranks
    the answer there."""
    if answer.occurrence is None:
        if answer.attendee not in series or series[answer.attendee].rank < answer.rank:
            series[answer.attendee] = answer
    else:
        key = (answer.attendee, answer.occurrence)
        if key not in occurrences or occurrences[key].rank < answer.rank:
            occurrences[key] = answer


def _fold(rows: Iterable[Any], meeting_uid: str) -> Attendance:
    series: dict[str, Answer] = {}
    occurrences: dict[tuple[str, datetime], Answer] = {}
    for row in rows:
        if not row.stale and row.kind == AnswerKind.REPLY:
            _keep(series, occurrences, _answer(row))
    return Attendance(meeting_uid, series, occurrences)


# Built once: a reply batch runs these once per answer, and building a statement costs more than running it.
_TABLE = AnswerRow.__table__
_INSERT = insert(AnswerRow).returning(AnswerRow.id)
_OF_MEETING = select(_TABLE).where(
    _TABLE.c.meeting_uid == bindparam("uid"), _TABLE.c.kind == AnswerKind.REPLY.value, _TABLE.c.stale.is_(False)
)
_OF_ATTENDEE = _OF_MEETING.where(_TABLE.c.attendee == bindparam("attendee"))


def current(session: Session, meeting_uid: str, attendee: str | None = None) -> Attendance:
    """The answers in force for one meeting (of one attendee, if given)."""
    if attendee is not None:
        rows = session.execute(_OF_ATTENDEE, {"uid": meeting_uid, "attendee": attendee.lower()})
    else:
        rows = session.execute(_OF_MEETING, {"uid": meeting_uid})
    return _fold(rows, meeting_uid)


def current_all(session: Session, meeting_uids: Iterable[str] | None = None) -> dict[str, Attendance]:
    """The answers in force for many meetings at once (every meeting with an answer, if None)."""
    query = select(AnswerRow).where(AnswerRow.kind == AnswerKind.REPLY.value, AnswerRow.stale.is_(False))
    if meeting_uids is not None:
        query = query.where(AnswerRow.meeting_uid.in_(list(meeting_uids)))
    grouped: dict[str, list[AnswerRow]] = {}
    for row in session.scalars(query):
        grouped.setdefault(row.meeting_uid, []).append(row)
    return {uid: _fold(rows, uid) for uid, rows in grouped.items()}


def record(
    session: Session,
    *,
    meeting_uid: str,
    attendee: str,
    partstat: PartStat,
    via: Via,
    sequence: int,
    now: datetime,
    dtstamp: datetime | None = None,
    occurrence: datetime | None = None,
    delegated_to: Sequence[str] = (),
    comment: str | None = None,
    stale: bool = False,
) -> Recorded:
    """Record one answer; it applies unless it is stale against the answer it would replace.

    ``dtstamp`` defaults to ``now`` (a link answer has no DTSTAMP of its own).  Equal rank (the
    same SEQUENCE and DTSTAMP: the same reply imported twice) is not stale: it applies again
    and changes nothing.  ``stale=True`` records it as stale whatever its rank (an answer for an
    occurrence that an older version of the meeting had).
    """
    key = attendee.lower()
    stamp = now if dtstamp is None else dtstamp
    before = current(session, meeting_uid, key)
    previous = before.answer(key, occurrence)  # for an occurrence: its own answer or the series', whichever rules
    stale = stale or (previous is not None and (sequence, stamp) < (previous.sequence, previous.dtstamp))
    values: dict[str, Any] = {
        "meeting_uid": meeting_uid,
        "occurrence": occurrence,
        "attendee": key,
        "kind": AnswerKind.REPLY.value,
        "partstat": PartStat(partstat).value,
        "via": Via(via).value,
        "sequence": sequence,
        "dtstamp": stamp,
        "delegated_to": [a.lower() for a in delegated_to[:MAX_DELEGATES]] or None,
        "proposal": None,
        "comment": None if comment is None else comment[:MAX_COMMENT],
        "stale": stale,
        "recorded_at": now,
    }
    new_id = session.execute(_INSERT, values).scalar_one()
    notify_at_commit(session, CHANGES_CHANNEL)  # every process showing answers looks again once this commits
    answer = _answer(SimpleNamespace(id=int(new_id), **values))
    if stale:
        return Recorded(answer, applied=False, changed=False)
    after = _with(before, answer)
    return Recorded(answer, applied=True, changed=before.partstat(key, occurrence) != after.partstat(key, occurrence))


def _with(state: Attendance, answer: Answer) -> Attendance:
    """``state`` with one more (applied) answer: what :func:`current` would now read."""
    series, occurrences = dict(state.series), dict(state.occurrences)
    _keep(series, occurrences, answer)
    return Attendance(state.meeting_uid, series, occurrences)


def record_counter(
    session: Session,
    *,
    meeting_uid: str,
    attendee: str,
    sequence: int,
    now: datetime,
    start: datetime,
    end: datetime | None,
    dtstamp: datetime | None = None,
    occurrence: datetime | None = None,
    comment: str | None = None,
) -> Answer:
    """Record a COUNTER (a proposed new time, RFC 5546 3.2.7): kept for the organizer, never applied."""
    row = AnswerRow(
        meeting_uid=meeting_uid,
        occurrence=occurrence,
        attendee=attendee.lower(),
        kind=AnswerKind.COUNTER.value,
        partstat=PartStat.NEEDS_ACTION.value,
        via=Via.IMIP.value,
        sequence=sequence,
        dtstamp=now if dtstamp is None else dtstamp,
        delegated_to=None,
        proposal={"start": start.isoformat(), "end": None if end is None else end.isoformat()},
        comment=None if comment is None else comment[:MAX_COMMENT],
        stale=False,
        recorded_at=now,
    )
    session.add(row)
    session.flush()
    notify_at_commit(session, CHANGES_CHANNEL)
    return _answer(row)


def counters(session: Session, meeting_uid: str) -> list[Answer]:
    """The COUNTER proposals received for a meeting, oldest first."""
    query = (
        select(AnswerRow)
        .where(AnswerRow.meeting_uid == meeting_uid, AnswerRow.kind == AnswerKind.COUNTER.value)
        .order_by(AnswerRow.id)
    )
    return [_answer(row) for row in session.scalars(query)]


def history(session: Session, meeting_uid: str, attendee: str | None = None) -> list[Answer]:
    """Every answer of a meeting (replies, stale ones, resets and counters), in the order received."""
    query = select(AnswerRow).where(AnswerRow.meeting_uid == meeting_uid).order_by(AnswerRow.id)
    if attendee is not None:
        query = query.where(AnswerRow.attendee == attendee.lower())
    return [_answer(row) for row in session.scalars(query)]


def reset(session: Session, meeting_uid: str, sequence: int, now: datetime, attendees: Iterable[str] = ()) -> list[str]:
    """A change of time: everyone who answered is back to NEEDS-ACTION for the whole series.

    One series answer per attendee at the new ``sequence``; it outranks every earlier answer,
    of the series and of single occurrences, and a late reply to the old SEQUENCE is stale.
    ``attendees`` (the invited) get such a row too, answered or not, so that :func:`must_answer`
    knows that their invitation asks anew.  Returns the attendees whose answer was reset (those
    who had given one).
    """
    now_in_force = current(session, meeting_uid)
    attendees_answered = sorted(
        attendee
        for attendee in {*now_in_force.series, *(who for who, _ in now_in_force.occurrences)}
        if now_in_force.partstat(attendee) is not PartStat.NEEDS_ACTION
        or any(
            now_in_force.partstat(attendee, when) is not PartStat.NEEDS_ACTION
            for who, when in now_in_force.occurrences
            if who == attendee
        )
    )
    _needs_action(session, meeting_uid, None, set(attendees_answered) | set(attendees), sequence, now)
    return attendees_answered


def reset_occurrence(
    session: Session, meeting_uid: str, occurrence: datetime, sequence: int, now: datetime, attendees: Iterable[str]
) -> None:
    """One occurrence moved: its ``attendees`` are back to NEEDS-ACTION for it alone.

    An answer for that occurrence at its new ``sequence`` (the SEQUENCE of its own VEVENT): it
    outranks the series' answers and the occurrence's own given before; the other occurrences
    keep theirs.
    """
    _needs_action(session, meeting_uid, occurrence, attendees, sequence, now)


def _needs_action(
    session: Session,
    meeting_uid: str,
    occurrence: datetime | None,
    attendees: Iterable[str],
    sequence: int,
    now: datetime,
) -> None:
    """A NEEDS-ACTION answer from the config (a change of time) for each of ``attendees``, for the
    series (``occurrence`` None) or for that occurrence alone, at ``sequence``."""
    for attendee in sorted({a.lower() for a in attendees}):
        session.add(
            AnswerRow(
                meeting_uid=meeting_uid,
                occurrence=occurrence,
                attendee=attendee,
                kind=AnswerKind.REPLY.value,
                partstat=PartStat.NEEDS_ACTION.value,
                via=Via.CONFIG.value,
                sequence=sequence,
                dtstamp=now,
                delegated_to=None,
                proposal=None,
                comment=None,
                stale=False,
                recorded_at=now,
            )
        )
    session.flush()


def must_answer(state: Attendance, attendee: str, occurrence: datetime | None = None) -> bool:
    """Whether ``attendee``'s answer (for the series, or at ``occurrence``) was reset by a change of
    time and not given again since."""
    found = state.answer(attendee, occurrence)
    return found is not None and found.via is Via.CONFIG and found.partstat is PartStat.NEEDS_ACTION


def version(session: Session) -> int:
    """A number that changes whenever an answer is recorded (the newest row's id; 0 with none):
    caches of anything that shows PARTSTAT key on it."""
    return int(session.scalar(select(func.max(AnswerRow.id))) or 0)
