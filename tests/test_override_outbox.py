"""Overrides in the outbox on SQLite and PostgreSQL: one message per attendee about that occurrence only (RFC 5546
3.2.2, 3.2.5), the series' SEQUENCE kept, each occurrence's own SEQUENCE, reminders moved with it."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from meet_sched.model import Attendee, Meeting, Override, Person, Role
from meet_sched.store.db import Database
from meet_sched.store.meetings import get_meeting, sync_meetings
from meet_sched.store.outbox import MessageKind, PlanPolicy, assume_sent, message_key, plan_outbox
from meet_sched.store.tables import OutboxRow

SEOUL = ZoneInfo("Asia/Seoul")
NOW = datetime(2026, 12, 1, tzinfo=UTC)
POLICY = PlanPolicy(horizon=timedelta(days=60))
FIRST = datetime(2026, 12, 10, 10, 0, tzinfo=SEOUL)
SECOND = FIRST + timedelta(days=7)
PEOPLE = ("p0@test.example", "p1@test.example")


def series(*overrides: Override, title: str = "Working call") -> Meeting:
    return Meeting(
        uid="m@test.example",
        title=title,
        start=FIRST,
        end=FIRST + timedelta(hours=1),
        timezone=SEOUL,
        organizer=Person("Office", "office@test.example"),
        recurrence="FREQ=WEEKLY;COUNT=4",
        attendees=tuple(Attendee(f"P{i}", e, SEOUL, "ko", role=Role.REQUIRED) for i, e in enumerate(PEOPLE)),
        reminders=(timedelta(hours=1),),
        overrides=overrides,
    )


def moved(occurrence: datetime = SECOND, to: datetime = SECOND + timedelta(days=1, hours=5)) -> Override:
    return Override(occurrence, to, to + timedelta(hours=1), description="Moved")


def apply(db: Database, meeting: Meeting, now: datetime) -> list[tuple[str, str, datetime | None, int]]:
    """One sync and plan; the messages planned, as (kind, recipient, occurrence, SEQUENCE); then all sent."""
    with db.transaction(write=True) as session:
        sync_meetings(session, [meeting], now)
        report = plan_outbox(session, now, POLICY, {meeting.uid: meeting})
        assume_sent(session, now)
    return sorted((m.kind, m.recipient, m.occurrence, m.sequence) for m in report.added if m.kind != "reminder")


def pending_reminders(db: Database) -> set[str]:
    with db.transaction() as session:
        query = select(OutboxRow.key).where(OutboxRow.kind == "reminder", OutboxRow.status == "pending")
        return set(session.scalars(query))


@pytest.fixture
def db(db_url: str) -> Database:
    database = Database(db_url)
    database.upgrade()
    yield database  # type: ignore[misc]
    database.dispose()


def test_a_moved_occurrence_sends_one_update_of_it_alone_and_moves_its_reminders(db: Database) -> None:
    assert [k for k, *_ in apply(db, series(), NOW)] == ["request", "request"]
    before = pending_reminders(db)
    old = {
        message_key(MessageKind.REMINDER, "m@test.example", p, occurrence=SECOND, offset=timedelta(hours=1))
        for p in PEOPLE
    }
    assert old <= before

    later = NOW + timedelta(hours=1)
    planned = apply(db, series(moved()), later)
    assert planned == [("update", p, SECOND.astimezone(UTC), 1) for p in PEOPLE]  # the occurrence's own SEQUENCE
    with db.transaction() as session:
        stored = get_meeting(session, "m@test.example")
    assert stored is not None and stored.sequence == 0  # the series itself did not change
    version = stored.instance_version(SECOND)
    assert (version.sequence, version.last_modified) == (1, later)

    new_start = SECOND + timedelta(days=1, hours=5)
    new = {
        message_key(MessageKind.REMINDER, "m@test.example", p, occurrence=new_start, offset=timedelta(hours=1))
        for p in PEOPLE
    }
    after = pending_reminders(db)
    assert new <= after and not (old & after)
    assert after - new == before - old  # the other occurrences' reminders are untouched

    assert apply(db, series(moved()), later + timedelta(minutes=5)) == []  # planning again changes nothing


def test_a_cancelled_occurrence_sends_one_cancel_and_loses_its_reminders(db: Database) -> None:
    apply(db, series(), NOW)
    off = Override(SECOND, SECOND, SECOND + timedelta(hours=1), cancelled=True)
    planned = apply(db, series(off), NOW + timedelta(hours=1))
    assert planned == [("cancel", p, SECOND.astimezone(UTC), 1) for p in PEOPLE]
    assert not any("20261217T010000Z" in key for key in pending_reminders(db))
    # Changing what a cancelled occurrence says sends no second cancellation.
    assert apply(db, series(dataclasses.replace(off, title="Off")), NOW + timedelta(hours=2)) == []
    # Taking the override out gives the occurrence back: one REQUEST of it, a higher SEQUENCE.
    assert apply(db, series(), NOW + timedelta(hours=3)) == [("update", p, SECOND.astimezone(UTC), 3) for p in PEOPLE]


def test_a_new_series_with_overrides_gets_one_invitation_carrying_them(db: Database) -> None:
    assert apply(db, series(moved()), NOW) == [("request", p, None, 0) for p in PEOPLE]


def test_a_change_of_the_series_is_one_update_of_the_whole_series(db: Database) -> None:
    apply(db, series(), NOW)
    later = NOW + timedelta(hours=1)
    planned = apply(db, series(moved(), title="Renamed"), later)
    assert planned == [("update", p, None, 1) for p in PEOPLE]  # it carries the override: nothing else is sent
    assert apply(db, series(moved(), title="Renamed"), later + timedelta(minutes=1)) == []


GUEST = "guest@test.example"


def with_guest() -> Override:
    """The second occurrence with one more attendee, invited to it alone."""
    people = (*series().attendees, Attendee("Guest", GUEST, SEOUL, "en", role=Role.REQUIRED))
    return Override(SECOND, SECOND, SECOND + timedelta(hours=1), attendees=people)


@pytest.mark.parametrize("removal", ["from the override", "with the override"])
def test_someone_invited_to_one_occurrence_gets_a_cancel_of_it_when_no_longer_invited(
    db: Database, removal: str
) -> None:
    apply(db, series(), NOW)
    planned = apply(db, series(with_guest()), NOW + timedelta(hours=1))
    assert ("request", GUEST, SECOND.astimezone(UTC), 1) in planned
    # The guest leaves the occurrence's list (it keeps another change), or the override goes altogether.
    again = (
        series(dataclasses.replace(with_guest(), attendees=series().attendees, description="Agenda"))
        if removal.startswith("from")
        else series()
    )
    planned = apply(db, again, NOW + timedelta(hours=2))
    assert ("cancel", GUEST, SECOND.astimezone(UTC), 2) in planned, planned
    assert apply(db, again, NOW + timedelta(hours=3)) == []  # one cancellation, not one per sync


def test_adding_someone_to_one_occurrence_invites_them_alone(db: Database) -> None:
    apply(db, series(), NOW)
    planned = apply(db, series(with_guest()), NOW + timedelta(hours=1))
    assert planned == [("request", GUEST, SECOND.astimezone(UTC), 1)]  # the others hold it is for them
    # A real change of that occurrence afterwards reaches all three.
    changed = dataclasses.replace(with_guest(), description="Agenda attached")
    planned = apply(db, series(changed), NOW + timedelta(hours=2))
    assert planned == sorted(
        [("update", p, SECOND.astimezone(UTC), 2) for p in PEOPLE] + [("update", GUEST, SECOND.astimezone(UTC), 2)]
    )


def test_removing_someone_from_one_occurrence_tells_them_alone(db: Database) -> None:
    apply(db, series(), NOW)
    only_p0 = Override(SECOND, SECOND, SECOND + timedelta(hours=1), attendees=series().attendees[:1])
    planned = apply(db, series(only_p0), NOW + timedelta(hours=1))
    assert planned == [("cancel", PEOPLE[1], SECOND.astimezone(UTC), 1)]
    # Back on the list: an update of it to them alone.
    assert apply(db, series(), NOW + timedelta(hours=2)) == [("update", PEOPLE[1], SECOND.astimezone(UTC), 2)]


def test_edits_of_one_occurrence_wait_the_quiet_period_and_coalesce(db: Database) -> None:
    quiet = PlanPolicy(horizon=timedelta(days=60), update_quiet=timedelta(minutes=2))
    apply(db, series(), NOW)

    def plan(meeting: Meeting, now: datetime) -> list[tuple[str, str, int, datetime]]:
        with db.transaction(write=True) as session:
            sync_meetings(session, [meeting], now)
            plan_outbox(session, now, quiet, {meeting.uid: meeting})
            rows = session.execute(
                select(OutboxRow.kind, OutboxRow.recipient, OutboxRow.sequence, OutboxRow.due_at).where(
                    OutboxRow.status == "pending", OutboxRow.kind != "reminder"
                )
            )
            return sorted((r.kind, r.recipient, r.sequence, r.due_at.replace(tzinfo=UTC)) for r in rows)

    first = NOW + timedelta(hours=1)
    assert plan(series(moved()), first) == [("update", p, 1, first + timedelta(minutes=2)) for p in PEOPLE]
    second = first + timedelta(seconds=4)
    again = moved(to=SECOND + timedelta(days=1, hours=6))
    pending = plan(series(with_guest_of(again)), second)  # moved again, and a guest invited to it
    assert pending == sorted(
        [("update", p, 2, second + timedelta(minutes=2)) for p in PEOPLE] + [("request", GUEST, 2, second)]
    ), pending  # one update each, of the final state; a first invitation at once


def with_guest_of(override: Override) -> Override:
    people = (*series().attendees, Attendee("Guest", GUEST, SEOUL, "en", role=Role.REQUIRED))
    return dataclasses.replace(override, attendees=people)


def test_an_update_never_waits_past_the_time_it_is_about(db: Database) -> None:
    """A move of an occurrence that starts soon, or to a time soon, goes at once, not after the quiet period."""
    quiet = PlanPolicy(horizon=timedelta(days=60), update_quiet=timedelta(minutes=2))
    apply(db, series(), NOW)
    now = SECOND.astimezone(UTC) - timedelta(days=2)
    soon = now + timedelta(minutes=1)
    meeting = series(moved(to=soon.astimezone(SEOUL)))
    with db.transaction(write=True) as session:
        sync_meetings(session, [meeting], now)
        plan_outbox(session, now, quiet, {meeting.uid: meeting})
        due = session.scalars(select(OutboxRow.due_at).where(OutboxRow.kind == "update")).all()
    assert [d.replace(tzinfo=UTC) for d in due] == [now, now]


def test_an_update_of_a_series_starting_soon_goes_at_once(db: Database) -> None:
    quiet = PlanPolicy(horizon=timedelta(days=60), update_quiet=timedelta(minutes=2))
    apply(db, series(), NOW)
    for now, expected in (
        (FIRST - timedelta(minutes=3), FIRST - timedelta(minutes=2)),
        (FIRST - timedelta(minutes=1), None),
    ):
        meeting = series(title=f"Renamed at {now:%H:%M}")
        with db.transaction(write=True) as session:
            sync_meetings(session, [meeting], now)
            plan_outbox(session, now, quiet, {meeting.uid: meeting})
            query = select(OutboxRow.due_at).where(OutboxRow.kind == "update", OutboxRow.status == "pending")
            due = {d.replace(tzinfo=UTC) for d in session.scalars(query)}
        assert due == {(expected or now).astimezone(UTC)}, now  # the quiet period, cut short by the start
