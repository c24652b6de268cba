"""The mail server failing in every way the README's "Failures" promise covers, each against a real server:
down, going down mid-burst, per-recipient 5xx/4xx/421 answers, stalls, untrusted TLS; nothing lost, nothing twice."""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from meet_sched.delivery.dispatcher import Dispatcher
from meet_sched.site import Site
from meet_sched.store.outbox import OutboxStatus, message_id

from .conftest import SiteDir
from .db_helpers import query
from .mail_helpers import Clock, smtp_settings
from .smtp_sink import SilentServer, SmtpSink, self_signed, server_context
from .test_delivery import scenario

DOMAIN = "test.example"
DUE = datetime(2026, 12, 9, 1, 0, tzinfo=UTC)  # the 1d reminder of a meeting on 2026-12-10 10:00 KST


def reminder_site(
    site: SiteDir, sink: SmtpSink | SilentServer, people: list[str], *, connections: int = 2, timeout: str = "5s"
) -> None:
    """One meeting, a 1d reminder to each of ``people`` (no invitations), SMTP at ``sink``."""
    settings = smtp_settings(sink, "[invitations]\nenabled = false\n", connections=connections)
    site.settings(settings.replace('timeout = "5s"', f'timeout = "{timeout}"'))
    attendees = "\n".join(f"  - {{ name: P{i}, email: {a} }}" for i, a in enumerate(people))
    site.meeting(
        "call.yaml",
        "uid: call\ntitle: Working call\ntimezone: Asia/Seoul\nstart: 2026-12-10T10:00\nduration: 1h\n"
        f"reminders: [1d]\nattendees:\n{attendees}\n",
    )


def outbox_rows(root: Path) -> dict[str, tuple[str, str, int, str]]:
    """recipient → (status, detail, attempts, not_before), straight from the database."""
    return {
        r: (s, d or "", n, nb)
        for r, s, d, n, nb in query(root, "SELECT recipient, status, detail, attempts, not_before FROM outbox")
    }


def ids_of(root: Path) -> dict[str, str]:
    """recipient → the Message-ID its outbox key gives."""
    return {r: message_id(k, DOMAIN) for r, k in query(root, "SELECT recipient, key FROM outbox")}


def assert_no_claim_left(root: Path) -> None:
    statuses = {s for s, *_ in outbox_rows(root).values()}
    assert "sending" not in statuses, outbox_rows(root)


# -- the server down, going down, coming back --------------------------------------------------


def test_server_down_at_start_then_down_mid_burst_then_back(site_dir: SiteDir, smtp_server: SmtpSink) -> None:
    people = [f"p{i:02d}@daegu.example" for i in range(30)]
    reminder_site(site_dir, smtp_server, people, connections=2)
    clock = Clock(DUE - timedelta(days=2))

    async def body(s: Site, d: Dispatcher) -> None:
        s.sync(clock())
        clock.set(DUE)
        smtp_server.stop()
        first = await d.deliver_due()  # down at start: one try, the rest not hammered
        assert first.sent == 0 and first.released >= 1
        assert all("cannot connect: Connection refused" in e.detail for e in first.events), first.events
        assert_no_claim_left(site_dir.root)
        assert {st for st, *_ in outbox_rows(site_dir.root).values()} == {"pending"}

        smtp_server.start()
        smtp_server.delay = 0.02
        stopper = threading.Thread(target=lambda: (smtp_server.wait_for(10), smtp_server.stop()))
        stopper.start()
        clock.advance(minutes=5)  # past the pause
        second = await asyncio.wait_for(d.deliver_due(), 30)
        stopper.join(10)
        assert 10 <= second.sent < len(people), second.summary()  # it went down mid-burst
        assert_no_claim_left(site_dir.root)

        smtp_server.delay = 0
        smtp_server.start()  # back, on the same port
        for _ in range(10):  # a few passes, each after the backoff of the one before
            clock.advance(minutes=15)
            await asyncio.wait_for(d.deliver_due(), 30)
            if {st for st, *_ in outbox_rows(site_dir.root).values()} == {"sent"}:
                break

    scenario(site_dir, clock, body)
    rows = outbox_rows(site_dir.root)
    assert {st for st, *_ in rows.values()} == {"sent"}, rows
    got = Counter(r.message_id for r in smtp_server.received)
    assert set(got) == set(ids_of(site_dir.root).values())  # every message, with its outbox key's Message-ID
    assert max(got.values()) == 1, "nothing twice"


