"""README "The organizer's summary": answers to a meeting reach its organizer in one mail, a short while
after they change ("each") or once a day ("daily"), in the organizer's language, through the outbox."""

from __future__ import annotations

import asyncio
import queue
import re
import shutil
import threading
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest
from sqlalchemy import select

from meet_sched.config import load_settings
from meet_sched.delivery.dispatcher import Dispatcher
from meet_sched.replies.intake import Intake
from meet_sched.site import Site
from meet_sched.store.db import listen
from meet_sched.store.tables import OutboxRow

from .conftest import SiteDir
from .mail_helpers import Clock, html_body, parts, smtp_settings, text_body
from .replies_helpers import FIXTURES, MEETING, NOW, reply
from .serving import Served, poll
from .smtp_sink import SmtpSink, free_port

LI, ELLIS, KIM = "li.ming@chengdu.example", "ellis@atlanta.example", "jihyun.kim@daegu.example"
OFFICE = "office@test.example"
KOREAN_ORGANIZER = "organizer: { name: 김지현, email: jihyun.kim@daegu.example }\n"

EACH_TEXT = (
    """\
New answers to Working call.

Working call
What changed
- Li Ming: accepted (every meeting of the series)
- Ellis Carter: declined (every meeting of the series)
Answers so far
Thu, Dec 10 10:00 KST
  Accepted (1): Li Ming
  Tentative (0)
  Declined (1): Ellis Carter
  No answer (2): 김지현 and Nguyễn Thu Hà
Thu, Jan 14, 2027 10:00 KST
  Accepted (1): Li Ming
  Tentative (0)
  Declined (1): Ellis Carter
  No answer (2): 김지현 and Nguyễn Thu Hà
Thu, Feb 11, 2027 10:00 KST
  Accepted (1): Li Ming
  Tentative (0)
  Declined (1): Ellis Carter
  No answer (2): 김지현 and Nguyễn Thu Hà

"""
    + "-- \nSent automatically by Test to the organizer.\n"
)  # the signature separator ends in a space


def plain(msg: EmailMessage) -> str:
    """The plain text part, with its CRLF line ends read as newlines."""
    return text_body(msg).replace("\r\n", "\n")


def configure(site_dir: SiteDir, sink: SmtpSink, summary: str, *, organizer: str = "", more: str = "") -> None:
    replies = f'\n[replies]\nsummary = "{summary}"\n{more}\n[invitations]\nenabled = false\n'
    site_dir.settings(smtp_settings(sink, replies, delivery='update_quiet = "2m"\n'))
    site_dir.meeting("working-call.yaml", MEETING.format(start="2026-12-10T10:00") + organizer)


def run(site_dir: SiteDir, clock: Clock, body: Callable[[Site, Dispatcher, Intake], Awaitable[None]]) -> None:
    async def main() -> None:
        environ = {"MEET_SCHED_DATABASE_URL": site_dir.database_url} if site_dir.database_url else {}
        site = Site(site_dir.root, load_settings(site_dir.root, environ=environ))
        site.open()
        site.sync(clock())
        dispatcher = Dispatcher(site, clock=clock)
        try:
            await body(site, dispatcher, Intake(site))
        finally:
            await dispatcher.close()
            site.close()

    asyncio.run(main())


def answer(intake: Intake, clock: Clock, partstat: str, who: str, stamp: str = "20261201T130000Z") -> None:
    intake.take_all([(f"{who}.eml", reply(partstat, who=who, stamp=stamp), False)], clock())


def summaries(site: Site) -> list[tuple[str, str, str, datetime]]:
    with site.db.transaction() as session:
        rows = session.execute(
            select(OutboxRow.recipient, OutboxRow.status, OutboxRow.meeting_uid, OutboxRow.due_at)
            .where(OutboxRow.kind == "answer-summary")
            .order_by(OutboxRow.id)
        )
        return [(r[0], r[1], r[2], r[3].replace(tzinfo=UTC)) for r in rows]


