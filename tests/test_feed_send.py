"""`meet-sched feeds send` mails each attendee their own subscription link, in their language, through a
real SMTP server; the link opens their feed; no token is printed, logged or listed (README "Personal feeds")."""

from __future__ import annotations

import re

from meet_sched.config import load_settings
from meet_sched.site import Site

from .conftest import SiteDir
from .mail_helpers import smtp_settings, text_body
from .smtp_sink import SmtpSink
from .test_serve_feeds import COUNCIL, SETTINGS

BASE = "https://calendars.test.example"


def setup(site_dir: SiteDir, sink: SmtpSink) -> None:
    settings = SETTINGS + smtp_settings(sink)
    (site_dir.root / "config" / "meet-sched.toml").write_text(settings, encoding="utf-8")
    site_dir.meeting(
        "council.yaml", COUNCIL.replace("timezone: Asia/Ho_Chi_Minh }", "timezone: Asia/Ho_Chi_Minh, language: vi }")
    )
    site_dir.run("sync", check=True)


def test_each_attendee_gets_their_link_in_their_language(site_dir: SiteDir, smtp_server: SmtpSink) -> None:
    setup(site_dir, smtp_server)
    result = site_dir.run("feeds", "send", check=True)
    assert result.stdout.splitlines() == [
        "  sent     lan.bui@test.example",
        "  sent     mira.ahn@test.example",
        "feeds send: 2 sent",
    ]
    assert "/feeds/" not in result.stdout + result.stderr
    got = {r.rcpt_tos[0]: r.message for r in smtp_server.received}
    assert set(got) == {"lan.bui@test.example", "mira.ahn@test.example"}
    site = Site(site_dir.root, load_settings(site_dir.root, environ={}))
    try:
        for to, msg in got.items():
            body = text_body(msg)
            (token,) = set(re.findall(r"/feeds/([A-Za-z0-9_-]{43})\.ics", body))
            assert site.feed_owner(token) == to  # the link is theirs, and works
        mira = text_body(got["mira.ahn@test.example"]).splitlines()
        token = re.findall(r"/feeds/([A-Za-z0-9_-]{43})\.ics", mira[2])[0]
        assert str(got["mira.ahn@test.example"]["Subject"]) == "Your calendar of City Hall"
        assert mira == [
            "Your meetings of City Hall, with your own reminders, as a calendar you can subscribe to:",
            "",
            f"Calendar program (Outlook, Apple Calendar, Thunderbird): webcal://calendars.test.example/feeds/{token}.ics",
            f"Google Calendar (From URL) or any other: {BASE}/feeds/{token}.ics",
            "",
            "This link is yours alone: anyone who has it can read your meetings. Any earlier link no longer works.",
        ]
        lan = got["lan.bui@test.example"]
        assert str(lan["Subject"]) == "Lịch của quý vị tại City Hall"
        assert lan["Content-Language"] == "vi"
        assert text_body(lan).splitlines()[0] == (
            "Các cuộc họp của quý vị tại City Hall, kèm lời nhắc riêng, dưới dạng lịch có thể đăng ký:"
        )
    finally:
        site.close()
    listed = site_dir.run("feeds", "list", check=True).stdout
    assert "/feeds/" not in listed and listed.count(": issued ") == 2


def test_one_named_attendee_and_a_stranger(site_dir: SiteDir, smtp_server: SmtpSink) -> None:
    setup(site_dir, smtp_server)
    site_dir.run("feeds", "send", "MIRA.AHN@test.example", check=True)
    assert [r.rcpt_tos for r in smtp_server.received] == [("mira.ahn@test.example",)]
    bad = site_dir.run("feeds", "send", "nobody@test.example")
    assert bad.returncode == 1 and "Traceback" not in bad.stderr
    assert bad.stderr.startswith("meet-sched: no attendee 'nobody@test.example'")
    assert len(smtp_server.received) == 1  # nothing sent when one address is unknown


def test_without_base_url_it_says_so_and_sends_nothing(site_dir: SiteDir, smtp_server: SmtpSink) -> None:
    setup(site_dir, smtp_server)
    path = site_dir.root / "config" / "meet-sched.toml"
    path.write_text(path.read_text(encoding="utf-8").replace(f'base_url = "{BASE}"\n', ""), encoding="utf-8")
    result = site_dir.run("feeds", "send")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr == (
        "meet-sched: feeds send needs [server] base_url in config/meet-sched.toml: the links must reach the "
        "address subscribers use, not the address serve listens on\n"
    )
    assert smtp_server.received == []


def test_first_invitations_can_carry_the_link(site_dir: SiteDir, smtp_server: SmtpSink) -> None:
    settings = SETTINGS + smtp_settings(smtp_server, "\n[invitations]\nfeed_link = true\n")
    (site_dir.root / "config" / "meet-sched.toml").write_text(settings, encoding="utf-8")
    site_dir.meeting("council.yaml", COUNCIL)
    site_dir.run("run", check=True)
    got = {r.rcpt_tos[0]: r.message for r in smtp_server.received}
    assert set(got) == {"lan.bui@test.example", "mira.ahn@test.example"}
    site = Site(site_dir.root, load_settings(site_dir.root, environ={}))
    try:
        for to, msg in got.items():
            lines = text_body(msg).splitlines()
            (webcal,) = [x for x in lines if x.startswith("Calendar program (Outlook, Apple Calendar, Thunderbird): ")]
            (https,) = [x for x in lines if x.startswith("Google Calendar (From URL) or any other: ")]
            token = re.fullmatch(r".*: webcal://calendars\.test\.example/feeds/([A-Za-z0-9_-]{43})\.ics", webcal)
            assert token is not None and https.endswith(f": {BASE}/feeds/{token.group(1)}.ics")
            assert site.feed_owner(token.group(1)) == to
    finally:
        site.close()
    # Later messages carry none: the link was sent once, and only its hash is kept.
    smtp_server.clear()
    path = site_dir.root / "config" / "meetings" / "council.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("10:00", "11:00"), encoding="utf-8")
    settings = settings.replace('retry_max = "10m"\n', 'retry_max = "10m"\nupdate_quiet = "0s"\n')
    (site_dir.root / "config" / "meet-sched.toml").write_text(settings, encoding="utf-8")
    site_dir.run("run", check=True)
    assert len(smtp_server.received) == 2
    assert all("/feeds/" not in text_body(r.message) for r in smtp_server.received)
