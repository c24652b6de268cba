"""The reply intake as a :class:`~meet_sched.service.Service` component: one task that takes answers
from the Maildir (every :data:`MAILDIR_POLL` seconds) or the IMAP folder (IDLE, else polling),
then re-exports ``calendars/`` and tells the service, whose web server renders the feeds again.

A failure (the IMAP server away, a wrong password) is logged once, shown in /healthz and retried
with a backoff; it never stops the service.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING

from ..errors import MeetSchedError
from ..logfmt import quote as _q
from ..site import Site
from .apply import ReplyOutcome
from .imap import ImapInbox
from .intake import Intake, Tally
from .maildir import MaildirInbox

if TYPE_CHECKING:
    from ..service import Service

log = logging.getLogger("meet_sched.replies")

MAILDIR_POLL = 1.0  # seconds between two looks into the Maildir
RETRY_MAX = 300.0  # seconds: a failing inbox is tried again after 1 s, doubling up to this


class RepliesComponent:
    def __init__(self, site: Site) -> None:
        self.site = site
        self._task: asyncio.Task[None] | None = None
        self._stop = asyncio.Event()
        self._imap: ImapInbox | None = None

    async def start(self, service: Service) -> None:
        spec = self.site.settings.spec.replies
        if not spec.enabled:
            return
        metrics = service.metrics
        intake = Intake(
            self.site, counted=lambda outcome: metrics.replies.labels(outcome=outcome.value, via="imip").inc()
        )
        for outcome in ReplyOutcome:  # every series exists from the start, at 0
            metrics.replies.labels(outcome=outcome.value, via="imip")
        if spec.imap is not None:
            self._imap = ImapInbox(intake, self.site.settings)  # raises now if the password is missing
            service.health.replies = f"imap {spec.imap.host}:{spec.imap.port}/{spec.imap.folder}"
        else:
            service.health.replies = f"maildir {spec.maildir}"
        self._stop = asyncio.Event()
        self._task = asyncio.create_task(self._run(service, intake), name="replies")
        log.info("event=replies-started inbox=%s", _q(service.health.replies))

    async def _run(self, service: Service, intake: Intake) -> None:
        maildir = MaildirInbox(intake, self.site.settings.inbox_dir)
        delay = 1.0
        while not self._stop.is_set():
            try:
                if self._imap is not None:
                    tally = await self._imap.run_once(service.clock)
                else:
                    tally = await asyncio.to_thread(maildir.run_once, service.clock)
                service.health.last_replies_at = service.clock()
                if service.health.replies_error is not None:
                    log.info("event=replies-recovered")
                    service.health.replies_error = None
                delay = 1.0
                await self._changed(service, tally)
                if self._imap is not None:
                    await self._imap.wait(self._stop)
                else:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._stop.wait(), MAILDIR_POLL)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                reason = str(exc) if isinstance(exc, MeetSchedError) else f"{type(exc).__name__}: {exc}"
                if service.health.replies_error != reason:
                    log.error("event=replies-failed reason=%s retry=%gs", _q(reason), delay, exc_info=None)
                service.health.replies_error = reason
                if self._imap is not None:
                    await self._imap.close()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), delay)
                delay = min(RETRY_MAX, delay * 2)

    async def _changed(self, service: Service, tally: Tally) -> None:
        if tally.counts:
            log.info("event=replies-taken %s", " ".join(f"{o.value}={n}" for o, n in sorted(tally.counts.items())))
        if not tally.changed:
            if tally.proposed:
                service.outbox_changed()  # a proposed time may have planned the organizer's summary
            return
        try:
            await asyncio.to_thread(self.site.export)  # calendars/*.ics carry PARTSTAT too
        except MeetSchedError as exc:
            log.error("event=export-failed reason=%s", _q(str(exc)))
        await service.answers_changed(frozenset(tally.changed))

    async def stop(self) -> None:
        self._stop.set()
        task, self._task = self._task, None
        if task is not None:
            try:
                await asyncio.wait_for(task, 10)
            except (TimeoutError, asyncio.CancelledError):
                task.cancel()
        if self._imap is not None:
            await self._imap.close()
