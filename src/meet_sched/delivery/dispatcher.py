"""The dispatcher: claims due messages from the outbox, renders them, sends them, records the outcome.

It decides *when*, never *what*: the outbox (planned by :meth:`Site.sync` and
:meth:`Site.plan`) says which messages exist.  One pass (:meth:`Dispatcher.deliver_due`):

1. retire what is too late (a reminder whose meeting started is ``expired``, never sent late);
2. claim due rows in batches, with a lease, while earlier batches are being sent over at
   most ``transport.concurrency`` connections; renew the lease while working.  Texts new to
   a batch are rendered ahead on a helper thread; database work runs on another, so the
   event loop only talks to the mail server;
3. record outcomes in small groups, within 20 ms (sent; a retry with exponential backoff
   and jitter; failed for good; expired).  A failure that means the server is unusable
   pauses the pass (claimed messages not tried yet are released) until a backoff has passed.

As a :class:`~meet_sched.service.Service` component it runs passes from one APScheduler
job (id ``dispatch``) armed for the next due moment and re-armed after every sync, and a
``plan-horizon`` job that rolls the reminder horizon forward.  Nothing polls in between.
On stop, the sends in flight finish (up to the SMTP timeout) and claims not yet tried are
released for the next run.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import socket
import sys
import threading
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ..errors import DatabaseError, MeetSchedError
from ..logfmt import quote as _q
from ..mail import MailError, MailRenderer, Outgoing, Recipient
from ..mail.summary import summary_message
from ..metrics import Metrics
from ..model import Meeting, StoredMeeting, utc
from ..site import Site, calendar_answers, webcal_url
from ..store import attendance, outbox
from ..store import rsvp as rsvp_store
from ..store.db import listen, listens
from ..store.outbox import Job, MessageKind, OutboxStatus, SendOutcome
from .transport import DeliveryError, SendError, Transport, make_transport

if TYPE_CHECKING:
    from ..service import Service

log = logging.getLogger("meet_sched.delivery")

Clock = Callable[[], datetime]
T = TypeVar("T")

SAFETY_RECHECK = timedelta(minutes=5)  # longest sleep: rows another process planned are seen this late at worst
KEEP_CONNECTIONS = timedelta(seconds=30)  # close SMTP connections when nothing is due for longer
GIL_SWITCH_INTERVAL = 0.0005  # seconds; Python's default (5 ms) lets the database thread stall the loop
RECORD_EVERY = 0.02  # seconds: outcomes are written at least this often…
RECORD_BATCH = 100  # …or as soon as this many are waiting (a crash repeats at most these, with their Message-IDs)
HORIZON_EVERY = timedelta(hours=1)
DATABASE_RETRY_BASE = timedelta(seconds=1)  # a pass the database failed is tried again this soon, doubling…
DATABASE_RETRY_MAX = timedelta(seconds=30)  # …up to this (a restarting server is back within seconds)
# A claim is a short lease renewed by a heartbeat while its process works on it: a process that
# dies stops renewing, and another one takes its messages over this soon, whatever [delivery] lease says.
HEARTBEAT_LEASE = timedelta(seconds=6)
HEARTBEAT_EVERY = HEARTBEAT_LEASE / 3  # renewals a claim survives missing: two


def system_clock() -> datetime:
    return datetime.now(UTC)


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


class Dispatcher:
    """Sends the outbox's due messages through a transport; also a service component."""

    def __init__(
        self,
        site: Site,
        transport: Transport | None = None,
        *,
        clock: Clock = system_clock,
        worker: str | None = None,
        batch_size: int | None = None,
        metrics: Metrics | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.site = site
        self.settings = site.settings
        self.transport = transport or make_transport(site.settings)
        self.clock = clock
        self.worker = (worker or f"{socket.gethostname()[:40]}:{os.getpid()}:{uuid.uuid4().hex[:8]}")[:64]
        self.batch_size = batch_size or max(64, 16 * self.transport.concurrency)
        self.metrics = metrics
        # The site's renderer: `serve` exports calendars at every sync, so the events are rendered already.
        self.mail = MailRenderer(site.settings, site.renderer)
        self.domain = site.settings.spec.calendar.domain
        self._rng = rng or random.Random()  # jitter, not a secret
        self._db_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="outbox")
        self._render_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="render")
        self._held: set[int] = set()  # claimed by this process and not yet recorded
        self._previous: dict[int, Meeting] = {}  # claimed updates: the meeting as their recipient last saw it
        self._answers: dict[str, attendance.Attendance] = {}  # answers in force, of meetings invited to lately
        # One-click answers: only with a configured [server] base_url (the default, http://<listen>, is
        # this machine's own address, which nobody reading the mail elsewhere could open).
        base = site.settings.spec.server.base_url
        self._rsvp_base = f"{base.rstrip('/')}/rsvp/" if base else None
        self._links: dict[int, str] = {}  # claimed message id → its answer token (only in memory and the message)
        # Outcomes the database did not take (it failed mid-pass): written before anything else next
        # time, so a message sent just before the failure is recorded as sent, never released and sent again.
        self._unrecorded: list[tuple[Job, SendOutcome]] = []
        self._db_failures = 0
        self._paused_until: datetime | None = None
        self._pause_failures = 0
        self._stopping = False
        # as a service component
        self._service: Service | None = None
        self._busy = False
        self._again = False
        self._current: asyncio.Future[DispatchReport] | None = None
        self._passes: set[asyncio.Task[Any]] = set()  # running _ticks: delivery, then the re-arm's read
        self._listening = threading.Event()  # set to stop the listener thread
        self._listener: threading.Thread | None = None

    @property
    def lease(self) -> timedelta:
        """How long a claim lasts unless renewed: ``[delivery] lease``, at most :data:`HEARTBEAT_LEASE`."""
        return min(self.settings.spec.delivery.lease, HEARTBEAT_LEASE)

    # -- one pass ------------------------------------------------------------------

    async def deliver_due(self) -> DispatchReport:
        """Send everything due now; return what happened.  Safe to call while another process does too."""
        report = DispatchReport()
        await self._record_unrecorded(report)  # first: a sent message's lease may have lapsed meanwhile
        for done in await self._db(self._retire, self.clock()):
            self._event(report, Event(done.status, done.kind, done.recipient, "", done.detail, done.key))
        if self._is_paused():
            return report
        meetings: dict[str, StoredMeeting] = {}
        queue: asyncio.Queue[Job | None] = asyncio.Queue(maxsize=self.batch_size)
        outcomes: list[tuple[Job, SendOutcome]] = []
        wake_recorder = asyncio.Event()
        full = asyncio.Event()
        finished_workers = 0
        workers_n = self.transport.concurrency  # one per connection; new texts are rendered ahead, off the loop
        failed: list[MeetSchedError] = []  # the database failed: claim nothing more, try nothing more

        def halted() -> bool:
            return self._stopping or self._is_paused() or bool(failed)

        async def produce() -> None:
            cancelled = False
            try:
                while not halted():
                    try:
                        jobs, found = await self._db(self._claim_batch, self.clock(), set(meetings), set(self._held))
                    except MeetSchedError as exc:
                        failed.append(exc)
                        break
                    meetings.update(found)
                    if not jobs:
                        break
                    # Render the new texts of this batch on another thread while the last batch is sent.
                    await asyncio.get_running_loop().run_in_executor(
                        self._render_thread, self._prepare, jobs, dict(meetings), self.clock()
                    )
                    for job in jobs:
                        await queue.put(job)
            except asyncio.CancelledError:
                cancelled = True  # the workers are cancelled too: no one would take the end marks
                raise
            finally:
                if not cancelled:
                    for _ in range(workers_n):
                        await queue.put(None)

        async def work() -> None:
            nonlocal finished_workers
            try:
                while (job := await queue.get()) is not None:
                    if halted():
                        outcome = SendOutcome(job.id, OutboxStatus.PENDING, "", self.clock(), attempted=False)
                    else:
                        outcome = await self._attempt(job, meetings.get(job.meeting_uid))
                    outcomes.append((job, outcome))
                    wake_recorder.set()
                    if len(outcomes) >= RECORD_BATCH:
                        full.set()
            finally:
                finished_workers += 1
                wake_recorder.set()
                full.set()

        async def record() -> None:
            """Write outcomes in groups: one transaction per RECORD_EVERY or RECORD_BATCH outcomes."""
            while True:
                await wake_recorder.wait()
                wake_recorder.clear()
                if finished_workers < workers_n and len(outcomes) < RECORD_BATCH:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(full.wait(), RECORD_EVERY)
                full.clear()
                if outcomes:
                    batch = outcomes[:]
                    del outcomes[:]
                    if failed:
                        self._unrecorded.extend(batch)
                    else:
                        try:
                            await self._db(self._finish, [o for _, o in batch])
                        except MeetSchedError as exc:
                            failed.append(exc)
                            self._unrecorded.extend(batch)
                        else:
                            for job, outcome in batch:
                                self._held.discard(job.id)
                                self._links.pop(job.id, None)
                                self._after(report, job, outcome)
                if finished_workers == workers_n and not outcomes:
                    return

        renewer = asyncio.ensure_future(self._renew_leases(self.lease))
        try:
            tasks = [asyncio.ensure_future(produce()), asyncio.ensure_future(record())]
            tasks += [asyncio.ensure_future(work()) for _ in range(workers_n)]
            try:
                await asyncio.gather(*tasks)
            except BaseException:
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
                self._unrecorded.extend(outcomes)  # tried but not written: recorded by close(), never released
                outcomes.clear()
                raise
        finally:
            renewer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renewer
            report.released += await self._release_untried()
        if failed:
            raise failed[0]  # the caller tries again later; what was sent is in self._unrecorded
        return report

    async def _record_unrecorded(self, report: DispatchReport | None) -> None:
        """Write the outcomes a failed database did not take; raises if it still fails."""
        if not self._unrecorded:
            return
        batch = self._unrecorded[:]
        await self._db(self._finish, [o for _, o in batch])
        del self._unrecorded[: len(batch)]
        for job, outcome in batch:
            self._held.discard(job.id)
            self._links.pop(job.id, None)
            if report is not None:
                self._after(report, job, outcome)
        log.info("event=recorded count=%d after=database-failure", len(batch))

    async def _release_untried(self) -> int:
        """Give back claims not tried (cancelled or stopped mid-pass); never one whose outcome awaits recording."""
        waiting = {job.id for job, _ in self._unrecorded}
        untried = sorted(self._held - waiting)
        if not untried:
            return 0
        self._held -= set(untried)  # whatever happens next: no longer renewed, so their leases lapse
        for job_id in untried:
            self._links.pop(job_id, None)
        try:
            return await self._db(self._release, untried)
        except MeetSchedError as exc:
            log.warning("event=release-failed count=%d error=%s", len(untried), _q(str(exc)))
            return 0

    # -- database work (one thread: the session never crosses threads) ------------

    async def _db(self, fn: Callable[..., T], *args: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._db_thread, lambda: fn(*args))

    def _session(self, write: bool = True) -> Any:
        return self.site.db.transaction(write=write)

    def _retire(self, now: datetime) -> list[outbox.Finished]:
        with self._session() as session:
            return outbox.retire_due(session, now)

    def _claim_batch(
        self, now: datetime, known: set[str], held: set[int]
    ) -> tuple[list[Job], dict[str, StoredMeeting]]:
        lease = self.lease
        with self._session() as session:
            if held:  # ours stay ours, even when the clock jumped past their lease since the last renewal
                outbox.renew(session, sorted(held), worker=self.worker, lease_until=now + lease)
            jobs = outbox.claim(session, now, worker=self.worker, lease=lease, limit=self.batch_size)
            jobs = [j for j in jobs if j.id not in held]  # never the same message twice in one pass
            found = outbox.meetings_for(session, {j.meeting_uid for j in jobs} - known)
            self._previous.update(outbox.previously_shown(session, jobs))
            if self._rsvp_base is not None:
                for j in jobs:
                    if j.kind is not MessageKind.CANCEL and not j.kind.self_contained and j.id not in self._links:
                        self._links[j.id] = rsvp_store.mint(session, j.meeting_uid, j.recipient, j.occurrence, now)
            asking = {j.meeting_uid for j in jobs if j.kind is not MessageKind.REMINDER and not j.kind.self_contained}
            if asking:  # invitations carry the answers given so far; an update after a new time asks again
                self._answers.update({uid: attendance.Attendance(uid) for uid in asking})
                self._answers.update(attendance.current_all(session, asking))
        self._held.update(j.id for j in jobs)
        if len(jobs) >= self.batch_size:  # more is due than one batch: let the other processes share it
            self._notify()
        return jobs, found

    def _finish(self, outcomes: Sequence[SendOutcome]) -> int:
        with self._session() as session:
            return outbox.finish(session, outcomes, worker=self.worker)

    def _release(self, ids: Sequence[int] | None) -> int:
        with self._session() as session:
            released = outbox.release(session, worker=self.worker, ids=ids)
        if released:
            self._notify()
        return released

    def _notify(self) -> None:
        """Wake the other processes sharing this outbox (PostgreSQL NOTIFY; nothing on SQLite)."""
        with contextlib.suppress(MeetSchedError):  # only an early wake-up: their timers still run
            self.site.db.notify(self.worker)

    def _renew(self, ids: Sequence[int], until: datetime) -> int:
        with self._session() as session:
            return outbox.renew(session, ids, worker=self.worker, lease_until=until)

    def _state(self) -> tuple[datetime | None, dict[str, int]]:
        with self._session(write=False) as session:
            return outbox.next_due(session), outbox.counts(session)

    async def _renew_leases(self, lease: timedelta) -> None:
        """The heartbeat: while this pass holds claims, extend them every third of the lease."""
        while True:
            await asyncio.sleep(max(min(lease, HEARTBEAT_LEASE).total_seconds() / 3, 0.5))
            if self._held:
                with contextlib.suppress(MeetSchedError):  # the pass itself sees the database fail
                    await self._db(self._renew, sorted(self._held), self.clock() + lease)

    # -- one message ---------------------------------------------------------------------

    async def _attempt(self, job: Job, stored: StoredMeeting | None) -> SendOutcome:
        now = self.clock()
        if stored is None and not job.kind.self_contained:
            return SendOutcome(job.id, OutboxStatus.FAILED, "not sent: the meeting is no longer in the database", now)
        if job.kind is MessageKind.SUMMARY and self.settings.spec.replies.summary == "off":
            return SendOutcome(job.id, OutboxStatus.SKIPPED, "not sent: [replies] summary is off", now, attempted=False)
        late = job.occurrence is not None and outbox.reminder_too_late(job.occurrence, job.due_at, utc(now))
        if job.kind is MessageKind.REMINDER and job.occurrence is not None and late:
            why = "the meeting had started" if utc(job.due_at) < utc(job.occurrence) else "too late on the day"
            return SendOutcome(job.id, OutboxStatus.EXPIRED, f"not sent: {why}", now, attempted=False)
        if job.kind is not MessageKind.REMINDER and _occurrence_ended(stored, job.occurrence, now):
            return SendOutcome(job.id, OutboxStatus.EXPIRED, "not sent: the occurrence had ended", now, attempted=False)
        try:
            feed = await self._feed_link(job, now)
            message = self._render(job, stored, now, feed)
        except MailError as exc:
            return SendOutcome(job.id, OutboxStatus.FAILED, f"not sent: {exc}", now)
        except Exception as exc:  # a bug must not stop the other messages
            log.exception("event=render-failed key=%s", _q(job.key))
            return SendOutcome(
                job.id, OutboxStatus.FAILED, f"not sent: could not render ({type(exc).__name__}: {exc})", now
            )
        try:
            reply = await self.transport.send(message)
        except SendError as error:
            return self._failed(job, error)
        self._pause_failures = 0
        done = self.clock()
        if self.metrics is not None:
            self.metrics.dispatch_lateness.observe(max(0.0, (done - job.due_at).total_seconds()))
        return SendOutcome(job.id, OutboxStatus.SENT, reply, done)

    def _prepare(self, jobs: Sequence[Job], meetings: dict[str, StoredMeeting], now: datetime) -> None:
        """Render one message per distinct text among ``jobs``, so the workers find it ready."""
        seen: set[tuple[object, ...]] = set()
        for job in jobs:
            stored = meetings.get(job.meeting_uid)
            if stored is None or job.kind.self_contained:
                continue
            to = _recipient(self.mail, stored, job)
            text = (job.kind, job.meeting_uid, job.occurrence, to.language, to.timezone.key, to.city)
            if text in seen:
                continue
            seen.add(text)
            with contextlib.suppress(Exception):  # a worker renders it again and reports the problem
                self._render(job, stored, now)

    async def _feed_link(self, job: Job, now: datetime) -> tuple[str, str] | None:
        """``[invitations] feed_link``: (https, webcal) of a new personal feed for a first invitation to
        someone without one.  Issued here, just before the send: the token is never stored in the clear."""
        spec = self.settings.spec
        if job.kind is not MessageKind.REQUEST or not spec.invitations.feed_link or not self.site.base_url_known:
            return None
        retry_since = utc(job.due_at) if job.attempts else None
        link = await self._db(self.site.feed_link_for_invitation, job.recipient, now, retry_since)
        return None if link is None or link.url is None else (link.url, webcal_url(link.url))

    def _render(
        self, job: Job, stored: StoredMeeting | None, now: datetime, feed: tuple[str, str] | None = None
    ) -> Outgoing:
        mid = outbox.message_id(job.key, self.domain)
        if job.kind is MessageKind.SUMMARY:
            return summary_message(self.mail, job.attendee, job.recipient, message_id=mid, now=now)
        if job.kind.notice:
            data = job.attendee
            problems = [str(p) for p in data.get("problems") or ()]
            language = str(data.get("language") or "en")
            more = int(data.get("more") or 0)
            fixed = job.kind is MessageKind.FIXED
            return self.mail.notice(job.recipient, language, problems, more, fixed=fixed, message_id=mid, now=now)
        assert stored is not None
        to = _recipient(self.mail, stored, job)
        token = self._links.get(job.id)
        rsvp = None if token is None or self._rsvp_base is None else self._rsvp_base + token
        if job.kind is MessageKind.REMINDER:
            assert job.occurrence is not None
            return self.mail.reminder(stored, to, job.occurrence, message_id=mid, now=now, rsvp=rsvp)
        state = self._answers.get(job.meeting_uid)
        if job.occurrence is not None:  # about one occurrence of a series
            return self.mail.occurrence_invitation(
                stored,
                to,
                job.occurrence,
                message_id=mid,
                now=now,
                previous=self._previous.get(job.id),
                answer_again=state is not None and attendance.must_answer(state, to.email, utc(job.occurrence)),
                rsvp=rsvp,
                first=job.kind is MessageKind.REQUEST,
            )
        return self.mail.invitation(
            stored,
            to,
            message_id=mid,
            now=now,
            update=job.kind is MessageKind.UPDATE,
            previous=self._previous.get(job.id),
            feed=feed,
            answers=None if state is None else calendar_answers(state),
            answer_again=state is not None and attendance.must_answer(state, to.email),
            rsvp=rsvp,
        )

    def _failed(self, job: Job, error: SendError) -> SendOutcome:
        now = self.clock()
        if error.permanent:
            return SendOutcome(job.id, OutboxStatus.FAILED, error.reply, now)
        if error.server_down:
            self._pause(now, error)
        delivery = self.settings.spec.delivery
        attempt = job.attempts + 1
        retry_at = now + self._backoff(attempt)
        if job.kind is MessageKind.REMINDER and job.occurrence is not None and retry_at >= utc(job.occurrence):
            return SendOutcome(job.id, OutboxStatus.EXPIRED, f"not sent before the meeting started: {error.reply}", now)
        if job.kind is not MessageKind.REMINDER and retry_at > job.due_at + delivery.give_up_after:
            return SendOutcome(job.id, OutboxStatus.FAILED, f"gave up after {attempt} attempts: {error.reply}", now)
        return SendOutcome(job.id, OutboxStatus.PENDING, error.reply, now, retry_at=retry_at)

    def _backoff(self, attempt: int) -> timedelta:
        """Exponential, capped, with jitter (half to all of the step), so retries do not arrive in step."""
        delivery = self.settings.spec.delivery
        step: timedelta = min(delivery.retry_max, delivery.retry_base * (2 ** min(attempt - 1, 30)))
        return step * self._rng.uniform(0.5, 1.0)

    def _pause(self, now: datetime, error: SendError) -> None:
        self._pause_failures += 1
        until = now + self._backoff(self._pause_failures)
        if self._paused_until is None or until > self._paused_until:
            self._paused_until = until
            log.warning(
                "event=paused transport=%s until=%s error=%s",
                _q(self.transport.name),
                f"{until:%Y-%m-%dT%H:%M:%SZ}",
                _q(error.reply),
            )

    def _is_paused(self) -> bool:
        return self._paused_until is not None and self.clock() < self._paused_until

    def _after(self, report: DispatchReport, job: Job, outcome: SendOutcome) -> None:
        self._previous.pop(job.id, None)
        detail = outcome.detail
        if outcome.status is OutboxStatus.PENDING and outcome.retry_at is not None:
            detail = f"{detail} (next attempt {outcome.retry_at:%Y-%m-%d %H:%M:%S} UTC)"
        if outcome.status is OutboxStatus.PENDING and not outcome.attempted:
            report.released += 1
            return
        extra = {}
        if outcome.status is OutboxStatus.SENT and log.isEnabledFor(logging.INFO):
            extra = {
                "message_id": outbox.message_id(job.key, self.domain),
                "lateness": f"{max(0.0, (outcome.at - job.due_at).total_seconds()):.3f}s",
            }
        self._event(
            report, Event(outcome.status, job.kind.value, job.recipient, job.meeting_uid, detail, job.key), **extra
        )

    def _event(self, report: DispatchReport, event: Event, **extra: str) -> None:
        report.events.append(event)
        name = "retry" if event.status is OutboxStatus.PENDING else event.status.value
        if self.metrics is not None:
            self.metrics.messages.labels(status=name).inc()
        level = logging.INFO if event.status in (OutboxStatus.SENT, OutboxStatus.SKIPPED) else logging.WARNING
        if not log.isEnabledFor(level):
            return
        fields = {"kind": event.kind, "to": event.recipient, "meeting": event.meeting_uid, **extra}
        fields["reply" if event.status is OutboxStatus.SENT else "reason"] = event.detail
        line = " ".join(f"{k}={_q(v)}" for k, v in fields.items() if v)
        log.log(level, "event=%s %s", name, line)

    # -- as a service component ------------------------------------------------------

    async def start(self, service: Service) -> None:
        responsive_loop()
        self._service = service
        self.clock = service.clock
        self.metrics = service.metrics
        service.on_refresh(self._on_refresh)
        service.on_notice(self._wake)
        service.on_answers(lambda _uids: self._wake())  # an answer may have planned an organizer's summary
        every = min(HORIZON_EVERY, self.settings.spec.reminders.horizon / 2)
        service.scheduler.add_job(
            self._extend_horizon,
            "interval",
            seconds=max(every.total_seconds(), 60),
            id="plan-horizon",
            max_instances=1,
            coalesce=True,
            misfire_grace_time=None,
        )
        self._start_listening(asyncio.get_running_loop())
        log.info("event=dispatcher-started transport=%s worker=%s", _q(self.transport.name), self.worker)
        self._arm(self.clock())  # catch up at once: whatever came due while the service was down

    def _start_listening(self, loop: asyncio.AbstractEventLoop) -> None:
        """On PostgreSQL, wake when another process changes the outbox (LISTEN on a thread of its own)."""
        url = self.settings.database_url
        if not listens(url):
            return  # SQLite: one process, which wakes itself after every sync

        def on_notify(payload: str) -> None:
            if payload != self.worker and not self._stopping:
                loop.call_soon_threadsafe(self._wake)

        self._listener = threading.Thread(
            target=listen, args=(url, on_notify, self._listening), name="outbox-listen", daemon=True
        )
        self._listener.start()

    async def stop(self) -> None:
        self._stopping = True
        self._listening.set()
        if self._service is not None:
            for job_id in ("dispatch", "plan-horizon"):
                with contextlib.suppress(Exception):
                    self._service.scheduler.remove_job(job_id)
        current = self._current
        if current is not None and not current.done():
            grace = self.settings.spec.smtp.timeout.total_seconds() + 5 if self.settings.spec.smtp else 10
            try:
                await asyncio.wait_for(asyncio.shield(current), timeout=grace)
            except (TimeoutError, asyncio.CancelledError, MeetSchedError):
                current.cancel()
                with contextlib.suppress(BaseException):
                    await current
        # The pass goes on to read the next due moment once delivery is done: let it finish before the
        # database thread closes (a task left behind is cancelled when the loop ends, and logged as failed).
        running = [t for t in self._passes if not t.done() and t is not asyncio.current_task()]
        if running:
            with contextlib.suppress(BaseException):
                await asyncio.wait_for(asyncio.shield(asyncio.gather(*running)), timeout=10)
        await self.close()
        log.info("event=dispatcher-stopped")

    async def close(self) -> None:
        """Record what is still unrecorded, give back untried claims, close connections and the database thread."""
        try:
            await self._record_unrecorded(None)
        except MeetSchedError as exc:  # rows stay claimed until their lease lapses: only these may go twice
            log.error("event=record-failed count=%d error=%s", len(self._unrecorded), _q(str(exc)))
        released = await self._release_untried()
        if released:
            log.info("event=released count=%d", released)
        await self.transport.close()
        self._db_thread.shutdown(wait=True)
        self._render_thread.shutdown(wait=True)

    async def _on_refresh(self, report: object) -> None:
        self._wake()
        planned = getattr(report, "outbox", None)
        if planned is not None and (planned.planned or planned.dropped) and not self._stopping:
            await self._db(self._notify)  # the other processes see this sync's new rows at once too

    def _wake(self) -> None:
        """The outbox changed: look again for the next due moment."""
        if self._busy:
            self._again = True
        else:
            self._arm(self.clock())

    def _arm(self, at: datetime) -> None:
        if self._service is None or self._stopping:
            return
        delay = max(0.0, (at - self.clock()).total_seconds())
        self._service.scheduler.add_job(
            self._tick,
            "date",
            run_date=datetime.now(UTC) + timedelta(seconds=delay),
            id="dispatch",
            replace_existing=True,
            max_instances=2,  # a wake-up during a pass must reach _tick, which folds it into the pass
            misfire_grace_time=None,
        )

    async def _tick(self) -> None:
        if self._busy:
            self._again = True
            return
        task = asyncio.current_task()
        if task is not None:
            self._passes.add(task)
        try:
            if await self._deliver_passes():
                await self._rearm()  # not busy any more: a wake-up during this read arms at once
        finally:
            if task is not None:
                self._passes.discard(task)

    async def _deliver_passes(self) -> bool:
        """Deliver until nothing woke us meanwhile; False when the database failed (a retry is armed)."""
        self._busy = True
        try:
            while not self._stopping:
                self._again = False
                self._current = asyncio.ensure_future(self.deliver_due())
                try:
                    await self._current
                except MeetSchedError as exc:  # the database is unreachable: try again soon
                    self._trouble(exc)
                    self._db_failures += 1
                    step = min(DATABASE_RETRY_MAX, DATABASE_RETRY_BASE * 2 ** min(self._db_failures - 1, 10))
                    self._arm(self.clock() + step)
                    return False
                finally:
                    self._current = None
                self._db_failures = 0
                if not self._again:
                    break
        finally:
            self._busy = False
        return True

    async def _rearm(self) -> None:
        if self._stopping or self._service is None:
            return
        try:
            due, counts = await self._db(self._state)
        except MeetSchedError as exc:
            self._trouble(exc)
            due, counts = self.clock() + self._backoff(1), {}
        now = self.clock()
        service = self._service
        service.health.last_dispatch_at = now
        if counts:
            service.metrics.outbox_pending.set(counts.get(OutboxStatus.PENDING.value, 0))
        wake = now + SAFETY_RECHECK
        if due is not None:
            wake = min(wake, due)
        if self._paused_until is not None:
            wake = max(wake, self._paused_until)
        self._arm(wake)
        if due is None or due - now > KEEP_CONNECTIONS:
            await self.transport.idle()

    def _trouble(self, exc: MeetSchedError, event: str = "dispatch-failed") -> None:
        """A database that is away is the service's to report (once, until it is back); the rest here."""
        if isinstance(exc, DatabaseError) and self._service is not None:
            self._service.database_failed(exc)
        else:
            log.error("event=%s error=%s", event, _q(str(exc)))

    async def _extend_horizon(self) -> None:
        try:
            report = await self._db(self.site.plan, self.clock())
        except MeetSchedError as exc:
            self._trouble(exc, "plan-failed")
            return
        if report.planned or report.dropped:
            log.info("event=planned %s", report.summary())
            self._wake()


