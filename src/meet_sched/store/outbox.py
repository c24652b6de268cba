"""The outbox: which emails to send, claimed with a lease, and what became of each.

Planning is a reconciliation, not a reaction to events: from the meetings as they are now
and the rows already there (sent ones are history), it works out which messages should
exist and adds or drops *pending* rows to match.  So it can run after every sync and on
a timer (the reminder horizon rolls forward), and a repeated run changes nothing.

* **Invitations** (iMIP): each current attendee of an active meeting should have received
  a REQUEST announcing the meeting as it is now (``version``, a hash of what an invitation
  shows); someone whose last received message was a REQUEST, and who is no longer invited
  (or the meeting is cancelled or removed), should receive a CANCEL.
* **Reminders**: one per occurrence × attendee × offset, due at ``start - offset``, planned
  when the due time enters the horizon.  A reminder already due when it would be planned
  (a meeting added or moved at short notice) is not planned: the invitation or update
  goes out at that moment anyway.

Every function takes the caller's session; a use case decides where a transaction ends.
"""

from __future__ import annotations

import enum
import hashlib
import json
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any, cast

from sqlalchemy import Row, Table, and_, bindparam, delete, func, or_, select, update
from sqlalchemy.orm import Session, aliased

from ..localtimes import all_day_reminder
from ..model import Attendee, Meeting, Role, StoredMeeting, utc
from . import attendance
from .meetings import ROW_ERRORS, Unreadable, describe, get_meeting, instance_versions
from .status import Status as Status  # what a message's row says; kept here for its users
from .tables import InvitationVersion, MeetingRow, OutboxRow


class Kind(enum.StrEnum):
    REQUEST = "request"  # iTIP REQUEST: the first invitation this recipient gets
    UPDATE = "update"  # iTIP REQUEST to someone who received an earlier version
    CANCEL = "cancel"  # iTIP CANCEL
    REMINDER = "reminder"
    REJECTED = "config-rejected"  # to the site's contact: the running service refused a config change
    FIXED = "config-fixed"  # to the same: the config is accepted again
    SUMMARY = "answer-summary"  # to an organizer: who answered what (see store/summaries.py)

    @property
    def notice(self) -> bool:
        """A message about the site itself, not about a meeting (see store/notices.py)."""
        return self in (Kind.REJECTED, Kind.FIXED)

    @property
    def self_contained(self) -> bool:
        """Rendered from its row alone (a notice, an organizer's summary): no meeting needs reading."""
        return self.notice or self is Kind.SUMMARY

    @property
    def itip_request(self) -> bool:
        return self in (Kind.REQUEST, Kind.UPDATE)


INVITATION_KINDS = (Kind.REQUEST.value, Kind.UPDATE.value, Kind.CANCEL.value)


@dataclass(frozen=True)
class PlanPolicy:
    horizon: timedelta  # reminders are planned this far ahead of their due time
    invitations: bool = True
    all_day_at: time = time(9, 0)  # local time, in each attendee's zone, of all-day meetings' reminders
    update_quiet: timedelta = timedelta(0)  # updates and uninvitations wait this long for the next edit


@dataclass(frozen=True, order=True)
class Mail:
    """One email the plan adds or drops: enough for a person to see what it is."""

    meeting_uid: str
    kind: str
    recipient: str
    occurrence: datetime | None  # reminders: the occurrence (UTC) they are for
    due_at: datetime
    sequence: int

    @classmethod
    def of(cls, row: Any) -> Mail:
        occurrence = None if row.occurrence is None else utc(row.occurrence)
        return cls(row.meeting_uid, row.kind, row.recipient, occurrence, utc(row.due_at), row.sequence)


@dataclass
class PlanReport:
    planned: Counter[str] = field(default_factory=Counter)  # by kind
    dropped: int = 0  # pending messages no longer wanted
    added: list[Mail] = field(default_factory=list)  # the rows behind ``planned``
    removed: list[Mail] = field(default_factory=list)  # the rows behind ``dropped``

    def summary(self) -> str:
        if not self.planned and not self.dropped:
            return "outbox: nothing new"
        names = {"request": "invitation", "update": "update", "cancel": "cancellation", "reminder": "reminder"}
        parts = [
            f"{self.planned[kind]} {name}{'s' if self.planned[kind] != 1 else ''}"
            for kind, name in names.items()
            if self.planned[kind]
        ]
        text = f"outbox: planned {', '.join(parts)}" if parts else "outbox: planned nothing"
        return text + (f"; dropped {self.dropped} no longer wanted" if self.dropped else "")


