"""``meet-sched serve``: one asyncio process whose jobs an APScheduler 3 ``AsyncIOScheduler`` drives.

The service itself only keeps the config in step with the database and ``calendars/``
(the *watch* job) and starts and stops its components:

* the delivery dispatcher (:mod:`meet_sched.delivery`), which sends what the outbox says;
* the HTTP server (:mod:`meet_sched.web`), which serves feeds and the agenda page;
* the reply intake (:mod:`meet_sched.replies`), which takes attendees' answers in.

A component is anything with ``async start(service)`` and ``async stop()``; on a stop they are all
stopped at once (the dispatcher stops claiming at the signal, whatever the others wait for).  Components
learn about a successful sync through :meth:`Service.on_refresh`, and about answers that
changed through :meth:`Service.on_answers`.

The database is opened (and migrated) once, before any component starts.  While it cannot
be, the service keeps running: components that can work without it (``needs_database =
False``: the web server, which answers 503) start at once, the others when the database
comes back; the watch job retries every tick and then migrates, syncs and exports by itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from .config import meeting_files
from .errors import ConfigError, DatabaseError, MeetSchedError
from .logfmt import quote as _q
from .metrics import Metrics
from .site import Site, SyncReport

log = logging.getLogger("meet_sched.service")

SYNC_RETRY = 30.0  # seconds: a sync that failed for another reason than the config is tried again this often
EXPORT_RETRY = 2.0  # seconds: an export that failed (a full disk under calendars/) is tried again this often
KNOWN_BUGS = 100  # distinct unexpected errors whose traceback was logged (each once); more are logged without

Clock = Callable[[], datetime]
Listener = Callable[[SyncReport], Awaitable[None] | None]
AnswersListener = Callable[[frozenset[str]], Awaitable[None] | None]


def system_clock() -> datetime:
    return datetime.now(UTC)


class Component(Protocol):
    """``needs_database`` (default True, read with getattr): start only once the database is open."""

    async def start(self, service: Service) -> None: ...

    async def stop(self) -> None: ...


@dataclass
class Health:
    """What /healthz and /metrics report about the running service."""

    started_at: datetime | None = None
    last_sync_at: datetime | None = None
    last_sync_error: str | None = None
    config_problems: tuple[str, ...] = ()  # why the last config edit was refused (``path:line: message``)
    settings_problems: tuple[str, ...] = ()  # why config/meet-sched.toml as edited could not be read
    database_error: str | None = None  # why the database cannot be used now (None: it could, last time)
    last_dispatch_at: datetime | None = None
    sync_errors: int = 0
    config_generation: int = 0  # bumps on every sync that changed something
    settings_changed: bool = False  # config/meet-sched.toml differs from what the service started with
    replies: str | None = None  # the reply intake: "maildir var/inbox", "imap host:993"; None: not running
    last_replies_at: datetime | None = None  # when the intake last looked for answers
    replies_error: str | None = None  # why the intake cannot read its inbox now (None: it could, last time)


async def _stop(component: Component) -> None:
    try:
        await component.stop()
    except MeetSchedError as exc:  # e.g. the database is away: the next start catches up
        log.error("event=stop-failed component=%s error=%s", type(component).__name__, _q(str(exc)))
    except Exception:  # one component's failure must not keep the others from stopping
        log.exception("event=stop-failed component=%s", type(component).__name__)


class Service:
    def __init__(
        self,
        site: Site,
        components: Sequence[Component] = (),
        *,
        clock: Clock = system_clock,
        watch_interval: float = 2.0,
    ) -> None:
        self.site = site
        self.clock = clock
        self.components = list(components)
        self.watch_interval = watch_interval
        self.health = Health()
        self.metrics = Metrics()
        self.scheduler = AsyncIOScheduler(timezone=UTC)
        self._listeners: list[Listener] = []
        self._notice_listeners: list[Callable[[], None]] = []
        self._answer_listeners: list[AnswersListener] = []
        self._fingerprint: tuple[tuple[str, int, int], ...] | None = None
        self._stop = asyncio.Event()
        self._refresh_lock = asyncio.Lock()
        self._watching: asyncio.Task[None] | None = None
        self._deferred: list[Component] = []  # waiting for the database
        self._started: list[Component] = []
        self._retry_sync_at: float | None = None  # monotonic; a failed sync is retried then, changed or not
        self._export_needed = True  # the last export did not happen or failed
        self._last_failure: tuple[str, str] | None = None  # (type, message) of the failure logged last
        self._tracebacks: set[tuple[str, str]] = set()
        self._fatal: BaseException | None = None  # why a component started late could not start

    # -- wiring ----------------------------------------------------------------

    def on_refresh(self, listener: Listener) -> None:
        """Call ``listener(report)`` after every sync that succeeded (changed or not)."""
        self._listeners.append(listener)

    def on_notice(self, wake: Callable[[], None]) -> None:
        """Call ``wake()`` when a sync planned a notice about the site (a refused config) itself, or
        :meth:`outbox_changed` is called."""
        self._notice_listeners.append(wake)

    async def _notify_config(self, problems: list[str] | None) -> None:
        """Plan the notice of a refused (or again accepted) config; a failure here is logged, not raised."""
        try:
            planned = await asyncio.to_thread(self.site.notify_config, self.clock(), problems)
        except Exception as exc:
            log.error("event=notice-failed reason=%s", _q(" ".join(str(exc).split()) or type(exc).__name__))
            return
        if planned:
            kind = "config-rejected" if problems else "config-fixed"
            log.info("event=notice-planned kind=%s count=%d", kind, planned)
            for wake in self._notice_listeners:
                wake()

    def outbox_changed(self) -> None:
        """Something besides a sync planned mail (an organizer's summary of a COUNTER): wake the dispatcher."""
        for wake in self._notice_listeners:
            wake()

    def on_answers(self, listener: AnswersListener) -> None:
        """Call ``listener(uids)`` when attendees' answers in force changed for these meetings."""
        self._answer_listeners.append(listener)

    async def answers_changed(self, uids: frozenset[str]) -> None:
        """Attendees answered (a component took replies in): tell whoever shows answers (feeds, page)."""
        for listener in self._answer_listeners:
            try:
                result = listener(uids)
                if result is not None:
                    await result
            except Exception:
                log.exception("event=listener-failed listener=%s", _q(getattr(listener, "__qualname__", listener)))

    def stop(self) -> None:
        self._stop.set()

    @property
    def running(self) -> bool:
        return bool(self.scheduler.running) and not self._stop.is_set()

    # -- the watch job -----------------------------------------------------------

    def _config_fingerprint(self) -> tuple[tuple[str, int, int], ...]:
        paths: list[Path] = [self.site.root / "config" / "meet-sched.toml", *meeting_files(self.site.settings)]
        out = []
        for p in paths:
            try:
                st = p.stat()
            except FileNotFoundError:
                continue
            out.append((str(p), st.st_mtime_ns, st.st_size))
        return tuple(out)

    # -- the database ----------------------------------------------------------------

    @property
    def database_ready(self) -> bool:
        """The database was opened and migrated, and nothing has failed on it since."""
        return self.site.opened and self.health.database_error is None

    def database_failed(self, error: DatabaseError) -> None:
        """Any part of the service found the database unusable: said once, until it recovers."""
        if self.health.database_error is None:
            action = _q(f"answering 503 and retrying every {self.watch_interval:g}s")
            log.error("event=database-unavailable reason=%s action=%s", _q(str(error)), action)
        self.health.database_error = str(error)

    def database_answered(self) -> None:
        """The database answered again (after :meth:`database_failed`): said once."""
        if self.health.database_error is not None:
            self.health.database_error = None
            log.info("event=database-available")

    async def _open_database(self, *, start_deferred: bool = True) -> bool:
        """Connect and migrate (in a thread, one at a time); start what waited for it."""
        try:
            migrated = await asyncio.to_thread(self.site.open)
        except DatabaseError as exc:
            self.database_failed(exc)
            return False
        if migrated:
            log.info("event=migrated revision=%s", _q(self.site.db.head()))
        self.database_answered()
        if start_deferred:
            await self._start_deferred()
        return True

    async def _start_deferred(self) -> None:
        while self._deferred and not self._stop.is_set():
            component = self._deferred.pop(0)
            try:
                await component.start(self)
            except BaseException as exc:  # as at start-up: a component that cannot start ends serve
                self._fatal = exc
                self.stop()
                return
            self._started.append(component)

    # -- the watch job -----------------------------------------------------------

    async def _watch_tick(self) -> None:
        """The scheduled job: start a watch unless one still runs (a slow database must not
        pile up jobs, nor make the scheduler warn about skipped runs)."""
        if self._watching is None or self._watching.done():
            self._watching = asyncio.create_task(self.watch(), name="watch-config")

    async def watch(self) -> None:
        """Re-sync when a file under config/ was added, changed or removed (a cheap stat() per file);
        reopen the database while it is away; retry a sync that failed."""
        if not self.database_ready and not await self._open_database():
            return
        try:
            fingerprint = await asyncio.to_thread(self._config_fingerprint)
        except Exception as exc:  # e.g. a folder that cannot be read: reported like a failed sync
            self._sync_failed(exc)
            return
        retry = self._retry_sync_at is not None and time.monotonic() >= self._retry_sync_at
        if fingerprint != self._fingerprint or retry:
            await self.refresh(fingerprint)

    async def refresh(self, fingerprint: tuple[tuple[str, int, int], ...] | None = None) -> SyncReport | None:
        """Validate, sync and export.  Nothing that goes wrong here escapes: an invalid config is
        logged once and changes nothing; any other failure is logged once (with a traceback only
        for a bug, an error that is not a MeetSchedError), shown in /healthz, and retried; the
        last good state keeps being served."""
        async with self._refresh_lock:
            try:
                if fingerprint is None:
                    fingerprint = await asyncio.to_thread(self._config_fingerprint)
                await asyncio.to_thread(self._check_settings, fingerprint)
                report = await asyncio.to_thread(self.site.sync, self.clock())
            except ConfigError as exc:
                self._fingerprint = fingerprint  # do not re-report the same broken files every tick
                self._retry_sync_at = None
                self._last_failure = None
                self.health.sync_errors += 1
                self.metrics.sync_errors.inc()
                self.health.last_sync_error = str(exc)
                self.health.config_problems = tuple(str(p) for p in exc.problems)
                log.error("event=sync-rejected problems=%d", len(exc.problems))
                for problem in exc.problems:
                    log.error("  %s", problem)
                if self.database_ready:
                    await self._notify_config([str(p) for p in exc.problems])
                return None
            except DatabaseError as exc:
                self.health.config_problems = ()  # the config was read (or never got that far): it is not what failed
                self.health.sync_errors += 1
                self.metrics.sync_errors.inc()
                self.health.last_sync_error = str(exc)
                self.database_failed(exc)
                self._retry_sync_at = time.monotonic()  # as soon as the database is back
                return None
            except Exception as exc:
                self._fingerprint = fingerprint
                self.health.config_problems = ()
                self._sync_failed(exc)
                return None
            self._fingerprint = fingerprint
            self.health.config_problems = ()
            self._retry_sync_at = None
            # The committed sync reaches the listeners first (the feeds and the page drop what they
            # rendered, the dispatcher wakes); the export of calendars/*.ics comes after, and a
            # failed one does not undo the sync.
            for listener in self._listeners:
                try:
                    result = listener(report)
                    if result is not None:
                        await result
                except Exception:  # one listener's bug must not keep the others from hearing of the sync
                    log.exception("event=listener-failed listener=%s", _q(getattr(listener, "__qualname__", listener)))
            export_failed = await asyncio.to_thread(self._export_after, report)
            if export_failed is not None:
                self._sync_failed(export_failed, retry=EXPORT_RETRY)
            elif self._last_failure is not None:
                log.info("event=sync-recovered")
                self._last_failure = None
            self.health.last_sync_at = self.clock()
            if export_failed is None:
                self.health.last_sync_error = None
            if report.changes:
                self.health.config_generation += 1
                log.info("event=synced %s", report.summary())
            # After the listeners: the feeds and the page drop what they rendered before anything else waits.
            await self._notify_config(None)
            return report

    def _sync_failed(self, exc: Exception, retry: float | None = None) -> None:
        """A sync (or its export) that failed for another reason than the config: logged once per distinct
        error, tried again after ``retry`` seconds (default SYNC_RETRY)."""
        retry = SYNC_RETRY if retry is None else retry
        bug = not isinstance(exc, MeetSchedError)
        reason = " ".join(str(exc).split()) or "(no message)"
        if bug:
            reason = f"{type(exc).__name__}: {reason}"
        key = (type(exc).__name__, reason)
        self.health.sync_errors += 1
        self.metrics.sync_errors.inc()
        self.health.last_sync_error = reason
        self._retry_sync_at = time.monotonic() + retry
        if key == self._last_failure:
            return
        self._last_failure = key
        first = bug and key not in self._tracebacks and len(self._tracebacks) < KNOWN_BUGS
        if first:
            self._tracebacks.add(key)
        log.error(
            "event=sync-failed reason=%s action=%s",
            _q(reason),
            _q(f"keeping the last good state; retrying every {retry:g}s and on every change"),
            exc_info=exc if first else None,
        )

    def _check_settings(self, fingerprint: tuple[tuple[str, int, int], ...]) -> None:
        """A changed config/meet-sched.toml is not applied while running (the listen address, the
        mail server and the calendar name are in use): say so once, keep syncing meetings."""
        settings_file = str(self.site.root / "config" / "meet-sched.toml")
        old = next((f for f in self._fingerprint or () if f[0] == settings_file), None)
        new = next((f for f in fingerprint if f[0] == settings_file), None)
        if self._fingerprint is None or old == new:
            return
        try:
            changed = self.site.settings_changed()
            self.health.settings_problems = ()
        except ConfigError as exc:
            self.health.settings_problems = tuple(str(p) for p in exc.problems)  # /healthz names it from now on
            for problem in exc.problems:
                log.error("event=settings-invalid %s", problem)
            changed = True
        if changed != self.health.settings_changed:
            self.health.settings_changed = changed
            if changed:
                log.warning(
                    "event=settings-changed file=config/meet-sched.toml "
                    "action='restart meet-sched serve to apply it; "
                    "meetings keep syncing with the settings it started with'"
                )

    def _export_after(self, report: SyncReport) -> Exception | None:
        """Write calendars/*.ics after a sync that changed something (or after a failed export);
        why it failed, or None.

        A failed export (a full or read-only disk under calendars/) does not undo the committed
        sync: the feeds served from the database and the dispatcher have heard of it already."""
        if report.changes or self._export_needed:
            self._export_needed = True  # until this export is done: a failed one is redone on the next sync
            try:
                self.site.export()
            except Exception as exc:
                return exc
            self._export_needed = False
        return None

    # -- running -----------------------------------------------------------------

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, self.stop)
        self.health.started_at = self.clock()
        # Before anything else touches the database: open it and bring the schema up to date, once.
        ready = await self._open_database(start_deferred=False)
        if ready:
            await self.refresh()
        else:  # what needs the database starts when it is back (the watch job retries)
            self._deferred = [c for c in self.components if getattr(c, "needs_database", True)]
        self.scheduler.add_job(
            self._watch_tick,
            "interval",
            seconds=self.watch_interval,
            id="watch-config",
            max_instances=1,
            coalesce=True,
            misfire_grace_time=None,
        )
        self.scheduler.start()
        try:
            for component in self.components:
                if component in self._deferred or component in self._started:
                    continue  # waiting for the database, or the watch job already started it
                await component.start(self)
                self._started.append(component)
            log.info("event=started root=%s", self.site.root)
            await self._stop.wait()
            if self._fatal is not None:
                raise self._fatal
        finally:
            log.info("event=stopping")
            if self._watching is not None and not self._watching.done():
                self._watching.cancel()
                with contextlib.suppress(BaseException):
                    await self._watching
            # All at once: the dispatcher stops claiming the moment the signal comes, not after the
            # web server has waited for its connections (which can take most of a second).
            await asyncio.gather(*(_stop(component) for component in reversed(self._started)))
            self.scheduler.shutdown(wait=False)
            for sig in (signal.SIGINT, signal.SIGTERM):
                with contextlib.suppress(NotImplementedError, RuntimeError):
                    loop.remove_signal_handler(sig)
            log.info("event=stopped")
