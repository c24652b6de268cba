"""The delivery retry policy: backoff, which SMTP replies pause or fail for good, when to give up, expire or pause."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from meet_sched.delivery import retry
from meet_sched.model import Meeting, Person, StoredMeeting
from meet_sched.store.outbox import Job, MessageKind, OutboxStatus

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
SEOUL = ZoneInfo("Asia/Seoul")
BASE = timedelta(minutes=1)
CAP = timedelta(hours=1)
GIVE_UP = timedelta(days=2)


def job(
    kind: MessageKind = MessageKind.REQUEST,
    *,
    attempts: int = 0,
    occurrence: datetime | None = None,
    due: datetime = NOW,
) -> Job:
    return Job(7, "key", kind, "m@test.example", "p@test.example", {}, occurrence, None, due, attempts)


def stored(start: datetime) -> StoredMeeting:
    m = Meeting(
        uid="m@test.example",
        title="Working call",
        start=start,
        end=start + timedelta(hours=1),
        timezone=SEOUL,
        organizer=Person("Office", "office@test.example"),
    )
    return StoredMeeting(m, 0, NOW, NOW, removed=False)


class FixedRandom(random.Random):
    """Draws the same fraction every time: the jitter's two ends."""

    def __init__(self, fraction: float) -> None:
        super().__init__()
        self.fraction = fraction

    def uniform(self, a: float, b: float) -> float:
        return a + (b - a) * self.fraction


@pytest.mark.parametrize(
    ("code", "permanent", "pauses"),
    [
        (250, False, False),
        (421, False, True),
        (450, False, False),
        (452, False, False),
        (550, True, False),
        (554, True, False),
    ],
)
def test_reply_codes_say_what_a_refusal_means(code: int, permanent: bool, pauses: bool) -> None:
    assert retry.permanent_reply(code) is permanent
    assert retry.pausing_reply(code) is pauses


def test_backoff_doubles_up_to_the_cap_with_jitter_between_half_and_all_of_the_step() -> None:
    low, high = FixedRandom(0.0), FixedRandom(1.0)
    assert [retry.backoff(n, BASE, CAP, high) for n in (1, 2, 3, 4)] == [BASE, BASE * 2, BASE * 4, BASE * 8]
    assert retry.backoff(3, BASE, CAP, low) == BASE * 2
    assert retry.backoff(7, BASE, CAP, high) == CAP  # 64 min, capped at 60
    assert retry.backoff(10_000, BASE, CAP, high) == CAP  # no overflow however many attempts
    rng = random.Random(1)
    for _ in range(200):
        assert BASE * 4 <= retry.backoff(5, BASE, CAP, rng) <= BASE * 16


def test_a_failed_database_is_tried_again_after_one_second_doubling_up_to_thirty() -> None:
    waits = [retry.database_retry(n).total_seconds() for n in range(1, 8)]
    assert waits == [1, 2, 4, 8, 16, 30, 30]
    assert retry.database_retry(1_000) == retry.DATABASE_RETRY_MAX


def test_a_failure_for_now_is_retried_at_the_given_moment() -> None:
    at = NOW + timedelta(minutes=5)
    outcome = retry.after_failure(job(), "451 busy", now=NOW, retry_at=at, give_up_after=GIVE_UP)
    assert (outcome.status, outcome.detail, outcome.retry_at, outcome.id) == (OutboxStatus.PENDING, "451 busy", at, 7)


def test_an_invitation_is_given_up_once_a_retry_would_fall_past_give_up_after() -> None:
    at = NOW + GIVE_UP + timedelta(seconds=1)
    outcome = retry.after_failure(job(attempts=4), "451 busy", now=NOW, retry_at=at, give_up_after=GIVE_UP)
    assert (outcome.status, outcome.detail) == (OutboxStatus.FAILED, "gave up after 5 attempts: 451 busy")
    exactly = retry.after_failure(job(), "451 busy", now=NOW, retry_at=NOW + GIVE_UP, give_up_after=GIVE_UP)
    assert exactly.status is OutboxStatus.PENDING


