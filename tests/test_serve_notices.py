"""A config change the running `meet-sched serve` refuses is mailed once to `[notify] errors_to`, with every
problem as `path:line: message`, and once more when it is fixed; not once per retry (README "Notices")."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from .conftest import SiteDir
from .mail_helpers import smtp_settings, text_body
from .serving import Served
from .smtp_sink import SmtpSink

pytestmark = pytest.mark.slow
OPS = "ops@test.example"
REJECTED = re.compile(r"event=sync-rejected")


def test_a_refused_edit_is_mailed_once_and_its_fix_once(site_dir: SiteDir, smtp_server: SmtpSink) -> None:
    extra = f'\n[server]\nlisten = "127.0.0.1:0"\n\n[notify]\nerrors_to = ["{OPS}"]\n'
    site_dir.settings(smtp_settings(smtp_server, extra))
    start = (datetime.now(UTC) + timedelta(days=3)).astimezone(ZoneInfo("Asia/Seoul"))
    body = (
        "uid: call\ntitle: Working call\ntimezone: Asia/Seoul\n"
        f"start: {start.replace(hour=10, minute=0, second=0, microsecond=0, tzinfo=None).isoformat()}\n"
        "duration: 1h\nreminders: []\nattendees:\n  - { name: Kim, email: kim@daegu.example }\n"
    )
    path = site_dir.meeting("call.yaml", body)
    server = Served(site_dir.root)
    try:
        smtp_server.wait_for(1, timeout=20)  # the invitation
        path.write_text(body.replace("timezone: Asia/Seoul", "timezone: Asia/Seol"), encoding="utf-8")
        notice = smtp_server.wait_until(lambda got: any(r.rcpt_tos == (OPS,) for r in got), timeout=20)[-1]

        # Still broken, differently: the service refuses again, and mails nothing more.
        broken = body.replace("timezone: Asia/Seoul", "timezone: Asia/Seol").replace("duration: 1h", "durration: 1h")
        path.write_text(broken, encoding="utf-8")
        server.wait_for_log(REJECTED, timeout=20)
        time.sleep(3)
        assert [r.rcpt_tos for r in smtp_server.received].count((OPS,)) == 1

        path.write_text(body, encoding="utf-8")
        fixed = smtp_server.wait_until(lambda got: [r.rcpt_tos for r in got].count((OPS,)) == 2, timeout=20)[-1]
        time.sleep(2)
    finally:
        code = server.stop()
    assert code == 0, server.log
    assert [r.rcpt_tos for r in smtp_server.received].count((OPS,)) == 2
    assert len(smtp_server.received) == 3  # the invitation, the refusal, the fix: nothing to the attendee
    assert str(notice.message["Subject"]) == "Test: a configuration change was not applied"
    assert text_body(notice.message).splitlines() == [
        "The running service did not apply the last change to the configuration; "
        "meetings and emails stay as they were. The problems:",
        "",
        "config/meetings/call.yaml:3: timezone: unknown time zone 'Asia/Seol' (did you mean 'Asia/Seoul'?)",
        "",
        "Fix them and save again: one more message will say when the change is applied.",
    ]
    assert str(fixed.message["Subject"]) == "Test: the configuration is applied again"
    assert text_body(fixed.message).splitlines() == [
        "The configuration is valid again and the running service has applied it."
    ]
    assert fixed.message["Message-ID"] != notice.message["Message-ID"]


def test_without_errors_to_the_organizer_is_told(site_dir: SiteDir, smtp_server: SmtpSink) -> None:
    site_dir.settings(smtp_settings(smtp_server, '\n[server]\nlisten = "127.0.0.1:0"\n'))
    path = site_dir.meeting(
        "call.yaml", "uid: call\ntitle: Call\ntimezone: Asia/Seoul\nstart: 2030-01-10T10:00\nduration: 1h\n"
    )
    server = Served(site_dir.root)
    try:
        path.write_text(
            "uid: call\ntitle: Call\ntimezone: Asia/Seoul\nstart: 2030-01-10T25:00\nduration: 1h\n", encoding="utf-8"
        )
        (notice,) = smtp_server.wait_for(1, timeout=20)
    finally:
        assert server.stop() == 0, server.log
    assert notice.rcpt_tos == ("office@test.example",)
    lines = text_body(notice.message).splitlines()
    assert lines[2].startswith("config/meetings/call.yaml:4: start: ")
