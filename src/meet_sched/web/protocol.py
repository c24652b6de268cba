"""uvicorn's h11 protocol with the limits a public listener needs: a deadline for each request,
a bound on the size of its head, a cap on open connections, and a deadline for an answer the
client stopped reading.

uvicorn gives none of the three: its keep-alive timer is reset by every byte received and never
runs before the first request (a client sending ``GET /heal`` and nothing more holds a
connection for as long as it likes, one header a second for ever); h11's
``max_incomplete_event_size`` only bounds a head still incomplete, so a 100 KB head arriving in
one read passes; ``limit_concurrency`` answers 503 to requests while the connections holding
the slots stay open; and a client that asks for a large feed and then reads nothing holds its
connection (and one of the ``MAX_CONNECTIONS`` slots) for as long as it likes, since uvicorn
waits for the transport to drain without a timer.  Each limit has a name below and a line in
the README.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

REQUEST_TIMEOUT = 5.0  # seconds from a connection's start (or the end of the last answer) to a whole request
KEEP_ALIVE = 5  # seconds an idle keep-alive connection stays open (uvicorn's timeout_keep_alive)
MAX_HEAD = 16 * 1024  # bytes of request line and header fields; more is 431
MAX_CONNECTIONS = 200  # open connections; one more gets a 503 and is closed
MAX_FORM = 1024  # bytes of a POSTed form (an answer page sends under 100); more is 413
REFUSED_GRACE = 1.0  # seconds a refused connection stays open so that the client reads its 503
WRITE_TIMEOUT = 10.0  # seconds an answer may wait with its buffer full and not a byte taken by the client

log = logging.getLogger("meet_sched.web")

WAITING = (h11.IDLE, h11.SEND_BODY)  # the client's side of a request not yet fully received

REASONS = {
    400: b"Bad Request",
    408: b"Request Timeout",
    431: b"Request Header Fields Too Large",
    503: b"Service Unavailable",
}


def plain_answer(status: int, extra: bytes = b"") -> bytes:
    """A whole HTTP/1.1 answer with a short text body, for a connection about to be closed."""
    body = REASONS[status] + b"\n"
    return (
        b"HTTP/1.1 %d %s\r\n" % (status, REASONS[status])
        + b"content-type: text/plain; charset=utf-8\r\n"
        + b"content-length: %d\r\n" % len(body)
        + b"x-content-type-options: nosniff\r\n"
        + extra
        + b"connection: close\r\n\r\n"
        + body
    )


def head_size(event: h11.Request) -> int:
    """The bytes of a request's line and header fields, as they came in (give or take whitespace)."""
    line = len(event.method) + len(event.target) + len(b"  HTTP/1.1\r\n")
    return line + sum(len(name) + len(value) + 4 for name, value in event.headers.raw_items()) + 2


class BoundedConnection(h11.Connection):
    """An h11 server connection that also refuses a complete head over ``MAX_HEAD`` (431), and
    remembers the status h11 suggests for the request it could not parse."""

    def __init__(self, max_head: int = MAX_HEAD) -> None:
        super().__init__(h11.SERVER, max_incomplete_event_size=max_head)
        self.max_head = max_head
        self.refusal = 400

    def next_event(self) -> Any:
        try:
            event = super().next_event()
        except h11.RemoteProtocolError as exc:
            self.refusal = exc.error_status_hint
            raise
        if isinstance(event, h11.Request) and head_size(event) > self.max_head:
            self.refusal = 431
            raise h11.RemoteProtocolError("request head too large", error_status_hint=431)
        return event


class BoundedH11Protocol(H11Protocol):
    """One connection; see the module's docstring for the limits."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.conn = self.bounded = BoundedConnection()
        self._deadline: asyncio.TimerHandle | None = None
        self._refused = False
        self._stall: asyncio.TimerHandle | None = None
        self._stall_left = 0  # bytes still buffered when the stall timer was armed

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.connections) > MAX_CONNECTIONS:
            self._refused = True
            transport.write(plain_answer(503, b"retry-after: 5\r\n"))
            self.loop.call_later(REFUSED_GRACE, transport.close)
            return
        self._arm()

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return  # read and dropped, so that closing sends a FIN, not a reset, before the 503 is read
        super().data_received(data)
        if self.conn.their_state in WAITING:
            if self._deadline is None:
                self._arm()
        else:
            self._disarm()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing() and self.conn.their_state in WAITING:
            self._arm()  # the next request on this connection gets the same time

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        self._unstall()
        super().connection_lost(exc)

    def pause_writing(self) -> None:
        """The transport's buffer is full (the kernel's too): the client is not keeping up."""
        super().pause_writing()
        self._watch_stall()

    def resume_writing(self) -> None:
        self._unstall()
        super().resume_writing()

    def _watch_stall(self) -> None:
        self._unstall()
        self._stall_left = self.transport.get_write_buffer_size()
        self._stall = self.loop.call_later(WRITE_TIMEOUT, self._stalled)

    def _unstall(self) -> None:
        if self._stall is not None:
            self._stall.cancel()
            self._stall = None

    def _stalled(self) -> None:
        """``WRITE_TIMEOUT`` after the buffer filled (or after the last look): a client that took some
        bytes meanwhile is only slow and gets another ``WRITE_TIMEOUT``; one that took none is cut off.
        Aborted, not closed: a close would wait for the buffer it is not reading to drain."""
        self._stall = None
        if self.transport.is_closing():
            return
        if self.transport.get_write_buffer_size() < self._stall_left:
            self._watch_stall()
            return
        log.info("event=write-stalled seconds=%g buffered=%d", WRITE_TIMEOUT, self._stall_left)
        self.transport.abort()

    def send_400_response(self, msg: str) -> None:
        """uvicorn's answer to a request h11 refused, with the status h11 (or our head limit) gives."""
        status = 431 if self.bounded.refusal == 431 else 400
        self._disarm()
        self.transport.write(plain_answer(status))
        self.transport.close()

    def _arm(self) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(REQUEST_TIMEOUT, self._expired)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expired(self) -> None:
        self._deadline = None
        if self.transport.is_closing() or self.conn.their_state not in WAITING:
            return
        started = bool(self.conn.trailing_data[0]) or self.conn.their_state is h11.SEND_BODY
        if started and self.conn.our_state in (h11.IDLE, h11.SEND_RESPONSE):  # nothing of an answer sent yet
            self.transport.write(plain_answer(408))
        self.transport.close()