# -- identity ------------------------------------------------------------------


def message_key(
    kind: Kind | str,
    uid: str,
    recipient: str,
    *,
    sequence: int | None = None,
    occurrence: datetime | None = None,
    offset: timedelta | int | None = None,
) -> str:
    """The identity of one message; the unique constraint on it makes a duplicate impossible.

    ``reminder/<occurrence UTC>/<offset>s/<recipient>/<uid>``, or ``<kind>/<SEQUENCE>/<recipient>/<uid>``
    for invitations (request, update, cancel), ``…/<uid>/<occurrence UTC>`` for one occurrence of a series.
    """
    recipient = recipient.lower()
    if kind == Kind.REMINDER:
        if occurrence is None or offset is None:
            raise ValueError("a reminder key needs its occurrence and offset")
        seconds = int(offset.total_seconds()) if isinstance(offset, timedelta) else int(offset)
        return f"reminder/{utc(occurrence):%Y%m%dT%H%M%SZ}/{seconds}s/{recipient}/{uid}"
    if sequence is None:
        raise ValueError("an invitation key needs the SEQUENCE it announces")
    key = f"{Kind(kind).value}/{sequence}/{recipient}/{uid}"
    return key if occurrence is None else f"{key}/{utc(occurrence):%Y%m%dT%H%M%SZ}"  # one occurrence of a series


def message_id(key: str, domain: str) -> str:
    """``<…@domain>``: the same for every attempt at the same message (RFC 5322 section 3.6.4)."""
    digest = hashlib.sha256(key.encode()).hexdigest()[:32]
    kind = key.split("/", 1)[0]
    return f"<{kind}.{digest}@{domain}>"


def invitation_version(meeting: Meeting) -> str:
    """Changes exactly when what an invitation shows changes (not for reminders or the feed name)."""
    data = meeting.series_data()  # a changed occurrence is announced on its own (RFC 5546 section 3.2.2)
    for key in ("calendar", "reminders"):
        data.pop(key, None)
    data["attendees"] = [{k: v for k, v in a.items() if k != "reminders"} for a in data["attendees"]]
    blob = json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()


def occurrence_version(uid: str, occurrence: datetime, digest: str) -> str:
    """Under which what a message about one occurrence showed (that occurrence alone) is kept: one
    per meeting, occurrence and the digest of its override (``OutboxRow.version`` of such messages)."""
    return hashlib.sha256(f"{uid}\n{utc(occurrence).isoformat()}\n{digest}".encode()).hexdigest()


def attendee_data(a: Attendee) -> dict[str, Any]:
    return {"name": a.name, "email": a.email, "timezone": a.timezone.key, "language": a.language, "city": a.city}


# -- planning --------------------------------------------------------------------


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


Troubled = Callable[[Unreadable], None]