def test_a_reminder_expires_when_its_retry_would_come_once_the_meeting_started() -> None:
    start = NOW + timedelta(minutes=10)
    reminder = job(MessageKind.REMINDER, occurrence=start)
    late = retry.after_failure(reminder, "451 busy", now=NOW, retry_at=start, give_up_after=GIVE_UP)
    assert (late.status, late.detail) == (OutboxStatus.EXPIRED, "not sent before the meeting started: 451 busy")
    early = retry.after_failure(
        reminder, "451 busy", now=NOW, retry_at=start - timedelta(seconds=1), give_up_after=GIVE_UP
    )
    assert early.status is OutboxStatus.PENDING
    # a reminder is never given up by give_up_after: only its meeting's start ends it
    far = retry.after_failure(
        job(MessageKind.REMINDER, occurrence=NOW + GIVE_UP * 3),
        "451",
        now=NOW,
        retry_at=NOW + GIVE_UP * 2,
        give_up_after=GIVE_UP,
    )
    assert far.status is OutboxStatus.PENDING


def test_before_send_refuses_what_is_no_longer_worth_sending() -> None:
    meeting = stored(NOW + timedelta(days=1))
    assert retry.before_send(job(), meeting, NOW, summaries=True) is None
    gone = retry.before_send(job(), None, NOW, summaries=True)
    assert gone is not None and (gone.status, gone.attempted) == (OutboxStatus.FAILED, True)
    off = retry.before_send(job(MessageKind.SUMMARY), None, NOW, summaries=False)
    assert off is not None and (off.status, off.attempted) == (OutboxStatus.SKIPPED, False)
    assert retry.before_send(job(MessageKind.SUMMARY), None, NOW, summaries=True) is None
    started = meeting.meeting.start
    reminder = job(MessageKind.REMINDER, occurrence=started, due=started - timedelta(hours=1))
    assert retry.before_send(reminder, meeting, started - timedelta(seconds=1), summaries=True) is None
    expired = retry.before_send(reminder, meeting, started, summaries=True)
    assert expired is not None and (expired.status, expired.detail, expired.attempted) == (
        OutboxStatus.EXPIRED,
        "not sent: the meeting had started",
        False,
    )


def test_a_message_about_an_occurrence_that_ended_expires() -> None:
    meeting = stored(NOW - timedelta(hours=2))
    start = meeting.meeting.start
    assert retry.occurrence_ended(meeting, start, NOW)
    assert not retry.occurrence_ended(meeting, start, start + timedelta(minutes=59))
    assert not retry.occurrence_ended(meeting, None, NOW)  # about the whole meeting
    assert not retry.occurrence_ended(None, start, NOW)
    update = retry.before_send(job(MessageKind.UPDATE, occurrence=start), meeting, NOW, summaries=True)
    assert update is not None and (update.status, update.detail) == (
        OutboxStatus.EXPIRED,
        "not sent: the occurrence had ended",
    )


def test_the_pause_backs_off_further_with_each_failure_in_a_row_and_a_success_ends_the_series() -> None:
    pause, rng = retry.Pause(), FixedRandom(1.0)
    assert not pause.active(NOW)
    assert pause.failed(NOW, BASE, CAP, rng) == NOW + BASE
    assert pause.active(NOW + BASE - timedelta(seconds=1)) and not pause.active(NOW + BASE)
    assert pause.failed(NOW, BASE, CAP, rng) == NOW + BASE * 2  # the second failure in a row: twice as long
    assert pause.failures == 2
    pause.succeeded()
    assert pause.failures == 0
    # a failure whose pause would end sooner than the one in force does not shorten it
    assert pause.failed(NOW, BASE, CAP, rng) is None
    assert pause.until == NOW + BASE * 2
