"""README "What is sent, and when": a message for an occurrence on the recipient's public holiday says so."""

from __future__ import annotations

import email
import email.policy
import html
from datetime import UTC, date, datetime
from email.message import EmailMessage

import holidays

from meet_sched.config import load_config, load_settings
from meet_sched.ics import IcsRenderer
from meet_sched.mail import MailRenderer, Recipient
from meet_sched.model import StoredMeeting

from .conftest import SiteDir
from .mail_helpers import html_body, text_body

# 10:00 in Seoul on 1 January 2027 is still 1 January in Chengdu, Bac Ninh and London, 31 December in New York
MEETING = """
uid: new-year
title: New Year call
timezone: Asia/Seoul
start: 2027-01-01T10:00
duration: 1h
reminders: [1d]
attendees:
  - { name: 김지현, email: kim@daegu.example, language: ko }
  - { name: 李明, email: li@chengdu.example, timezone: Asia/Shanghai, language: zh }
  - { name: Nguyễn Thu Hà, email: ha@bacninh.example, timezone: Asia/Ho_Chi_Minh, language: vi }
  - { name: Sam Hale, email: sam@london.example, timezone: Europe/London }
  - { name: Jordan Ellis, email: jordan@atlanta.example, timezone: America/New_York }
"""
DAY = date(2027, 1, 1)


def _name(country: str, language: str | None) -> str:
    """The holiday's name straight from the package, in the package's name for the language."""
    table = holidays.country_holidays(country, years=DAY.year, language=language)
    return "; ".join(table.get_list(DAY))


def _expected() -> dict[str, tuple[str, str]]:
    """recipient → (label and separator, text) in their language."""
    return {
        "kim@daegu.example": ("공휴일: ", f"{_name('KR', 'ko')} (계신 곳의 공휴일)"),
        "li@chengdu.example": ("公众假期：", f"{_name('CN', 'zh_CN')}（您所在地的公众假期）"),
        "ha@bacninh.example": ("Ngày lễ: ", f"{_name('VN', 'vi')} (ngày lễ ở nơi bạn ở)"),
        "sam@london.example": ("Public holiday: ", f"{_name('GB', None)}, a public holiday where you are"),
    }


def _check(msg: EmailMessage, recipient: str) -> None:
    text, page = text_body(msg), html_body(msg)
    expected = _expected().get(recipient)
    if expected is None:  # New York: 31 December is no public holiday
        for label, _ in _expected().values():
            assert label.rstrip(": ：") not in text and label.rstrip(": ：") not in page
        return
    label, phrase = expected
    assert f"\n{label}{phrase}\n" in text.replace("\r\n", "\n")
    shown = html.unescape(page)  # Jinja2 escapes the apostrophe of New Year's Day as &#39;
    assert f">{label.rstrip(': ：')}</th>" in shown
    assert f">{phrase}</td>" in shown


def test_the_names_are_the_packages_own_in_each_language() -> None:
    assert _name("KR", "ko") == "신정연휴"
    assert _name("CN", "zh_CN") == "元旦"
    assert _name("VN", "vi") == "Tết Dương lịch"
    assert _name("GB", None) == "New Year's Day"


def test_invitations_say_it_in_the_recipients_language(site_dir: SiteDir) -> None:
    site_dir.meeting("new-year.yaml", MEETING)
    site_dir.run("run", check=True)  # now is before 2027: every attendee is invited into the Maildir
    seen = set()
    for path in (site_dir.root / "var" / "mail" / "new").iterdir():
        msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        assert isinstance(msg, EmailMessage)
        recipient = msg["To"].addresses[0].addr_spec
        _check(msg, recipient)
        seen.add(recipient)
    assert len(seen) == 5


def test_reminders_say_it_in_the_recipients_language(site_dir: SiteDir) -> None:
    site_dir.meeting("new-year.yaml", MEETING)
    settings = load_settings(site_dir.root, environ={})
    (meeting,) = load_config(site_dir.root, environ={}).meetings
    now = datetime(2026, 12, 31, 1, tzinfo=UTC)
    stored = StoredMeeting(meeting, 0, now, now, False)
    renderer = MailRenderer(settings, IcsRenderer(settings))
    for n, attendee in enumerate(meeting.attendees):
        out = renderer.reminder(
            stored, Recipient.of(attendee), meeting.start, message_id=f"<r{n}@test.example>", now=now
        )
        _check(out.message, attendee.email)
