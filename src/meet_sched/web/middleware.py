"""What wraps every request: :class:`Guard` (request limits and security headers, outside the app),
and the app's exception handlers (the one 404, 405 with ``Allow``, 503 while the database is away,
a logged 500 that names no secret).

``Guard`` wraps the whole Starlette app rather than sitting in its middleware list, so that even the
500 of Starlette's outermost error middleware carries the security headers, and a refused request
(an overlong target, a method nothing here takes, a WebSocket) never reaches the router.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..errors import DatabaseError
from ..safe_text import neutral
from ..store.feeds import token_hash
from .responses import not_found, plain, unavailable
from .state import web_of

log = logging.getLogger("meet_sched.web")

MAX_TARGET = 2048  # bytes of path + query; longer is 414

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


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        return not_found()
    if exc.status_code == 405:
        return plain(405, "Method Not Allowed", {"allow": "GET, HEAD"})
    return plain(exc.status_code, exc.detail if exc.status_code < 500 else "Internal Server Error")


async def database_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, DatabaseError)
    web = web_of(request)
    web.service.database_failed(exc)  # logged once, until the database answers again
    if request.url.path.startswith(("/calendars/", "/feeds/")):
        web.feed_answered(503)
    return unavailable()


async def server_error(request: Request, exc: Exception) -> Response:
    log.error("event=request-failed path=%s error=%s", loggable_path(request), type(exc).__name__, exc_info=exc)
    # Starlette re-raises after this answer and uvicorn then drops the connection: say so, or a
    # keep-alive client sends its next request into a closed socket.
    return plain(500, "Internal Server Error", {"connection": "close"})


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
