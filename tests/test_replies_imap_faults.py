"""IMAP intake under faults: a poison message in INBOX is quarantined and the next taken (real Dovecot); a server
that drops the connection mid-FETCH gives one line, and the next pass takes the message (a small TLS IMAP server)."""

from __future__ import annotations

import asyncio
import re
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from meet_sched.cli import main
from meet_sched.replies import imap
from meet_sched.replies.apply import ReplyOutcome
from meet_sched.replies.imap import ImapInbox
from meet_sched.replies.intake import Intake, Tally
from meet_sched.site import Site
from meet_sched.store import attendance
from meet_sched.store.attendance import PartStat

from . import imap_server
from .conftest import SiteDir
from .replies_helpers import FIXTURES, NOW, UID, make_site
from .test_replies_poison import POISONS

LI = "li.ming@chengdu.example"
GOOD = (FIXTURES / "google-accepted.eml").read_bytes()


def run_once(site: Site) -> Tally:
    async def go() -> Tally:
        inbox = ImapInbox(Intake(site), site.settings)
        try:
            return await inbox.run_once(lambda: NOW)
        finally:
            await inbox.close()

    return asyncio.run(go())


def li_ming(site: Site) -> PartStat:
    with site.db.transaction() as session:
        return attendance.current(session, UID).partstat(LI)


def settings(port: int, ca_file: Path) -> str:
    return (
        f'\n[replies.imap]\nhost = "127.0.0.1"\nport = {port}\nsecurity = "tls"\n'
        f'username = "{imap_server.USER}"\npoll = "1s"\nca_file = "{ca_file}"\n'
    )


