"""The outbox on SQLite and PostgreSQL: planning reconciles (idempotent, moves, removals), keys are unique by
constraint, and claims hold a lease that concurrent claimers never share and a crashed claimer loses."""

from __future__ import annotations

import dataclasses
import threading
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError

from meet_sched.model import Attendee, Meeting, MeetingStatus, Person, Role
from meet_sched.store.db import Database
from meet_sched.store.meetings import sync_meetings
from meet_sched.store.outbox import (
    MessageKind,
    OutboxStatus,
    PlanPolicy,
    SendOutcome,
    claim,
    counts,
    finish,
    message_key,
    next_due,
    plan_outbox,
    release,
    retire_due,
)
from meet_sched.store.tables import OutboxRow

SEOUL = ZoneInfo("Asia/Seoul")
NOW = datetime(2026, 12, 1, tzinfo=UTC)
POLICY = PlanPolicy(horizon=timedelta(days=60))
LEASE = timedelta(minutes=2)


def meeting(uid: str = "m@test.example", *, attendees: int = 2, start: datetime | None = None, **kw: object) -> Meeting:
    start = start or datetime(2026, 12, 10, 10, 0, tzinfo=SEOUL)
    people = tuple(
        Attendee(f"Person {i}", f"p{i}@test.example", SEOUL, "ko", role=Role.REQUIRED) for i in range(attendees)
    )
    base = Meeting(
        uid=uid,
        title="Working call",
        start=start,
        end=start + timedelta(hours=1),
        timezone=SEOUL,
        organizer=Person("Office", "office@test.example"),
        attendees=people,
        reminders=(timedelta(days=1), timedelta(hours=1)),
    )
    return dataclasses.replace(base, **kw)  # type: ignore[arg-type]


def apply(db: Database, meetings: list[Meeting], now: datetime = NOW, policy: PlanPolicy = POLICY) -> dict[str, int]:
    """One sync as Site.sync does it: meetings and outbox in the same transaction; returns what was planned."""
    with db.transaction(write=True) as session:
        sync_meetings(session, meetings, now)
        report = plan_outbox(session, now, policy, {m.uid: m for m in meetings})
    return dict(report.planned) | ({"dropped": report.dropped} if report.dropped else {})


def keys(db: Database, status: str | None = None) -> set[str]:
    with db.transaction() as session:
        query = select(OutboxRow.key)
        if status:
            query = query.where(OutboxRow.status == status)
        return set(session.scalars(query))


@pytest.fixture
def db(db_url: str) -> Database:
    database = Database(db_url)
    database.upgrade()
    yield database  # type: ignore[misc]
    database.dispose()


def test_planning_is_idempotent_and_keys_are_unique(db: Database) -> None:
    assert apply(db, [meeting()]) == {"request": 2, "reminder": 4}
    assert apply(db, [meeting()]) == {}
    assert apply(db, [meeting()], now=NOW + timedelta(hours=5)) == {}
    with db.transaction(write=True) as session, pytest.raises(IntegrityError):
        row = session.scalars(select(OutboxRow).limit(1)).one()
        values = {c.name: getattr(row, c.name) for c in OutboxRow.__table__.columns if c.name != "id"}
        session.execute(insert(OutboxRow).values(**values))


