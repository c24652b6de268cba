"""What a process shows kept in step with the database, whichever process wrote to it.

A process renders a feed (and the page) once per change and answers from memory after that, so it
must learn of every committed write that changes what they show: a sync that changed meetings, an
answer recorded (an iMIP reply, a one-click link, ``replies import`` run by hand), by this process
or any other sharing the database (several ``serve`` instances on one PostgreSQL, or ``meet-sched
sync`` / ``replies import`` run beside ``serve``).  One mechanism tells it, per database:

* SQLite: ``PRAGMA data_version`` (:class:`~meet_sched.store.db.DataVersion`) moves whenever any
  connection commits.  It costs a few microseconds, so it is asked before every request that
  answers from memory, and every :data:`DATA_VERSION_POLL` seconds besides (so that the public feeds
  are rendered again, and calendars/*.ics exported, without waiting for a request).
* PostgreSQL: every such write sends a NOTIFY on :data:`~meet_sched.store.db.CHANGES_CHANNEL` when
  it commits, and a listening thread wakes this process at once.

Woken, the process reads a cheap fingerprint of what is shown (:func:`meet_sched.store.feeds.
feed_state`: meetings and answers, two aggregates) and, if it moved, drops what it rendered, renders
the public feeds again and re-exports calendars/*.ics.  The same look runs every :data:`FEED_CHECK`
seconds whatever the database: a notification lost while a listening connection is reopened leaves
a feed stale for a few seconds at most, never for good.

Every process renders from the same rows with the same code, so, once each has looked, all of
them serve the same bytes and the same ETag (a hash of the bytes).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable

from ..errors import MeetSchedError
from ..logfmt import quote as _q
from ..site import Site
from ..store.db import CHANGES_CHANNEL, DataVersion, listen, listens
from ..store.feeds import FeedState
from .state import Web

log = logging.getLogger("meet_sched.web")

FEED_CHECK = 5.0  # seconds between two looks at the fingerprint, notified or not (a lost notification)
DATA_VERSION_POLL = 1.0  # seconds between two looks at SQLite's data_version besides the one before each request


class Freshness:
    """Invalidates a :class:`~meet_sched.web.state.Web`'s rendered feeds and page when what they show
    changed, and calls ``moved()`` (the export of calendars/*.ics) when it learnt of it by looking."""

    def __init__(
        self, site: Site, web: Web, every: float = FEED_CHECK, moved: Callable[[], None] | None = None
    ) -> None:
        self.site = site
        self.web = web
        self.every = every
        self.moved = moved
        self._seen: FeedState | None = None  # the state the rendered feeds are known to be at least as new as
        self._lock = asyncio.Lock()
        self._wake = asyncio.Event()
        self._notified = False  # PostgreSQL: a notification came since the last look
        self._stop = threading.Event()
        self._task: asyncio.Task[None] | None = None
        self._warming: asyncio.Task[None] | None = None
        self._exporting: asyncio.Task[None] | None = None
        self._export_again = False
        self._looking: asyncio.Task[bool] | None = None
        self._asked = 0  # looks asked for so far
        self._looking_for = 0  # the looks asked for before the running one started (it answers them)
        self._listener: threading.Thread | None = None
        self._version: DataVersion | None = None

    async def start(self) -> None:
        """Look once now (then warm the public feeds), then at every notification and every ``every`` seconds."""
        loop = asyncio.get_running_loop()
        url = self.site.settings.database_url
        if listens(url):

            def on_notify(_payload: str) -> None:
                loop.call_soon_threadsafe(self._notify)

            self._listener = threading.Thread(
                target=listen, args=(url, on_notify, self._stop, CHANGES_CHANNEL), name="changes-listen", daemon=True
            )
            self._listener.start()
        self._task = asyncio.create_task(self._run(), name="feed-freshness")

    def _notify(self) -> None:
        self._notified = True
        self._wake.set()

    def _data_version(self) -> DataVersion | None:
        if self._version is None and self.site.opened:
            self._version = self.site.db.data_version()
        return self._version

    def _written(self) -> bool:
        """Whether something was committed (or notified) since the last look: microseconds, no query."""
        version = self._data_version()
        return self._notified or (version is not None and version.moved())

    async def _run(self) -> None:
        last = time.monotonic()
        poll = self.every if listens(self.site.settings.database_url) else min(DATA_VERSION_POLL, self.every)
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), poll)
            self._wake.clear()
            if time.monotonic() - last >= self.every or self._written():
                last = time.monotonic()
                try:
                    await self.look()
                except Exception:  # a bug: the requests that look get it too; the next tick looks again
                    log.exception("event=look-failed")

    async def current(self) -> None:
        """Before a request answers from memory: if anything was written since the last look, look now,
        so that the answer is never older than the last commit this process could know of."""
        if self._written():
            await self.look()

    async def look(self) -> bool:
        """A look that reads the fingerprint after this call: one already running that started before
        is waited for, then a new one made; looks asked for meanwhile share it.  True if it moved."""
        self._asked += 1
        wanted = self._asked
        while True:
            running = self._looking
            if running is None or running.done():
                self._looking, self._looking_for = asyncio.create_task(self.check(), name="feed-look"), self._asked
                return await asyncio.shield(self._looking)
            if self._looking_for >= wanted:
                return await asyncio.shield(running)
            with contextlib.suppress(Exception):
                await asyncio.shield(running)

    async def check(self, *, changed: bool = False) -> bool:
        """Render again if the fingerprint moved since the last look, or if ``changed`` (this process
        wrote it, and exports calendars/*.ics itself); True if it did.

        The fingerprint is read *before* the rendered feeds are dropped: a render that starts after
        the drop reads rows at least as new as the fingerprint, and any later change moves it again.
        """
        if changed:  # this process's own write: nothing rendered before it may be served once it returns
            self.web.invalidate()
        async with self._lock:
            self._notified = False
            state: FeedState | None = None
            if self.site.opened:
                try:
                    state = await asyncio.to_thread(self.site.feed_state)
                except MeetSchedError:  # the database is away: /healthz says so, and the next look tries again
                    state = None
            moved = state is not None and state != self._seen
            first = self._seen is None
            if state is not None:
                self._seen = state
            if not (changed or moved):
                return False
            if not changed:  # (this process's own write dropped them already, before waiting for the lock)
                self.web.invalidate()
                if not first:  # written by someone who does not export for this process's calendars/
                    self._export()
            self._warming = asyncio.create_task(self.web.warm(), name="web-warm")
            return True

    def _export(self) -> None:
        """calendars/*.ics written again in the background (one export at a time; a move seen while one
        runs makes one more, after it)."""
        if self.moved is None:
            return
        if self._exporting is not None and not self._exporting.done():
            self._export_again = True
            return
        self._exporting = asyncio.create_task(self._exports(self.moved), name="export-after-change")

    async def _exports(self, moved: Callable[[], None]) -> None:
        again = True
        while again:
            self._export_again = False
            try:
                await asyncio.to_thread(moved)
            except MeetSchedError as exc:
                log.error("event=export-failed reason=%s", _q(str(exc)))
            except Exception:
                log.exception("event=export-failed")
            again = self._export_again

    async def stop(self) -> None:
        self._stop.set()
        for task in (self._task, self._warming, self._looking, self._exporting):
            if task is not None and not task.done():
                task.cancel()
                with contextlib.suppress(BaseException):
                    await task
        if self._listener is not None:
            await asyncio.to_thread(self._listener.join, 5)
        if self._version is not None:
            self._version.close()
