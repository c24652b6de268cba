"""Meetings in the database: the config-vs-rows diff and the queries the rest of the service needs.

Every function takes the session of the caller's transaction: a use case decides
where a transaction starts and ends, these only read and write rows.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from ..model import InstanceVersion, Meeting, MeetingStatus, StoredMeeting
from .tables import MeetingRow


class ChangeKind(enum.StrEnum):
    ADDED = "added"
    UPDATED = "updated"  # content changed: SEQUENCE+1
    REMOVED = "removed"  # its file is gone: kept as cancelled, SEQUENCE+1
    RESTORED = "restored"  # came back after removal: SEQUENCE+1


@dataclass(frozen=True)
class SyncChange:
    kind: ChangeKind
    before: StoredMeeting | None
    after: StoredMeeting


ROW_ERRORS = (KeyError, TypeError, ValueError, OverflowError, AttributeError)  # what a bad row's data raises


@dataclass(frozen=True)
class Unreadable:
    """A stored meeting that cannot be read back (written by an older version, or corrupt): left out."""

    uid: str
    sequence: int
    last_modified: datetime
    reason: str

    @property
    def cache_key(self) -> tuple[str, int, datetime]:
        return (self.uid, self.sequence, self.last_modified)


def describe(exc: BaseException) -> str:
    """A row's problem in one line: our own messages as they are, anything else with its type."""
    text = str(exc) if type(exc) is ValueError or exc.__class__.__module__.startswith("meet_sched") else ""
    return (text or f"{type(exc).__name__}: {exc}").replace("\n", " ")[:300]


def _stored(row: MeetingRow) -> StoredMeeting:
    meeting = Meeting.from_data(row.data, source=row.source)
    return StoredMeeting(
        meeting=meeting,
        sequence=row.sequence,
        created_at=row.created_at,
        last_modified=row.last_modified,
        removed=row.removed,
        instances=instance_versions(row.instances, meeting),
    )


def instance_versions(data: list[Any] | None, meeting: Meeting) -> tuple[InstanceVersion, ...]:
    return tuple(InstanceVersion.from_data(v, meeting.timezone) for v in data or ())


def _next_versions(
    before: StoredMeeting | None, meeting: Meeting, sequence: int, series_changed: bool, now: datetime
) -> list[Any] | None:
    """The instance versions after a sync: an override that is new or changed gets SEQUENCE+1 and
    DTSTAMP ``now``; one removed again (the occurrence is the series' again) is kept, reverted, with
    SEQUENCE+1.  When the series itself changed, its SEQUENCE covers every occurrence it carries."""
    old = {v.occurrence: v for v in (before.instances if before else ())}
    out: list[InstanceVersion] = []
    for o in meeting.overrides:
        digest = o.content_hash()
        prev = old.pop(o.occurrence, None)
        if prev is None:
            out.append(InstanceVersion(o.occurrence, sequence + (0 if series_changed else 1), now, digest))
        elif prev.digest != digest:
            out.append(InstanceVersion(o.occurrence, max(prev.sequence + 1, sequence), now, digest))
        else:
            out.append(InstanceVersion(o.occurrence, max(prev.sequence, sequence), prev.last_modified, digest))
    if not series_changed and before is not None:
        for prev in old.values():  # overrides taken out: the occurrence goes back to the series
            if prev.digest:
                out.append(InstanceVersion(prev.occurrence, prev.sequence + 1, now, ""))
            else:
                out.append(prev)
    return [v.to_data() for v in sorted(out, key=lambda v: v.occurrence)] or None


def _bounds(meeting: Meeting) -> tuple[datetime, datetime | None]:
    from ..model import utc

    last = meeting.last_end()
    return utc(meeting.start), None if last is None else utc(last)


def _fill(row: MeetingRow, meeting: Meeting, digest: str) -> None:
    row.calendar = meeting.calendar
    row.data = meeting.to_data()
    row.content_hash = digest
    row.status = meeting.status.value
    row.source = meeting.source
    row.first_start, row.last_end = _bounds(meeting)