# -- per-recipient answers -------------------------------------------------------------------


def test_each_recipient_ends_in_the_state_its_answer_calls_for(site_dir: SiteDir, smtp_server: SmtpSink) -> None:
    """One connection, one transaction per recipient: 250, a 550 and a 452 at RCPT, a 421 after DATA."""
    ok, gone, full, closing = "ok@daegu.example", "gone@daegu.example", "full@daegu.example", "zz@daegu.example"
    reminder_site(site_dir, smtp_server, [ok, gone, full, closing], connections=1)
    smtp_server.replies[gone] = "550 5.1.1 <gone@daegu.example>: Recipient address rejected: User unknown"
    smtp_server.replies[full] = "452 4.2.2 Mailbox full, try later"
    smtp_server.data_replies[closing] = "421 4.3.2 Service shutting down"
    clock = Clock(DUE - timedelta(days=2))

    async def body(s: Site, d: Dispatcher) -> None:
        s.sync(clock())
        clock.set(DUE)
        await d.deliver_due()
        rows = outbox_rows(site_dir.root)
        assert rows[ok][0] == "sent"
        status, detail, attempts, _ = rows[gone]
        assert status == "failed" and attempts == 1
        assert "550 5.1.1 <gone@daegu.example>: Recipient address rejected: User unknown" in detail  # its words
        status, detail, attempts, retry_at = rows[full]
        assert (status, attempts) == ("pending", 1) and "452 4.2.2 Mailbox full, try later" in detail
        retry = retry_at if isinstance(retry_at, datetime) else datetime.fromisoformat(retry_at).replace(tzinfo=UTC)
        assert retry >= DUE + timedelta(seconds=30)  # backoff
        status, detail, attempts, _ = rows[closing]
        assert (status, attempts) == ("pending", 1) and "421 4.3.2 Service shutting down" in detail
        assert_no_claim_left(site_dir.root)

        again = await d.deliver_due()  # at the same moment: nothing is retried before its backoff
        assert again.events == [] and again.sent == 0

        del smtp_server.replies[full], smtp_server.data_replies[closing]
        clock.advance(minutes=5)
        await d.deliver_due()

    scenario(site_dir, clock, body)
    rows = outbox_rows(site_dir.root)
    assert {r: st for r, (st, *_) in rows.items()} == {ok: "sent", gone: "failed", full: "sent", closing: "sent"}
    assert rows[full][2] == rows[closing][2] == 2
    ids = ids_of(site_dir.root)
    got = Counter(r.message_id for r in smtp_server.received)
    assert got == Counter({ids[ok]: 1, ids[full]: 1, ids[closing]: 1})
    (cut,) = smtp_server.rejected  # the message the 421 cut off came again, the same message
    assert cut.message_id == ids[closing]


def test_a_421_at_rcpt_pauses_instead_of_trying_every_recipient(site_dir: SiteDir, smtp_server: SmtpSink) -> None:
    people = [f"p{i:02d}@daegu.example" for i in range(10)]
    reminder_site(site_dir, smtp_server, people, connections=1)
    for person in people:
        smtp_server.replies[person] = "421 4.7.0 Too many connections, closing"
    clock = Clock(DUE - timedelta(days=2))

    async def body(s: Site, d: Dispatcher) -> None:
        s.sync(clock())
        clock.set(DUE)
        report = await d.deliver_due()
        assert report.count(OutboxStatus.PENDING) == 1 and report.released == len(people) - 1
        assert "421 4.7.0 Too many connections" in report.events[0].detail
        assert_no_claim_left(site_dir.root)
        smtp_server.replies.clear()
        clock.advance(minutes=5)
        assert (await d.deliver_due()).sent == len(people)

    scenario(site_dir, clock, body)
    assert len({r.message_id for r in smtp_server.received}) == len(smtp_server.received) == len(people)


# -- stalls ----------------------------------------------------------------------------------


