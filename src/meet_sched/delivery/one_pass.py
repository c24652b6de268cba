"""One delivery pass: claim what is due, send it, record what happened.

It owns :class:`SendingPass`, the pipeline of :meth:`Dispatcher.deliver_due
<meet_sched.delivery.dispatcher.Dispatcher.deliver_due>` — a producer claiming batches, one
worker per connection sending, a recorder writing outcomes in groups — whose attributes are the
state the three share; one message's attempt (render, send, and the outcome
:mod:`~meet_sched.delivery.retry` decides); and the pass's :class:`DispatchReport`, with the
log line and metric of every :class:`Event`.  The claims, the database thread and the pause it
works with are its dispatcher's: they outlive the pass.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..errors import MeetSchedError
from ..logfmt import quote as _q
from ..mail import MailError
from ..metrics import Metrics
from ..model import StoredMeeting, utc
from ..site import webcal_url
from ..store import outbox
from ..store.outbox import Job, MessageKind, OutboxStatus, SendOutcome
from . import retry
from .transport import SendError

if TYPE_CHECKING:
    from datetime import datetime

    from .dispatcher import Dispatcher

log = logging.getLogger("meet_sched.delivery")

RECORD_EVERY = 0.02  # seconds: outcomes are written at least this often…
RECORD_BATCH = 100  # …or as soon as this many are waiting (a crash repeats at most these, with their Message-IDs)


@dataclass(frozen=True)
class Event:
    """One thing the dispatcher did to one message (what the log line says)."""

    status: OutboxStatus  # SENT, FAILED, EXPIRED, SKIPPED, or PENDING (retry) / released
    kind: str
    recipient: str
    meeting_uid: str
    detail: str
    key: str = ""


@dataclass
class DispatchReport:
    events: list[Event] = field(default_factory=list)
    released: int = 0  # claimed but not tried (paused or stopping)

    def count(self, status: OutboxStatus) -> int:
        return sum(1 for e in self.events if e.status is status)

    @property
    def sent(self) -> int:
        return self.count(OutboxStatus.SENT)

    def summary(self) -> str:
        counts = Counter(e.status.value for e in self.events)
        names = {"pending": "to retry", "sent": "sent", "failed": "failed", "expired": "expired", "skipped": "skipped"}
        parts = [f"{counts[s]} {names[s]}" for s in ("sent", "pending", "failed", "expired", "skipped") if counts[s]]
        if self.released:
            parts.append(f"{self.released} not tried yet (the server is unreachable)")
        return ", ".join(parts) if parts else "nothing was due"


def note(report: DispatchReport, event: Event, metrics: Metrics | None, **extra: str) -> None:
    """Add ``event`` to ``report``, count it and log it."""
    report.events.append(event)
    name = "retry" if event.status is OutboxStatus.PENDING else event.status.value
    if metrics is not None:
        metrics.messages.labels(status=name).inc()
    level = logging.INFO if event.status in (OutboxStatus.SENT, OutboxStatus.SKIPPED) else logging.WARNING
    if not log.isEnabledFor(level):
        return
    fields = {"kind": event.kind, "to": event.recipient, "meeting": event.meeting_uid, **extra}
    fields["reply" if event.status is OutboxStatus.SENT else "reason"] = event.detail
    line = " ".join(f"{k}={_q(v)}" for k, v in fields.items() if v)
    log.log(level, "event=%s %s", name, line)


def note_outcome(report: DispatchReport, job: Job, outcome: SendOutcome, domain: str, metrics: Metrics | None) -> None:
    """Report a recorded outcome: an event, or one more released claim (not tried)."""
    detail = outcome.detail
    if outcome.status is OutboxStatus.PENDING and outcome.retry_at is not None:
        detail = f"{detail} (next attempt {outcome.retry_at:%Y-%m-%d %H:%M:%S} UTC)"
    if outcome.status is OutboxStatus.PENDING and not outcome.attempted:
        report.released += 1
        return
    extra = {}
    if outcome.status is OutboxStatus.SENT and log.isEnabledFor(logging.INFO):
        extra = {
            "message_id": outbox.message_id(job.key, domain),
            "lateness": f"{max(0.0, (outcome.at - job.due_at).total_seconds()):.3f}s",
        }
    event = Event(outcome.status, job.kind.value, job.recipient, job.meeting_uid, detail, job.key)
    note(report, event, metrics, **extra)


class SendingPass:
    """One pass of a dispatcher; its attributes are what the producer, workers and recorder share."""

    def __init__(self, dispatcher: Dispatcher) -> None:
        self.d = dispatcher
        self.report = DispatchReport()
        self.meetings: dict[str, StoredMeeting] = {}
        self.queue: asyncio.Queue[Job | None] = asyncio.Queue(maxsize=dispatcher.batch_size)
        self.outcomes: list[tuple[Job, SendOutcome]] = []  # tried, not yet written
        self.wake_recorder = asyncio.Event()
        self.full = asyncio.Event()
        self.finished_workers = 0
        self.workers_n = dispatcher.transport.concurrency  # one per connection; new texts are rendered ahead
        self.failed: list[MeetSchedError] = []  # the database failed: claim nothing more, try nothing more

    async def run(self) -> DispatchReport:
        """Send everything due now; return what happened.  Safe to run while another process does too."""
        d, report = self.d, self.report
        await d._record_unrecorded(report)  # first: a sent message's lease may have lapsed meanwhile
        for done in await d._db(d._retire, d.clock()):
            note(report, Event(done.status, done.kind, done.recipient, "", done.detail, done.key), d.metrics)
        if d.pause.active(d.clock()):
            return report
        renewer = asyncio.ensure_future(d._renew_leases(d.lease))
        try:
            tasks = [asyncio.ensure_future(self.produce()), asyncio.ensure_future(self.record())]
            tasks += [asyncio.ensure_future(self.work()) for _ in range(self.workers_n)]
            try:
                await asyncio.gather(*tasks)
            except BaseException:
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
                d._unrecorded.extend(self.outcomes)  # tried but not written: recorded by close(), never released
                self.outcomes.clear()
                raise
        finally:
            renewer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renewer
            report.released += await d._release_untried()
        if self.failed:
            raise self.failed[0]  # the caller tries again later; what was sent is in the dispatcher's unrecorded
        return report

    def halted(self) -> bool:
        return self.d._stopping or self.d.pause.active(self.d.clock()) or bool(self.failed)

    async def produce(self) -> None:
        """Claim due rows in batches and queue them, the new texts of each rendered ahead."""
        d = self.d
        cancelled = False
        try:
            while not self.halted():
                try:
                    jobs, found = await d._db(d._claim_batch, d.clock(), set(self.meetings), set(d._held))
                except MeetSchedError as exc:
                    self.failed.append(exc)
                    break
                self.meetings.update(found)
                if not jobs:
                    break
                # Render the new texts of this batch on another thread while the last batch is sent.
                await asyncio.get_running_loop().run_in_executor(
                    d._render_thread, d.compose.prepare, jobs, dict(self.meetings), d.clock()
                )
                for job in jobs:
                    await self.queue.put(job)
        except asyncio.CancelledError:
            cancelled = True  # the workers are cancelled too: no one would take the end marks
            raise
        finally:
            if not cancelled:
                for _ in range(self.workers_n):
                    await self.queue.put(None)

    async def work(self) -> None:
        """Send queued messages one at a time (one worker per connection) until the end mark."""
        try:
            while (job := await self.queue.get()) is not None:
                if self.halted():
                    outcome = SendOutcome(job.id, OutboxStatus.PENDING, "", self.d.clock(), attempted=False)
                else:
                    outcome = await self.attempt(job, self.meetings.get(job.meeting_uid))
                self.outcomes.append((job, outcome))
                self.wake_recorder.set()
                if len(self.outcomes) >= RECORD_BATCH:
                    self.full.set()
        finally:
            self.finished_workers += 1
            self.wake_recorder.set()
            self.full.set()

    async def record(self) -> None:
        """Write outcomes in groups: one transaction per RECORD_EVERY or RECORD_BATCH outcomes."""
        d = self.d
        while True:
            await self.wake_recorder.wait()
            self.wake_recorder.clear()
            if self.finished_workers < self.workers_n and len(self.outcomes) < RECORD_BATCH:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.full.wait(), RECORD_EVERY)
            self.full.clear()
            if self.outcomes:
                batch = self.outcomes[:]
                del self.outcomes[:]
                if self.failed:
                    d._unrecorded.extend(batch)
                else:
                    try:
                        await d._db(d._finish, [o for _, o in batch])
                    except MeetSchedError as exc:
                        self.failed.append(exc)
                        d._unrecorded.extend(batch)
                    else:
                        for job, outcome in batch:
                            d._recorded(self.report, job, outcome)
            if self.finished_workers == self.workers_n and not self.outcomes:
                return

    # -- one message ---------------------------------------------------------------------

    async def attempt(self, job: Job, stored: StoredMeeting | None) -> SendOutcome:
        """Render and send one message; its outcome (nothing raised)."""
        d = self.d
        now = d.clock()
        skipped = retry.before_send(job, stored, now, summaries=d.settings.spec.replies.summary != "off")
        if skipped is not None:
            return skipped
        try:
            feed = await self.feed_link(job, now)
            message = d.compose.render(job, stored, now, feed)
        except MailError as exc:
            return SendOutcome(job.id, OutboxStatus.FAILED, f"not sent: {exc}", now)
        except Exception as exc:  # a bug must not stop the other messages
            log.exception("event=render-failed key=%s", _q(job.key))
            return SendOutcome(
                job.id, OutboxStatus.FAILED, f"not sent: could not render ({type(exc).__name__}: {exc})", now
            )
        try:
            reply = await d.transport.send(message)
        except SendError as error:
            return self.failure(job, error)
        d.pause.succeeded()
        done = d.clock()
        if d.metrics is not None:
            d.metrics.dispatch_lateness.observe(max(0.0, (done - job.due_at).total_seconds()))
        return SendOutcome(job.id, OutboxStatus.SENT, reply, done)

    def failure(self, job: Job, error: SendError) -> SendOutcome:
        """The outcome of a failed send; a server that is down pauses the dispatcher."""
        d = self.d
        now = d.clock()
        if error.permanent:
            return SendOutcome(job.id, OutboxStatus.FAILED, error.reply, now)
        delivery = d.settings.spec.delivery
        if error.server_down:
            until = d.pause.failed(now, delivery.retry_base, delivery.retry_max, d._rng)
            if until is not None:
                log.warning(
                    "event=paused transport=%s until=%s error=%s",
                    _q(d.transport.name),
                    f"{until:%Y-%m-%dT%H:%M:%SZ}",
                    _q(error.reply),
                )
        retry_at = now + retry.backoff(job.attempts + 1, delivery.retry_base, delivery.retry_max, d._rng)
        return retry.after_failure(job, error.reply, now=now, retry_at=retry_at, give_up_after=delivery.give_up_after)

    async def feed_link(self, job: Job, now: datetime) -> tuple[str, str] | None:
        """``[invitations] feed_link``: (https, webcal) of a new personal feed for a first invitation to
        someone without one.  Issued here, just before the send: the token is never stored in the clear."""
        d = self.d
        spec = d.settings.spec
        if job.kind is not MessageKind.REQUEST or not spec.invitations.feed_link or not d.site.base_url_known:
            return None
        retry_since = utc(job.due_at) if job.attempts else None
        link = await d._db(d.site.feed_link_for_invitation, job.recipient, now, retry_since)
        return None if link is None or link.url is None else (link.url, webcal_url(link.url))
