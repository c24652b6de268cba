"""The dispatcher: claims due messages from the outbox, renders them, sends them, records the outcome.

It decides *when*, never *what*: the outbox (planned by :meth:`Site.sync` and
:meth:`Site.plan`) says which messages exist.  One pass (:meth:`Dispatcher.deliver_due`, run by
a :class:`~meet_sched.delivery.one_pass.SendingPass`):

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

This module owns the component and what outlives a pass: the claims this process holds and
their lease heartbeat, outcomes a failed database did not take, the pause, and the database
work (on one thread).  The pass is :mod:`.one_pass`, job → message is :mod:`.compose`, and
when to retry, give up or pause is :mod:`.retry`.
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
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from ..errors import DatabaseError, MeetSchedError
from ..logfmt import quote as _q
from ..mail import MailRenderer
from ..metrics import Metrics
from ..model import StoredMeeting
from ..site import Site
from ..store import attendance, outbox
from ..store import rsvp as rsvp_store
from ..store.db import listen, listens
from ..store.outbox import Job, MessageKind, OutboxStatus, SendOutcome
from . import retry
from .compose import Composer
from .one_pass import DispatchReport, Event, SendingPass, note_outcome
from .transport import DeliveryError, SendError, Transport, make_transport

if TYPE_CHECKING:
    from ..service import Service

log = logging.getLogger("meet_sched.delivery")

Clock = Callable[[], datetime]
T = TypeVar("T")

SAFETY_RECHECK = timedelta(minutes=5)  # longest sleep: rows another process planned are seen this late at worst
KEEP_CONNECTIONS = timedelta(seconds=30)  # close SMTP connections when nothing is due for longer
GIL_SWITCH_INTERVAL = 0.0005  # seconds; Python's default (5 ms) lets the database thread stall the loop
HORIZON_EVERY = timedelta(hours=1)
# A claim is a short lease renewed by a heartbeat while its process works on it: a process that
# dies stops renewing, and another one takes its messages over this soon, whatever [delivery] lease says.
HEARTBEAT_LEASE = timedelta(seconds=6)
HEARTBEAT_EVERY = HEARTBEAT_LEASE / 3  # renewals a claim survives missing: two


def system_clock() -> datetime:
    return datetime.now(UTC)


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
        # One-click answers: only with a configured [server] base_url (the default, http://<listen>, is
        # this machine's own address, which nobody reading the mail elsewhere could open).
        base = site.settings.spec.server.base_url
        self.compose = Composer(self.mail, self.domain, f"{base.rstrip('/')}/rsvp/" if base else None)
        # Outcomes the database did not take (it failed mid-pass): written before anything else next
        # time, so a message sent just before the failure is recorded as sent, never released and sent again.
        self._unrecorded: list[tuple[Job, SendOutcome]] = []
        self._db_failures = 0
        self.pause = retry.Pause()  # after failures that mean the mail server is unusable
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
        return await SendingPass(self).run()

    async def _record_unrecorded(self, report: DispatchReport | None) -> None:
        """Write the outcomes a failed database did not take; raises if it still fails."""
        if not self._unrecorded:
            return
        batch = self._unrecorded[:]
        await self._db(self._finish, [o for _, o in batch])
        del self._unrecorded[: len(batch)]
        for job, outcome in batch:
            self._recorded(report, job, outcome)
        log.info("event=recorded count=%d after=database-failure", len(batch))

    def _recorded(self, report: DispatchReport | None, job: Job, outcome: SendOutcome) -> None:
        """``job``'s outcome is written: it is no longer ours; into ``report`` with it, if there is one."""
        self._held.discard(job.id)
        self.compose.links.pop(job.id, None)
        if report is not None:
            self.compose.previous.pop(job.id, None)
            note_outcome(report, job, outcome, self.domain, self.metrics)

    async def _release_untried(self) -> int:
        """Give back claims not tried (cancelled or stopped mid-pass); never one whose outcome awaits recording."""
        waiting = {job.id for job, _ in self._unrecorded}
        untried = sorted(self._held - waiting)
        if not untried:
            return 0
        self._held -= set(untried)  # whatever happens next: no longer renewed, so their leases lapse
        for job_id in untried:
            self.compose.links.pop(job_id, None)
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
            compose = self.compose
            compose.previous.update(outbox.previously_shown(session, jobs))
            if compose.rsvp_base is not None:
                for j in jobs:
                    if j.kind is not MessageKind.CANCEL and not j.kind.self_contained and j.id not in compose.links:
                        compose.links[j.id] = rsvp_store.mint(session, j.meeting_uid, j.recipient, j.occurrence, now)
            asking = {j.meeting_uid for j in jobs if j.kind is not MessageKind.REMINDER and not j.kind.self_contained}
            if asking:  # invitations carry the answers given so far; an update after a new time asks again
                compose.answers.update({uid: attendance.Attendance(uid) for uid in asking})
                compose.answers.update(attendance.current_all(session, asking))
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
                    self._arm(self.clock() + retry.database_retry(self._db_failures))
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
            delivery = self.settings.spec.delivery
            due, counts = self.clock() + retry.backoff(1, delivery.retry_base, delivery.retry_max, self._rng), {}
        now = self.clock()
        service = self._service
        service.health.last_dispatch_at = now
        if counts:
            service.metrics.outbox_pending.set(counts.get(OutboxStatus.PENDING.value, 0))
        wake = now + SAFETY_RECHECK
        if due is not None:
            wake = min(wake, due)
        if self.pause.until is not None:
            wake = max(wake, self.pause.until)
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