def plan_outbox(
    session: Session,
    now: datetime,
    policy: PlanPolicy,
    current: Mapping[str, Meeting] | None = None,
    troubled: Troubled | None = None,
    only: Sequence[str] | None = None,
) -> PlanReport:
    """Make the pending rows say what the stored meetings call for at ``now``; return what changed.

    Reminders follow the attendees' answers: none for an occurrence (or a series) an attendee
    declined.  ``only``: plan just these meetings (their answers changed; nothing else did).

    ``current``: the meetings just synced from config, by UID (spares parsing their rows again).
    ``troubled``: told of each meeting that cannot be read or planned; its rows are left as they are
    and the others are planned (without it, such a meeting raises).
    """
    now = utc(now)
    report = PlanReport()
    unreadable: list[Unreadable] = []
    live = _live_meetings(session, now, current or {}, unreadable if troubled else None, only)
    uids = [s.uid for s in live]
    answers = attendance.current_all(session, uids if only is not None else None)
    inserts: list[dict[str, Any]] = []
    drop: list[int] = []

    invitation_rows: dict[str, list[_Existing]] = {}
    if policy.invitations:
        for row in _rows(session, uids, OutboxRow.kind.in_(INVITATION_KINDS)):
            invitation_rows.setdefault(row.meeting_uid, []).append(_existing(row))
    else:  # turned off: nothing pending of this kind goes out
        drop.extend(
            session.scalars(
                select(OutboxRow.id).where(
                    OutboxRow.kind.in_(INVITATION_KINDS), OutboxRow.status == Status.PENDING.value
                )
            )
        )
    reminder_rows: dict[str, list[_Existing]] = {}
    for row in _rows(session, uids, and_(OutboxRow.kind == Kind.REMINDER.value, OutboxRow.occurrence > now)):
        reminder_rows.setdefault(row.meeting_uid, []).append(_existing(row))
    # An all-day occurrence's reminders on its day (in a zone behind the meeting's) come after its start.
    all_day = [s.uid for s in live if s.meeting.all_day]
    lookback = and_(
        OutboxRow.kind == Kind.REMINDER.value,
        OutboxRow.occurrence <= now,
        OutboxRow.occurrence > now - ALL_DAY_LOOKBACK,
    )
    for row in _rows(session, all_day, lookback) if all_day else ():
        reminder_rows.setdefault(row.meeting_uid, []).append(_existing(row))

    for stored in live:
        mine: list[dict[str, Any]] = []
        gone: list[int] = []
        try:
            if policy.invitations:
                _plan_invitations(
                    session, stored, invitation_rows.get(stored.uid, []), now, mine, gone, policy.update_quiet
                )
            _plan_reminders(stored, reminder_rows.get(stored.uid, []), now, policy, mine, gone, answers.get(stored.uid))
        except Exception as exc:  # one meeting that cannot be expanded must not stop the others' email
            if troubled is None:
                raise
            unreadable.append(Unreadable(stored.uid, stored.sequence, stored.last_modified, describe(exc)))
            continue
        inserts += mine
        drop += gone
    for found in unreadable:
        assert troubled is not None
        troubled(found)

    if drop:
        for chunk in _chunks(sorted(set(drop)), 500):
            gone_rows = session.execute(
                delete(OutboxRow)
                .where(OutboxRow.id.in_(chunk), OutboxRow.status == Status.PENDING.value)
                .returning(*_MAIL_COLUMNS)
            )
            report.removed += [Mail.of(row) for row in gone_rows]
        report.dropped = len(report.removed)
    if inserts:
        report.added += _insert_new(session, inserts)
        report.planned.update(mail.kind for mail in report.added)
    report.added.sort()
    report.removed.sort()
    return report


def _live_meetings(
    session: Session,
    now: datetime,
    current: Mapping[str, Meeting],
    unreadable: list[Unreadable] | None,
    only: Sequence[str] | None = None,
) -> list[StoredMeeting]:
    """Stored meetings not over yet (last end from the row, not from expanding the series); rows that
    cannot be read go to ``unreadable`` (without it, they raise)."""
    query = select(
        MeetingRow.uid,
        MeetingRow.sequence,
        MeetingRow.created_at,
        MeetingRow.last_modified,
        MeetingRow.removed,
        MeetingRow.instances,
    ).where(or_(MeetingRow.last_end.is_(None), MeetingRow.last_end > now))
    if only is not None:
        query = query.where(MeetingRow.uid.in_(list(only)))
    rows = session.execute(query).all()
    parse = [r.uid for r in rows if r.removed or r.uid not in current]
    parsed: dict[str, Meeting] = {}
    bad: dict[str, str] = {}
    for chunk in _chunks(parse, 500):
        for uid, data, source in session.execute(
            select(MeetingRow.uid, MeetingRow.data, MeetingRow.source).where(MeetingRow.uid.in_(chunk))
        ):
            try:
                parsed[uid] = Meeting.from_data(data, source=source)
            except ROW_ERRORS as exc:
                if unreadable is None:
                    raise
                bad[uid] = describe(exc)
    if unreadable is not None:
        unreadable += [Unreadable(r.uid, r.sequence, r.last_modified, bad[r.uid]) for r in rows if r.uid in bad]
    out = []
    for r in rows:
        if r.uid in bad:
            continue
        meeting = parsed[r.uid] if r.uid in parsed else current[r.uid]
        try:
            versions = instance_versions(r.instances, meeting)
        except ROW_ERRORS as exc:
            if unreadable is None:
                raise
            unreadable.append(Unreadable(r.uid, r.sequence, r.last_modified, describe(exc)))
            continue
        out.append(StoredMeeting(meeting, r.sequence, r.created_at, r.last_modified, r.removed, versions))
    return out


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


