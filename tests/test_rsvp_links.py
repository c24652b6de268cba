"""README "One-click answers": the links in reminders and invitations, each recipient's own, in their language;
none in a cancellation, none for a link that is not http(s), and the shared texts stay shared without them."""

from __future__ import annotations

import email
import email.policy
from email.message import EmailMessage

from meet_sched.mail import MailRenderer, Outgoing, Recipient
from meet_sched.model import Status

from .mail_helpers import html_body, text_body
from .test_mail_headers import MID, NOW, renderer, stored

__all__ = ["renderer"]  # the fixture

BASE = "https://calendars.example.org/rsvp/"


def parsed(out: Outgoing) -> EmailMessage:
    msg = email.message_from_bytes(out.data, policy=email.policy.default)
    assert isinstance(msg, EmailMessage)
    return msg


def test_a_reminder_carries_the_three_links_in_korean(renderer: MailRenderer) -> None:
    s = stored()
    to = Recipient.of(s.meeting.attendees[0])
    msg = parsed(renderer.reminder(s, to, s.meeting.start, message_id=MID, now=NOW, rsvp=BASE + "tok-A" * 5))
    text, html = text_body(msg), html_body(msg)
    for answer, label in (("accepted", "수락"), ("tentative", "미정"), ("declined", "거절")):
        url = f"{BASE}{'tok-A' * 5}?answer={answer}"
        assert f"{label}: {url}" in text
        assert f'<a href="{url}"' in html and f">{label}</a>" in html
    assert "참석하시겠습니까?" in text


def test_each_recipient_gets_their_own_links_and_no_links_without(renderer: MailRenderer) -> None:
    s = stored()
    to = Recipient.of(s.meeting.attendees[0])
    first = text_body(parsed(renderer.invitation(s, to, message_id=MID, now=NOW, rsvp=BASE + "first-token")))
    second = text_body(parsed(renderer.invitation(s, to, message_id=MID, now=NOW, rsvp=BASE + "other-token")))
    assert "first-token" in first and "other-token" not in first
    assert "other-token" in second and "first-token" not in second  # not a cached text of someone else's
    plain = text_body(parsed(renderer.invitation(s, to, message_id=MID, now=NOW)))
    assert "/rsvp/" not in plain and "참석하시겠습니까?" not in plain
    assert "/rsvp/" not in text_body(parsed(renderer.reminder(s, to, s.meeting.start, message_id=MID, now=NOW)))


def test_no_links_in_a_cancellation_or_to_a_url_that_is_not_http(renderer: MailRenderer) -> None:
    s = stored(status=Status.CANCELLED)
    to = Recipient.of(s.meeting.attendees[0])
    cancelled = parsed(renderer.invitation(s, to, message_id=MID, now=NOW, rsvp=BASE + "token"))
    assert "/rsvp/" not in text_body(cancelled) and "/rsvp/" not in html_body(cancelled)
    live = stored()
    odd = parsed(renderer.invitation(live, to, message_id=MID, now=NOW, rsvp="javascript:alert(1)//rsvp/x"))
    assert "javascript:" not in html_body(odd) and "/rsvp/" not in text_body(odd)
