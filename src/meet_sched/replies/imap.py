"""Answers from an IMAP mailbox (``[replies.imap]``), through aioimaplib.

TLS is always verified (the system's CAs, plus ``ca_file`` for a private CA): IMAPS, or STARTTLS
before the password is sent — a server that does not offer STARTTLS is refused, never logged in
to in clear.  The password comes only from the environment (``MEET_SCHED_IMAP_PASSWORD``) and is
never logged.  Every message in ``folder`` is taken (``BODY.PEEK[]``, after checking its
``RFC822.SIZE`` against ``[replies] max_bytes``) and then moved — into ``processed_folder``, or
``quarantine_folder`` as a copy whose first header says why — never deleted without a copy.
Between passes it waits with IDLE when the server offers it, else polls every ``poll``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import ssl
from collections.abc import Callable
from datetime import datetime
from typing import Any

from aioimaplib import IMAP4, IMAP4_SSL, AioImapException, CommandTimeout

from ..config import Settings
from ..errors import MeetSchedError
from ..logfmt import quote as _q
from .apply import ReplyOutcome, Result
from .intake import Intake, Tally
from .maildir import BATCH, QUARANTINE_HEADER, header_value

log = logging.getLogger("meet_sched.replies")

IMAP_TIMEOUT = 30.0  # seconds for one IMAP command (and for the greeting)
_SIZE = re.compile(rb"RFC822\.SIZE (\d+)")


class ImapError(MeetSchedError):
    def __init__(self, server: str, reason: str) -> None:
        self.server, self.reason = server, reason
        super().__init__(f"IMAP {server}: {reason}")


def tls_context(settings: Settings) -> ssl.SSLContext:
    """Verify the server's certificate and name: the system's CAs, and ``ca_file`` when given."""
    spec = settings.spec.replies.imap
    assert spec is not None
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    if spec.ca_file:
        path = settings.root / spec.ca_file
        try:
            context.load_verify_locations(cafile=str(path))
        except (OSError, ssl.SSLError) as exc:
            raise MeetSchedError(f"[replies.imap] ca_file {spec.ca_file}: {exc}") from None
    return context


# what a server that goes away (or stops answering) makes a command raise
_LOST = (OSError, ssl.SSLError, TimeoutError, AioImapException)


def _lost(server: str, exc: BaseException) -> ImapError:
    """One line for a connection that failed: aioimaplib's timeout says nothing of itself."""
    if isinstance(exc, CommandTimeout | TimeoutError):
        return ImapError(server, f"no answer within {IMAP_TIMEOUT:g} s (the connection was lost or the server stalled)")
    return ImapError(server, (str(exc).strip().splitlines() or [type(exc).__name__])[0])


def _ok(response: Any, server: str, what: str) -> Any:
    if response.result != "OK":
        text = b" ".join(bytes(x) for x in response.lines[-1:]).decode("utf-8", "replace")
        raise ImapError(server, f"{what}: {response.result} {text}".strip())
    return response


def _quote(mailbox: str) -> str:
    return '"' + mailbox.replace("\\", "\\\\").replace('"', '\\"') + '"'


