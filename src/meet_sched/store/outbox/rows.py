"""Outbox rows as planning reads and writes them: the rows already there, new rows, inserting them."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypedDict, cast

from sqlalchemy import Row, Table, select
from sqlalchemy.orm import Session

from ...model import StoredMeeting, utc
from ..status import OutboxStatus
from ..tables import OutboxRow
from .messages import Mail, MessageKind


@dataclass(frozen=True)
class _Existing:
    id: int
    key: str
    kind: str
    recipient: str
    status: str
    version: str | None
    occurrence: datetime | None = None  # invitations: set for one occurrence of a series
    finished_at: datetime | None = None


class NewRow(TypedDict):
    """A row planning adds to the outbox: the :class:`OutboxRow` columns it sets."""

    key: str
    kind: str  # a Kind's value
    meeting_uid: str
    recipient: str
    attendee: dict[str, Any]  # as planned: name, email, timezone, language, city (a notice's or summary's data)
    sequence: int
    version: str | None
    occurrence: datetime | None
    offset_seconds: int | None
    due_at: datetime
    not_before: datetime
    status: str  # a Status's value: pending
    attempts: int
    created_at: datetime


@dataclass
class Planned:
    """What planning one meeting decides: rows to add, and pending rows to drop (by id)."""

    inserts: list[NewRow] = field(default_factory=list)
    drop: list[int] = field(default_factory=list)


def _rows(session: Session, uids: Sequence[str], where: Any) -> Iterable[Any]:
    columns = [
        OutboxRow.id,
        OutboxRow.key,
        OutboxRow.kind,
        OutboxRow.meeting_uid,
        OutboxRow.recipient,
        OutboxRow.status,
        OutboxRow.version,
        OutboxRow.occurrence,
        OutboxRow.finished_at,
    ]
    for chunk in _chunks(list(uids), 500):
        yield from session.execute(select(*columns).where(where, OutboxRow.meeting_uid.in_(chunk)))


def _existing(row: Row[Any]) -> _Existing:
    occurrence = None if row.occurrence is None else utc(row.occurrence)
    finished = None if row.finished_at is None else utc(row.finished_at)
    return _Existing(row.id, row.key, row.kind, row.recipient, row.status, row.version, occurrence, finished)


def _previous_attendee(
    session: Session, stored: StoredMeeting, recipient: str, history: list[_Existing]
) -> dict[str, Any]:
    """Someone no longer invited: as they were when last invited (their language and zone)."""
    ids = [row.id for row in history]
    if ids:
        latest = session.scalar(select(OutboxRow.attendee).where(OutboxRow.id == max(ids)))
        if latest:
            return dict(latest)
    return {"name": "", "email": recipient, "timezone": stored.meeting.timezone.key, "language": "en", "city": None}


def _last(history: list[_Existing], statuses: tuple[OutboxStatus, ...]) -> _Existing | None:
    wanted = {s.value for s in statuses}
    return next((row for row in reversed(history) if row.status in wanted), None)


def _new_row(
    key: str,
    kind: MessageKind,
    stored: StoredMeeting,
    recipient: str,
    attendee: dict[str, Any],
    *,
    due: datetime,
    now: datetime,
    version: str | None = None,
    occurrence: datetime | None = None,
    offset: timedelta | None = None,
    sequence: int | None = None,
) -> NewRow:
    return {
        "key": key,
        "kind": kind.value,
        "meeting_uid": stored.uid,
        "recipient": recipient,
        "attendee": attendee,
        "sequence": stored.sequence if sequence is None else sequence,
        "version": version,
        "occurrence": occurrence,
        "offset_seconds": None if offset is None else int(offset.total_seconds()),
        "due_at": due,
        "not_before": due,
        "status": OutboxStatus.PENDING.value,
        "attempts": 0,
        "created_at": now,
    }


_MAIL_COLUMNS = (
    OutboxRow.meeting_uid,
    OutboxRow.kind,
    OutboxRow.recipient,
    OutboxRow.occurrence,
    OutboxRow.due_at,
    OutboxRow.sequence,
)


def insert_new(session: Session, rows: Sequence[NewRow]) -> list[Mail]:
    """Insert, skipping keys another process planned meanwhile (ON CONFLICT DO NOTHING)."""
    dialect = session.get_bind().dialect.name
    table = cast(Table, OutboxRow.__table__)
    added: list[Mail] = []
    for chunk in _chunks(rows, 1000):
        from sqlalchemy.dialects import postgresql, sqlite  # the one in use is loaded already

        if dialect == "postgresql":
            stmt: Any = postgresql.insert(table).on_conflict_do_nothing(index_elements=["key"])
        elif dialect == "sqlite":
            stmt = sqlite.insert(table).on_conflict_do_nothing(index_elements=["key"])
        else:  # pragma: no cover - only SQLite and PostgreSQL are supported
            raise RuntimeError(f"unsupported database {dialect}")
        columns = [table.c[c.key] for c in _MAIL_COLUMNS]
        inserted = session.execute(stmt.returning(*columns), chunk)
        added += [Mail.of(row) for row in inserted]
    return added


def _chunks(items: Sequence[Any], size: int) -> Iterable[Sequence[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]
