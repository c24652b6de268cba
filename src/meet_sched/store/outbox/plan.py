"""Planning: make the pending rows say what the stored meetings call for (invitations, updates,
cancellations of a series or of one occurrence, and reminders; see the package's docstring)."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import and_, delete, or_, select, update
from sqlalchemy.orm import Session

from ...model import Meeting, StoredMeeting, utc
from .. import attendance
from ..meetings import ROW_ERRORS, Unreadable, describe, instance_versions
from ..status import OutboxStatus
from ..tables import MeetingRow, OutboxRow
from .identity import attendee_data, invitation_version, message_key, occurrence_version
from .messages import INVITATION_KINDS, Mail, MessageKind, PlanPolicy, PlanReport
from .reminders import ALL_DAY_LOOKBACK, _plan_reminders
from .rows import (
    _MAIL_COLUMNS,
    NewRow,
    Planned,
    _chunks,
    _Existing,
    _existing,
    _last,
    _new_row,
    _previous_attendee,
    _rows,
    insert_new,
)
from .shown import _Seen

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
    inserts: list[NewRow] = []
    drop: list[int] = []

    invitation_rows: dict[str, list[_Existing]] = {}
    if policy.invitations:
        for row in _rows(session, uids, OutboxRow.kind.in_(INVITATION_KINDS)):
            invitation_rows.setdefault(row.meeting_uid, []).append(_existing(row))
    else:  # turned off: nothing pending of this kind goes out
        drop.extend(
            session.scalars(
                select(OutboxRow.id).where(
                    OutboxRow.kind.in_(INVITATION_KINDS), OutboxRow.status == OutboxStatus.PENDING.value
                )
            )
        )
    reminder_rows: dict[str, list[_Existing]] = {}
    for row in _rows(session, uids, and_(OutboxRow.kind == MessageKind.REMINDER.value, OutboxRow.occurrence > now)):
        reminder_rows.setdefault(row.meeting_uid, []).append(_existing(row))
    # An all-day occurrence's reminders on its day (in a zone behind the meeting's) come after its start.
    all_day = [s.uid for s in live if s.meeting.all_day]
    lookback = and_(
        OutboxRow.kind == MessageKind.REMINDER.value,
        OutboxRow.occurrence <= now,
        OutboxRow.occurrence > now - ALL_DAY_LOOKBACK,
    )
    for row in _rows(session, all_day, lookback) if all_day else ():
        reminder_rows.setdefault(row.meeting_uid, []).append(_existing(row))

    for stored in live:
        planned = Planned()
        try:
            if policy.invitations:
                _plan_invitations(
                    session, stored, invitation_rows.get(stored.uid, []), now, planned, policy.update_quiet
                )
            _plan_reminders(stored, reminder_rows.get(stored.uid, []), now, policy, planned, answers.get(stored.uid))
        except Exception as exc:  # one meeting that cannot be expanded must not stop the others' email
            if troubled is None:
                raise
            unreadable.append(Unreadable(stored.uid, stored.sequence, stored.last_modified, describe(exc)))
            continue
        inserts += planned.inserts
        drop += planned.drop
    for found in unreadable:
        assert troubled is not None
        troubled(found)

    if drop:
        for chunk in _chunks(sorted(set(drop)), 500):
            gone_rows = session.execute(
                delete(OutboxRow)
                .where(OutboxRow.id.in_(chunk), OutboxRow.status == OutboxStatus.PENDING.value)
                .returning(*_MAIL_COLUMNS)
            )
            report.removed += [Mail.of(row) for row in gone_rows]
        report.dropped = len(report.removed)
    if inserts:
        report.added += insert_new(session, inserts)
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


@dataclass
class _MeetingPlan:
    """One meeting's invitations being planned: what the series' step hands the occurrences' step."""

    session: Session
    stored: StoredMeeting
    now: datetime
    quiet: timedelta  # a change to what someone holds waits this long for the edits to settle
    seen: _Seen
    out: Planned
    series_rows: dict[str, list[_Existing]] = field(default_factory=dict)  # about the whole series, by recipient
    whole: set[str] = field(default_factory=set)  # recipients the series' own REQUEST is about to reach

    @property
    def active(self) -> bool:
        """Neither removed from config nor cancelled."""
        return not (self.stored.removed or self.stored.meeting.cancelled)