def test_a_moved_meeting_replans_its_reminders_and_keeps_history(db: Database) -> None:
    apply(db, [meeting()])
    first_start = datetime(2026, 12, 10, 1, 0, tzinfo=UTC)
    sent_key = message_key(
        MessageKind.REMINDER, "m@test.example", "p0@test.example", occurrence=first_start, offset=86400
    )
    # The 1d reminders come due; p0's is sent, the rest stays pending.
    due = first_start - timedelta(days=1)
    with db.transaction(write=True) as session:
        jobs = claim(session, due, worker="w", lease=LEASE, limit=50)
        (mine,) = [j for j in jobs if j.key == sent_key]
        finish(session, [SendOutcome(mine.id, OutboxStatus.SENT, "250 OK", due)], worker="w")
        release(session, worker="w")
    moved = meeting(start=datetime(2026, 12, 11, 10, 0, tzinfo=SEOUL))
    # Two unsent invitations and three unsent reminders are replaced; nobody had an invitation, so no update.
    assert apply(db, [moved], now=due + timedelta(minutes=5)) == {"request": 2, "reminder": 4, "dropped": 5}
    pending = keys(db, "pending")
    assert {k.split("/")[1] for k in pending if k.startswith("reminder/")} == {"20261211T010000Z"}
    assert keys(db, "sent") == {sent_key}  # history stays


def test_removed_attendees_offsets_and_cancelled_meetings_drop_their_reminders(db: Database) -> None:
    apply(db, [meeting(attendees=3)])
    assert len([k for k in keys(db, "pending") if k.startswith("reminder/")]) == 6
    fewer = meeting(attendees=2, reminders=(timedelta(days=1),))
    apply(db, [fewer])
    reminders = sorted(k for k in keys(db, "pending") if k.startswith("reminder/"))
    assert reminders == [
        message_key(MessageKind.REMINDER, "m@test.example", f"p{i}@test.example", occurrence=fewer.start, offset=86400)
        for i in range(2)
    ]
    apply(db, [meeting(attendees=2, status=MeetingStatus.CANCELLED)])
    assert not [k for k in keys(db, "pending") if k.startswith("reminder/")]
    # nothing was sent, so nobody needs a cancellation either
    assert keys(db, "pending") == set()


def test_only_past_meetings_get_nothing(db: Database) -> None:
    past = meeting("old@test.example", start=datetime(2021, 4, 14, 15, 0, tzinfo=SEOUL))
    assert apply(db, [past, meeting()]) == {"request": 2, "reminder": 4}
    with db.transaction() as session:
        uids = set(session.scalars(select(OutboxRow.meeting_uid)))
    assert uids == {"m@test.example"}


def test_a_reminder_already_due_when_planned_is_not_planned(db: Database) -> None:
    # Added 30 minutes before the start: the invitation says it all; no "in 1 day" reminder.
    late = NOW.replace(hour=0) + timedelta(days=9, minutes=30)  # 2026-12-10 00:30 UTC = 09:30 KST
    assert apply(db, [meeting()], now=late) == {"request": 2}


def test_the_horizon_rolls_forward(db: Database) -> None:
    weekly = meeting(recurrence="FREQ=WEEKLY;COUNT=20", reminders=(timedelta(hours=1),), attendees=1)
    short = PlanPolicy(horizon=timedelta(days=14))
    apply(db, [weekly], policy=short)
    assert len([k for k in keys(db) if k.startswith("reminder/")]) == 1  # due Dec 10; Dec 17 is beyond Dec 15
    apply(db, [weekly], now=NOW + timedelta(days=7), policy=short)
    assert len([k for k in keys(db) if k.startswith("reminder/")]) == 2  # and Dec 17


def test_an_rdate_gets_its_reminders_like_the_rules_occurrences(db: Database) -> None:
    extra = datetime(2026, 12, 12, 15, 0, tzinfo=SEOUL)  # a Saturday, outside the weekly rule
    series = meeting(recurrence="FREQ=WEEKLY;COUNT=2", reminders=(timedelta(hours=1),), attendees=1, rdates=(extra,))
    apply(db, [series])
    starts = [datetime(2026, 12, 10, 10, 0, tzinfo=SEOUL), extra, datetime(2026, 12, 17, 10, 0, tzinfo=SEOUL)]
    expected = {
        message_key(MessageKind.REMINDER, series.uid, "p0@test.example", occurrence=s, offset=timedelta(hours=1))
        for s in starts
    }
    assert {k for k in keys(db) if k.startswith("reminder/")} == expected


