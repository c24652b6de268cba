"""The Starlette application: feeds, personal feeds, the agenda page, /healthz and /metrics.

Only wiring: every answer comes from a :class:`~meet_sched.site.Site` use case, rendered
once per change (:mod:`.feeds`, :mod:`.page`).  Anything a client can get wrong ends in
a short plain-text 4xx; an unknown token, a private calendar and a missing one give the
very same 404.  While the database cannot be used, whatever needs it answers a plain-text
503 with ``Retry-After`` (what is rendered already keeps being served) and /healthz says why.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol
from urllib.parse import unquote

from prometheus_client import CONTENT_TYPE_LATEST
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..errors import DatabaseError, MeetSchedError
from ..lang import choose
from ..metrics import Metrics
from ..model import CALENDAR_NAME
from ..safe_text import neutral
from ..site import Feed, Site
from ..store.feeds import token_hash
from .feeds import FeedCache, FeedKey, Representation, accepts_gzip
from .page import Page, PageRenderer, View
from .rsvp import RsvpPages
from .views import meeting_ics

log = logging.getLogger("meet_sched.web")

MAX_TARGET = 2048  # bytes of path + query; longer is 414
RETRY_AFTER = 30  # seconds, in the Retry-After of a 503 while the database is away
HEALTH_TIMEOUT = 5  # seconds /healthz waits for the database's answer
MAX_HEALTH_PROBLEMS = 20  # config problems /healthz lists (the rest are counted; the log and `validate` have all)
ICS = "text/calendar; charset=utf-8"
Clock = Callable[[], datetime]

SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (
        b"content-security-policy",
        b"default-src 'none'; style-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; "
        b"frame-ancestors 'none'",
    ),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=(), interest-cohort=()"),
]


class HealthSource(Protocol):
    """What the running service tells /healthz (``meet_sched.service.Service`` is one)."""

    @property
    def running(self) -> bool: ...

    @property
    def health(self) -> Any: ...

    def database_failed(self, error: DatabaseError) -> None: ...

    def database_answered(self) -> None: ...


@dataclass
class Web:
    """Everything the handlers need."""

    site: Site
    clock: Clock
    metrics: Metrics
    service: HealthSource
    base_url: str
    feeds: FeedCache
    page: PageRenderer
    rsvp: RsvpPages | None = None  # one-click answer pages (with a configured [server] base_url)
    # asked before answering from memory: drops what is rendered if anyone wrote since (web/freshness.py)
    current: Callable[[], Awaitable[None]] | None = None

    async def fresh(self) -> None:
        if self.current is not None:
            await self.current()

    def invalidate(self) -> None:
        self.feeds.invalidate()
        self.page.invalidate()

    async def warm(self) -> None:
        """Render the public feeds now, so that the first subscriber after a change does not wait."""
        if not self.site.opened:  # the database is not there yet: the first request after it is renders
            return
        try:
            for name in self.site.public_calendars:
                await self.feeds.get(("calendar", name))
        except DatabaseError as exc:
            self.service.database_failed(exc)
        except MeetSchedError as exc:  # the request that needs it will try again
            log.warning("event=warm-failed error=%s", exc)
        except Exception:  # a bug; the request that needs the feed gets a 500 and the same traceback
            log.exception("event=warm-failed")

    async def check_public_calendars(self) -> None:
        """Say so when a public calendar has no meetings: most likely a typo in [server] public_calendars."""
        if not self.site.opened:
            return
        try:
            known = set(await asyncio.to_thread(self.site.calendar_names))
        except DatabaseError as exc:
            self.service.database_failed(exc)
            return
        except MeetSchedError as exc:
            log.warning("event=check-failed error=%s", exc)
            return
        for name in self.site.public_calendars:
            if name not in known:
                log.warning(
                    "event=public-calendar-empty calendar=%s known=%s "
                    "hint=no meeting is in it yet; check [server] public_calendars in config/meet-sched.toml",
                    name,
                    ",".join(sorted(known)) or "-",
                )


def render_feed(site: Site) -> Callable[[FeedKey], Feed | None]:
    def render(key: FeedKey) -> Feed | None:
        kind, value = key
        return site.public_feed(value) if kind == "calendar" else site.personal_feed(value)

    return render


# -- answers ---------------------------------------------------------------------


def plain(status: int, text: str, headers: dict[str, str] | None = None) -> Response:
    return Response(text + "\n", status_code=status, media_type="text/plain; charset=utf-8", headers=headers)


def unavailable() -> Response:
    """The database is away: try again later (the reason is in /healthz and the log, not here)."""
    return plain(503, "Service Unavailable: the database cannot be used right now", {"retry-after": str(RETRY_AFTER)})


def not_found() -> Response:
    """The one 404 of this server: the same bytes and headers whatever was not found."""
    return plain(404, "Not Found")


def page_response(request: Request, page: Page) -> Response:
    """A page in one language: its own ETag per language, and caches told that the language varies."""
    headers = {
        "cache-control": "no-cache",
        "vary": "Accept-Language",
        "etag": page.etag,
        "content-language": page.language,
    }
    if page.etag in [t.strip() for t in request.headers.get("if-none-match", "").split(",")]:
        return Response(status_code=304, headers=headers)
    return HTMLResponse(page.html, headers=headers)


def feed_response(request: Request, rep: Representation, *, max_age: int, private: bool, filename: str) -> Response:
    gz = accepts_gzip(request.headers.get("accept-encoding"))
    headers = {
        "etag": rep.etag_gzip if gz else rep.etag,
        "last-modified": rep.last_modified_http,
        "cache-control": f"{'private' if private else 'public'}, max-age={max_age}",
        "vary": "Accept-Encoding",
    }
    if private:
        headers["x-robots-tag"] = "noindex, nofollow"
    if rep.not_modified(request.headers):
        return Response(status_code=304, headers=headers)
    headers["content-disposition"] = f'inline; filename="{filename}"'
    if gz:
        headers["content-encoding"] = "gzip"
    return PiecewiseResponse(rep.gzipped if gz else rep.body, status_code=200, media_type=ICS, headers=headers)


class PiecewiseResponse(Response):
    """A body sent in pieces (with its Content-Length): a slow reader of a 10 MB feed holds one piece
    in the server's buffers, not a copy of the whole feed, and memory stays flat under load."""

    PIECE = 256 * 1024

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers})
        body = memoryview(self.body)
        if scope["method"] == "HEAD" or len(body) <= self.PIECE:
            await send({"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else self.body})
            return
        for start in range(0, len(body), self.PIECE):
            end = start + self.PIECE
            await send({"type": "http.response.body", "body": bytes(body[start:end]), "more_body": end < len(body)})


def _ics_name(request: Request) -> str | None:
    file = str(request.path_params["file"])
    return file[:-4] if file.endswith(".ics") else None


def create_app(web: Web) -> Starlette:
    max_age = int(web.site.settings.spec.calendar.refresh_interval.total_seconds())

    def count(code: int) -> None:
        web.metrics.feed_requests.labels(code=str(code)).inc()

    async def calendar(request: Request) -> Response:
        name = _ics_name(request)
        if name is None or not CALENDAR_NAME.match(name) or name not in web.site.public_calendars:
            count(404)
            return not_found()
        if not web.site.opened:
            count(503)
            return unavailable()
        await web.fresh()
        rep = await web.feeds.get(("calendar", name))
        if rep is None:
            count(404)
            return not_found()
        response = feed_response(request, rep, max_age=max_age, private=False, filename=f"{name}.ics")
        count(response.status_code)
        return response

    async def personal(request: Request) -> Response:
        token = _ics_name(request)
        if not web.site.opened:
            count(503)
            return unavailable()
        email = None if token is None else await asyncio.to_thread(web.site.feed_owner, token)
        if email is None:
            count(404)
            return not_found()
        await web.fresh()
        rep = await web.feeds.get(("person", email))
        if rep is None:
            count(404)
            return not_found()
        response = feed_response(request, rep, max_age=max_age, private=True, filename="meetings.ics")
        count(response.status_code)
        return response

    def language(request: Request) -> str:
        return choose(
            request.query_params.get("lang"),
            request.headers.get("accept-language"),
            web.site.settings.spec.calendar.language,
        )

    async def show(request: Request, view: View) -> Response:
        if not web.site.opened:
            return unavailable()
        await web.fresh()
        found = await web.page.get(language(request), view)
        return not_found() if found is None else page_response(request, found)

    async def page(request: Request) -> Response:
        return await show(request, ("list", ""))

    async def week(request: Request) -> Response:
        return await show(request, ("week", str(request.path_params.get("week", ""))))

    async def month(request: Request) -> Response:
        return await show(request, ("month", str(request.path_params.get("month", ""))))

    async def meeting(request: Request) -> Response:
        # the UID comes from the raw path: percent-encoded, it may hold any character, '/' too
        raw = (request.scope.get("raw_path") or request.url.path.encode()).decode("latin-1")
        rest = raw.removeprefix("/meetings/")
        segment, _, tail = rest.partition("/")
        if not segment or tail not in ("", "calendar.ics"):
            return not_found()
        try:
            uid = unquote(segment, encoding="utf-8", errors="strict")
        except UnicodeDecodeError:
            return not_found()
        if tail:
            if not web.site.opened:
                return unavailable()
            body = await asyncio.to_thread(meeting_ics, web.site, uid)
            if body is None:
                return not_found()
            return Response(
                body,
                media_type=ICS,
                headers={"content-disposition": 'attachment; filename="meeting.ics"', "cache-control": "no-cache"},
            )
        return await show(request, ("meeting", uid))

    async def rsvp(request: Request) -> Response:
        if web.rsvp is None:
            return not_found()
        if not web.site.opened:
            return unavailable()
        if request.method == "POST":
            return await web.rsvp.act(request, not_found, plain)
        return await web.rsvp.show(request, not_found)

    async def healthz(request: Request) -> Response:
        health = web.service.health
        problems = []
        if not web.site.opened:  # never opened yet: the service retries; say why it could not
            database = health.database_error or "not opened yet"
            problems.append("database")
        else:
            try:
                await asyncio.wait_for(asyncio.to_thread(web.site.database_ok), timeout=HEALTH_TIMEOUT)
                database = "ok"
                web.service.database_answered()
            except MeetSchedError as exc:
                if isinstance(exc, DatabaseError):
                    web.service.database_failed(exc)
                database = str(exc)
                problems.append("database")
            except TimeoutError:
                database = f"no answer within {HEALTH_TIMEOUT} s"
                problems.append("database")
        running = web.service.running
        if not running:
            problems.append("scheduler")
        left_out = web.site.troubles.current()  # served without them: degraded, not down
        replies_error = getattr(health, "replies_error", None)
        config_problems = [*getattr(health, "settings_problems", ()), *getattr(health, "config_problems", ())]
        degraded = [  # still serving the last good state, and saying why not the newest
            *(["config"] if config_problems else []),
            *(["sync"] if health.last_sync_error and not config_problems and "database" not in problems else []),
            *(["meetings-left-out"] if left_out else []),
            *(["replies"] if replies_error else []),
        ]
        status = "unhealthy" if problems else "degraded" if degraded else "ok"
        body = {
            "status": status,
            "problems": [*problems, *degraded],
            "config_problems": config_problems[:MAX_HEALTH_PROBLEMS],
            "config_problems_more": max(0, len(config_problems) - MAX_HEALTH_PROBLEMS),
            "meetings_left_out": [{"uid": f.uid, "reason": f.reason} for f in left_out],
            "database": database,
            "scheduler": "running" if running else "stopped",
            "started_at": _iso(health.started_at),
            "last_sync_at": _iso(health.last_sync_at),
            "last_sync_error": health.last_sync_error,
            "settings_changed_restart_needed": health.settings_changed,
            "sync_errors": health.sync_errors,
            "last_dispatch_at": _iso(health.last_dispatch_at),
        }
        if getattr(health, "replies", None) is not None:
            body["replies"] = {
                "inbox": health.replies,
                "last_checked_at": _iso(health.last_replies_at),
                "error": health.replies_error,
            }
        return Response(
            json.dumps(body, ensure_ascii=False, indent=1) + "\n",
            status_code=503 if problems else 200,
            media_type="application/json",
            headers={"cache-control": "no-store"},
        )

    async def metrics(request: Request) -> Response:
        return Response(web.metrics.render(), media_type=CONTENT_TYPE_LATEST, headers={"cache-control": "no-store"})

    async def robots(request: Request) -> Response:
        return plain(200, "User-agent: *\nDisallow: /feeds/\nDisallow: /rsvp/\nDisallow: /metrics\nDisallow: /healthz")

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        if exc.status_code == 404:
            return not_found()
        if exc.status_code == 405:
            return plain(405, "Method Not Allowed", {"allow": "GET, HEAD"})
        return plain(exc.status_code, exc.detail if exc.status_code < 500 else "Internal Server Error")

    async def database_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, DatabaseError)
        web.service.database_failed(exc)  # logged once, until the database answers again
        if request.url.path.startswith(("/calendars/", "/feeds/")):
            count(503)
        return unavailable()

    async def server_error(request: Request, exc: Exception) -> Response:
        log.error("event=request-failed path=%s error=%s", loggable_path(request), type(exc).__name__, exc_info=exc)
        # Starlette re-raises after this answer and uvicorn then drops the connection: say so, or a
        # keep-alive client sends its next request into a closed socket.
        return plain(500, "Internal Server Error", {"connection": "close"})

    routes = [
        Route("/", page, methods=["GET"]),
        Route("/week", week, methods=["GET"]),
        Route("/week/{week}", week, methods=["GET"]),
        Route("/month", month, methods=["GET"]),
        Route("/month/{month}", month, methods=["GET"]),
        Route("/meetings/{rest:path}", meeting, methods=["GET"]),
        Route("/calendars/{file}", calendar, methods=["GET"]),
        Route("/feeds/{file}", personal, methods=["GET"]),
        Route("/rsvp/{token}", rsvp, methods=["GET", "POST"]),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
        Route("/robots.txt", robots, methods=["GET"]),
        Mount("/static", app=StaticFiles(packages=[("meet_sched.web", "static")]), name="static"),
    ]
    app = Starlette(
        routes=routes,
        exception_handlers={HTTPException: http_error, DatabaseError: database_error, Exception: server_error},
    )
    # No redirect from `/x/` to `/x`: Starlette builds its Location from the request's Host header
    # (a host of the client's choosing, plain http behind a TLS proxy, and a feed's token in it).
    # A trailing slash is an unknown path like any other.  (The Mount above has no router of its own.)
    app.router.redirect_slashes = False
    return app


def loggable_path(request: Request) -> str:
    """The path for a log line: a personal feed's token is a secret, so it appears as the first
    12 hex digits of its SHA-256 (what the database stores), never as itself or a part of it."""
    path = request.url.path
    if path.startswith("/feeds/"):
        token = path.removeprefix("/feeds/").removesuffix(".ics")
        return f"/feeds/sha256:{token_hash(token)[:12]}"
    if path.startswith("/rsvp/"):
        return f"/rsvp/sha256:{token_hash(path.removeprefix('/rsvp/'))[:12]}"
    return neutral(path[:200])  # percent-decoded: %0A or %1B in a URL would act in the log


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


class Guard:
    """Outermost ASGI layer: refuses overlong targets and bodies, and adds security headers to every answer."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 1008})
            return
        raw_path: bytes = scope.get("raw_path") or scope["path"].encode()
        if len(raw_path) + len(scope.get("query_string", b"")) > MAX_TARGET:
            await self._send_plain(send, 414, b"URI Too Long")
            return
        answering = scope["method"] == "POST" and scope["path"].startswith("/rsvp/")
        if scope["method"] not in ("GET", "HEAD") and not answering:
            await self._send_plain(send, 405, b"Method Not Allowed", [(b"allow", b"GET, HEAD")])
            return

        async def secured(message: Message) -> None:
            if message["type"] == "http.response.start":
                own = message.get("headers", [])
                named = {name.lower() for name, _ in own}  # a page's own policy (the answer page's) stands
                message["headers"] = [*own, *(h for h in SECURITY_HEADERS if h[0] not in named)]
            await send(message)

        await self.app(scope, receive, secured)

    @staticmethod
    async def _send_plain(send: Send, status: int, text: bytes, extra: Sequence[tuple[bytes, bytes]] = ()) -> None:
        body = text + b"\n"
        headers = [
            (b"content-type", b"text/plain; charset=utf-8"),
            (b"content-length", str(len(body)).encode()),
            *extra,
            *SECURITY_HEADERS,
        ]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
