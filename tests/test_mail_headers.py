"""RFC 5322/2047 headers done right: no config text can add a header or a recipient, non-ASCII is encoded,
the Message-ID comes from the outbox key; checked on messages built from Meeting objects directly."""

from __future__ import annotations

import asyncio
import email
import email.policy
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from zoneinfo import ZoneInfo

import pytest

from meet_sched.config import load_settings
from meet_sched.delivery.transport import SmtpTransport
from meet_sched.ics import IcsRenderer
from meet_sched.mail import MailError, MailRenderer, Outgoing, Recipient
from meet_sched.model import Attendee, Meeting, Person, StoredMeeting

from .conftest import SiteDir
from .mail_helpers import calendar_of, calendar_part, html_body, smtp_settings, text_body
from .smtp_sink import SmtpSink

SEOUL = ZoneInfo("Asia/Seoul")
NOW = datetime(2026, 12, 1, tzinfo=UTC)
MID = "<reminder.0123456789abcdef@test.example>"
EVIL = "Working call\r\nBcc: evil@attacker.example\r\nX-Injected: yes"


def stored(
    title: str = "Working call", *, name: str = "김지현", organizer: str = "Office", **kw: object
) -> StoredMeeting:
    start = datetime(2026, 12, 10, 10, 0, tzinfo=SEOUL)
    meeting = Meeting(
        uid="call@test.example",
        title=title,
        start=start,
        end=start + timedelta(hours=1),
        timezone=SEOUL,
        organizer=Person(organizer, "office@test.example"),
        attendees=(Attendee(name, "jihyun.kim@daegu.example", SEOUL, "ko"),),
        reminders=(timedelta(days=1),),
        **kw,  # type: ignore[arg-type]
    )
    return StoredMeeting(meeting, 0, NOW, NOW, False)


@pytest.fixture
def renderer(site_dir: SiteDir) -> MailRenderer:
    site_dir.settings('[smtp]\nhost = "127.0.0.1"\nsender = "Reminders <reminders@test.example>"\n')
    settings = load_settings(site_dir.root)
    return MailRenderer(settings, IcsRenderer(settings))


def reparse(out: Outgoing) -> EmailMessage:
    msg = email.message_from_bytes(out.data, policy=email.policy.default)
    assert isinstance(msg, EmailMessage)
    return msg


HEADERS = ["From", "To", "Subject", "Date", "Message-ID", "Auto-Submitted", "X-Auto-Response-Suppress"]


@pytest.mark.parametrize(
    "title",
    [
        EVIL,
        "Working call\nBcc: evil@attacker.example",
        "Working call\rBcc: evil@attacker.example",
        "Working call\u2028Bcc: evil@attacker.example",
        "Working call\x85Bcc: evil@attacker.example",
    ],
)
def test_line_breaks_in_a_title_never_make_a_header(renderer: MailRenderer, title: str) -> None:
    if "\x85" in title:  # NEL is a C1 control, which a Meeting refuses as config files do; forced in, no header either
        with pytest.raises(ValueError, match=r"title contains the control character U\+0085"):
            stored(title)
        s = stored()
        object.__setattr__(s.meeting, "title", title)
    else:
        s = stored(title)
    to = Recipient.of(s.meeting.attendees[0])
    for out in (
        renderer.reminder(s, to, s.meeting.start, message_id=MID, now=NOW),
        renderer.invitation(s, to, message_id=MID, now=NOW),
    ):
        msg = reparse(out)
        assert msg.get_all("Bcc") is None and msg.get_all("X-Injected") is None
        assert [a.addr_spec for a in msg["To"].addresses] == ["jihyun.kim@daegu.example"]
        subject = str(msg["Subject"])
        assert "\n" not in subject and "\r" not in subject and "\u2028" not in subject
        assert "Working call Bcc: evil@attacker.example" in subject
        names = [k for k, _ in msg.items()]
        assert set(names) <= {*HEADERS, "Reply-To", "Content-Language", "MIME-Version", "Content-Type"}
        assert out.recipient == "jihyun.kim@daegu.example"
        assert b"\r\nBcc:" not in out.data and b"\nBcc:" not in out.data


def test_line_breaks_in_names_never_make_a_header(renderer: MailRenderer) -> None:
    s = stored(name="Kim\r\nBcc: evil@attacker.example", organizer="Office\r\nCc: evil@attacker.example")
    out = renderer.reminder(s, Recipient.of(s.meeting.attendees[0]), s.meeting.start, message_id=MID, now=NOW)
    msg = reparse(out)
    assert msg.get_all("Bcc") is None and msg.get_all("Cc") is None
    (to,) = msg["To"].addresses
    assert to.addr_spec == "jihyun.kim@daegu.example" and to.display_name == "Kim Bcc: evil@attacker.example"
    (reply_to,) = msg["Reply-To"].addresses
    assert reply_to.addr_spec == "office@test.example" and reply_to.display_name == "Office Cc: evil@attacker.example"


@pytest.mark.parametrize(
    "address",
    [
        "a@b.example\r\nBcc: evil@attacker.example",
        "a@b.example, evil@attacker.example",
        "Evil <evil@x.example>",
        "a@b.example>\r\nRCPT TO:<evil@x.example",
        "no-at-sign",
        "ünicode@b.example",
    ],
)
def test_an_address_that_could_smuggle_a_recipient_is_refused(renderer: MailRenderer, address: str) -> None:
    s = stored()
    with pytest.raises(MailError, match="not an email address"):
        renderer.reminder(s, Recipient("X", address, SEOUL, "en"), s.meeting.start, message_id=MID, now=NOW)