def test_claims_take_due_rows_once_and_a_lapsed_lease_is_retaken(db: Database) -> None:
    apply(db, [meeting()])
    with db.transaction(write=True) as session:
        jobs = claim(session, NOW, worker="a", lease=LEASE, limit=10)
    assert sorted(j.kind.value for j in jobs) == ["request", "request"]
    with db.transaction(write=True) as session:
        assert claim(session, NOW + timedelta(minutes=1), worker="b", lease=LEASE, limit=10) == []
        assert next_due(session) == NOW + LEASE  # the lease is the next thing that can happen
    # "a" crashed: after its lease, "b" takes the same messages.
    with db.transaction(write=True) as session:
        retaken = claim(session, NOW + LEASE, worker="b", lease=LEASE, limit=10)
    assert sorted(j.id for j in retaken) == sorted(j.id for j in jobs)
    # "a" comes back and reports: its claim is gone, so nothing is overwritten.
    with db.transaction(write=True) as session:
        assert finish(session, [SendOutcome(jobs[0].id, OutboxStatus.SENT, "250", NOW)], worker="a") == 0
        assert finish(session, [SendOutcome(jobs[0].id, OutboxStatus.SENT, "250", NOW)], worker="b") == 1
        assert release(session, worker="b") == 1
        assert counts(session) == {"sent": 1, "pending": 5}


def test_retry_release_and_expiry(db: Database) -> None:
    apply(db, [meeting(attendees=1, reminders=(timedelta(hours=1),))])
    start = datetime(2026, 12, 10, 1, 0, tzinfo=UTC)
    with db.transaction(write=True) as session:
        (invite,) = claim(session, NOW, worker="a", lease=LEASE, limit=10)
        retry_at = NOW + timedelta(minutes=1)
        finish(session, [SendOutcome(invite.id, OutboxStatus.PENDING, "451 later", NOW, retry_at=retry_at)], worker="a")
    with db.transaction(write=True) as session:
        assert claim(session, NOW + timedelta(seconds=59), worker="a", lease=LEASE, limit=10) == []
        (again,) = claim(session, retry_at, worker="a", lease=LEASE, limit=10)
        assert again.id == invite.id and again.attempts == 1
        assert release(session, worker="a", ids=[again.id]) == 1
        row = session.get(OutboxRow, again.id)
        assert row is not None and row.attempts == 1 and row.detail == "451 later" and row.status == "pending"
    with db.transaction(write=True) as session:
        retired = retire_due(session, start)  # the meeting starts: the pending 1h reminder is too late
    assert [(r.kind, r.status.value) for r in retired] == [("reminder", "expired")]


def test_two_concurrent_claimers_never_get_the_same_row(db_url: str, db: Database) -> None:
    people = [meeting(f"m{i}@test.example", attendees=20) for i in range(10)]
    apply(db, people)
    barrier = threading.Barrier(2)
    taken: dict[str, list[int]] = {"a": [], "b": []}
    last: dict[str, int] = {}
    errors: list[BaseException] = []

    def claimer(name: str) -> None:
        """Claim in rounds, both at the same moment each round, until a round where neither gets anything."""
        own = Database(db_url)
        try:
            while True:
                barrier.wait(timeout=30)
                with own.transaction(write=True) as session:
                    jobs = claim(session, NOW, worker=name, lease=LEASE, limit=7)
                taken[name].extend(j.id for j in jobs)
                last[name] = len(jobs)
                barrier.wait(timeout=30)
                if not any(last.values()):
                    return
        except BaseException as exc:
            errors.append(exc)
            barrier.abort()
        finally:
            own.dispose()

    threads = [threading.Thread(target=claimer, args=(n,)) for n in taken]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors
    a, b = set(taken["a"]), set(taken["b"])
    assert len(a) == len(taken["a"]) and len(b) == len(taken["b"])
    assert not a & b
    assert len(a | b) == 200  # every invitation, once
    assert a and b, "both claimers should have had a share"
