"""Recipients who share a language but not a zone each read their own local time in the subjects of their
invitations and reminders (Berlin and Sydney, London and New York: the same instant, four wordings)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from meet_sched.delivery.dispatcher import Dispatcher
from meet_sched.site import Site

from .conftest import SiteDir
from .mail_helpers import Clock, smtp_settings, text_body
from .smtp_sink import SmtpSink
from .test_delivery import by_recipient, scenario

START = datetime(2027, 1, 27, 10, 0, tzinfo=UTC)  # 11:00 in Berlin, 21:00 in Sydney, 05:00 in New York
# Noon UTC: the same local date (20 January) in all four zones, so a cache keyed by the instant
# and the local date alone would hand every one of them the wording made for the first.
T0 = datetime(2027, 1, 20, 12, 0, tzinfo=UTC)
PEOPLE = {
    "anna@berlin.example": "Europe/Berlin",
    "sam@sydney.example": "Australia/Sydney",
    "alex@london.example": "Europe/London",
    "jo@newyork.example": "America/New_York",
}
CALL = """
uid: zone-call
title: Zone call
timezone: Europe/Berlin
start: 2027-01-27T11:00
duration: 1h
reminders: [1d]
attendees:
""" + "".join(f"  - {{ email: {email}, timezone: {zone}, language: en }}\n" for email, zone in PEOPLE.items())


def local(zone: str) -> datetime:
    return START.astimezone(ZoneInfo(zone))


def clock_words(moment: datetime) -> str:
    """``21:00 AEDT``, from zoneinfo alone."""
    return f"{moment:%H:%M} {moment.tzname()}"


def test_invitation_and_reminder_subjects_are_in_each_recipients_own_zone(
    site_dir: SiteDir, smtp_server: SmtpSink
) -> None:
    site_dir.settings(smtp_settings(smtp_server))
    site_dir.meeting("call.yaml", CALL)
    clock = Clock(T0)
    got = {}

    async def body(s: Site, d: Dispatcher) -> None:
        s.sync(clock())
        assert (await d.deliver_due()).sent == len(PEOPLE)
        got["invitations"] = by_recipient(smtp_server.received)
        smtp_server.clear()
        clock.set(START - timedelta(days=1))  # 26 January in all four zones: the meeting is "tomorrow" for all
        assert (await d.deliver_due()).sent == len(PEOPLE)
        got["reminders"] = by_recipient(smtp_server.received)

    scenario(site_dir, clock, body)
    for email, zone in PEOPLE.items():
        mine = local(zone)
        day = f"{mine:%a, %b} {mine.day}"  # Wed, Jan 27
        invitation = got["invitations"][email].message
        assert str(invitation["Subject"]) == f"Invitation: Zone call — {day} {clock_words(mine)}", zone
        assert f"When: {mine:%A, %B} {mine.day}, 2027 {clock_words(mine)}" in text_body(invitation), zone
        reminder = got["reminders"][email].message
        assert str(reminder["Subject"]) == f"Reminder: Zone call — tomorrow {clock_words(mine)}", zone
    subjects = {str(got["invitations"][e].message["Subject"]) for e in PEOPLE}
    assert len(subjects) == len(PEOPLE)  # four zones, four wordings


def test_one_words_object_words_the_same_instant_per_zone() -> None:
    """The wording asked for in one zone, then in another at the same instant, is each zone's own."""
    from meet_sched.mail.i18n import words

    w = words("en")
    for first, second in (("Europe/Berlin", "Australia/Sydney"), ("Europe/London", "America/New_York")):
        a, b = local(first), local(second)
        assert a == b  # one instant: equal, and equal as keys
        assert w.when(a, T0).endswith(clock_words(a))
        assert w.when(b, T0).endswith(clock_words(b))
    # Two wall times that differ only in fold: 02:30 CEST, then 02:30 CET an hour later.
    berlin = ZoneInfo("Europe/Berlin")
    early, late = datetime(2027, 10, 31, 2, 30, tzinfo=berlin), datetime(2027, 10, 31, 2, 30, fold=1, tzinfo=berlin)
    now = datetime(2027, 10, 25, tzinfo=UTC)
    assert w.when(early, now).endswith("02:30 CEST")
    assert w.when(late, now).endswith("02:30 CET")