_VERSIONS: OrderedDict[tuple[object, ...], str] = OrderedDict()


def _version(stored: StoredMeeting) -> str:
    """invitation_version, remembered per meeting version (a long-running service re-plans often)."""
    key = (*stored.cache_key, stored.meeting)  # the meeting too: a rolled-back sync may reuse a SEQUENCE
    found = _VERSIONS.get(key)
    if found is None:
        found = _VERSIONS[key] = invitation_version(stored.meeting)
        while len(_VERSIONS) > 4096:
            _VERSIONS.popitem(last=False)
    return found


def _plan_invitations(
    session: Session,
    stored: StoredMeeting,
    rows: list[_Existing],
    now: datetime,
    inserts: list[dict[str, Any]],
    drop: list[int],
    quiet: timedelta = timedelta(0),
) -> None:
    m = stored.meeting
    active = not (stored.removed or m.cancelled)
    seen = _Seen(session, m, now)
    invited = {a.email.lower(): a for a in m.attendees}
    by_recipient: dict[str, list[_Existing]] = {}
    single: list[_Existing] = []  # messages about one occurrence
    for row in sorted(rows, key=lambda r: r.id):
        if row.occurrence is None:
            by_recipient.setdefault(row.recipient, []).append(row)
        else:
            single.append(row)
    version = _version(stored)
    whole: set[str] = set()  # recipients the series' own REQUEST is about to reach
    for recipient in sorted(set(invited) | set(by_recipient)):
        history = by_recipient.get(recipient, [])
        target: tuple[Kind, str] | None = None
        received = _last(history, (Status.SENT, Status.SENDING))
        holds_it = received is not None and Kind(received.kind).itip_request  # their calendar shows it
        if active and recipient in invited:
            last = _last(history, (Status.SENT, Status.SENDING, Status.FAILED))
            if not (last and Kind(last.kind).itip_request and seen.unchanged(last.version, version, recipient)):
                kind = Kind.UPDATE if holds_it else Kind.REQUEST
                target = (kind, message_key(kind, m.uid, recipient, sequence=stored.sequence))
        elif holds_it:
            target = (Kind.CANCEL, message_key(Kind.CANCEL, m.uid, recipient, sequence=stored.sequence))
        for row in history:
            if row.status == Status.PENDING and (target is None or row.key != target[1]):
                drop.append(row.id)
        if target is not None and target[0].itip_request:
            whole.add(recipient)
        if target is None or any(row.key == target[1] for row in history):
            continue
        kind, key = target
        who = invited.get(recipient)
        # A change to what someone already holds waits for the edits to settle; a first invitation
        # and the cancellation of a whole meeting go at once.
        waits = kind is Kind.UPDATE or (kind is Kind.CANCEL and active)
        inserts.append(
            _new_row(
                key,
                kind,
                stored,
                recipient,
                attendee_data(who) if who else _previous_attendee(session, stored, recipient, history),
                due=now + quiet if waits else now,
                now=now,
                version=version if kind.itip_request else None,
            )
        )
        if kind.itip_request:
            seen.announced(version)
    _plan_occurrences(session, stored, seen, by_recipient, whole, single, now, inserts, drop, active)


