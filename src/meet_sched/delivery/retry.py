"""The retry and pause policy of delivery: pure decisions, no I/O.

It owns, for one message, whether it is still worth sending (:func:`before_send`) and what a
failed attempt leads to (:func:`after_failure`: failed for good, expired, given up, or tried
again after :func:`backoff`); for the mail server, which SMTP replies mean the message will
never be accepted (:func:`permanent_reply`) and which mean the server is unusable for now
(:func:`pausing_reply`), and how long the dispatcher then pauses (:class:`Pause`); for the
database, how soon a failed pass is tried again (:func:`database_retry`).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from ..model import StoredMeeting, utc
from ..store import outbox
from ..store.outbox import Job, MessageKind, OutboxStatus, SendOutcome

DATABASE_RETRY_BASE = timedelta(seconds=1)  # a pass the database failed is tried again this soon, doubling…
DATABASE_RETRY_MAX = timedelta(seconds=30)  # …up to this (a restarting server is back within seconds)


def permanent_reply(code: int) -> bool:
    """4xx: try again later; 5xx: this message will never be accepted (RFC 5321 section 4.2.1)."""
    return 500 <= code < 600


def pausing_reply(code: int) -> bool:
    """421 at any stage means the server is closing the connection (RFC 5321 section 3.8): the
    message is fine, the server is not, so the dispatcher pauses."""
    return code == 421


def backoff(attempt: int, base: timedelta, cap: timedelta, rng: random.Random) -> timedelta:
    """Exponential, capped, with jitter (half to all of the step), so retries do not arrive in step."""
    step: timedelta = min(cap, base * (2 ** min(attempt - 1, 30)))
    return step * rng.uniform(0.5, 1.0)


def database_retry(failures: int) -> timedelta:
    """How soon a pass is tried again after ``failures`` passes in a row the database failed."""
    step: timedelta = min(DATABASE_RETRY_MAX, DATABASE_RETRY_BASE * 2 ** min(failures - 1, 10))
    return step


def occurrence_ended(stored: StoredMeeting | None, occurrence: datetime | None, now: datetime) -> bool:
    """Whether a message about one occurrence of a series (its RECURRENCE-ID) is about one that is over,
    wherever it was moved to: nobody needs to hear that yesterday's call moved."""
    if stored is None or occurrence is None:
        return False
    m = stored.meeting
    at = occurrence.astimezone(m.timezone)
    override = m.override_of(at)
    instance = m.instance(override) if override is not None else m.plain_instance(at)
    return utc(instance.end) <= utc(now)


def before_send(job: Job, stored: StoredMeeting | None, now: datetime, *, summaries: bool) -> SendOutcome | None:
    """Why ``job`` is not to be sent at all any more (its outcome), or None to send it."""
    if stored is None and not job.kind.self_contained:
        return SendOutcome(job.id, OutboxStatus.FAILED, "not sent: the meeting is no longer in the database", now)
    if job.kind is MessageKind.SUMMARY and not summaries:
        return SendOutcome(job.id, OutboxStatus.SKIPPED, "not sent: [replies] summary is off", now, attempted=False)
    late = job.occurrence is not None and outbox.reminder_too_late(job.occurrence, job.due_at, utc(now))
    if job.kind is MessageKind.REMINDER and job.occurrence is not None and late:
        why = "the meeting had started" if utc(job.due_at) < utc(job.occurrence) else "too late on the day"
        return SendOutcome(job.id, OutboxStatus.EXPIRED, f"not sent: {why}", now, attempted=False)
    if job.kind is not MessageKind.REMINDER and occurrence_ended(stored, job.occurrence, now):
        return SendOutcome(job.id, OutboxStatus.EXPIRED, "not sent: the occurrence had ended", now, attempted=False)
    return None


def after_failure(job: Job, reply: str, *, now: datetime, retry_at: datetime, give_up_after: timedelta) -> SendOutcome:
    """The outcome of an attempt at ``job`` that failed for now, to be tried again at ``retry_at`` if at all.

    A reminder that could only be retried once its meeting started expires; any other message is
    given up ``give_up_after`` its due time.  (A permanent failure fails for good at once.)
    """
    if job.kind is MessageKind.REMINDER and job.occurrence is not None and retry_at >= utc(job.occurrence):
        return SendOutcome(job.id, OutboxStatus.EXPIRED, f"not sent before the meeting started: {reply}", now)
    if job.kind is not MessageKind.REMINDER and retry_at > job.due_at + give_up_after:
        return SendOutcome(job.id, OutboxStatus.FAILED, f"gave up after {job.attempts + 1} attempts: {reply}", now)
    return SendOutcome(job.id, OutboxStatus.PENDING, reply, now, retry_at=retry_at)


@dataclass
class Pause:
    """The dispatcher's pause after failures that mean the server is unusable: each one in a row
    backs off further; a message accepted ends the series."""

    until: datetime | None = None
    failures: int = 0

    def failed(self, now: datetime, base: timedelta, cap: timedelta, rng: random.Random) -> datetime | None:
        """One more failure in a row: pause for its :func:`backoff` from ``now``; the new end of the
        pause when that moved it later, else None (an earlier failure paused for longer)."""
        self.failures += 1
        until = now + backoff(self.failures, base, cap, rng)
        if self.until is None or until > self.until:
            self.until = until
            return until
        return None

    def succeeded(self) -> None:
        """A message was accepted: the next failure starts a new series."""
        self.failures = 0

    def active(self, now: datetime) -> bool:
        return self.until is not None and now < self.until