def _plan_invitations(
    session: Session,
    stored: StoredMeeting,
    rows: list[_Existing],
    now: datetime,
    out: Planned,
    quiet: timedelta = timedelta(0),
) -> None:
    m = stored.meeting
    plan = _MeetingPlan(session, stored, now, quiet, _Seen(session, m, now), out)
    active, seen, inserts, drop = plan.active, plan.seen, out.inserts, out.drop
    invited = {a.email.lower(): a for a in m.attendees}
    by_recipient = plan.series_rows
    single: list[_Existing] = []  # messages about one occurrence
    for row in sorted(rows, key=lambda r: r.id):
        if row.occurrence is None:
            by_recipient.setdefault(row.recipient, []).append(row)
        else:
            single.append(row)
    version = _version(stored)
    whole = plan.whole
    for recipient in sorted(set(invited) | set(by_recipient)):
        history = by_recipient.get(recipient, [])
        target: tuple[MessageKind, str] | None = None
        received = _last(history, (OutboxStatus.SENT, OutboxStatus.SENDING))
        holds_it = received is not None and MessageKind(received.kind).itip_request  # their calendar shows it
        if active and recipient in invited:
            last = _last(history, (OutboxStatus.SENT, OutboxStatus.SENDING, OutboxStatus.FAILED))
            if not (last and MessageKind(last.kind).itip_request and seen.unchanged(last.version, version, recipient)):
                kind = MessageKind.UPDATE if holds_it else MessageKind.REQUEST
                target = (kind, message_key(kind, m.uid, recipient, sequence=stored.sequence))
        elif holds_it:
            target = (MessageKind.CANCEL, message_key(MessageKind.CANCEL, m.uid, recipient, sequence=stored.sequence))
        for row in history:
            if row.status == OutboxStatus.PENDING and (target is None or row.key != target[1]):
                drop.append(row.id)
        if target is not None and target[0].itip_request:
            whole.add(recipient)
        if target is None or any(row.key == target[1] for row in history):
            continue
        kind, key = target
        who = invited.get(recipient)
        # A change to what someone already holds waits for the edits to settle; a first invitation
        # and the cancellation of a whole meeting go at once.
        waits = kind is MessageKind.UPDATE or (kind is MessageKind.CANCEL and active)
        inserts.append(
            _new_row(
                key,
                kind,
                stored,
                recipient,
                attendee_data(who) if who else _previous_attendee(session, stored, recipient, history),
                due=_settled(now, quiet, _soonest(m, now, quiet)) if waits else now,
                now=now,
                version=version if kind.itip_request else None,
            )
        )
        if kind.itip_request:
            seen.announced(version)
    _plan_occurrences(plan, single)


