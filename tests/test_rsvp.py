"""README "One-click answers": the links in a Korean attendee's mail open a Korean page (GET changes nothing),
Decline on that page in headless Chromium reaches the feed and removes the reminders; bad tokens get the 404."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from meet_sched.site import Site
from meet_sched.store import rsvp as rsvp_store
from meet_sched.store.feeds import token_hash

from .cdp import Browser
from .conftest import SiteDir
from .ics_helpers import parse_both
from .mail_helpers import parts, smtp_settings
from .replies_helpers import MEETING, UID
from .serving import Served, poll
from .smtp_sink import SmtpSink, free_port
from .test_agenda_page import Cards, chromium, squash

pytestmark = [pytest.mark.slow]

KIM = "jihyun.kim@daegu.example"
LINK = re.compile(r"(https?://[^\s\"<>]+/rsvp/([A-Za-z0-9_-]+))\?answer=(accepted|tentative|declined)")


def _body(msg: object, subtype: str) -> str:
    (part,) = [p for p in parts(msg) if p.get_content_type() == f"text/{subtype}"]  # type: ignore[arg-type]
    payload = part.get_payload(decode=True)
    assert isinstance(payload, bytes)
    return payload.decode("utf-8")


def _cards(dom: str) -> list[str]:
    """The text of each meeting card on the agenda page."""
    page = Cards()
    page.feed(dom)
    return [squash(c) for c in page.cards]


def _state(root: Path) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
    """Every answer and every outbox row's status: what a GET must leave as it was."""
    with sqlite3.connect(root / "var" / "meet-sched.db") as db:
        answers = db.execute("SELECT * FROM answers ORDER BY id").fetchall()
        outbox = db.execute("SELECT id, status, recipient, kind FROM outbox ORDER BY id").fetchall()
    return answers, outbox


def _pending_reminders(root: Path, recipient: str) -> int:
    with sqlite3.connect(root / "var" / "meet-sched.db") as db:
        (n,) = db.execute(
            "SELECT count(*) FROM outbox WHERE kind='reminder' AND status='pending' AND recipient=?", (recipient,)
        ).fetchone()
    return int(n)


@pytest.fixture
def served(site_dir: SiteDir, smtp_server: SmtpSink) -> Iterator[Served]:
    if site_dir.database_url is not None:
        pytest.skip("reads the outbox from the site's SQLite file")
    port = free_port()
    extra = (
        f'\n[server]\nlisten = "127.0.0.1:{port}"\nbase_url = "http://127.0.0.1:{port}"\n'
        'public_calendars = ["default"]\npublic_attendees = true\nagenda_days = 100\n'
    )
    site_dir.settings(smtp_settings(smtp_server, extra))
    soon = (datetime.now(UTC) + timedelta(days=5)).strftime("%Y-%m-%dT10:00")  # its reminders are planned
    site_dir.meeting("working-call.yaml", MEETING.format(start=soon))
    server = Served(site_dir.root)
    try:
        yield server
    finally:
        server.stop()


def test_decline_from_the_korean_mail_in_chromium(
    site_dir: SiteDir, served: Served, smtp_server: SmtpSink, tmp_path: Path
) -> None:
    invitations = {r.rcpt_tos[0]: r for r in smtp_server.wait_for(4)}
    mail = invitations[KIM].message
    text, html = _body(mail, "plain"), _body(mail, "html")
    links = {answer: (url, token) for url, token, answer in LINK.findall(text)}
    assert set(links) == {"accepted", "tentative", "declined"}
    assert {m[2] for m in LINK.findall(html)} == {"accepted", "tentative", "declined"}
    assert "수락" in text and "거절" in text and "미정" in text
    url, token = links["declined"]
    assert url == f"{served.url}/rsvp/{token}"
    others = {t for r, m in invitations.items() if r != KIM for _, t, _ in LINK.findall(_body(m.message, "plain"))}
    assert token not in others  # each recipient's own
    var = site_dir.root / "var"
    database = b"".join(f.read_bytes() for f in var.glob("meet-sched.db*"))  # the file and its WAL
    assert token.encode() not in database and token_hash(token).encode() in database  # stored hashed only
    assert token not in served.log

    assert _pending_reminders(site_dir.root, KIM) > 0
    before = _state(site_dir.root)
    scanned = served.client.get(f"/rsvp/{token}", params={"answer": "declined"})  # a mail scanner's prefetch
    assert scanned.status_code == 200 and "noindex" in scanned.headers["x-robots-tag"]
    browser = Browser(chromium(), tmp_path / "profile")
    try:
        page = browser.open(f"{url}?answer=declined")
        assert _state(site_dir.root) == before  # GET alone changed nothing
        assert '<html lang="ko">' in page
        assert "회신: Working call" in page and "거절" in page and "이 반복 회의 전체" in page
        assert "(Daegu)" in page and "10:00" in page  # the meeting in her local time
        cards = _cards(browser.open(f"{served.url}/"))
        assert cards and all(
            "0 declined" in c and "4 no answer: 김지현, Li Ming, Nguyễn Thu Hà, Ellis Carter" in c for c in cards
        )
        browser.open(f"{url}?answer=declined")
        browser.check('input[name="scope"][value="series"]')
        done = browser.click("#answer-declined")
        cards = _cards(browser.open(f"{served.url}/"))  # every occurrence of the series
        assert cards and all(
            "1 declined: 김지현" in c and "3 no answer: Li Ming, Nguyễn Thu Hà, Ellis Carter" in c for c in cards
        )
    finally:
        browser.close()
    assert "회신이 기록되었습니다 (거절)" in done

    def partstat() -> str:
        body = served.client.get("/calendars/default.ics").content
        (event,) = parse_both(body).icalendar.walk("VEVENT")
        return {str(a).removeprefix("mailto:"): str(a.params["PARTSTAT"]) for a in event["ATTENDEE"]}[KIM]

    assert poll(partstat, lambda p: p == "DECLINED", timeout=10) == "DECLINED"
    strict = parse_both(served.client.get("/calendars/default.ics").content).ical.events[0]
    assert {a.uri.removeprefix("mailto:"): a.status for a in strict.attendees}[KIM] == "DECLINED"
    assert _pending_reminders(site_dir.root, KIM) == 0
    assert _pending_reminders(site_dir.root, "li.ming@chengdu.example") > 0
    with sqlite3.connect(site_dir.root / "var" / "meet-sched.db") as db:
        assert db.execute("SELECT partstat, via, occurrence FROM answers WHERE attendee=?", (KIM,)).fetchall() == [
            ("DECLINED", "link", None)
        ]
    assert token not in served.log and f"token=sha256:{token_hash(token)[:12]}" in served.log