@pytest.mark.skipif(bool(imap_server.available()), reason=imap_server.available() or "")
def test_a_poison_message_in_the_inbox_is_quarantined_and_the_next_taken(
    site_dir: SiteDir, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = imap_server.Dovecot().start()
    try:
        monkeypatch.setenv("MEET_SCHED_IMAP_PASSWORD", imap_server.PASSWORD)
        site_dir.settings(settings(server.imaps_port, server.ca_file))
        site = make_site(site_dir)
        server.append(POISONS["rid-utc-9999"])
        server.append(GOOD)
        assert run_once(site).counts == {ReplyOutcome.QUARANTINED: 1, ReplyOutcome.APPLIED: 1}
        assert li_ming(site) is PartStat.ACCEPTED
        assert server.count("INBOX") == 0
        (held,) = server.messages("meet-sched-quarantine")
        assert held.startswith(
            b"X-Meet-Sched-Quarantine: RECURRENCE-ID 9999-12-31T23:59 UTC is outside the supported years 1900-2200"
        )
    finally:
        server.stop()


class DroppingServer:
    """An IMAPS server holding messages (UIDs 1, 2…); the first connection is dropped in the middle of the first
    FETCH BODY[] literal (``stall``: the server stops answering instead; ``drop=False``: neither), every later one
    is served whole — but for the UIDs in ``broken``, whose FETCH BODY[] the server answers NO."""

    def __init__(
        self,
        folder: Path,
        *messages: bytes,
        stall: bool = False,
        drop: bool = True,
        broken: frozenset[int] = frozenset(),
    ) -> None:
        ca, cert, key = imap_server.make_certificates(folder)
        self.ca_file = ca
        self.context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.context.load_cert_chain(cert, key)
        self.messages = dict(enumerate(messages, start=1))
        self.stall, self.drop, self.broken = stall, drop, broken
        self.connections = 0
        self.inbox = list(self.messages)
        self.moved: dict[str, list[int]] = {}
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> DroppingServer:
        self.thread.start()
        assert self.ready.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        server = self.loop.run_until_complete(asyncio.start_server(self._serve, "127.0.0.1", 0, ssl=self.context))
        self.port = server.sockets[0].getsockname()[1]
        self.ready.set()
        self.loop.run_forever()
        server.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        drop = self.drop and self.connections == 1
        writer.write(b"* OK [CAPABILITY IMAP4rev1 MOVE UIDPLUS] ready\r\n")
        while line := await reader.readline():
            tag, _, rest = line.decode().strip().partition(" ")
            verb = rest.upper()
            if verb.startswith("CAPABILITY"):
                writer.write(b"* CAPABILITY IMAP4rev1 MOVE UIDPLUS\r\n")
            elif verb.startswith("SELECT"):
                writer.write(f"* {len(self.inbox)} EXISTS\r\n".encode())
            elif verb.startswith("UID SEARCH"):
                writer.write(("* SEARCH" + "".join(f" {u}" for u in self.inbox) + "\r\n").encode())
            elif verb.startswith("UID FETCH") and "RFC822.SIZE" in verb:
                uid = int(verb.split()[2])
                writer.write(f"* {uid} FETCH (UID {uid} RFC822.SIZE {len(self.messages[uid])})\r\n".encode())
            elif verb.startswith("UID FETCH") and int(verb.split()[2]) in self.broken:
                writer.write(f"{tag} NO [SERVERBUG] Internal error reading the message\r\n".encode())
                continue
            elif verb.startswith("UID FETCH"):
                uid = int(verb.split()[2])
                message = self.messages[uid]
                head = f"* {uid} FETCH (UID {uid} BODY[] {{{len(message)}}}\r\n".encode()
                if drop:
                    writer.write(head + message[:100])
                    await writer.drain()
                    if self.stall:
                        await asyncio.sleep(3600)
                    writer.close()
                    return
                writer.write(head + message + b")\r\n")
            elif verb.startswith("UID MOVE"):
                uid, folder = int(verb.split()[2]), rest.split(" ", 3)[3].strip('"')
                self.inbox.remove(uid)
                self.moved.setdefault(folder, []).append(uid)
            elif verb.startswith("LOGOUT"):
                writer.write(f"* BYE\r\n{tag} OK done\r\n".encode())
                await writer.drain()
                writer.close()
                return
            writer.write(f"{tag} OK done\r\n".encode())
            await writer.drain()


@pytest.fixture
def dropping(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[DroppingServer]:
    with DroppingServer(tmp_path, GOOD, stall=getattr(request, "param", False)) as server:
        yield server


@pytest.mark.parametrize("dropping", [False, True], ids=["dropped", "stalled"], indirect=True)
def test_a_connection_lost_mid_fetch_gives_one_line_and_the_next_pass_takes_the_message(
    site_dir: SiteDir, monkeypatch: pytest.MonkeyPatch, dropping: DroppingServer, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(imap, "IMAP_TIMEOUT", 2.0)
    monkeypatch.setenv("MEET_SCHED_IMAP_PASSWORD", imap_server.PASSWORD)
    site_dir.settings(settings(dropping.port, dropping.ca_file))
    site = make_site(site_dir)
    assert main(["replies", "run", "--root", str(site.root)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and re.fullmatch(
        r"meet-sched: IMAP 127\.0\.0\.1:\d+: no answer within 2 s \(the connection was lost or the server stalled\)",
        err[0],
    ), err
    assert li_ming(site) is PartStat.NEEDS_ACTION and dropping.inbox == [1]
    assert run_once(site).counts == {ReplyOutcome.APPLIED: 1}  # the next pass, on a new connection
    assert li_ming(site) is PartStat.ACCEPTED
    assert dropping.moved == {"meet-sched-processed": [1]}


def test_a_message_the_server_will_not_return_is_moved_unread_and_the_next_taken(
    site_dir: SiteDir, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    with DroppingServer(tmp_path, GOOD, GOOD, drop=False, broken=frozenset({1})) as server:
        monkeypatch.setenv("MEET_SCHED_IMAP_PASSWORD", imap_server.PASSWORD)
        site_dir.settings(settings(server.port, server.ca_file))
        site = make_site(site_dir)
        assert run_once(site).counts == {ReplyOutcome.QUARANTINED: 1, ReplyOutcome.APPLIED: 1}
        assert server.moved == {"meet-sched-quarantine": [1], "meet-sched-processed": [2]}
        assert li_ming(site) is PartStat.ACCEPTED