def test_two_answers_within_the_quiet_period_make_one_summary_with_both(
    site_dir: SiteDir, smtp_server: SmtpSink
) -> None:
    configure(site_dir, smtp_server, "each")
    clock = Clock(NOW)

    async def body(site: Site, dispatcher: Dispatcher, intake: Intake) -> None:
        answer(intake, clock, "ACCEPTED", LI)
        clock.advance(seconds=30)
        answer(intake, clock, "DECLINED", ELLIS)
        assert [(r, s) for r, s, _, _ in summaries(site)] == [(OFFICE, "pending")]  # the first one was replaced
        clock.advance(minutes=1, seconds=59)  # 2:29 after the first answer, 1:59 after the second
        assert (await dispatcher.deliver_due()).sent == 0
        clock.advance(seconds=1)
        assert (await dispatcher.deliver_due()).sent == 1
        answer(intake, clock, "DECLINED", ELLIS, stamp="20261201T140000Z")  # the same answer again: nothing new
        clock.advance(hours=1)
        assert (await dispatcher.deliver_due()).sent == 0
        assert [s for _, s, _, _ in summaries(site)] == ["sent"]
        answer(intake, clock, "TENTATIVE", LI, stamp="20261201T150000Z")
        clock.advance(minutes=2)
        assert (await dispatcher.deliver_due()).sent == 1

    run(site_dir, clock, body)
    got, later = smtp_server.received
    changes = plain(later.message).split("What changed\n")[1].split("Answers so far")[0]
    assert changes == "- Li Ming: tentative (every meeting of the series)\n"  # only what came after the first
    assert got.rcpt_tos[0] == OFFICE
    msg = got.message
    assert str(msg["Subject"]) == "Answers: Working call"
    assert msg["Auto-Submitted"] == "auto-generated" and msg["Content-Language"] == "en"
    assert [p.get_content_type() for p in parts(msg)] == ["text/plain", "text/html"]
    assert plain(msg) == EACH_TEXT
    html = html_body(msg)
    assert "<li>Li Ming: accepted (every meeting of the series)</li>" in html
    assert "Accepted (1): Li Ming<br>Tentative (0)<br>Declined (1): Ellis Carter<br>" in html


def test_answers_that_keep_coming_wait_no_longer_than_an_hour(site_dir: SiteDir, smtp_server: SmtpSink) -> None:
    configure(site_dir, smtp_server, "each")
    clock = Clock(NOW)

    async def body(site: Site, dispatcher: Dispatcher, intake: Intake) -> None:
        for minute in range(61):
            said = "ACCEPTED" if minute % 2 == 0 else "DECLINED"
            answer(intake, clock, said, LI, stamp=f"20261201T{13 + minute // 60}{minute % 60:02d}00Z")
            if minute < 60:
                assert (await dispatcher.deliver_due()).sent == 0, minute
            clock.advance(minutes=1)
        clock.set(NOW + timedelta(hours=1))
        assert (await dispatcher.deliver_due()).sent == 1

    run(site_dir, clock, body)
    (got,) = smtp_server.received
    assert plain(got.message).count("- Li Ming: ") == 61


def test_off_sends_none(site_dir: SiteDir, smtp_server: SmtpSink) -> None:
    configure(site_dir, smtp_server, "off")
    clock = Clock(NOW)

    async def body(site: Site, dispatcher: Dispatcher, intake: Intake) -> None:
        answer(intake, clock, "ACCEPTED", LI)
        answer(intake, clock, "DECLINED", ELLIS)
        clock.advance(days=1)
        assert (await dispatcher.deliver_due()).sent == 0
        assert summaries(site) == []

    run(site_dir, clock, body)
    assert smtp_server.received == []