def responsive_loop() -> None:
    """Let the event loop take the GIL back from the database thread within 0.5 ms, not 5 ms.

    The loop answers the mail server (and HTTP clients); while the outbox thread runs
    SQLAlchemy code it would otherwise wait a whole default switch interval each time.
    """
    if sys.getswitchinterval() > GIL_SWITCH_INTERVAL:
        sys.setswitchinterval(GIL_SWITCH_INTERVAL)


def _occurrence_ended(stored: StoredMeeting | None, occurrence: datetime | None, now: datetime) -> bool:
    """Whether a message about one occurrence of a series (its RECURRENCE-ID) is about one that is over,
    wherever it was moved to: nobody needs to hear that yesterday's call moved."""
    if stored is None or occurrence is None:
        return False
    m = stored.meeting
    at = occurrence.astimezone(m.timezone)
    override = m.override_of(at)
    instance = m.instance(override) if override is not None else m.plain_instance(at)
    return utc(instance.end) <= utc(now)


def _recipient(mail: MailRenderer, stored: StoredMeeting, job: Job) -> Recipient:
    """The attendee as configured now, or as planned (someone no longer invited gets their cancel)."""
    attendee = mail.attendee(stored, job.recipient)
    if attendee is not None:
        return Recipient.of(attendee)
    data = job.attendee
    try:
        zone = ZoneInfo(str(data.get("timezone") or stored.meeting.timezone.key))
    except (ZoneInfoNotFoundError, ValueError):
        zone = stored.meeting.timezone
    return Recipient(
        name=str(data.get("name") or ""),
        email=str(data.get("email") or job.recipient),
        timezone=zone,
        language=str(data.get("language") or "en"),
        city=data.get("city"),
    )


async def send_test(site: Site, to: str, now: datetime, transport: Transport | None = None) -> tuple[str, str]:
    """Send one test message to ``to``; return (transport name, the server's answer) or raise DeliveryError."""
    transport = transport or make_transport(site.settings)
    renderer = MailRenderer(site.settings)
    message = renderer.test(to, message_id=f"<test.{uuid.uuid4().hex}@{site.settings.spec.calendar.domain}>", now=now)
    try:
        reply = await transport.send(message)
    except SendError as error:
        raise DeliveryError(f"not sent to {to}: {error.reply}") from None
    finally:
        await transport.close()
    return transport.name, reply


__all__ = ["DispatchReport", "Dispatcher", "Event", "send_test"]