def test_wrong_revoked_and_malformed_answers(site_dir: SiteDir, served: Served, smtp_server: SmtpSink) -> None:
    invitations = {r.rcpt_tos[0]: r for r in smtp_server.wait_for(4)}
    ((_, token, _), *_) = LINK.findall(_body(invitations[KIM].message, "plain"))
    unknown = served.client.get("/feeds/" + "x" * 43 + ".ics")
    for wrong in ("A" * 43, token[:-1] + ("A" if token[-1] != "A" else "B"), "short", "%00"):
        got = served.client.get(f"/rsvp/{wrong}")
        assert (got.status_code, got.content) == (404, unknown.content)
        posted = served.client.post(f"/rsvp/{wrong}", data={"answer": "declined"})
        assert posted.status_code == 404
    before = _state(site_dir.root)
    assert served.client.post(f"/rsvp/{token}", data={}).status_code == 400
    assert served.client.post(f"/rsvp/{token}", data={"answer": "maybe-not"}).status_code == 400
    assert served.client.post(f"/rsvp/{token}", content=b"answer=declined").status_code == 400  # not a form
    big = served.client.post(f"/rsvp/{token}", data={"answer": "declined", "x": "y" * 5000})
    assert big.status_code == 413
    forged = served.client.post(f"/rsvp/{token}", data={"answer": "declined"}, headers={"origin": "http://evil.test"})
    assert forged.status_code == 403
    assert served.client.put(f"/rsvp/{token}").status_code == 405
    assert _state(site_dir.root) == before

    site = Site(site_dir.root)
    site.open()
    try:
        with site.db.transaction(write=True) as session:
            assert rsvp_store.revoke(session, UID, KIM) >= 1
    finally:
        site.close()
    revoked = served.client.get(f"/rsvp/{token}")
    assert (revoked.status_code, revoked.content) == (404, unknown.content)
    assert served.client.post(f"/rsvp/{token}", data={"answer": "declined"}).status_code == 404
    assert _state(site_dir.root) == before


def test_one_occurrence_only(site_dir: SiteDir, served: Served, smtp_server: SmtpSink) -> None:
    invitations = {r.rcpt_tos[0]: r for r in smtp_server.wait_for(4)}
    ((_, token, _), *_) = LINK.findall(_body(invitations["li.ming@chengdu.example"].message, "plain"))
    page = served.client.get(f"/rsvp/{token}").text
    assert '<html lang="zh">' in page and "仅此次会议" in page
    (occurrence,) = re.findall(r'name="occurrence" value="([^"]+)"', page)
    answered = served.client.post(
        f"/rsvp/{token}",
        data={"occurrence": occurrence, "scope": "occurrence", "answer": "tentative"},
        headers={"origin": served.url},
    )
    assert answered.status_code == 200 and "您的回复已记录（待定）" in answered.text
    cards = _cards(served.client.get("/").text)
    assert len(cards) >= 2
    assert "1 tentative: Li Ming" in cards[0] and "0 tentative" in cards[1]  # that occurrence, not the next
    with sqlite3.connect(site_dir.root / "var" / "meet-sched.db") as db:
        ((partstat, via, when),) = db.execute(
            "SELECT partstat, via, occurrence FROM answers WHERE attendee='li.ming@chengdu.example'"
        ).fetchall()
    assert (partstat, via) == ("TENTATIVE", "link")
    assert datetime.fromisoformat(when).replace(tzinfo=UTC) == datetime.fromisoformat(occurrence)
    wrong = served.client.post(
        f"/rsvp/{token}", data={"occurrence": "2031-01-01T00:00:00+00:00", "scope": "occurrence", "answer": "declined"}
    )
    assert wrong.status_code == 404  # not an occurrence of the meeting
