"""A real SMTP server for tests: aiosmtpd on 127.0.0.1, recording every message it accepts."""

from __future__ import annotations

import asyncio
import email
import email.policy
import functools
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


@dataclass(frozen=True)
class Received:
    mail_from: str
    rcpt_tos: tuple[str, ...]
    data: bytes
    at: float  # time.time() when the server accepted it

    @property
    def message(self) -> EmailMessage:
        parsed = email.message_from_bytes(self.data, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed

    @functools.cached_property  # parsed once: a wait for thousands of messages asks it of each after every arrival
    def message_id(self) -> str:
        return str(self.message["Message-ID"])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class SmtpSink:
    """``aiosmtpd`` in a thread on ``127.0.0.1:port``; can be stopped and started again on the same port.

    ``replies[address]`` makes RCPT TO for that address answer with that line (``"550 5.1.1 …"``);
    ``data_replies[address]`` answers the DATA of a message to that address with that line instead of
    accepting it (a ``421`` line then closes the connection, as a server shutting down does);
    ``stall_data`` makes DATA never answer; ``delay`` slows every DATA down (to catch a sender mid-burst).
    ``tls_context`` with ``implicit_tls`` speaks TLS from the first byte (port 465 style), else STARTTLS.
    """

    def __init__(
        self,
        *,
        tls_context: ssl.SSLContext | None = None,
        implicit_tls: bool = False,
        credentials: tuple[str, str] | None = None,
    ) -> None:
        self.port = free_port()
        self.received: list[Received] = []
        self.rejected: list[Received] = []  # messages whose DATA was answered with ``data_reply``
        self.replies: dict[str, str] = {}
        self.data_reply: str | None = None  # answer DATA with this line instead of accepting
        self.data_failures = 0  # …for this many messages
        self.data_replies: dict[str, str] = {}
        self.stall_data = False
        self.stalled: list[Received] = []  # messages whose DATA was never answered
        self.delay = 0.0
        self.tls_context = tls_context
        self.implicit_tls = implicit_tls
        self.credentials = credentials
        self.auth_attempts: list[str] = []
        self.sessions: list[Any] = []  # the connection of each accepted message (kept alive: distinct identities)
        self._lock = threading.Condition()
        self._controller: Controller | None = None

    # -- server side -------------------------------------------------------------

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]) -> str:
        reply = self.replies.get(address.lower())
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.delay:
            await asyncio.sleep(self.delay)
        seen = Received(envelope.mail_from, tuple(envelope.rcpt_tos), bytes(envelope.original_content), time.time())
        if self.stall_data:
            self.stalled.append(seen)
            await asyncio.Event().wait()  # never answers; cancelled when the server stops
        reply = next((self.data_replies[a.lower()] for a in envelope.rcpt_tos if a.lower() in self.data_replies), None)
        if reply is not None:
            self.rejected.append(seen)
            if reply.startswith("421"):  # the reply goes out first: close() flushes what was written
                asyncio.get_running_loop().call_soon(server.transport.close)
            return reply
        if self.data_reply and self.data_failures > 0:
            self.data_failures -= 1
            self.rejected.append(seen)
            return self.data_reply
        with self._lock:
            self.sessions.append(session)
            self.received.append(seen)
            self._lock.notify_all()
        return f"250 2.0.0 OK queued as {len(self.received)}"

    def _authenticate(self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        if isinstance(data, LoginPassword):
            self.auth_attempts.append(data.login.decode())
            ok = self.credentials is not None and (data.login.decode(), data.password.decode()) == self.credentials
            return AuthResult(success=ok, handled=False)
        return AuthResult(success=False, handled=False)

    # -- control -------------------------------------------------------------------

    def start(self) -> SmtpSink:
        kwargs: dict[str, Any] = {}
        if self.tls_context is not None and self.implicit_tls:
            kwargs.update(ssl_context=self.tls_context)
        elif self.tls_context is not None:
            kwargs.update(tls_context=self.tls_context, require_starttls=True)
        if self.credentials is not None:
            kwargs.update(authenticator=self._authenticate, auth_required=True, auth_require_tls=False)
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port, **kwargs)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    # -- reading -----------------------------------------------------------------------

    def wait_for(self, count: int, timeout: float = 20) -> list[Received]:
        """Block until at least ``count`` messages arrived (woken by the server, not by polling)."""
        with self._lock:
            if not self._lock.wait_for(lambda: len(self.received) >= count, timeout=timeout):
                raise AssertionError(f"{len(self.received)} messages arrived, not {count}, within {timeout}s")
            return list(self.received)

    def wait_until(self, condition: Callable[[list[Received]], bool], timeout: float = 20) -> list[Received]:
        with self._lock:
            if not self._lock.wait_for(lambda: condition(self.received), timeout=timeout):
                raise AssertionError(f"condition not met within {timeout}s ({len(self.received)} messages)")
            return list(self.received)

    def to(self, address: str) -> list[Received]:
        with self._lock:
            return [r for r in self.received if address.lower() in (a.lower() for a in r.rcpt_tos)]

    def connections(self) -> int:
        """How many SMTP connections the accepted messages came over."""
        with self._lock:
            return len({id(s) for s in self.sessions})

    def clear(self) -> None:
        with self._lock:
            self.received.clear()
            self.sessions.clear()


class SilentServer:
    """A port that accepts TCP connections (the kernel completes the handshake) and never says a word."""

    def __init__(self) -> None:
        self._socket = socket.socket()
        self._socket.bind(("127.0.0.1", 0))
        self._socket.listen(64)
        self.port = int(self._socket.getsockname()[1])

    def close(self) -> None:
        self._socket.close()


def self_signed(tmp: Path, host: str = "127.0.0.1") -> tuple[Path, Path]:
    """A self-signed certificate and key for ``host`` (made with the openssl command)."""
    cert, key = tmp / "cert.pem", tmp / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            f"/CN={host}",
            "-addext",
            f"subjectAltName=IP:{host}",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


def server_context(cert: Path, key: Path) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context
