"""The shapes of this server's answers: the one 404, the 503 while the database is away, plain text,
a page in one language, a feed with its validators (and gzip), sent in pieces."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.types import Receive, Scope, Send

from .feeds import Representation, accepts_gzip
from .page import Page

RETRY_AFTER = 30  # seconds, in the Retry-After of a 503 while the database is away
ICS = "text/calendar; charset=utf-8"


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
