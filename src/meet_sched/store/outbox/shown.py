"""What each recipient was shown: the invitation versions kept, compared with a meeting as it is now."""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from ...model import Meeting, utc
from ..meetings import ROW_ERRORS
from ..status import OutboxStatus
from ..tables import InvitationVersion, OutboxRow
from .identity import occurrence_version
from .messages import Job, MessageKind

VERSIONS_KEPT = 256  # invitation versions kept parsed in memory (they never change)
_SHOWN: OrderedDict[str, dict[str, Any]] = OrderedDict()


def _shown(session: Session, version: str) -> dict[str, Any] | None:
    """The meeting data an invitation version announced, or None (sent before versions were kept)."""
    found = _SHOWN.get(version)
    if found is None:
        found = session.scalar(select(InvitationVersion.data).where(InvitationVersion.version == version))
        if found is None:
            return None
        _SHOWN[version] = found
        while len(_SHOWN) > VERSIONS_KEPT:
            _SHOWN.popitem(last=False)
    return found


def _for_recipient(data: Mapping[str, Any], recipient: str) -> str:
    """What an invitation shows one recipient that is theirs to be told of: the meeting without the
    other attendees (adding or removing someone else sends them nothing), and their own entry."""
    mine = [
        {k: v for k, v in a.items() if k != "reminders"}
        for a in data.get("attendees", ())
        if str(a.get("email", "")).lower() == recipient
    ]
    rest = {k: v for k, v in data.items() if k not in ("calendar", "reminders", "attendees")}
    blob = json.dumps([rest, mine], sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()


class _Seen:
    """Compares what recipients of one meeting last received with the meeting as it is now."""

    def __init__(self, session: Session, meeting: Meeting, now: datetime) -> None:
        self.session = session
        self.now = now
        self.meeting = meeting
        self._data: dict[str, Any] | None = None
        self._new: set[str] = set()
        self._instances: dict[str, dict[str, Any]] = {}  # one occurrence's data, as shown or as it is now

    def unchanged(self, received: str | None, version: str, recipient: str) -> bool:
        """True when the version ``recipient`` last received shows them the same as ``version``."""
        if received == version:
            return True
        if received is None:
            return False
        old = _shown(self.session, received)
        if old is None:
            return False
        if self._data is None:
            self._data = self.meeting.to_data()
        return _for_recipient(old, recipient) == _for_recipient(self._data, recipient)

    def holds_occurrence(
        self, recipient: str, series: str | None, alone: str | None, occurrence: datetime, instance: Meeting
    ) -> bool:
        """True when what ``recipient`` holds of one occurrence shows them the same as ``instance``
        (it is now): adding someone to that occurrence, or removing someone else from it,
        sends them nothing.

        What they hold is what their last message about that occurrence alone showed (``alone``, its
        digest), or else that occurrence in the series' invitation they received last (``series``,
        its version).  Unknown (sent before versions were kept): False, and they are told.
        """
        if alone is not None:
            data = _shown(self.session, occurrence_version(self.meeting.uid, occurrence, alone))
        elif series is not None:
            data = self._instance_in(series, occurrence)
        else:
            return False
        if data is None:
            return False
        return _for_recipient(data, recipient) == _for_recipient(self._instance_data(occurrence, instance), recipient)

    def _instance_data(self, occurrence: datetime, instance: Meeting) -> dict[str, Any]:
        key = f"now\n{utc(occurrence).isoformat()}"
        found = self._instances.get(key)
        if found is None:
            found = self._instances[key] = instance.to_data()
        return found

    def _instance_in(self, series: str, occurrence: datetime) -> dict[str, Any] | None:
        """The data of one occurrence as the series' invitation version ``series`` showed it."""
        key = f"{series}\n{utc(occurrence).isoformat()}"
        if key not in self._instances:
            data = _shown(self.session, series)
            try:
                shown = None if data is None else Meeting.from_data(data)
            except ROW_ERRORS:  # an old version this release cannot read: they are told again
                shown = None
            if shown is None:
                return None
            start = occurrence.astimezone(shown.timezone)
            override = shown.override_of(start)
            self._instances[key] = (shown.instance(override) if override else shown.plain_instance(start)).to_data()
        return self._instances[key]

    def announced(self, version: str, shown: Meeting | None = None) -> None:
        """Keep what ``version`` shows, the meeting or ``shown`` (one occurrence of it), once per version
        (another process may have kept it)."""
        if version in self._new:
            return
        self._new.add(version)
        remember_version(self.session, version, self.meeting if shown is None else shown, self.now)


def remember_version(session: Session, version: str, meeting: Meeting, now: datetime) -> None:
    """Store what an invitation version shows, unless it is stored already."""
    from sqlalchemy.dialects import postgresql, sqlite

    dialect = session.get_bind().dialect.name
    table = cast(Table, InvitationVersion.__table__)
    if dialect == "postgresql":
        stmt: Any = postgresql.insert(table).on_conflict_do_nothing(index_elements=["version"])
    elif dialect == "sqlite":
        stmt = sqlite.insert(table).on_conflict_do_nothing(index_elements=["version"])
    else:  # pragma: no cover - only SQLite and PostgreSQL are supported
        raise RuntimeError(f"unsupported database {dialect}")
    session.execute(stmt.values(version=version, data=meeting.to_data(), created_at=utc(now)))


def previously_shown(session: Session, jobs: Sequence[Job]) -> dict[int, Meeting]:
    """For each update among ``jobs`` (by id): the meeting as its recipient last received it, when known.

    For an update of one occurrence: that occurrence as a meeting of its own, as the recipient's last
    message about it showed it, the series' invitation or one about that occurrence alone.
    """
    updates = [j for j in jobs if j.kind is MessageKind.UPDATE]
    out: dict[int, Meeting] = {}
    for uid in sorted({j.meeting_uid for j in updates}):
        sent: dict[str, list[tuple[int, str | None, datetime | None]]] = {}
        for row in session.execute(
            select(OutboxRow.id, OutboxRow.recipient, OutboxRow.version, OutboxRow.occurrence)
            .where(
                OutboxRow.meeting_uid == uid,
                OutboxRow.kind.in_((MessageKind.REQUEST.value, MessageKind.UPDATE.value)),
                OutboxRow.status == OutboxStatus.SENT.value,
            )
            .order_by(OutboxRow.id)
        ):
            occurrence = None if row.occurrence is None else utc(row.occurrence)
            sent.setdefault(row.recipient, []).append((row.id, row.version, occurrence))
        for job in (j for j in updates if j.meeting_uid == uid):
            one = None if job.occurrence is None else utc(job.occurrence)
            earlier = [
                (version, occurrence)
                for id_, version, occurrence in sent.get(job.recipient, [])
                if id_ < job.id and version is not None and occurrence in (None, one) and (version or occurrence)
            ]
            if not earlier:
                continue
            version, occurrence = earlier[-1]
            key = version if occurrence is None else occurrence_version(uid, occurrence, version)
            data = _shown(session, key)
            if data is None:
                continue
            try:
                shown = Meeting.from_data(data)
            except ROW_ERRORS:  # an old version this release cannot read: the update says less
                continue
            if one is not None and occurrence is None:  # the series' invitation: that occurrence in it
                start = one.astimezone(shown.timezone)
                override = shown.override_of(start)
                shown = shown.instance(override) if override is not None else shown.plain_instance(start)
            out[job.id] = shown
    return out