def test_a_summary_planned_before_it_was_turned_off_is_not_sent(site_dir: SiteDir, smtp_server: SmtpSink) -> None:
    configure(site_dir, smtp_server, "each")
    clock = Clock(NOW)
    run(site_dir, clock, lambda site, dispatcher, intake: _answer_async(intake, clock))
    configure(site_dir, smtp_server, "off")
    clock.advance(hours=1)

    async def body(site: Site, dispatcher: Dispatcher, intake: Intake) -> None:
        assert (await dispatcher.deliver_due()).sent == 0
        assert [s for _, s, _, _ in summaries(site)] == ["skipped"]

    run(site_dir, clock, body)
    assert smtp_server.received == []


async def _answer_async(intake: Intake, clock: Clock) -> None:
    answer(intake, clock, "ACCEPTED", LI)


def test_daily_goes_at_summary_at_in_the_organizers_zone(site_dir: SiteDir, smtp_server: SmtpSink) -> None:
    configure(site_dir, smtp_server, "daily", more='summary_at = "08:00"\n')
    clock = Clock(NOW)  # 21:00 in Seoul, the meeting's zone (the organizer is no attendee)
    eight = datetime(2026, 12, 1, 23, 0, tzinfo=UTC)  # 08:00 KST on Dec 2

    async def body(site: Site, dispatcher: Dispatcher, intake: Intake) -> None:
        answer(intake, clock, "ACCEPTED", LI)
        clock.advance(hours=1)
        answer(intake, clock, "TENTATIVE", ELLIS)
        assert [(r, s, u, d) for r, s, u, d in summaries(site)] == [(OFFICE, "pending", "", eight)]
        clock.set(eight - timedelta(seconds=1))
        assert (await dispatcher.deliver_due()).sent == 0
        clock.set(eight)
        assert (await dispatcher.deliver_due()).sent == 1
        clock.advance(minutes=30)
        answer(intake, clock, "DECLINED", LI, stamp="20261201T150000Z")
        assert summaries(site)[-1][1:] == ("pending", "", eight + timedelta(days=1))  # tomorrow's
        clock.advance(hours=12)
        assert (await dispatcher.deliver_due()).sent == 0

    run(site_dir, clock, body)
    (got,) = smtp_server.received
    assert str(got.message["Subject"]) == "Answers to your meetings — Wed, Dec 2"
    text = plain(got.message)
    assert text.startswith("New answers to your meetings since the last summary.\n\nWorking call\nWhat changed\n")
    assert "- Li Ming: accepted (every meeting of the series)\n" in text
    assert "- Ellis Carter: tentative (every meeting of the series)\n" in text


def test_a_korean_organizer_reads_it_in_korean(site_dir: SiteDir, smtp_server: SmtpSink) -> None:
    configure(site_dir, smtp_server, "each", organizer=KOREAN_ORGANIZER)
    clock = Clock(NOW)

    async def body(site: Site, dispatcher: Dispatcher, intake: Intake) -> None:
        answer(intake, clock, "ACCEPTED", LI)
        answer(intake, clock, "DECLINED", ELLIS)
        clock.advance(minutes=3)
        assert (await dispatcher.deliver_due()).sent == 1

    run(site_dir, clock, body)
    (got,) = smtp_server.received
    assert got.rcpt_tos[0] == KIM
    msg = got.message
    assert str(msg["Subject"]) == "회신 현황: Working call"
    assert msg["Content-Language"] == "ko"
    text = plain(msg)
    assert text.startswith(
        "Working call에 새 회신이 있습니다.\n\nWorking call\n변경 사항\n"
        "- Li Ming: 수락 (반복 회의 전체)\n- Ellis Carter: 거절 (반복 회의 전체)\n현재 회신\n"
        "12월 10일 (목) 10:00 KST\n  수락 1명: Li Ming\n  미정 0명\n  거절 1명: Ellis Carter\n"
        "  회신 없음 2명: 김지현 및 Nguyễn Thu Hà\n"
    )
    assert text.endswith("-- \nTest에서 주최자에게 자동으로 보낸 메일입니다.\n")
    assert '<html lang="ko">' in html_body(msg)


