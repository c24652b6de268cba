"""Rendered feeds kept in step with the database, whichever process changed it.

A process renders a feed once per change and answers from memory after that, so it must learn of
every change: its own syncs tell it directly; a sync by another process sharing the database
(several ``serve`` instances on one PostgreSQL, or ``meet-sched sync`` run beside ``serve``) it
learns of in two ways.  On PostgreSQL the sync sends a NOTIFY on
:data:`~meet_sched.store.db.MEETINGS_CHANNEL` when it commits, and a listening thread wakes this
process at once.  Whatever the database, every :data:`FEED_CHECK` seconds the process reads a
cheap fingerprint of the meetings (:func:`meet_sched.store.feeds.feed_state`, one aggregate query)
and renders again when it moved: a lost notification, or a listening connection being reopened,
leaves a feed stale for a few seconds at most, never for good.

Every process renders from the same rows with the same code, so, once each has looked, all of
them serve the same bytes and the same ETag (a hash of the bytes).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading

from ..errors import MeetSchedError
from ..site import Site
from ..store.db import MEETINGS_CHANNEL, listen, listens
from ..store.feeds import FeedState
from .app import Web

log = logging.getLogger("meet_sched.web")

FEED_CHECK = 5.0  # seconds between two looks at the database for a change another process made


class Freshness:
    """Invalidates a :class:`~meet_sched.web.app.Web`'s rendered feeds and page when the meetings changed."""

    def __init__(self, site: Site, web: Web, every: float = FEED_CHECK) -> None:
        self.site = site
        self.web = web
        self.every = every
        self._seen: FeedState | None = None  # the state the rendered feeds are known to be at least as new as
        self._lock = asyncio.Lock()
        self._wake = asyncio.Event()
        self._stop = threading.Event()
        self._task: asyncio.Task[None] | None = None
        self._warming: asyncio.Task[None] | None = None
        self._listener: threading.Thread | None = None

    async def start(self) -> None:
        """Look once now (then warm the public feeds), then at every notification and every ``every`` seconds."""
        loop = asyncio.get_running_loop()
        url = self.site.settings.database_url
        if listens(url):

            def on_notify(_payload: str) -> None:
                loop.call_soon_threadsafe(self._wake.set)

            self._listener = threading.Thread(
                target=listen, args=(url, on_notify, self._stop, MEETINGS_CHANNEL), name="meetings-listen", daemon=True
            )
            self._listener.start()
        self._task = asyncio.create_task(self._run(), name="feed-freshness")

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.every)
            self._wake.clear()
            await self.check()

    async def check(self, *, changed: bool = False) -> bool:
        """Render again if the meetings moved since the last look, or if ``changed`` (this process's
        own sync changed them); True if it did.

        The fingerprint is read *before* the rendered feeds are dropped: a render that starts after
        the drop reads rows at least as new as the fingerprint, and any later change moves it again.
        """
        if changed:  # this process's own sync: nothing rendered before it may be served once it returns
            self.web.invalidate()
        async with self._lock:
            state: FeedState | None = None
            if self.site.opened:
                try:
                    state = await asyncio.to_thread(self.site.feed_state)
                except MeetSchedError:  # the database is away: /healthz says so, and the next look tries again
                    state = None
            moved = state is not None and state != self._seen
            if state is not None:
                self._seen = state
            if not (changed or moved):
                return False
            if not changed:  # (this process's own sync dropped them already, before waiting for the lock)
                self.web.invalidate()
            self._warming = asyncio.create_task(self.web.warm(), name="web-warm")
            return True

    async def stop(self) -> None:
        self._stop.set()
        for task in (self._task, self._warming):
            if task is not None and not task.done():
                task.cancel()
                with contextlib.suppress(BaseException):
                    await task
        if self._listener is not None:
            await asyncio.to_thread(self._listener.join, 5)