def _plan_occurrences(
    session: Session,
    stored: StoredMeeting,
    seen: _Seen,
    series_rows: dict[str, list[_Existing]],
    whole: set[str],
    rows: list[_Existing],
    now: datetime,
    inserts: list[dict[str, Any]],
    drop: list[int],
    active: bool,
) -> None:
    """Updates and cancellations of single occurrences, to people who hold the series.

    Someone holds an occurrence as the series' REQUEST they received last carried it (sent after
    the occurrence last changed), or as the last message about that occurrence alone said.  Whoever
    does not hold it as it is now gets one message: a REQUEST of that occurrence alone (RFC 5546
    section 3.2.2), or a CANCEL of it (section 3.2.5) when it is cancelled or they are no longer
    invited to it.  Someone invited to that occurrence only gets a REQUEST of it.  Past occurrences
    are left alone, and nothing goes out while the series' own invitation is still to be sent.
    """
    m = stored.meeting
    mine: dict[tuple[str, datetime], list[_Existing]] = {}
    for row in rows:
        assert row.occurrence is not None
        mine.setdefault((row.recipient, row.occurrence), []).append(row)
    wanted: set[str] = set()
    series_people = {a.email.lower(): a for a in m.attendees}
    for version in stored.instances if active else ():
        occurrence = version.occurrence
        override = m.override_of(occurrence)
        instance = m.instance(override) if override else m.plain_instance(occurrence)
        if utc(instance.end) <= now:
            continue
        people = {} if instance.cancelled else {a.email.lower(): a for a in instance.attendees}
        told = {r for (r, at) in mine if at == utc(occurrence)}  # had a message about this occurrence alone
        for recipient in sorted(set(series_people) | set(people) | told):
            if recipient in whole:
                continue  # the series' REQUEST, still to be sent, carries the occurrence as it is then
            history = series_rows.get(recipient, [])
            full = _last(history, (Status.SENT, Status.SENDING))
            holds_series = full is not None and Kind(full.kind).itip_request
            last = _last(mine.get((recipient, utc(occurrence)), []), (Status.SENT, Status.SENDING, Status.FAILED))
            if holds_series and full is not None:
                if (last is None or last.id < full.id) and (
                    full.status == Status.SENDING or (full.finished_at or now) >= utc(version.last_modified)
                ):
                    continue  # the series' REQUEST carried this occurrence as it is
                kind = Kind.UPDATE if recipient in people else Kind.CANCEL
            elif recipient in people and recipient not in series_people:
                kind = Kind.REQUEST  # invited to this occurrence alone
            elif recipient not in series_people and last is not None and Kind(last.kind).itip_request:
                kind = Kind.CANCEL  # was invited to this occurrence alone, and is no longer
            else:
                continue  # the series' own invitation (pending) carries it
            if last is not None and Kind(last.kind) is kind and (kind is Kind.CANCEL or last.version == version.digest):
                continue  # holds it as it is (a cancelled occurrence stays cancelled, whatever else it says)
            if kind is Kind.CANCEL and last is None and recipient not in series_people:
                continue
            key = message_key(kind, m.uid, recipient, sequence=version.sequence, occurrence=occurrence)
            wanted.add(key)
            if any(row.key == key for row in mine.get((recipient, utc(occurrence)), [])):
                continue
            who = people.get(recipient) or series_people.get(recipient)
            told_before = mine.get((recipient, utc(occurrence)), [])
            inserts.append(
                _new_row(
                    key,
                    kind,
                    stored,
                    recipient,
                    attendee_data(who) if who else _previous_attendee(session, stored, recipient, told_before),
                    due=now,
                    now=now,
                    version=version.digest,
                    occurrence=utc(occurrence),
                    sequence=version.sequence,
                )
            )
            if kind.itip_request:  # an update of it says what changed since
                seen.announced(occurrence_version(m.uid, occurrence, version.digest), instance)
    drop.extend(row.id for row in rows if row.status == Status.PENDING and row.key not in wanted)