def test_replies_import_of_an_eml_causes_it(site_dir: SiteDir, smtp_server: SmtpSink, tmp_path: Path) -> None:
    configure(site_dir, smtp_server, "each")
    site_dir.run("sync", check=True)
    files = [
        shutil.copy(FIXTURES / name, tmp_path / name)
        for name in ("google-accepted.eml", "counter.eml", "delegated.eml")
    ]
    done = site_dir.run("replies", "import", *map(str, files), check=True)
    assert "applied: li.ming@chengdu.example ACCEPTED" in done.stdout
    listed = site_dir.run("outbox", check=True).stdout
    (line,) = [row for row in listed.splitlines() if "answer-summary" in row]
    assert line.split()[3:10] == [
        "pending",
        "answer-summary",
        OFFICE,
        "working-call@test.example",
        "Working",
        "call",
        "0",
    ]
    assert "waits for more answers until" in line
    clock = Clock(datetime.now(UTC) + timedelta(minutes=3))

    async def body(site: Site, dispatcher: Dispatcher, intake: Intake) -> None:
        assert (await dispatcher.deliver_due()).sent == 1

    run(site_dir, clock, body)
    (got,) = smtp_server.received
    text = plain(got.message)
    assert "- Li Ming: accepted (every meeting of the series)\n" in text
    assert (
        "- Li Ming: proposed a new time: Thu, Dec 10 12:00 KST – 13:00 KST (every meeting of the series) "
        "“Could we start two hours later?”\n"
    ) in text
    assert "- Li Ming: delegated to wang.fang@chengdu.example (every meeting of the series)" in text


@pytest.mark.postgres
def test_a_summary_planned_by_another_process_wakes_every_dispatcher(
    site_dir: SiteDir, smtp_server: SmtpSink, tmp_path: Path, pg_url: str
) -> None:
    """`replies import` is a process of its own: a serve on the same PostgreSQL database hears of the
    summary it planned at once (NOTIFY), not at its next timer."""
    env = {"MEET_SCHED_DATABASE_URL": pg_url}
    configure(site_dir, smtp_server, "each")
    site_dir.run("sync", env=env, check=True)
    got: queue.Queue[str] = queue.Queue()
    stop = threading.Event()
    thread = threading.Thread(target=listen, args=(pg_url, got.put, stop), daemon=True)
    thread.start()
    try:
        assert got.get(timeout=10) == ""  # connected
        eml = shutil.copy(FIXTURES / "google-accepted.eml", tmp_path / "google-accepted.eml")
        site_dir.run("replies", "import", str(eml), env=env, check=True)
        assert got.get(timeout=5) == "summary"
        assert "answer-summary" in site_dir.run("outbox", env=env, check=True).stdout
    finally:
        stop.set()
        thread.join(timeout=5)


LINK = re.compile(r"https?://[^\s\"<>]+/rsvp/([A-Za-z0-9_-]+)\?answer=accepted")


@pytest.fixture
def served(site_dir: SiteDir, smtp_server: SmtpSink) -> Iterator[Served]:
    if site_dir.database_url is not None:
        pytest.skip("one served site on SQLite is enough for the metrics")
    port = free_port()
    extra = (
        f'\n[server]\nlisten = "127.0.0.1:{port}"\nbase_url = "http://127.0.0.1:{port}"\n'
        '\n[replies]\nsummary = "each"\n'
    )
    site_dir.settings(smtp_settings(smtp_server, extra, delivery='update_quiet = "1s"\n'))
    soon = (datetime.now(UTC) + timedelta(days=5)).strftime("%Y-%m-%dT10:00")
    site_dir.meeting("working-call.yaml", MEETING.format(start=soon))
    server = Served(site_dir.root)
    try:
        yield server
    finally:
        server.stop()


