"""Transports: how a rendered message leaves the service.

* :class:`SmtpTransport`: a mail server, over aiosmtplib, with a pool of at most
  ``[smtp] max_connections`` reused connections, STARTTLS or TLS with verified certificates;
* :class:`MaildirTransport`: the embedded default, every message a file in ``var/mail/``.

A transport answers with the server's reply or raises :class:`SendError`, which says
whether the failure is *permanent* (this message will never be accepted: a 5xx for its
recipient or content) or not, and whether the server as a whole is unusable right now
(refused connection, TLS or authentication failure, timeout), so the dispatcher pauses
instead of trying every due message against a server that is down.
"""

from __future__ import annotations

import asyncio
import mailbox
import os
import socket
import ssl
from pathlib import Path
from typing import Protocol

import aiosmtplib

from ..config import Settings
from ..config.settings_spec import SmtpSection
from ..errors import MeetSchedError
from ..mail import Outgoing
from .retry import pausing_reply, permanent_reply


class SendError(Exception):
    """One attempt at one message failed; ``reply`` is what to show (never a secret)."""

    def __init__(self, reply: str, *, permanent: bool = False, server_down: bool = False) -> None:
        super().__init__(reply)
        self.reply = reply
        self.permanent = permanent
        self.server_down = server_down


class DeliveryError(MeetSchedError):
    """A message could not be delivered (for ``meet-sched send-test``: the server's answer)."""


class Transport(Protocol):
    @property
    def name(self) -> str: ...  # for people: "smtp.example.org:587 (STARTTLS)", "Maildir var/mail"

    @property
    def concurrency(self) -> int: ...  # how many messages may be sent at once

    async def send(self, message: Outgoing) -> str: ...  # the server's answer

    async def idle(self) -> None: ...  # nothing more to send for now: let go of connections

    async def close(self) -> None: ...


def make_transport(settings: Settings) -> Transport:
    """``[smtp]`` when configured, else the Maildir ``[delivery] maildir`` of the site."""
    smtp = settings.spec.smtp
    if smtp is None:
        return MaildirTransport(settings.root / settings.spec.delivery.maildir, shown=settings.spec.delivery.maildir)
    return SmtpTransport(smtp, settings.smtp_password, root=settings.root)


# -- Maildir -----------------------------------------------------------------------


class MaildirTransport:
    """Each message becomes a file in ``<path>/new`` (written to ``tmp/`` first, then renamed)."""

    concurrency = 1

    def __init__(self, path: Path, *, shown: str | None = None) -> None:
        self.path = path
        self.name = f"Maildir {shown or path}"
        self._box: mailbox.Maildir | None = None

    def _add(self, data: bytes) -> str:
        try:
            if self._box is None:
                # mailbox creates tmp/, new/ and cur/ only with the folder itself: an existing empty
                # folder (a mount point, one made by hand) would fail every message with ENOENT.
                for sub in ("tmp", "new", "cur"):
                    (self.path / sub).mkdir(parents=True, exist_ok=True)
                self._box = mailbox.Maildir(self.path, factory=None, create=False)
            key = self._box.add(data)
        except OSError as exc:
            raise SendError(f"cannot write to {self.path}: {exc.strerror or exc}", server_down=True) from None
        return f"delivered to {self.name.removeprefix('Maildir ')}/new/{key}"

    async def send(self, message: Outgoing) -> str:
        return await asyncio.to_thread(self._add, message.data)

    async def idle(self) -> None:
        return None

    async def close(self) -> None:
        self._box = None


# -- SMTP ------------------------------------------------------------------------------