def _plan_occurrences(plan: _MeetingPlan, rows: list[_Existing]) -> None:
    """Updates and cancellations of single occurrences, to people who hold the series.

    Someone holds an occurrence as the series' REQUEST they received last carried it (sent after
    the occurrence last changed), or as the last message about that occurrence alone said.  Whoever
    does not hold it as it is now gets one message: a REQUEST of that occurrence alone (RFC 5546
    section 3.2.2), or a CANCEL of it (section 3.2.5) when it is cancelled or they are no longer
    invited to it.  Someone invited to that occurrence only gets a REQUEST of it.  Past occurrences
    are left alone, and nothing goes out while the series' own invitation is still to be sent.

    A change of the occurrence's attendees alone reaches only the people it concerns: the one added
    (an invitation), the one removed (a cancellation); the others hold it as it still is for them.
    Like updates of a series, a change to what someone holds waits ``quiet`` for the edits to settle.
    """
    session, stored, seen, now, quiet = plan.session, plan.stored, plan.seen, plan.now, plan.quiet
    series_rows, whole, inserts = plan.series_rows, plan.whole, plan.out.inserts
    m = stored.meeting
    mine: dict[tuple[str, datetime], list[_Existing]] = {}
    for row in rows:
        assert row.occurrence is not None
        mine.setdefault((row.recipient, row.occurrence), []).append(row)
    wanted: set[str] = set()
    series_people = {a.email.lower(): a for a in m.attendees}
    for version in stored.instances if plan.active else ():
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
            full = _last(history, (OutboxStatus.SENT, OutboxStatus.SENDING))
            holds_series = full is not None and MessageKind(full.kind).itip_request
            last = _last(
                mine.get((recipient, utc(occurrence)), []),
                (OutboxStatus.SENT, OutboxStatus.SENDING, OutboxStatus.FAILED),
            )
            held = _last(mine.get((recipient, utc(occurrence)), []), (OutboxStatus.SENT, OutboxStatus.SENDING))
            if held is not None and not MessageKind(held.kind).itip_request:
                held = None  # their last message about it was a CANCEL: they do not hold it
            if holds_series and full is not None:
                series_newer = last is None or last.id < full.id
                if series_newer and (
                    full.status == OutboxStatus.SENDING or (full.finished_at or now) >= utc(version.last_modified)
                ):
                    continue  # the series' REQUEST carried this occurrence as it is
                kind = MessageKind.UPDATE if recipient in people else MessageKind.CANCEL
                if kind is MessageKind.UPDATE and (series_newer or held is not None):
                    alone = None if held is None or held.id < full.id else held.version
                    if seen.holds_occurrence(
                        recipient, full.version if alone is None else None, alone, occurrence, instance
                    ):
                        continue  # what changed is not theirs to be told (someone else added or removed)
            elif recipient in people and recipient not in series_people:
                kind = MessageKind.REQUEST  # invited to this occurrence alone
                if held is not None:  # and holds it: an update of it, if it changed for them
                    if seen.holds_occurrence(recipient, None, held.version, occurrence, instance):
                        continue
                    kind = MessageKind.UPDATE
            elif recipient not in series_people and last is not None and MessageKind(last.kind).itip_request:
                kind = MessageKind.CANCEL  # was invited to this occurrence alone, and is no longer
            else:
                continue  # the series' own invitation (pending) carries it
            if (
                last is not None
                and MessageKind(last.kind) is kind
                and (kind is MessageKind.CANCEL or last.version == version.digest)
            ):
                continue  # holds it as it is (a cancelled occurrence stays cancelled, whatever else it says)
            if kind is MessageKind.CANCEL and last is None and recipient not in series_people:
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
                    due=now if kind is MessageKind.REQUEST else _settled(now, quiet, (occurrence, instance.start)),
                    now=now,
                    version=version.digest,
                    occurrence=utc(occurrence),
                    sequence=version.sequence,
                )
            )
            if kind.itip_request:  # an update of it says what changed since
                seen.announced(occurrence_version(m.uid, occurrence, version.digest), instance)
    plan.out.drop.extend(row.id for row in rows if row.status == OutboxStatus.PENDING and row.key not in wanted)


def _settled(now: datetime, quiet: timedelta, starts: Iterable[datetime]) -> datetime:
    """When a change waits for the edits to settle: ``quiet`` from now, but never so long that it
    reaches people less than ``quiet`` before a start it is about (a call in a minute is told at once)."""
    due = now + quiet
    for start in starts:
        due = min(due, utc(start) - quiet)
    return max(now, due)


def _soonest(m: Meeting, now: datetime, quiet: timedelta) -> list[datetime]:
    """The series' next start, if it is near enough for :func:`_settled` to care."""
    if not quiet:
        return []
    return [start for start in m.occurrences(now, now + 2 * quiet)][:1]


def assume_sent(session: Session, now: datetime) -> int:
    """Mark every pending message due by ``now`` as sent: a throw-away database then stands for a
    site whose mail went out (what a review compares against).  Returns how many."""
    result = session.execute(
        update(OutboxRow)
        .where(OutboxRow.status == OutboxStatus.PENDING.value, OutboxRow.due_at <= utc(now))
        .values(status=OutboxStatus.SENT.value, finished_at=utc(now))
    )
    return int(getattr(result, "rowcount", 0) or 0)
