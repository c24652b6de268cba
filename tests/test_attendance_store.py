"""The attendance store on SQLite and PostgreSQL: RFC 5546 3.2.3 ranking (an older SEQUENCE or an earlier
DTSTAMP is stale), occurrence answers beside series answers, resets after a change of time, COUNTERs never applied."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from meet_sched.store import attendance
from meet_sched.store.attendance import PartStat, Via
from meet_sched.store.db import Database

UID = "call@test.example"
NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
OCC = datetime(2026, 12, 10, 1, 0, tzinfo=UTC)
OCC2 = datetime(2027, 1, 14, 1, 0, tzinfo=UTC)


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    database = Database(db_url)
    database.upgrade()
    try:
        yield database
    finally:
        database.dispose()


def answer(
    db: Database, who: str, status: PartStat, *, seq: int = 0, stamp: datetime = NOW, **kw: object
) -> attendance.Recorded:
    with db.transaction(write=True) as session:
        return attendance.record(
            session,
            meeting_uid=UID,
            attendee=who,
            partstat=status,
            via=Via.IMIP,
            sequence=seq,
            dtstamp=stamp,
            now=NOW + timedelta(minutes=5),
            **kw,  # type: ignore[arg-type]
        )


def now_in_force(db: Database) -> attendance.Attendance:
    with db.transaction() as session:
        return attendance.current(session, UID)


def test_an_answer_applies_and_is_kept_in_the_history(db: Database) -> None:
    done = answer(db, "Li.Ming@Chengdu.example", PartStat.ACCEPTED)
    assert done.applied and done.changed and not done.answer.stale
    state = now_in_force(db)
    assert state.partstat("li.ming@chengdu.example") is PartStat.ACCEPTED
    assert state.partstat("LI.MING@chengdu.example", OCC) is PartStat.ACCEPTED  # the series answer covers each
    assert state.partstat("nobody@chengdu.example") is PartStat.NEEDS_ACTION
    again = answer(db, "li.ming@chengdu.example", PartStat.ACCEPTED)  # the same reply imported twice
    assert again.applied and not again.changed
    with db.transaction() as session:
        rows = attendance.history(session, UID)
    assert [(a.attendee, a.partstat, a.via, a.stale) for a in rows] == [
        ("li.ming@chengdu.example", PartStat.ACCEPTED, Via.IMIP, False)
    ] * 2


def test_an_older_sequence_is_stale_and_not_applied_over_a_newer_answer(db: Database) -> None:
    answer(db, "a@test.example", PartStat.DECLINED, seq=3, stamp=NOW)
    late = answer(db, "a@test.example", PartStat.ACCEPTED, seq=2, stamp=NOW + timedelta(hours=1))
    assert not late.applied and late.answer.stale and not late.changed
    assert now_in_force(db).partstat("a@test.example") is PartStat.DECLINED
    newer = answer(db, "a@test.example", PartStat.TENTATIVE, seq=4, stamp=NOW - timedelta(days=1))
    assert newer.applied  # a newer SEQUENCE wins whatever its DTSTAMP says
    assert now_in_force(db).partstat("a@test.example") is PartStat.TENTATIVE


def test_of_two_replies_to_the_same_sequence_the_later_dtstamp_wins(db: Database) -> None:
    answer(db, "a@test.example", PartStat.ACCEPTED, seq=1, stamp=NOW + timedelta(hours=2))
    earlier = answer(db, "a@test.example", PartStat.DECLINED, seq=1, stamp=NOW + timedelta(hours=1))
    assert earlier.answer.stale
    assert now_in_force(db).partstat("a@test.example") is PartStat.ACCEPTED
    later = answer(db, "a@test.example", PartStat.DECLINED, seq=1, stamp=NOW + timedelta(hours=3))
    assert later.applied and later.changed
    assert now_in_force(db).partstat("a@test.example") is PartStat.DECLINED


def test_an_occurrence_answer_applies_to_that_occurrence_only(db: Database) -> None:
    answer(db, "a@test.example", PartStat.ACCEPTED, stamp=NOW)
    one = answer(db, "a@test.example", PartStat.DECLINED, stamp=NOW + timedelta(hours=1), occurrence=OCC)
    assert one.applied and one.changed
    state = now_in_force(db)
    assert state.declined("a@test.example", OCC)
    assert state.partstat("a@test.example", OCC2) is PartStat.ACCEPTED
    assert state.partstat("a@test.example") is PartStat.ACCEPTED
    assert state.answered_occurrences() == [OCC]
    # a later answer for the whole series ("all events") outranks the single occurrence's
    answer(db, "a@test.example", PartStat.TENTATIVE, stamp=NOW + timedelta(hours=2))
    assert now_in_force(db).partstat("a@test.example", OCC) is PartStat.TENTATIVE


def test_a_change_of_time_resets_answers_and_late_replies_to_the_old_time_are_stale(db: Database) -> None:
    answer(db, "a@test.example", PartStat.ACCEPTED, seq=0)
    answer(db, "b@test.example", PartStat.DECLINED, seq=0, occurrence=OCC)
    with db.transaction(write=True) as session:
        assert attendance.reset(session, UID, 1, NOW + timedelta(hours=1)) == ["a@test.example", "b@test.example"]
    state = now_in_force(db)
    assert state.partstat("a@test.example") is PartStat.NEEDS_ACTION
    assert state.partstat("b@test.example", OCC) is PartStat.NEEDS_ACTION
    assert state.answer("a@test.example") is not None and state.answer("a@test.example").via is Via.CONFIG  # type: ignore[union-attr]
    late = answer(db, "b@test.example", PartStat.DECLINED, seq=0, stamp=NOW + timedelta(hours=2), occurrence=OCC)
    assert late.answer.stale and not now_in_force(db).declined("b@test.example", OCC)
    fresh = answer(db, "b@test.example", PartStat.ACCEPTED, seq=1, stamp=NOW + timedelta(hours=2), occurrence=OCC)
    assert fresh.applied and now_in_force(db).partstat("b@test.example", OCC) is PartStat.ACCEPTED
    with db.transaction(write=True) as session:  # nobody left with an answer to reset but b's occurrence
        assert attendance.reset(session, UID, 2, NOW + timedelta(hours=3)) == ["b@test.example"]


def test_counter_is_recorded_never_applied_and_delegation_is_kept(db: Database) -> None:
    answer(db, "a@test.example", PartStat.ACCEPTED)
    with db.transaction(write=True) as session:
        attendance.record_counter(
            session,
            meeting_uid=UID,
            attendee="a@test.example",
            sequence=0,
            now=NOW,
            start=OCC + timedelta(hours=2),
            end=OCC + timedelta(hours=3),
            comment="Could we meet two hours later?",
        )
    delegated = answer(
        db, "b@test.example", PartStat.DELEGATED, delegated_to=["Deputy@Test.example"], stamp=NOW + timedelta(hours=1)
    )
    assert delegated.answer.delegated_to == ("deputy@test.example",)
    state = now_in_force(db)
    assert state.partstat("a@test.example") is PartStat.ACCEPTED  # the proposal changed nothing
    assert state.partstat("b@test.example") is PartStat.DELEGATED
    with db.transaction() as session:
        (proposal,) = attendance.counters(session, UID)
        assert attendance.version(session) == delegated.answer.id
    assert proposal.proposal == {"start": "2026-12-10T03:00:00+00:00", "end": "2026-12-10T04:00:00+00:00"}
    assert proposal.comment == "Could we meet two hours later?"


def test_current_all_groups_by_meeting(db: Database) -> None:
    answer(db, "a@test.example", PartStat.ACCEPTED)
    with db.transaction(write=True) as session:
        attendance.record(
            session,
            meeting_uid="other@test.example",
            attendee="a@test.example",
            partstat=PartStat.DECLINED,
            via=Via.LINK,
            sequence=0,
            now=NOW,
        )
    with db.transaction() as session:
        everything = attendance.current_all(session)
        assert attendance.version(session) > 0
    assert everything[UID].partstat("a@test.example") is PartStat.ACCEPTED
    assert everything["other@test.example"].partstat("a@test.example") is PartStat.DECLINED
    assert everything["other@test.example"].series["a@test.example"].via is Via.LINK
