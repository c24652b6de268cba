"""Dispatching: retiring what is too late, claiming due messages with a lease, recording outcomes.

Every function takes the caller's session; a use case decides where a transaction ends.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, and_, bindparam, func, or_, select, update
from sqlalchemy.orm import Session, aliased

from ...model import StoredMeeting, utc
from ..meetings import ROW_ERRORS, get_meeting
from ..status import OutboxStatus
from ..tables import MeetingRow, OutboxRow
from .messages import INVITATION_KINDS, Finished, Job, MessageKind, SendOutcome
from .reminders import ALL_DAY_REMINDER_GRACE
from .rows import _chunks


def _due(now: datetime) -> Any:
    return or_(
        and_(OutboxRow.status == OutboxStatus.PENDING.value, OutboxRow.not_before <= now),
        and_(OutboxRow.status == OutboxStatus.SENDING.value, OutboxRow.lease_until <= now),
    )


def _claimable() -> Any:
    return OutboxRow.status.in_((OutboxStatus.PENDING.value, OutboxStatus.SENDING.value))


def retire_due(session: Session, now: datetime) -> list[Finished]:
    """Before claiming: expire what is too late, skip reminders a later one supersedes.

    * a reminder whose occurrence has started is ``expired`` (never sent late);
    * an invitation whose meeting has ended is ``expired``;
    * a due reminder is ``skipped`` when a reminder of the same occurrence with a smaller
      offset is due too (after downtime, one reminder rather than a burst of them).
    Claims of live processes (``sending`` within their lease) are left alone.
    """
    now = utc(now)
    unclaimed = or_(
        OutboxRow.status == OutboxStatus.PENDING.value,
        and_(OutboxRow.status == OutboxStatus.SENDING.value, OutboxRow.lease_until <= now),
    )
    done: list[Finished] = []
    returning = (OutboxRow.key, OutboxRow.kind, OutboxRow.recipient, OutboxRow.detail)

    def retire(status: OutboxStatus, detail: str, *where: Any) -> tuple[Any, OutboxStatus]:
        stmt = (
            update(OutboxRow)
            .where(*where, unclaimed)
            .values(status=status.value, detail=detail, finished_at=now, lease_until=None, claimed_by=None)
            .returning(*returning)
            .execution_options(synchronize_session=False)
        )
        return stmt, status

    ended_uids = select(MeetingRow.uid).where(MeetingRow.last_end.is_not(None), MeetingRow.last_end <= now)
    later = aliased(OutboxRow)
    a_later_reminder_is_due = (
        select(later.id)
        .where(
            later.meeting_uid == OutboxRow.meeting_uid,
            later.kind == MessageKind.REMINDER.value,
            later.occurrence == OutboxRow.occurrence,
            later.recipient == OutboxRow.recipient,
            later.offset_seconds < OutboxRow.offset_seconds,
            later.due_at <= now,
            later.status.in_((OutboxStatus.PENDING.value, OutboxStatus.SENDING.value, OutboxStatus.SENT.value)),
        )
        .exists()
    )
    statements = (
        retire(
            OutboxStatus.EXPIRED,
            "not sent: the meeting had started",
            OutboxRow.kind == MessageKind.REMINDER.value,
            OutboxRow.occurrence <= now,
            OutboxRow.due_at < OutboxRow.occurrence,
        ),
        retire(  # on the day of an all-day meeting: due after the date began in the meeting's zone
            OutboxStatus.EXPIRED,
            "not sent: too late on the day",
            OutboxRow.kind == MessageKind.REMINDER.value,
            OutboxRow.due_at >= OutboxRow.occurrence,
            OutboxRow.due_at <= now - ALL_DAY_REMINDER_GRACE,
        ),
        retire(
            OutboxStatus.EXPIRED,
            "not sent: the meeting had ended",
            OutboxRow.kind.in_(INVITATION_KINDS),
            OutboxRow.meeting_uid.in_(ended_uids),
        ),
        retire(
            OutboxStatus.SKIPPED,
            "not sent: a later reminder of the same meeting was due too",
            OutboxRow.kind == MessageKind.REMINDER.value,
            OutboxRow.due_at <= now,
            a_later_reminder_is_due,
        ),
    )
    for stmt, status in statements:
        for row in session.execute(stmt):
            done.append(Finished(row.key, row.kind, row.recipient, status, row.detail or ""))
    return done


def claim(session: Session, now: datetime, *, worker: str, lease: timedelta, limit: int) -> list[Job]:
    """Take up to ``limit`` due messages for ``worker`` until ``now + lease``.

    Due means pending with ``not_before <= now``, or claimed by a process whose lease ran
    out (it crashed).  On PostgreSQL the candidate rows are locked with ``FOR UPDATE SKIP
    LOCKED``, so concurrent claimers take disjoint rows; on SQLite the caller's write
    transaction (BEGIN IMMEDIATE) serializes them.
    """
    now = utc(now)
    candidates = select(OutboxRow.id).where(_due(now)).order_by(OutboxRow.not_before, OutboxRow.id).limit(limit)
    if session.get_bind().dialect.name == "postgresql":
        # A materialized CTE: as ``IN (subquery)`` PostgreSQL may run the locking subquery more than
        # once and ignore its LIMIT, claiming everything due.
        chosen = candidates.with_for_update(skip_locked=True).cte("claimable").prefix_with("MATERIALIZED")
        which: Any = OutboxRow.id == chosen.c.id
    else:  # SQLite runs an uncorrelated IN (…) once; BEGIN IMMEDIATE keeps other writers out
        which = OutboxRow.id.in_(candidates.scalar_subquery())
    stmt = (
        update(OutboxRow)
        .where(which, _due(now))
        .values(status=OutboxStatus.SENDING.value, claimed_by=worker, lease_until=now + lease)
        .returning(
            OutboxRow.id,
            OutboxRow.key,
            OutboxRow.kind,
            OutboxRow.meeting_uid,
            OutboxRow.recipient,
            OutboxRow.attendee,
            OutboxRow.occurrence,
            OutboxRow.offset_seconds,
            OutboxRow.due_at,
            OutboxRow.attempts,
            OutboxRow.not_before,
        )
        .execution_options(synchronize_session=False)
    )
    rows = sorted(session.execute(stmt), key=lambda r: (r.not_before, r.id))
    return [
        Job(
            id=r.id,
            key=r.key,
            kind=MessageKind(r.kind),
            meeting_uid=r.meeting_uid,
            recipient=r.recipient,
            attendee=dict(r.attendee),
            occurrence=r.occurrence,
            offset_seconds=r.offset_seconds,
            due_at=r.due_at,
            attempts=r.attempts,
        )
        for r in rows
    ]


def finish(session: Session, outcomes: Sequence[SendOutcome], *, worker: str) -> int:
    """Record outcomes of ``worker``'s claims; returns how many rows it still held.

    A claim another process has retaken (this one's lease ran out) is not overwritten.
    """
    if not outcomes:
        return 0
    table = cast(Table, OutboxRow.__table__)
    stmt = (
        update(table)
        .where(
            table.c.id == bindparam("b_id"),
            table.c.claimed_by == worker,
            table.c.status == OutboxStatus.SENDING.value,
        )
        .values(
            status=bindparam("b_status"),
            detail=func.coalesce(bindparam("b_detail", type_=table.c.detail.type), table.c.detail),
            finished_at=bindparam("b_finished"),
            not_before=func.coalesce(bindparam("b_retry", type_=table.c.not_before.type), table.c.not_before),
            attempts=table.c.attempts + bindparam("b_attempted"),
            lease_until=None,
            claimed_by=None,
        )
    )
    params = [
        {
            "b_id": o.id,
            "b_status": o.status.value,
            "b_detail": o.detail[:2000] or None,  # a release keeps the last answer
            "b_finished": o.at if o.status.finished else None,
            "b_retry": o.retry_at,
            "b_attempted": 1 if o.attempted else 0,
        }
        for o in outcomes
    ]
    result = session.connection().execute(stmt, params)
    return int(getattr(result, "rowcount", 0) or 0)


def renew(session: Session, ids: Sequence[int], *, worker: str, lease_until: datetime) -> int:
    """Extend ``worker``'s claims on ``ids`` (it is still working on them)."""
    total = 0
    for chunk in _chunks(list(ids), 500):
        result = session.execute(
            update(OutboxRow)
            .where(
                OutboxRow.id.in_(chunk), OutboxRow.claimed_by == worker, OutboxRow.status == OutboxStatus.SENDING.value
            )
            .values(lease_until=utc(lease_until))
            .execution_options(synchronize_session=False)
        )
        total += int(getattr(result, "rowcount", 0) or 0)
    return total


def release(session: Session, *, worker: str, ids: Sequence[int] | None = None) -> int:
    """Give back ``worker``'s claims (all, or ``ids``) untried: pending again, attempts unchanged."""
    stmt = update(OutboxRow).where(OutboxRow.claimed_by == worker, OutboxRow.status == OutboxStatus.SENDING.value)
    values = {"status": OutboxStatus.PENDING.value, "lease_until": None, "claimed_by": None}
    if ids is None:
        result = session.execute(stmt.values(**values).execution_options(synchronize_session=False))
        return int(getattr(result, "rowcount", 0) or 0)
    total = 0
    for chunk in _chunks(list(ids), 500):
        result = session.execute(
            stmt.where(OutboxRow.id.in_(chunk)).values(**values).execution_options(synchronize_session=False)
        )
        total += int(getattr(result, "rowcount", 0) or 0)
    return total


def next_due(session: Session) -> datetime | None:
    """The earliest moment something may become claimable: a pending message or a lapsing lease."""
    pending = session.scalar(
        select(func.min(OutboxRow.not_before)).where(OutboxRow.status == OutboxStatus.PENDING.value)
    )
    leases = session.scalar(
        select(func.min(OutboxRow.lease_until)).where(OutboxRow.status == OutboxStatus.SENDING.value)
    )
    found = [t for t in (pending, leases) if t is not None]
    return min(found) if found else None


def meetings_for(session: Session, uids: Iterable[str]) -> dict[str, StoredMeeting]:
    out: dict[str, StoredMeeting] = {}
    for uid in sorted(set(uids)):
        try:
            stored = get_meeting(session, uid)
        except ROW_ERRORS:  # cannot be read: its messages fail as if it were gone, the others go out
            continue
        if stored is not None:
            out[uid] = stored
    return out