def sync_meetings(session: Session, meetings: Iterable[Meeting], now: datetime) -> list[SyncChange]:
    """Make the rows say what the config says; return what changed.

    Unchanged meetings are not written at all (nor even loaded: the diff reads only each
    row's UID, content hash and state).  A meeting missing from the config stays in the
    database as cancelled, so subscribers see a cancellation.
    """
    wanted = list(meetings)
    state = {
        uid: (digest, removed, source)
        for uid, digest, removed, source in session.execute(
            select(MeetingRow.uid, MeetingRow.content_hash, MeetingRow.removed, MeetingRow.source).order_by(
                MeetingRow.id
            )
        )
    }
    seen = {m.uid for m in wanted}
    touched = [m.uid for m in wanted if m.uid in state and state[m.uid] != (m.content_hash(), False, m.source)]
    touched += [uid for uid, (_, removed, _) in state.items() if uid not in seen and not removed]
    rows = _rows(session, touched)
    changes: list[SyncChange] = []
    for meeting in wanted:
        digest = meeting.content_hash()
        if meeting.uid not in state:
            new = MeetingRow(uid=meeting.uid, sequence=0, removed=False, created_at=now, last_modified=now)
            _fill(new, meeting, digest)
            new.instances = _next_versions(None, meeting, 0, True, now)
            session.add(new)
            changes.append(SyncChange(ChangeKind.ADDED, None, _stored(new)))
            continue
        if meeting.uid not in rows:  # unchanged
            continue
        row = rows[meeting.uid]
        if row.content_hash == digest and not row.removed:
            row.source = meeting.source  # moved within its file: not a change subscribers see
            continue
        before = _readable(row)
        kind = ChangeKind.RESTORED if row.removed else ChangeKind.UPDATED
        # Only single occurrences changed: the series keeps its SEQUENCE, each occurrence has its own.
        series_changed = before is None or row.removed or before.meeting.series_data() != meeting.series_data()
        _fill(row, meeting, digest)
        if series_changed:
            row.sequence += 1
        row.removed = False
        row.last_modified = max(now, row.last_modified)
        row.instances = _next_versions(before, meeting, row.sequence, series_changed, row.last_modified)
        changes.append(SyncChange(kind, before, _stored(row)))
    for uid, row in rows.items():
        if uid in seen:
            continue
        before = _readable(row)
        row.removed = True
        row.sequence += 1
        row.last_modified = max(now, row.last_modified)
        if before is None:  # unreadable: kept as it is, and left out wherever meetings are shown
            continue
        cancelled = Meeting.from_data({**row.data, "status": MeetingStatus.CANCELLED.value}, source=row.source)
        _fill(row, cancelled, cancelled.content_hash())
        changes.append(SyncChange(ChangeKind.REMOVED, before, _stored(row)))
    session.flush()
    return changes


def _readable(row: MeetingRow) -> StoredMeeting | None:
    try:
        return _stored(row)
    except ROW_ERRORS:
        return None


def _rows(session: Session, uids: Sequence[str], chunk: int = 500) -> dict[str, MeetingRow]:
    """Whole rows of ``uids``, in the order given."""
    found: dict[str, MeetingRow] = {}
    for i in range(0, len(uids), chunk):
        part = uids[i : i + chunk]
        found.update((row.uid, row) for row in session.scalars(select(MeetingRow).where(MeetingRow.uid.in_(part))))
    return {uid: found[uid] for uid in uids if uid in found}


def all_meetings(
    session: Session, calendar: str | None = None, unreadable: list[Unreadable] | None = None
) -> list[StoredMeeting]:
    """Every meeting (of one calendar), by first start (read as plain columns: no ORM objects to build).

    With ``unreadable``, a row that cannot be read is added to it and left out; without, it raises.
    """
    query = _columns().order_by(MeetingRow.first_start, MeetingRow.uid)
    if calendar is not None:
        query = query.where(MeetingRow.calendar == calendar)
    return _read(session.execute(query), unreadable)


def read_meetings(session: Session, uids: Sequence[str], unreadable: list[Unreadable]) -> list[StoredMeeting]:
    """The meetings of ``uids`` that exist; those that cannot be read are added to ``unreadable``."""
    out: list[StoredMeeting] = []
    for i in range(0, len(uids), 500):
        query = _columns().where(MeetingRow.uid.in_(uids[i : i + 500]))
        out += _read(session.execute(query), unreadable)
    return out


def _columns() -> Select[Any]:
    """The columns :func:`_read` takes, in its order."""
    return select(
        MeetingRow.uid,
        MeetingRow.data,
        MeetingRow.source,
        MeetingRow.sequence,
        MeetingRow.created_at,
        MeetingRow.last_modified,
        MeetingRow.removed,
        MeetingRow.instances,
    )


def _read(rows: Iterable[Any], unreadable: list[Unreadable] | None) -> list[StoredMeeting]:
    out = []
    for uid, data, source, sequence, created_at, last_modified, removed, instances in rows:
        try:
            meeting = Meeting.from_data(data, source=source)
            versions = instance_versions(instances, meeting)
        except ROW_ERRORS as exc:
            if unreadable is None:
                raise
            unreadable.append(Unreadable(uid, sequence, last_modified, describe(exc)))
            continue
        out.append(StoredMeeting(meeting, sequence, created_at, last_modified, removed, versions))
    return out


def get_meeting(session: Session, uid: str) -> StoredMeeting | None:
    row = session.scalar(select(MeetingRow).where(MeetingRow.uid == uid))
    return None if row is None else _stored(row)


def find_uid(session: Session, key: str) -> Sequence[str]:
    """UIDs matching ``key`` exactly, or as the part before ``@``."""
    exact = session.scalars(select(MeetingRow.uid).where(MeetingRow.uid == key)).all()
    if exact:
        return exact
    return session.scalars(select(MeetingRow.uid).where(MeetingRow.uid.startswith(f"{key}@", autoescape=True))).all()


def calendars(session: Session) -> list[str]:
    return list(session.scalars(select(MeetingRow.calendar).distinct().order_by(MeetingRow.calendar)))
