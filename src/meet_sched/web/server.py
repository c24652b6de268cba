"""The web server component: uvicorn running the Starlette app inside the service's event loop."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

import uvicorn
from prometheus_client import Histogram

from ..errors import MeetSchedError
from ..site import Site, SyncReport
from .app import create_app
from .feeds import FeedCache
from .freshness import Freshness
from .middleware import Guard
from .page import PageRenderer
from .protocol import KEEP_ALIVE, BoundedH11Protocol
from .rsvp import RsvpPages
from .state import Web, render_feed

if TYPE_CHECKING:
    from ..service import Service

log = logging.getLogger("meet_sched.web")


def parse_listen(listen: str) -> tuple[str, int]:
    """``127.0.0.1:8080`` or ``[::1]:8080`` → (host, port)."""
    host, _, port = listen.rpartition(":")
    return host.strip("[]"), int(port)


def bind(listen: str) -> socket.socket:
    host, port = parse_listen(listen)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
        family, kind, proto, _, address = infos[0]
        sock = socket.socket(family, kind, proto)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(1024)
        sock.setblocking(False)
    except OSError as exc:
        raise ListenError(listen, exc.strerror or str(exc)) from None
    return sock


class ListenError(MeetSchedError):
    def __init__(self, listen: str, reason: str) -> None:
        self.listen, self.reason = listen, reason
        self.hint = "set another address in [server] listen of config/meet-sched.toml"
        super().__init__(f"cannot listen on {listen}: {reason}")


def url_of(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def render_seconds(service: Service) -> Histogram:
    return Histogram(
        "meet_sched_feed_render_seconds",
        "Time to render a feed after a change (database read, ICS assembly, gzip).",
        buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
        registry=service.metrics.registry,
    )


class WebServer:
    """A service component (``start(service)`` / ``stop()``)."""

    needs_database = False  # starts at once: while the database is away it answers 503 and /healthz says why

    def __init__(self, site: Site) -> None:
        self.site = site
        self.web: Web | None = None
        self._server: uvicorn.Server | None = None
        self._socket: socket.socket | None = None
        self._loop_task: asyncio.Task[None] | None = None
        self._warm_task: asyncio.Task[None] | None = None
        self.freshness: Freshness | None = None

    async def start(self, service: Service) -> None:
        sock = bind(self.site.settings.spec.server.listen)
        self._socket = sock
        url = url_of(sock)
        base_url = (self.site.settings.spec.server.base_url or url).rstrip("/")
        self.web = web = Web(
            site=self.site,
            clock=service.clock,
            metrics=service.metrics,
            service=service,
            base_url=base_url,
            feeds=FeedCache(render_feed(self.site), service.clock, render_seconds(service).observe),
            page=PageRenderer(self.site, service.clock, base_url),
        )
        if self.site.settings.spec.server.base_url:  # links in messages point here only when it is configured
            replies = service.metrics.replies
            for outcome in ("applied", "stale"):  # the series exist from the start, at 0
                replies.labels(outcome=outcome, via="link")
            web.rsvp = RsvpPages(
                self.site,
                service.clock,
                base_url,
                self._rsvp_answered(service),
                lambda outcome: replies.labels(outcome=outcome, via="link").inc(),
            )
        service.on_refresh(self._refreshed)
        service.on_answers(self._answered)
        config = uvicorn.Config(
            Guard(create_app(web)),
            log_config=None,
            access_log=False,
            lifespan="off",
            server_header=False,
            proxy_headers=False,
            timeout_graceful_shutdown=5,
            http=BoundedH11Protocol,  # h11, with a deadline per request, MAX_HEAD and MAX_CONNECTIONS
            timeout_keep_alive=KEEP_ALIVE,
            ws="none",  # no upgrade to WebSocket: nothing here speaks it
        )
        config.load()
        server = uvicorn.Server(config)
        server.lifespan = config.lifespan_class(config)
        await server.startup(sockets=[sock])
        self._server = server
        self._loop_task = asyncio.create_task(server.main_loop(), name="web-server")
        self.freshness = freshness = Freshness(self.site, web, moved=self._export)
        web.current = freshness.current
        await freshness.start()
        self._warm_task = asyncio.create_task(self._first_warm(web, freshness), name="web-warm")
        log.info("event=listening url=%s base_url=%s", url, base_url)

    @staticmethod
    async def _first_warm(web: Web, freshness: Freshness) -> None:
        await web.check_public_calendars()
        await freshness.check(changed=True)  # the first look at the database, and the first render

    async def _refreshed(self, report: SyncReport) -> None:
        if not report.changes or self.freshness is None:
            return
        await self.freshness.check(changed=True)

    def _rsvp_answered(self, service: Service) -> Callable[[frozenset[str]], Awaitable[None]]:
        async def answered(uids: frozenset[str]) -> None:
            try:
                await asyncio.to_thread(self.site.export)  # calendars/*.ics carry PARTSTAT too
            except MeetSchedError as exc:
                log.error("event=export-failed reason=%s", exc)
            await service.answers_changed(uids)  # feeds, the page and the dispatcher hear of it

        return answered

    def _export(self) -> None:
        """Another process changed what calendars/*.ics show (an answer taken by ``replies import``,
        a ``sync`` by hand, another instance): write them again."""
        report = self.site.export()
        if report.written:
            log.info("event=exported written=%d reason=changed-elsewhere", len(report.written))

    async def _answered(self, uids: frozenset[str]) -> None:
        if self.freshness is None:
            return
        await self.freshness.check(changed=True)  # PARTSTAT is in the feeds and the page: rendered again

    async def stop(self) -> None:
        server = self._server
        if server is None:
            return
        server.should_exit = True
        if self._loop_task is not None:
            await self._loop_task
        await server.shutdown(sockets=[self._socket] if self._socket else None)
        if self._warm_task is not None and not self._warm_task.done():
            self._warm_task.cancel()
        if self.freshness is not None:
            await self.freshness.stop()
        self._server = None
        log.info("event=web-stopped")