class SmtpTransport:
    """A bounded pool of SMTP connections, reused from message to message."""

    def __init__(self, spec: SmtpSection, password: str | None, *, root: Path) -> None:
        self.spec = spec
        self._password = password
        self._root = root
        security = {"starttls": "STARTTLS", "tls": "TLS", "none": "no TLS"}[spec.security]
        self.name = f"{spec.host}:{spec.port} ({security})"
        self.concurrency = spec.max_connections
        self._slots = asyncio.Semaphore(spec.max_connections)
        self._idle: list[aiosmtplib.SMTP] = []
        self._local_hostname: str | None = None
        self._tls: ssl.SSLContext | None = None

    def __repr__(self) -> str:  # never shows the password
        return f"SmtpTransport({self.name})"

    def _tls_context(self) -> ssl.SSLContext:
        if self._tls is None:
            context = ssl.create_default_context()  # verifies the certificate and the host name
            if self.spec.ca_file:
                try:
                    context.load_verify_locations(self._root / self.spec.ca_file)
                except (OSError, ssl.SSLError) as exc:
                    raise SendError(f"[smtp] ca_file {self.spec.ca_file}: {exc}", server_down=True) from None
            self._tls = context
        return self._tls

    async def _connect(self) -> aiosmtplib.SMTP:
        spec = self.spec
        if spec.username and self._password is None:
            raise SendError(
                "[smtp] username is set but the environment variable MEET_SCHED_SMTP_PASSWORD is not",
                server_down=True,
            )
        if self._local_hostname is None:
            self._local_hostname = await asyncio.to_thread(socket.getfqdn)
        smtp = aiosmtplib.SMTP(
            hostname=spec.host,
            port=spec.port,
            username=spec.username,
            password=self._password if spec.username else None,
            local_hostname=self._local_hostname,
            timeout=spec.timeout.total_seconds(),
            use_tls=spec.security == "tls",
            start_tls=spec.security == "starttls",
            tls_context=self._tls_context() if spec.security != "none" else None,
        )
        try:
            await smtp.connect()
        except Exception as exc:
            raise self._classify(exc, connecting=True) from None
        return smtp

    async def send(self, message: Outgoing) -> str:
        async with self._slots:
            smtp = self._idle.pop() if self._idle else None
            reused = smtp is not None
            try:
                if smtp is None or not smtp.is_connected:  # none yet, or the server closed it while idle
                    smtp, reused = None, False
                    smtp = await self._connect()
                try:
                    reply = await self._sendmail(smtp, message)
                except aiosmtplib.SMTPServerDisconnected:
                    if not reused:
                        raise
                    self._drop(smtp)  # a reused connection died under us: once more on a new one
                    smtp = None
                    smtp = await self._connect()
                    reply = await self._sendmail(smtp, message)
            except Exception as exc:
                try:
                    error = self._classify(exc)
                except BaseException:
                    if smtp is not None:
                        self._drop(smtp)
                    raise
                if smtp is not None:
                    (self._drop if error.server_down else self._keep)(smtp)
                raise error from None
            self._keep(smtp)
            return reply

    async def _sendmail(self, smtp: aiosmtplib.SMTP, message: Outgoing) -> str:
        refused, reply = await smtp.sendmail(message.sender, [message.recipient], message.data)
        if refused:  # cannot happen with one recipient (all refused raises), kept for safety
            code, text = next(iter(refused.values()))
            raise aiosmtplib.SMTPRecipientRefused(code, text, message.recipient)
        return " ".join(reply.split()) or "accepted"

    def _keep(self, smtp: aiosmtplib.SMTP) -> None:
        if smtp.is_connected:
            self._idle.append(smtp)

    @staticmethod
    def _drop(smtp: aiosmtplib.SMTP) -> None:
        if smtp.is_connected:
            smtp.close()

    def _classify(self, exc: BaseException, *, connecting: bool = False) -> SendError:
        where = self.name
        if isinstance(exc, SendError):
            return exc
        if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
            first = exc.recipients[0]
            return self._refused(first.code, first.message, f"recipient {first.recipient} refused")
        if isinstance(exc, aiosmtplib.SMTPRecipientRefused):
            return self._refused(exc.code, exc.message, f"recipient {exc.recipient} refused")
        if isinstance(exc, aiosmtplib.SMTPAuthenticationError):
            return SendError(f"{where}: authentication failed: {exc.code} {exc.message}", server_down=True)
        if isinstance(exc, aiosmtplib.SMTPSenderRefused):
            return SendError(f"{where}: sender {exc.sender} refused: {exc.code} {exc.message}", server_down=True)
        if isinstance(exc, aiosmtplib.SMTPConnectResponseError):
            return SendError(f"{where}: the server refused the connection: {exc.code} {exc.message}", server_down=True)
        tls = _tls_error(exc)  # implicit TLS fails inside connect(): the SSL error is the cause of an SMTPConnectError
        if isinstance(tls, ssl.SSLCertVerificationError):
            return SendError(f"{where}: TLS certificate not trusted: {tls.verify_message}", server_down=True)
        if tls is not None:
            return SendError(f"{where}: TLS failed: {tls.reason or tls}", server_down=True)
        if isinstance(exc, aiosmtplib.SMTPConnectTimeoutError | aiosmtplib.SMTPTimeoutError | TimeoutError):
            return SendError(f"{where}: timed out ({exc})", server_down=True)
        if isinstance(exc, aiosmtplib.SMTPConnectError):
            cause = exc.__cause__
            detail = os.strerror(cause.errno) if isinstance(cause, OSError) and cause.errno else str(exc)
            return SendError(f"{where}: cannot connect: {detail}", server_down=True)
        if isinstance(exc, aiosmtplib.SMTPServerDisconnected):
            return SendError(f"{where}: the server closed the connection ({exc})", server_down=True)
        if isinstance(exc, aiosmtplib.SMTPResponseException):
            return self._refused(exc.code, exc.message, "refused")
        if isinstance(exc, aiosmtplib.SMTPException):  # STARTTLS or AUTH not offered, …
            return SendError(f"{where}: {exc}", server_down=True)
        if isinstance(exc, ValueError):  # an address aiosmtplib will not put on the wire
            return SendError(f"cannot send: {exc}", permanent=True)
        if isinstance(exc, OSError):
            return SendError(f"{where}: {exc.strerror or exc}", server_down=True)
        raise exc

    def _refused(self, code: int, message: str, what: str) -> SendError:
        """A reply code: one that means the server is unusable pauses the dispatcher (see :mod:`.retry`)."""
        if pausing_reply(code):
            return SendError(f"{self.name}: {' '.join(f'{code} {message}'.split())}", server_down=True)
        return _reply(code, message, what)

    async def idle(self) -> None:
        """Close the pooled connections (QUIT): nothing is due for a while."""
        idle, self._idle = self._idle, []
        for smtp in idle:
            try:
                await asyncio.wait_for(smtp.quit(), timeout=5)
            except Exception:
                smtp.close()

    async def close(self) -> None:
        await self.idle()


def _tls_error(exc: BaseException) -> ssl.SSLError | None:
    """The TLS failure behind ``exc``, if there is one (it may be wrapped by aiosmtplib)."""
    seen: BaseException | None = exc
    for _ in range(5):  # a short chain: the error, aiosmtplib's wrapper, the OSError under it
        if seen is None:
            return None
        if isinstance(seen, ssl.SSLError):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


def _reply(code: int, message: str, what: str) -> SendError:
    """A refusal of this message: for good or for now, as :func:`.retry.permanent_reply` says."""
    text = " ".join(f"{code} {message}".split())
    return SendError(f"{what}: {text}", permanent=permanent_reply(code))
