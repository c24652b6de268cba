"""``meet-sched serve``: one asyncio process whose jobs an APScheduler 3 ``AsyncIOScheduler`` drives.

The service itself only keeps the config in step with the database and ``calendars/``
(the *watch* job) and starts and stops its components:

* the delivery dispatcher (:mod:`meet_sched.delivery`), which sends what the outbox says;
* the HTTP server (:mod:`meet_sched.web`), which serves feeds and the agenda page.

A component is anything with ``async start(service)`` and ``async stop()``.  Components
learn about a successful sync through :meth:`Service.on_refresh`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from .config import meeting_files
from .errors import ConfigError, MeetSchedError
from .metrics import Metrics
from .site import Site, SyncReport

log = logging.getLogger("meet_sched.service")

Clock = Callable[[], datetime]
Listener = Callable[[SyncReport], Awaitable[None] | None]


def system_clock() -> datetime:
    return datetime.now(UTC)


class Component(Protocol):
    async def start(self, service: Service) -> None: ...

    async def stop(self) -> None: ...


@dataclass
class Health:
    """What /healthz and /metrics report about the running service."""

    started_at: datetime | None = None
    last_sync_at: datetime | None = None
    last_sync_error: str | None = None
    last_dispatch_at: datetime | None = None
    sync_errors: int = 0
    config_generation: int = 0  # bumps on every sync that changed something
    settings_changed: bool = False  # config/meet-sched.toml differs from what the service started with


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
        self._fingerprint: tuple[tuple[str, int, int], ...] | None = None
        self._stop = asyncio.Event()
        self._refresh_lock = asyncio.Lock()

    # -- wiring ----------------------------------------------------------------

    def on_refresh(self, listener: Listener) -> None:
        """Call ``listener(report)`` after every sync that succeeded (changed or not)."""
        self._listeners.append(listener)

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

    async def watch(self) -> None:
        """Re-sync when a file under config/ was added, changed or removed (a cheap stat() per file)."""
        fingerprint = await asyncio.to_thread(self._config_fingerprint)
        if fingerprint != self._fingerprint:
            await self.refresh(fingerprint)

    async def refresh(self, fingerprint: tuple[tuple[str, int, int], ...] | None = None) -> SyncReport | None:
        """Validate, sync and export; an invalid config is logged and changes nothing."""
        async with self._refresh_lock:
            if fingerprint is None:
                fingerprint = await asyncio.to_thread(self._config_fingerprint)
            await asyncio.to_thread(self._check_settings, fingerprint)
            try:
                report = await asyncio.to_thread(self._sync_and_export)
            except ConfigError as exc:
                self._fingerprint = fingerprint  # do not re-report the same broken files every tick
                self.health.sync_errors += 1
                self.metrics.sync_errors.inc()
                self.health.last_sync_error = str(exc)
                log.error("event=sync-rejected problems=%d", len(exc.problems))
                for problem in exc.problems:
                    log.error("  %s", problem)
                return None
            except MeetSchedError as exc:
                self.health.sync_errors += 1
                self.metrics.sync_errors.inc()
                self.health.last_sync_error = str(exc)
                log.error("event=sync-failed error=%s", exc)
                return None
            self._fingerprint = fingerprint
            self.health.last_sync_at = self.clock()
            self.health.last_sync_error = None
            if report.changes:
                self.health.config_generation += 1
                log.info("event=synced %s", report.summary())
            for listener in self._listeners:
                result = listener(report)
                if result is not None:
                    await result
            return report

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
        except ConfigError as exc:
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

    def _sync_and_export(self) -> SyncReport:
        report = self.site.sync(self.clock())
        if report.changes or self.health.last_sync_at is None:
            self.site.export()
        return report

    # -- running -----------------------------------------------------------------

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, self.stop)
        self.health.started_at = self.clock()
        await self.refresh()
        self.scheduler.add_job(
            self.watch,
            "interval",
            seconds=self.watch_interval,
            id="watch-config",
            max_instances=1,
            coalesce=True,
            misfire_grace_time=None,
        )
        self.scheduler.start()
        started: list[Component] = []
        try:
            for component in self.components:
                await component.start(self)
                started.append(component)
            log.info("event=started root=%s", self.site.root)
            await self._stop.wait()
        finally:
            log.info("event=stopping")
            for component in reversed(started):
                try:
                    await component.stop()
                except Exception:  # one component's failure must not keep the others from stopping
                    log.exception("event=stop-failed component=%s", type(component).__name__)
            self.scheduler.shutdown(wait=False)
            for sig in (signal.SIGINT, signal.SIGTERM):
                with contextlib.suppress(NotImplementedError, RuntimeError):
                    loop.remove_signal_handler(sig)
            log.info("event=stopped")