@pytest.mark.slow
def test_metrics_count_link_answers_and_the_summary_follows(
    site_dir: SiteDir, served: Served, smtp_server: SmtpSink
) -> None:
    invitations = {r.rcpt_tos[0]: r for r in smtp_server.wait_for(4)}
    (token, *_) = LINK.findall(plain(invitations[LI].message))
    metrics = served.client.get("/metrics").text
    assert 'meet_sched_replies_total{outcome="applied",via="link"} 0.0' in metrics
    assert 'meet_sched_replies_total{outcome="applied",via="imip"} 0.0' in metrics
    posted = served.client.post(f"/rsvp/{token}", data={"answer": "accepted"}, headers={"origin": served.url})
    assert posted.status_code == 200
    metrics = served.client.get("/metrics").text
    assert 'meet_sched_replies_total{outcome="applied",via="link"} 1.0' in metrics
    assert 'meet_sched_replies_total{outcome="applied",via="imip"} 0.0' in metrics
    (summary,) = smtp_server.wait_until(lambda got: any(r.rcpt_tos[0] == OFFICE for r in got), timeout=20)[4:]
    assert summary.rcpt_tos[0] == OFFICE
    assert "- Li Ming: accepted (every meeting of the series)\n" in plain(summary.message)
    inbox = site_dir.root / "var" / "inbox"
    for sub in ("tmp", "new", "cur"):
        (inbox / sub).mkdir(parents=True, exist_ok=True)
    (inbox / "new" / "1.M1P1.test").write_bytes(reply("DECLINED", who=ELLIS, stamp="20300101T000000Z"))
    poll(
        lambda: served.client.get("/metrics").text,
        lambda text: 'meet_sched_replies_total{outcome="applied",via="imip"} 1.0' in text,
        timeout=20,
    )


def test_what_an_attendee_wrote_stays_text(site_dir: SiteDir, smtp_server: SmtpSink) -> None:
    configure(site_dir, smtp_server, "each")
    clock = Clock(NOW)
    comment = "COMMENT:<b>late</b>\\nBcc: someone@evil.example\r\n"
    message = reply("TENTATIVE", who=LI).replace(b"END:VEVENT", comment.encode() + b"END:VEVENT")

    async def body(site: Site, dispatcher: Dispatcher, intake: Intake) -> None:
        intake.take_all([("li.eml", message, False)], clock())
        clock.advance(minutes=3)
        assert (await dispatcher.deliver_due()).sent == 1

    run(site_dir, clock, body)
    (got,) = smtp_server.received
    assert got.rcpt_tos == (OFFICE,) and "Bcc" not in got.message
    assert "- Li Ming: tentative (every meeting of the series) “<b>late</b> Bcc: someone@evil.example”\n" in plain(
        got.message
    )
    assert "“&lt;b&gt;late&lt;/b&gt; Bcc: someone@evil.example”</li>" in html_body(got.message)


def test_a_refused_summary_is_retried_after_a_restart_and_sent_once(site_dir: SiteDir, smtp_server: SmtpSink) -> None:
    configure(site_dir, smtp_server, "each")
    clock = Clock(NOW)
    smtp_server.data_reply, smtp_server.data_failures = "451 4.3.0 Try again later", 1

    async def first(site: Site, dispatcher: Dispatcher, intake: Intake) -> None:
        answer(intake, clock, "ACCEPTED", LI)
        clock.advance(minutes=2)
        report = await dispatcher.deliver_due()
        assert (report.sent, [e.status.value for e in report.events]) == (0, ["pending"])

    run(site_dir, clock, first)
    clock.advance(minutes=1)  # past the first retry (retry_base 1m, with jitter: 30 s to 1 min)

    async def after_restart(site: Site, dispatcher: Dispatcher, intake: Intake) -> None:
        assert (await dispatcher.deliver_due()).sent == 1
        clock.advance(hours=1)
        assert (await dispatcher.deliver_due()).sent == 0

    run(site_dir, clock, after_restart)
    (refused,), (got,) = smtp_server.rejected, smtp_server.received
    assert refused.message["Message-ID"] == got.message["Message-ID"]
    assert "- Li Ming: accepted (every meeting of the series)\n" in plain(got.message)
