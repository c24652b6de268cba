"""README "One-click answers": the links in reminders and invitations, each recipient's own, in their language;
none in a cancellation, none for a link that is not http(s), and the shared texts stay shared without them."""

from __future__ import annotations

import dataclasses
import email
import email.policy
from datetime import timedelta
from email.message import EmailMessage

from meet_sched.mail import MailRenderer, Outgoing, Recipient
from meet_sched.model import Attendee, MeetingStatus, Override

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
    s = stored(status=MeetingStatus.CANCELLED)
    to = Recipient.of(s.meeting.attendees[0])
    cancelled = parsed(renderer.invitation(s, to, message_id=MID, now=NOW, rsvp=BASE + "token"))
    assert "/rsvp/" not in text_body(cancelled) and "/rsvp/" not in html_body(cancelled)
    live = stored()
    odd = parsed(renderer.invitation(live, to, message_id=MID, now=NOW, rsvp="javascript:alert(1)//rsvp/x"))
    assert "javascript:" not in html_body(odd) and "/rsvp/" not in text_body(odd)


def test_an_occurrence_s_own_invitation_carries_its_links_and_its_cancellation_none(renderer: MailRenderer) -> None:
    """The guest invited to one occurrence alone gets links that answer for that occurrence (the token names it)."""
    base = stored(recurrence="FREQ=WEEKLY;COUNT=4")
    m = base.meeting
    second = m.start + timedelta(days=7)
    guest = Attendee("Wang Fang", "wang.fang@chengdu.example", m.timezone, "zh")
    own = Override(second, second, second + timedelta(hours=1), attendees=(*m.attendees, guest))
    s = dataclasses.replace(base, meeting=dataclasses.replace(m, overrides=(own,)))
    to = Recipient.of(guest)
    first = text_body(parsed(renderer.occurrence_invitation(s, to, second, message_id=MID, now=NOW, rsvp=BASE + "one")))
    other = text_body(parsed(renderer.occurrence_invitation(s, to, second, message_id=MID, now=NOW, rsvp=BASE + "two")))
    assert f"接受: {BASE}one?answer=accepted" in first and "two" not in first
    assert f"{BASE}two?answer=declined" in other  # each message its own
    gone = dataclasses.replace(own, cancelled=True)
    s = dataclasses.replace(base, meeting=dataclasses.replace(m, overrides=(gone,)))
    cancel = parsed(renderer.occurrence_invitation(s, to, second, message_id=MID, now=NOW, rsvp=BASE + "three"))
    assert "/rsvp/" not in text_body(cancel)
