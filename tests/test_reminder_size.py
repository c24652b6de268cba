"""A reminder's size does not grow with the attendee list: its meeting.ics is a PUBLISH with the organizer, the
recipient's own alarms and no ATTENDEE lines (RFC 5546 section 3.2.1); an invitation (REQUEST) keeps them all."""

from __future__ import annotations

import email
import email.policy
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from zoneinfo import ZoneInfo

import pytest

from meet_sched.config import load_settings
from meet_sched.ics import IcsRenderer
from meet_sched.mail import MailRenderer, Outgoing, Recipient
from meet_sched.model import Attendee, Meeting, Person, StoredMeeting

from .conftest import SiteDir
from .mail_helpers import attachment, calendar_of, calendar_part

SEOUL = ZoneInfo("Asia/Seoul")
HANOI = ZoneInfo("Asia/Ho_Chi_Minh")
NOW = datetime(2026, 12, 1, tzinfo=UTC)
MID = "<reminder.0123456789abcdef@test.example>"
START = datetime(2026, 12, 10, 10, 0, tzinfo=SEOUL)


def meeting(attendees: int) -> StoredMeeting:
    first = Attendee("김지현", "jihyun.kim@daegu.example", SEOUL, "ko", reminders=(timedelta(hours=2),))
    others = tuple(Attendee(f"Guest {i}", f"guest{i}@hanoi.example", HANOI, "vi") for i in range(attendees - 1))
    m = Meeting(
        uid="call@test.example",
        title="Working call",
        start=START,
        end=START + timedelta(hours=1),
        timezone=SEOUL,
        organizer=Person("Office", "office@test.example"),
        attendees=(first, *others),
        reminders=(timedelta(days=1),),
    )
    return StoredMeeting(m, 0, NOW, NOW, False)


@pytest.fixture
def renderer(site_dir: SiteDir) -> MailRenderer:
    return fresh(site_dir)


def fresh(site_dir: SiteDir) -> MailRenderer:
    """A renderer with empty caches (two meetings with one UID and SEQUENCE would share a cached message)."""
    settings = load_settings(site_dir.root)
    return MailRenderer(settings, IcsRenderer(settings))


def parsed(out: Outgoing) -> EmailMessage:
    msg = email.message_from_bytes(out.data, policy=email.policy.default)
    assert isinstance(msg, EmailMessage)
    return msg


def reminder(renderer: MailRenderer, stored: StoredMeeting) -> Outgoing:
    to = Recipient.of(stored.meeting.attendees[0])
    return renderer.reminder(stored, to, START, message_id=MID, now=NOW)


def test_a_reminder_to_one_of_500_is_as_big_as_to_one_of_2(site_dir: SiteDir) -> None:
    small, big = reminder(fresh(site_dir), meeting(2)), reminder(fresh(site_dir), meeting(500))
    assert len(big.data) == len(small.data), (len(small.data), len(big.data))
    assert len(big.data) < 8_000


def test_the_reminder_calendar_has_the_organizer_and_own_alarms_but_no_attendees(renderer: MailRenderer) -> None:
    msg = parsed(reminder(renderer, meeting(500)))
    ics = attachment(msg, "meeting.ics")
    assert ics.get_param("method") == "PUBLISH"
    cal = calendar_of(ics)
    event, _ = cal.event("call@test.example")
    assert str(cal.icalendar["METHOD"]) == "PUBLISH"
    assert "ATTENDEE" not in event
    assert str(event["ORGANIZER"]) == "mailto:office@test.example"
    assert [a["TRIGGER"].dt for a in event.walk("VALARM")] == [-timedelta(hours=2)]  # the recipient's own
    assert "UTC+7" in str(event["DESCRIPTION"])  # every participant's zone is still named


def test_an_invitation_still_lists_every_attendee(renderer: MailRenderer) -> None:
    stored = meeting(500)
    out = renderer.invitation(stored, Recipient.of(stored.meeting.attendees[0]), message_id=MID, now=NOW)
    cal = calendar_of(calendar_part(parsed(out)))
    event, _ = cal.event("call@test.example")
    attendees = event["ATTENDEE"]
    assert len(attendees) == 500
    assert str(cal.icalendar["METHOD"]) == "REQUEST"
