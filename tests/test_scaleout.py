"""Several `serve` processes on one PostgreSQL outbox: each message once, a dead one's claims taken over in seconds."""

from __future__ import annotations

import re
import signal
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import create_engine, text

from meet_sched.store.outbox import message_id

from .conftest import SiteDir
from .mail_helpers import smtp_settings
from .serving import Served
from .smtp_sink import SmtpSink

pytestmark = [pytest.mark.slow, pytest.mark.postgres]
SEOUL = ZoneInfo("Asia/Seoul")
DOMAIN = "test.example"
BURST = 300
TAKEOVER = 10.0  # seconds: a dead process's claimed messages arrive within this of the kill
WORKER = re.compile(r"event=dispatcher-started .*worker=(\S+)")


def site_settings(site: SiteDir, sink: SmtpSink) -> None:
    """Plain SMTP to the sink over 2 connections per process; the default two-minute lease."""
    extra = '\n[server]\nlisten = "127.0.0.1:0"\n\n[invitations]\nenabled = false\n'
    site.settings(smtp_settings(sink, extra, connections=2, delivery='lease = "2m"\n'))


def reminders(
    site: SiteDir, people: list[str], due_in: float, lead: timedelta, uid: str = "call"
) -> tuple[datetime, datetime]:
    """One meeting starting ``lead`` after its only reminder, which is due ``due_in`` s from now; (due, start)."""
    start = (datetime.now(UTC) + timedelta(seconds=due_in) + lead).replace(microsecond=0)
    offset = int(lead.total_seconds())
    attendees = "\n".join(f"  - {{ name: P{i}, email: {a} }}" for i, a in enumerate(people))
    site.meeting(
        f"{uid}.yaml",
        f"uid: {uid}\ntitle: Working call\ntimezone: Asia/Seoul\n"
        f"start: {start.astimezone(SEOUL).replace(tzinfo=None).isoformat()}\nduration: 30m\n"
        f"reminders: [{offset}s]\nattendees:\n{attendees}\n",
    )
    return start - lead, start


def outbox_rows(url: str) -> list[tuple[str, str, str | None]]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return [(r[0], r[1], r[2]) for r in conn.execute(text("SELECT key, status, claimed_by FROM outbox"))]
    finally:
        engine.dispose()


@pytest.fixture
def three(site_dir: SiteDir, smtp_server: SmtpSink, pg_url: str) -> Iterator[list[Served]]:
    """Three `serve` processes of one site on one fresh PostgreSQL database."""
    site_settings(site_dir, smtp_server)
    served: list[Served] = []
    try:
        for _ in range(3):
            served.append(Served(site_dir.root, env={"MEET_SCHED_DATABASE_URL": pg_url}))
        yield served
    finally:
        for s in served:
            s.stop()


def wait_planned(url: str, count: int, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while len(outbox_rows(url)) < count:
        assert time.monotonic() < deadline, f"{len(outbox_rows(url))} of {count} planned within {timeout}s"
        time.sleep(0.2)


def test_three_instances_send_every_message_once(
    site_dir: SiteDir, smtp_server: SmtpSink, pg_url: str, three: list[Served]
) -> None:
    """3,000 reminders due within 30 s: six meetings of 500 attendees, one falling due every 4 s."""
    people = [f"p{i:03d}@daegu.example" for i in range(500)]
    for n in range(6):
        reminders(site_dir, people, due_in=8 + 4 * n, lead=timedelta(minutes=5), uid=f"call-{n}")
    total = 6 * len(people)
    wait_planned(pg_url, total)
    got = smtp_server.wait_until(lambda r: len({x.message_id for x in r}) == total, timeout=60)
    time.sleep(1)  # a second copy would arrive now
    by_id = Counter(r.message_id for r in smtp_server.received)
    assert len(by_id) == total and max(by_id.values()) == 1, by_id.most_common(3)
    assert {r.message_id for r in got} == {message_id(k, DOMAIN) for k, _, _ in outbox_rows(pg_url)}
    senders = [s.log.count("event=sent") for s in three]
    assert sum(senders) == total
    assert sum(1 for n in senders if n) >= 2, f"the work was shared: {senders}"
    assert {status for _, status, _ in outbox_rows(pg_url)} == {"sent"}


@pytest.mark.parametrize("moment", ["mid-burst", "as-due"])
def test_a_killed_instance_loses_nothing_and_its_claims_arrive_within_seconds(
    site_dir: SiteDir, smtp_server: SmtpSink, pg_url: str, three: list[Served], moment: str
) -> None:
    """SIGKILL one of three mid-burst, or half a second after the reminders fell due; the meeting
    starts 25 s after they are due, far less than the two-minute lease."""
    smtp_server.delay = 0.01  # a burst that takes a while, so the kill lands in it
    people = [f"p{i:03d}@daegu.example" for i in range(BURST)]
    due, start = reminders(site_dir, people, due_in=6, lead=timedelta(seconds=25))
    wait_planned(pg_url, BURST)
    victim = three[0]
    worker = WORKER.search(victim.log)
    assert worker, victim.log
    if moment == "mid-burst":
        smtp_server.wait_for(BURST // 5, timeout=30)
    else:
        time.sleep(max(0.0, (due - datetime.now(UTC)).total_seconds() + 0.5))
    victim.proc.send_signal(signal.SIGKILL)
    killed_at = time.time()
    victim.proc.wait(timeout=10)
    at_kill = outbox_rows(pg_url)
    claimed = {k for k, status, by in at_kill if status == "sending" and by == worker.group(1)}
    sent_before = {k for k, status, _ in at_kill if status == "sent"}
    assert claimed, "the dead process held claims"

    everyone = smtp_server.wait_until(lambda r: len({x.rcpt_tos for x in r}) == BURST, timeout=40)
    time.sleep(1)
    everyone = list(smtp_server.received)
    keys = {message_id(k, DOMAIN): k for k, _, _ in at_kill}
    assert {r.message_id for r in everyone} == set(keys)
    by_id = Counter(r.message_id for r in everyone)
    repeated = {keys[mid] for mid, n in by_id.items() if n > 1}
    assert repeated <= claimed, "only a message claimed by the dead process may arrive twice"
    assert not repeated & sent_before
    for person in people:  # a repeat carries the same Message-ID
        assert len({r.message_id for r in everyone if r.rcpt_tos == (person,)}) == 1
    claimed_ids = {message_id(k, DOMAIN) for k in claimed}
    last = max(r.at for r in everyone if r.message_id in claimed_ids)
    assert last - killed_at < TAKEOVER, f"the dead process's messages arrived {last - killed_at:.1f}s after the kill"
    assert max(r.at for r in everyone) < start.timestamp(), "every reminder arrived before the meeting began"
    assert {status for _, status, _ in outbox_rows(pg_url)} == {"sent"}