class ImapInbox:
    """Passes over one IMAP folder."""

    def __init__(self, intake: Intake, settings: Settings) -> None:
        spec = settings.spec.replies.imap
        if spec is None:
            raise MeetSchedError("[replies.imap] is not configured")
        if not settings.imap_password:
            raise MeetSchedError(
                "[replies.imap] username is set but the environment variable MEET_SCHED_IMAP_PASSWORD is not"
            )
        self.intake = intake
        self.settings = settings
        self.spec = spec
        self.server = f"{spec.host}:{spec.port}"
        self.client: IMAP4 | None = None
        self._stuck: set[str] = set()  # UIDs the server would neither return nor move: skipped

    async def connect(self) -> IMAP4:
        spec = self.spec
        context = tls_context(self.settings)
        try:
            if spec.security == "tls":
                client: IMAP4 = IMAP4_SSL(spec.host, spec.port, timeout=IMAP_TIMEOUT, ssl_context=context)
                await client.wait_hello_from_server()
            else:
                client = IMAP4(spec.host, spec.port, timeout=IMAP_TIMEOUT)
                await client.wait_hello_from_server()
                await self._starttls(client, context)
            _ok(await client.login(spec.username, self.settings.imap_password or ""), self.server, "login")
            for folder in (spec.processed_folder, spec.quarantine_folder):
                await client.create(_quote(folder))  # already there: a NO, which is fine
            _ok(await client.select(_quote(spec.folder)), self.server, f"select {spec.folder}")
        except _LOST as exc:
            raise _lost(self.server, exc) from None
        self.client = client
        return client

    async def _starttls(self, client: IMAP4, context: ssl.SSLContext) -> None:
        protocol = client.protocol
        if "STARTTLS" not in protocol.capabilities:
            await protocol.capability()
        if "STARTTLS" not in protocol.capabilities:
            raise ImapError(self.server, "the server does not offer STARTTLS; refusing to log in without TLS")
        from aioimaplib.aioimaplib import Command

        response = await asyncio.wait_for(
            protocol.execute(Command("STARTTLS", protocol.new_tag(), loop=protocol.loop)), IMAP_TIMEOUT
        )
        _ok(response, self.server, "STARTTLS")
        loop = asyncio.get_running_loop()
        transport = await asyncio.wait_for(
            loop.start_tls(protocol.transport, protocol, context, server_hostname=self.spec.host), IMAP_TIMEOUT
        )
        protocol.transport = transport
        await protocol.capability()  # RFC 3501 6.2.1: what was said before TLS is forgotten

    async def close(self) -> None:
        client, self.client = self.client, None
        if client is not None:
            with contextlib.suppress(Exception):  # already gone: nothing to log out of
                await asyncio.wait_for(client.logout(), 5)

    async def _uids(self, client: IMAP4) -> list[str]:
        response = _ok(await client.uid_search("ALL", charset=None), self.server, "search")
        found: list[str] = []
        for line in response.lines[:-1]:
            found += [x for x in bytes(line).decode("ascii", "replace").split() if x.isdigit()]
        return found

    async def _fetch(self, client: IMAP4, uid: str) -> tuple[int | None, bytes | None]:
        size_response = _ok(await client.uid("fetch", uid, "(RFC822.SIZE)"), self.server, "fetch size")
        size = None
        for line in size_response.lines:
            match = _SIZE.search(bytes(line))
            if match:
                size = int(match.group(1))
        if size is not None and size > self.intake.max_bytes:
            return size, None
        response = _ok(await client.uid("fetch", uid, "(BODY.PEEK[])"), self.server, "fetch")
        literals = [bytes(x) for x in response.lines if isinstance(x, bytearray)]
        return size, (literals[0] if literals else None)

    async def _move(self, client: IMAP4, uid: str, folder: str) -> None:
        if client.has_capability("MOVE"):
            _ok(await client.uid("move", uid, _quote(folder)), self.server, f"move to {folder}")
            return
        _ok(await client.uid("copy", uid, _quote(folder)), self.server, f"copy to {folder}")
        await self._delete(client, uid)

    async def _delete(self, client: IMAP4, uid: str) -> None:
        _ok(await client.uid("store", uid, "+FLAGS.SILENT", r"(\Deleted)"), self.server, "flag")
        if client.has_capability("UIDPLUS"):
            _ok(await client.uid("expunge", uid), self.server, "expunge")
        else:
            _ok(await client.expunge(), self.server, "expunge")

    async def _quarantine(self, client: IMAP4, uid: str, data: bytes, reason: str) -> None:
        marked = f"{QUARANTINE_HEADER}: {header_value(reason)}\r\n".encode("ascii") + data
        _ok(await client.append(marked, mailbox=_quote(self.spec.quarantine_folder)), self.server, "append")
        await self._delete(client, uid)

    async def _take(self, client: IMAP4, uid: str, clock: Callable[[], datetime]) -> Result | None:
        """One message: fetched, taken, moved; None if it is gone or cannot even be moved."""
        if uid in self._stuck:
            return None
        name = f"imap uid {uid}"
        try:
            size, data = await self._fetch(client, uid)
        except ImapError as exc:  # the server will not give this message: moved unread, the next taken
            return await self._set_aside(client, uid, f"the server would not return it: {exc.reason}")
        if data is None and size is None:
            return None  # gone meanwhile
        if data is None:
            return await self._set_aside(client, uid, f"larger than {self.intake.max_bytes} bytes")
        result = await asyncio.to_thread(self.intake.take, data, clock(), name=name)
        if result.outcome is ReplyOutcome.QUARANTINED:
            await self._quarantine(client, uid, data, result.reason or "refused")
        else:
            await self._move(client, uid, self.spec.processed_folder)
        return result

    async def _set_aside(self, client: IMAP4, uid: str, reason: str) -> Result | None:
        """Move a message unread to the quarantine folder (the reason is in the log); if the server will not
        move it either, it is left, said once, and skipped from then on."""
        try:
            await self._move(client, uid, self.spec.quarantine_folder)
        except ImapError as exc:
            self._stuck.add(uid)
            log.error(
                "event=reply-stuck message=%s reason=%s error=%s", _q(f"imap uid {uid}"), _q(reason), _q(exc.reason)
            )
            return None
        return self.intake.refuse(reason, name=f"imap uid {uid}")

    async def run_once(self, clock: Callable[[], datetime]) -> Tally:
        """Connect if needed, take every message of the folder, move each; returns what was done."""
        client = self.client or await self.connect()
        total = Tally()
        batch = Tally()
        try:
            for uid in await self._uids(client):
                result = await self._take(client, uid, clock)
                if result is None:
                    continue
                batch.add(result)
                total.add(result)
                if sum(batch.counts.values()) >= BATCH:
                    await asyncio.to_thread(self.intake.settle, batch, clock())
                    batch = Tally()
        except _LOST as exc:
            await self.close()
            raise _lost(self.server, exc) from None
        finally:
            await asyncio.to_thread(self.intake.settle, batch, clock())
        return total

    async def wait(self, stop: asyncio.Event) -> None:
        """Until something may have arrived: IDLE (up to ``poll``) where offered, else ``poll``."""
        poll = self.spec.poll.total_seconds()
        client = self.client
        if client is None or not client.has_capability("IDLE"):
            await _sleep(stop, poll)
            return
        try:
            idle = await client.idle_start(timeout=poll)
            try:
                pushed = await client.wait_server_push(timeout=poll)
                log.debug("event=imap-push lines=%s", _q(str(pushed)[:200]))
            except TimeoutError:
                pass
            client.idle_done()
            await asyncio.wait_for(idle, IMAP_TIMEOUT)
        except _LOST as exc:
            await self.close()
            raise _lost(self.server, exc) from None


async def _sleep(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