# -- what each recipient was shown ---------------------------------------------------------

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
    updates = [j for j in jobs if j.kind is Kind.UPDATE]
    out: dict[int, Meeting] = {}
    for uid in sorted({j.meeting_uid for j in updates}):
        sent: dict[str, list[tuple[int, str | None, datetime | None]]] = {}
        for row in session.execute(
            select(OutboxRow.id, OutboxRow.recipient, OutboxRow.version, OutboxRow.occurrence)
            .where(
                OutboxRow.meeting_uid == uid,
                OutboxRow.kind.in_((Kind.REQUEST.value, Kind.UPDATE.value)),
                OutboxRow.status == Status.SENT.value,
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


def _last(history: list[_Existing], statuses: tuple[Status, ...]) -> _Existing | None:
    wanted = {s.value for s in statuses}
    return next((row for row in reversed(history) if row.status in wanted), None)


# How long after an all-day occurrence's start (midnight in the meeting's zone) a reminder of it may
# still be due: the day itself at all_day_at in a zone up to a day behind.
ALL_DAY_LOOKBACK = timedelta(days=2)
# A reminder due after its occurrence's start (an all-day meeting's, on the day) not sent within this
# time is expired: nobody wants "today" in the evening.
ALL_DAY_REMINDER_GRACE = timedelta(hours=6)


def reminder_too_late(occurrence: datetime, due: datetime, now: datetime) -> bool:
    """Whether a reminder may no longer go out: its meeting has started, or (one due on the day of an
    all-day meeting, after its date began in the meeting's zone) it is ALL_DAY_REMINDER_GRACE late."""
    occurrence, due = utc(occurrence), utc(due)
    return now >= occurrence if due < occurrence else now >= due + ALL_DAY_REMINDER_GRACE


def _plan_reminders(
    stored: StoredMeeting,
    rows: list[_Existing],
    now: datetime,
    policy: PlanPolicy,
    inserts: list[dict[str, Any]],
    drop: list[int],
    answers: attendance.Attendance | None = None,
) -> None:
    """Reminders of the occurrences ahead: ``offset`` before the start, or for an all-day meeting at
    ``policy.all_day_at`` in each attendee's own zone, ``offset`` counted in whole days before the date."""
    m = stored.meeting
    horizon = policy.horizon
    wanted: dict[str, tuple[datetime, Attendee, timedelta, datetime]] = {}
    if not (stored.removed or m.cancelled):
        everyone = [*m.attendees, *(a for o in m.overrides for a in (o.attendees or ()))]
        offsets = {a.email.lower(): m.reminders_for(a) for a in everyone}
        longest = max((o for offs in offsets.values() for o in offs), default=timedelta(0))
        back = ALL_DAY_LOOKBACK if m.all_day else timedelta(0)
        for start in m.occurrences(now - back, now + horizon + longest + back):
            if utc(start) <= now and not m.all_day:
                continue
            # a moved occurrence is reminded of at its new time (and to its own attendees)
            people = [a for a in m.at(start).attendees if a.role is not Role.NON_PARTICIPANT]
            for a in people:
                if answers is not None and answers.declined(a.email, utc(start)):
                    continue  # they said they will not come: no reminder for it
                for offset in offsets[a.email.lower()]:
                    if m.all_day:  # by whole days: 1d and 1d2h are the same reminder, on the same day
                        offset = timedelta(days=offset.days)
                        due = all_day_reminder(start.date(), offset, policy.all_day_at, a.timezone)
                    else:
                        due = utc(start) - offset
                    key = message_key(Kind.REMINDER, m.uid, a.email, occurrence=start, offset=offset)
                    wanted[key] = (start, a, offset, due)
    existing = {row.key for row in rows}
    for row in rows:
        if row.status == Status.PENDING and row.key not in wanted:
            drop.append(row.id)
    for key, (start, a, offset, due) in wanted.items():
        if m.all_day and due >= utc(start) + ALL_DAY_LOOKBACK:
            continue
        if key in existing or due < now or due > now + horizon:
            continue
        inserts.append(
            _new_row(
                key,
                Kind.REMINDER,
                stored,
                a.email.lower(),
                attendee_data(a),
                due=due,
                now=now,
                occurrence=utc(start),
                offset=offset,
            )
        )


def _new_row(
    key: str,
    kind: Kind,
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
) -> dict[str, Any]:
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
        "status": Status.PENDING.value,
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


def _insert_new(session: Session, rows: list[dict[str, Any]]) -> list[Mail]:
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


def assume_sent(session: Session, now: datetime) -> int:
    """Mark every pending message due by ``now`` as sent: a throw-away database then stands for a
    site whose mail went out (what a review compares against).  Returns how many."""
    result = session.execute(
        update(OutboxRow)
        .where(OutboxRow.status == Status.PENDING.value, OutboxRow.due_at <= utc(now))
        .values(status=Status.SENT.value, finished_at=utc(now))
    )
    return int(getattr(result, "rowcount", 0) or 0)


def _chunks(items: Sequence[Any], size: int) -> Iterable[Sequence[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


# -- dispatching -------------------------------------------------------------------


@dataclass(frozen=True)
class Job:
    """A claimed message: what the dispatcher needs to render and send it."""

    id: int
    key: str
    kind: Kind
    meeting_uid: str
    recipient: str
    attendee: dict[str, Any]
    occurrence: datetime | None
    offset_seconds: int | None
    due_at: datetime
    attempts: int  # attempts before this one

    @property
    def offset(self) -> timedelta | None:
        return None if self.offset_seconds is None else timedelta(seconds=self.offset_seconds)


@dataclass(frozen=True)
class Outcome:
    """What became of one attempt at a claimed message."""

    id: int
    status: Status  # SENT, FAILED, EXPIRED, SKIPPED, or PENDING for a retry
    detail: str
    at: datetime  # when it happened
    retry_at: datetime | None = None  # PENDING: the next attempt
    attempted: bool = True  # counts as an attempt (a released claim does not)


@dataclass(frozen=True)
class Finished:
    """A message finished by a bulk rule (expired, skipped), for the log."""

    key: str
    kind: str
    recipient: str
    status: Status
    detail: str


def _due(now: datetime) -> Any:
    return or_(
        and_(OutboxRow.status == Status.PENDING.value, OutboxRow.not_before <= now),
        and_(OutboxRow.status == Status.SENDING.value, OutboxRow.lease_until <= now),
    )


def _claimable() -> Any:
    return OutboxRow.status.in_((Status.PENDING.value, Status.SENDING.value))


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
        OutboxRow.status == Status.PENDING.value,
        and_(OutboxRow.status == Status.SENDING.value, OutboxRow.lease_until <= now),
    )
    done: list[Finished] = []
    returning = (OutboxRow.key, OutboxRow.kind, OutboxRow.recipient, OutboxRow.detail)

    def retire(status: Status, detail: str, *where: Any) -> tuple[Any, Status]:
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
            later.kind == Kind.REMINDER.value,
            later.occurrence == OutboxRow.occurrence,
            later.recipient == OutboxRow.recipient,
            later.offset_seconds < OutboxRow.offset_seconds,
            later.due_at <= now,
            later.status.in_((Status.PENDING.value, Status.SENDING.value, Status.SENT.value)),
        )
        .exists()
    )
    statements = (
        retire(
            Status.EXPIRED,
            "not sent: the meeting had started",
            OutboxRow.kind == Kind.REMINDER.value,
            OutboxRow.occurrence <= now,
            OutboxRow.due_at < OutboxRow.occurrence,
        ),
        retire(  # on the day of an all-day meeting: due after the date began in the meeting's zone
            Status.EXPIRED,
            "not sent: too late on the day",
            OutboxRow.kind == Kind.REMINDER.value,
            OutboxRow.due_at >= OutboxRow.occurrence,
            OutboxRow.due_at <= now - ALL_DAY_REMINDER_GRACE,
        ),
        retire(
            Status.EXPIRED,
            "not sent: the meeting had ended",
            OutboxRow.kind.in_(INVITATION_KINDS),
            OutboxRow.meeting_uid.in_(ended_uids),
        ),
        retire(
            Status.SKIPPED,
            "not sent: a later reminder of the same meeting was due too",
            OutboxRow.kind == Kind.REMINDER.value,
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
        .values(status=Status.SENDING.value, claimed_by=worker, lease_until=now + lease)
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
            kind=Kind(r.kind),
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


def finish(session: Session, outcomes: Sequence[Outcome], *, worker: str) -> int:
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
            table.c.status == Status.SENDING.value,
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
            .where(OutboxRow.id.in_(chunk), OutboxRow.claimed_by == worker, OutboxRow.status == Status.SENDING.value)
            .values(lease_until=utc(lease_until))
            .execution_options(synchronize_session=False)
        )
        total += int(getattr(result, "rowcount", 0) or 0)
    return total


def release(session: Session, *, worker: str, ids: Sequence[int] | None = None) -> int:
    """Give back ``worker``'s claims (all, or ``ids``) untried: pending again, attempts unchanged."""
    stmt = update(OutboxRow).where(OutboxRow.claimed_by == worker, OutboxRow.status == Status.SENDING.value)
    values = {"status": Status.PENDING.value, "lease_until": None, "claimed_by": None}
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
    pending = session.scalar(select(func.min(OutboxRow.not_before)).where(OutboxRow.status == Status.PENDING.value))
    leases = session.scalar(select(func.min(OutboxRow.lease_until)).where(OutboxRow.status == Status.SENDING.value))
    found = [t for t in (pending, leases) if t is not None]
    return min(found) if found else None


def counts(session: Session) -> dict[str, int]:
    rows = session.execute(select(OutboxRow.status, func.count()).group_by(OutboxRow.status))
    return {status: int(n) for status, n in rows}


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


# -- reading ------------------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
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


def entries(session: Session, status: Status | None = None, limit: int = 50) -> list[Entry]:
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
    open_statuses = [s.value for s in Status if not s.finished]
    done_statuses = [s.value for s in Status if s.finished]
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
    return [Entry(*row) for row in rows]
