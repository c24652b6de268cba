"""The wall clock jumping (a VM resumed: an hour forward; a correction: an hour back) under the dispatcher, with
an injected clock against a real SQLite outbox and a real SMTP server: nothing twice, the README's reminder rules."""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from meet_sched.config import load_settings
from meet_sched.delivery.dispatcher import Dispatcher
from meet_sched.site import Site
from meet_sched.store.outbox import OutboxStatus, message_id

from .conftest import SiteDir
from .db_helpers import query
from .mail_helpers import Clock, smtp_settings
from .smtp_sink import SmtpSink

DOMAIN = "test.example"
START = datetime(2026, 12, 10, 1, 0, tzinfo=UTC)  # 2026-12-10 10:00 KST
PEOPLE = ["kim@daegu.example", "li@chengdu.example"]


def make_site(site: SiteDir, sink: SmtpSink, reminders: str, people: list[str], *, lease: str = "2m") -> None:
    site.settings(smtp_settings(sink, "[invitations]\nenabled = false\n", delivery=f'lease = "{lease}"\n'))
    attendees = "\n".join(f"  - {{ name: P{i}, email: {a} }}" for i, a in enumerate(people))
    site.meeting(
        "call.yaml",
        "uid: call\ntitle: Working call\ntimezone: Asia/Seoul\nstart: 2026-12-10T10:00\nduration: 1h\n"
        f"reminders: [{reminders}]\nattendees:\n{attendees}\n",
    )
    site.meeting(  # starts half an hour before the other: the forward jump passes its start
        "early.yaml",
        "uid: early\ntitle: Early call\ntimezone: Asia/Seoul\nstart: 2026-12-10T09:30\nduration: 15m\n"
        f"reminders: [20m]\nattendees:\n{attendees}\n",
    )


def run(
    site: SiteDir, clock: Clock, body: Callable[[Site, Dispatcher], Awaitable[None]], batch_size: int | None = None
) -> None:
    async def main() -> None:
        s = Site(site.root, load_settings(site.root, environ={}))
        d = Dispatcher(s, clock=clock, batch_size=batch_size)
        try:
            await body(s, d)
        finally:
            await d.close()
            s.close()

    asyncio.run(main())


def statuses(root: Path) -> dict[tuple[str, str, int], str]:
    """(meeting, recipient, offset in minutes) → status."""
    rows = query(root, "SELECT meeting_uid, recipient, offset_seconds, status FROM outbox WHERE kind = 'reminder'")
    return {(m.split("@")[0], r, o // 60): s for m, r, o, s in rows}


def keys(root: Path) -> dict[str, str]:
    return {message_id(k, DOMAIN): k for (k,) in query(root, "SELECT key FROM outbox")}


def test_a_jump_forward_of_an_hour_sends_only_what_the_rules_allow(site_dir: SiteDir, smtp_server: SmtpSink) -> None:
    make_site(site_dir, smtp_server, "2h, 1h, 30m", PEOPLE)
    clock = Clock(START - timedelta(days=1))

    async def body(s: Site, d: Dispatcher) -> None:
        s.sync(clock())
        clock.set(START - timedelta(hours=2))
        assert (await d.deliver_due()).sent == 2  # the 2h reminders, on time
        clock.set(START - timedelta(hours=1, minutes=5))
        assert (await d.deliver_due()).events == []
        clock.advance(hours=1)  # resumed at START - 5m: the 1h and 30m reminders both due, the early call begun
        report = await d.deliver_due()
        assert report.sent == 2 and report.count(OutboxStatus.SKIPPED) == 2 and report.count(OutboxStatus.EXPIRED) == 2
        assert (await d.deliver_due()).events == []  # and again: nothing more

    run(site_dir, clock, body)
    got = statuses(site_dir.root)
    for person in PEOPLE:
        assert got[("call", person, 120)] == "sent"
        assert got[("call", person, 60)] == "skipped"  # superseded by the later reminder due too
        assert got[("call", person, 30)] == "sent"  # the latest due one, sent at once: the meeting has not begun
        assert got[("early", person, 20)] == "expired"  # never sent late
    assert len(smtp_server.received) == 4
    ids = Counter(r.message_id for r in smtp_server.received)
    assert max(ids.values()) == 1 and set(ids) <= set(keys(site_dir.root))


def test_a_jump_forward_mid_pass_does_not_take_its_own_claims_again(site_dir: SiteDir, smtp_server: SmtpSink) -> None:
    """Claims in flight look expired after the jump; the dispatcher must not claim (and send) them twice."""
    people = [f"p{i:02d}@daegu.example" for i in range(24)]
    make_site(site_dir, smtp_server, "1d", people)
    smtp_server.delay = 0.05
    due = START - timedelta(days=1)
    clock = Clock(due - timedelta(days=1))

    async def body(s: Site, d: Dispatcher) -> None:
        s.sync(clock())
        clock.set(due)
        jumper = threading.Thread(target=lambda: (smtp_server.wait_for(3), clock.advance(hours=1)))
        jumper.start()
        report = await asyncio.wait_for(d.deliver_due(), 60)
        jumper.join(10)
        assert clock() == due + timedelta(hours=1)
        assert report.sent == len(people), report.summary()

    run(site_dir, clock, body, batch_size=4)  # several batches, so claims are made after the jump
    ids = Counter(r.message_id for r in smtp_server.received)
    assert len(ids) == len(people) and max(ids.values()) == 1, [m for m, n in ids.items() if n > 1]
    assert {st for (uid, _, _), st in statuses(site_dir.root).items() if uid == "call"} == {"sent"}


def test_a_jump_back_of_an_hour_sends_nothing_twice_and_nothing_early(site_dir: SiteDir, smtp_server: SmtpSink) -> None:
    make_site(site_dir, smtp_server, "2h, 1h", PEOPLE)
    clock = Clock(START - timedelta(days=1))

    async def body(s: Site, d: Dispatcher) -> None:
        s.sync(clock())
        clock.set(START - timedelta(hours=1))
        report = await d.deliver_due()  # the 2h reminders were due an hour ago: skipped for the 1h ones
        assert report.sent == 2 and report.count(OutboxStatus.SKIPPED) == 2
        clock.advance(hours=-1, minutes=-30)  # corrected back to START - 2h30m
        s.sync(clock())  # a sync at the earlier time plans nothing again
        assert (await d.deliver_due()).events == []
        clock.set(START - timedelta(hours=1))  # the same moment again
        assert (await d.deliver_due()).events == []
        clock.set(START - timedelta(minutes=45))  # the early call's 20m reminder (due 5 minutes ago), once
        assert (await d.deliver_due()).sent == 2

    run(site_dir, clock, body)
    got = statuses(site_dir.root)
    for person in PEOPLE:
        assert (got[("call", person, 120)], got[("call", person, 60)], got[("early", person, 20)]) == (
            "skipped",
            "sent",
            "sent",
        )
    ids = Counter(r.message_id for r in smtp_server.received)
    assert len(ids) == 4 and max(ids.values()) == 1