def test_non_ascii_is_rfc2047_encoded_and_reads_back(renderer: MailRenderer) -> None:
    s = stored("대구–청두 시장 화상 회담 · 成都 · Bắc Ninh", name="김지현")
    out = renderer.reminder(s, Recipient.of(s.meeting.attendees[0]), s.meeting.start, message_id=MID, now=NOW)
    assert out.data.isascii()
    head = out.data.split(b"\r\n\r\n", 1)[0]
    assert b"=?utf-8?" in head and "김지현".encode() not in head
    msg = reparse(out)
    assert str(msg["Subject"]) == "알림: 대구–청두 시장 화상 회담 · 成都 · Bắc Ninh — 12월 10일 (목) 10:00 KST"
    assert msg["To"].addresses[0].display_name == "김지현"
    assert msg["From"].addresses[0].addr_spec == "reminders@test.example"
    assert msg["Message-ID"] == MID and msg["Auto-Submitted"] == "auto-generated"
    assert msg["Date"].datetime == NOW


def test_no_ics_injection_from_a_title(renderer: MailRenderer) -> None:
    s = stored("Call\r\nATTENDEE:mailto:evil@attacker.example\r\nEND:VEVENT")
    out = renderer.invitation(s, Recipient.of(s.meeting.attendees[0]), message_id=MID, now=NOW)
    cal = calendar_of(calendar_part(reparse(out)))
    (event,) = cal.events()
    attendee = event["ATTENDEE"]
    assert str(attendee) == "mailto:jihyun.kim@daegu.example"
    assert str(event["SUMMARY"]) == "Call\nATTENDEE:mailto:evil@attacker.example\nEND:VEVENT"


def test_only_http_links_become_links(renderer: MailRenderer) -> None:
    s = stored(video_url="javascript:alert(1)", description="<script>alert(1)</script>")
    out = renderer.reminder(s, Recipient.of(s.meeting.attendees[0]), s.meeting.start, message_id=MID, now=NOW)
    html = html_body(reparse(out))
    assert "href" not in html.split("<body", 1)[1]
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "javascript:alert(1)" in text_body(reparse(out))


def test_a_message_id_must_look_like_one(renderer: MailRenderer) -> None:
    s = stored()
    with pytest.raises(MailError, match="not a Message-ID"):
        renderer.reminder(
            s, Recipient.of(s.meeting.attendees[0]), s.meeting.start, message_id="<x>\r\nBcc: y@z.example", now=NOW
        )


def test_the_envelope_has_exactly_one_recipient(site_dir: SiteDir, smtp_server: SmtpSink) -> None:
    site_dir.settings(smtp_settings(smtp_server))
    settings = load_settings(site_dir.root)
    assert settings.spec.smtp is not None
    s = stored(EVIL, name="Kim\r\nBcc: evil@attacker.example")
    out = MailRenderer(settings).invitation(s, Recipient.of(s.meeting.attendees[0]), message_id=MID, now=NOW)

    async def send() -> str:
        transport = SmtpTransport(settings.spec.smtp, None, root=site_dir.root)  # type: ignore[arg-type]
        try:
            return await transport.send(out)
        finally:
            await transport.close()

    assert "queued" in asyncio.run(send())
    (got,) = smtp_server.received
    assert got.rcpt_tos == ("jihyun.kim@daegu.example",)
    assert got.mail_from == "reminders@daegu.example"
    assert got.message.get_all("Bcc") is None


def test_config_refuses_line_breaks_in_titles_and_names(site_dir: SiteDir) -> None:
    site_dir.meeting(
        "bad.yaml",
        """
        title: "Working call\\nBcc: evil@attacker.example"
        timezone: Asia/Seoul
        start: 2026-12-10T10:00
        attendees:
          - { name: "Kim\\r\\nBcc: x@y.example", email: kim@daegu.example }
        """,
    )
    result = site_dir.run("validate")
    assert result.returncode == 1
    assert "bad.yaml:1: title: must be a single line (no line breaks)" in result.stderr
    assert "attendees[0].name" in result.stderr or "attendees.0.name" in result.stderr
    assert "Traceback" not in result.stderr


def test_recipients_sharing_a_text_get_their_own_to_and_message_id(renderer: MailRenderer) -> None:
    s = stored()
    a = Recipient("김지현", "jihyun.kim@daegu.example", SEOUL, "ko")
    b = Recipient("박서연", "seoyeon.park@daegu.example", SEOUL, "ko")
    first = renderer.reminder(s, a, s.meeting.start, message_id="<reminder.aaaa@test.example>", now=NOW)
    second = renderer.reminder(s, b, s.meeting.start, message_id="<reminder.bbbb@test.example>", now=NOW)
    one, two = reparse(first), reparse(second)
    assert [x.addr_spec for x in one["To"].addresses] == ["jihyun.kim@daegu.example"]
    assert [x.addr_spec for x in two["To"].addresses] == ["seoyeon.park@daegu.example"]
    assert two["To"].addresses[0].display_name == "박서연"
    assert (one["Message-ID"], two["Message-ID"]) == ("<reminder.aaaa@test.example>", "<reminder.bbbb@test.example>")
    assert first.data.split(b"\r\n\r\n", 1)[1] == second.data.split(b"\r\n\r\n", 1)[1]  # the same text, rendered once
    assert text_body(one) == text_body(two)