def test_a_server_that_never_greets_times_out_and_the_claim_is_released(site_dir: SiteDir) -> None:
    silent = SilentServer()
    person = "kim@daegu.example"
    reminder_site(site_dir, silent, [person], timeout="1s")
    clock = Clock(DUE - timedelta(days=2))
    sink = SmtpSink()

    async def body(s: Site, d: Dispatcher) -> None:
        s.sync(clock())
        clock.set(DUE)
        loop = asyncio.get_running_loop()
        started = loop.time()
        report = await asyncio.wait_for(d.deliver_due(), 10)
        assert loop.time() - started < 5  # bounded by [smtp] timeout, not by the server
        (event,) = report.events
        assert event.status is OutboxStatus.PENDING and "timed out" in event.detail, event
        status, _, attempts, _ = outbox_rows(site_dir.root)[person]
        assert (status, attempts) == ("pending", 1)

        silent.close()  # a real server takes the port
        sink.port = silent.port
        sink.start()
        clock.advance(minutes=5)
        assert (await d.deliver_due()).sent == 1

    try:
        scenario(site_dir, clock, body)
    finally:
        silent.close()
        sink.stop()
    assert [r.message_id for r in sink.received] == [ids_of(site_dir.root)[person]]


def test_a_server_that_stalls_after_data_times_out_and_the_retry_has_the_same_message_id(
    site_dir: SiteDir, smtp_server: SmtpSink
) -> None:
    person = "kim@daegu.example"
    reminder_site(site_dir, smtp_server, [person], timeout="1s")
    smtp_server.stall_data = True
    clock = Clock(DUE - timedelta(days=2))

    async def body(s: Site, d: Dispatcher) -> None:
        s.sync(clock())
        clock.set(DUE)
        report = await asyncio.wait_for(d.deliver_due(), 10)
        (event,) = report.events
        assert event.status is OutboxStatus.PENDING and "timed out" in event.detail, event
        assert_no_claim_left(site_dir.root)
        smtp_server.stall_data = False
        clock.advance(minutes=5)
        assert (await d.deliver_due()).sent == 1

    scenario(site_dir, clock, body)
    (stalled,) = smtp_server.stalled
    (arrived,) = smtp_server.received
    assert arrived.message_id == stalled.message_id == ids_of(site_dir.root)[person]


# -- TLS -------------------------------------------------------------------------------------


@pytest.mark.parametrize("security", ["tls", "starttls"])
def test_an_untrusted_certificate_is_named_and_nothing_goes_out_in_plain_text(
    site_dir: SiteDir, tmp_path: Path, security: str
) -> None:
    cert, key = self_signed(tmp_path)
    sink = SmtpSink(tls_context=server_context(cert, key), implicit_tls=security == "tls").start()
    person = "kim@daegu.example"
    shown = {"tls": "TLS", "starttls": "STARTTLS"}[security]
    try:
        reminder_site(site_dir, sink, [person])
        settings = site_dir.root / "config" / "meet-sched.toml"
        plain = settings.read_text()
        settings.write_text(plain.replace('security = "none"', f'security = "{security}"'))
        clock = Clock(DUE - timedelta(days=2))

        async def body(s: Site, d: Dispatcher) -> None:
            s.sync(clock())
            clock.set(DUE)
            (event,) = (await d.deliver_due()).events
            assert event.status is OutboxStatus.PENDING
            assert event.detail.startswith(
                f"127.0.0.1:{sink.port} ({shown}): TLS certificate not trusted: self-signed certificate (next attempt"
            ), event.detail

        scenario(site_dir, clock, body)
        assert sink.received == []
        assert outbox_rows(site_dir.root)[person][0] == "pending"

        result = site_dir.run("send-test", person)  # the operator's check says the same
        assert result.returncode == 1
        assert f"127.0.0.1:{sink.port} ({shown}): TLS certificate not trusted: self-signed certificate" in (
            result.stderr
        )
        assert "Operation not permitted" not in result.stderr and "Traceback" not in result.stderr

        # Trusting that certificate (a private CA) delivers the waiting message, still over TLS.
        (site_dir.root / "config" / "ca.pem").write_bytes(cert.read_bytes())
        settings.write_text(plain.replace('security = "none"', f'security = "{security}"\nca_file = "config/ca.pem"'))
        clock2 = Clock(DUE + timedelta(minutes=5))

        async def retry(s: Site, d: Dispatcher) -> None:
            assert (await d.deliver_due()).sent == 1

        scenario(site_dir, clock2, retry)
        assert [r.message_id for r in sink.received] == [ids_of(site_dir.root)[person]]
    finally:
        sink.stop()
