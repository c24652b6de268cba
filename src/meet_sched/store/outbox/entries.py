"""Reading the outbox for people: its rows, soonest first, and counts by status."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..status import OutboxStatus
from ..tables import OutboxRow


@dataclass(frozen=True)
class OutboxEntry:
    """One outbox row, for people."""

    key: str
    kind: str
    meeting_uid: str
    recipient: str
    occurrence: datetime | None
    offset_seconds: int | None
    due_at: datetime
    not_before: datetime
    status: str
    attempts: int
    detail: str | None
    finished_at: datetime | None


def entries(session: Session, status: OutboxStatus | None = None, limit: int = 50) -> list[OutboxEntry]:
    """Unfinished messages soonest first, then finished ones most recent first (or one status)."""
    columns = (
        OutboxRow.key,
        OutboxRow.kind,
        OutboxRow.meeting_uid,
        OutboxRow.recipient,
        OutboxRow.occurrence,
        OutboxRow.offset_seconds,
        OutboxRow.due_at,
        OutboxRow.not_before,
        OutboxRow.status,
        OutboxRow.attempts,
        OutboxRow.detail,
        OutboxRow.finished_at,
    )
    open_statuses = [s.value for s in OutboxStatus if not s.finished]
    done_statuses = [s.value for s in OutboxStatus if s.finished]
    if status is not None:
        open_statuses = [status.value] if not status.finished else []
        done_statuses = [status.value] if status.finished else []
    rows: list[Any] = []
    if open_statuses:
        rows += session.execute(
            select(*columns)
            .where(OutboxRow.status.in_(open_statuses))
            .order_by(OutboxRow.not_before, OutboxRow.id)
            .limit(limit)
        ).all()
    if done_statuses and len(rows) < limit:
        rows += session.execute(
            select(*columns)
            .where(OutboxRow.status.in_(done_statuses))
            .order_by(OutboxRow.finished_at.desc(), OutboxRow.id.desc())
            .limit(limit - len(rows))
        ).all()
    return [OutboxEntry(*row) for row in rows]


def counts(session: Session) -> dict[str, int]:
    rows = session.execute(select(OutboxRow.status, func.count()).group_by(OutboxRow.status))
    return {status: int(n) for status, n in rows}
