"""README "A series that changes from a date on": RELATED-TO, no overlap, one update and one invitation each."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime

import pytest

from meet_sched.config import load_config, load_settings
from meet_sched.delivery.dispatcher import Dispatcher
from meet_sched.errors import ConfigError
from meet_sched.site import Site

from .conftest import SiteDir
from .mail_helpers import Clock, calendar_of, calendar_part, smtp_settings
from .smtp_sink import SmtpSink

NOW = datetime(2026, 12, 1, tzinfo=UTC)
KIM, HA = "kim@daegu.example", "ha@bacninh.example"
OLD, NEW = "config/meetings/call-2026.yaml", "config/meetings/call-2027.yaml"
PEOPLE = f"""attendees:
  - name: Kim
    email: {KIM}
    city: Daegu
  - name: Ha
    email: {HA}
    timezone: Asia/Ho_Chi_Minh
    city: Bac Ninh
"""
OLD_SERIES = (
    """uid: call-2026
title: Working call
timezone: Asia/Seoul
start: 2027-01-14T10:00
duration: 1h
recurrence: FREQ=MONTHLY;BYDAY=2TH{until}
"""
    + PEOPLE
)
NEW_SERIES = (
    """uid: call-2027
related_to: call-2026
title: Working call
timezone: Asia/Seoul
start: {start}
duration: 1h
recurrence: FREQ=MONTHLY;BYDAY={byday}
"""
    + PEOPLE
)


def _problems(site: SiteDir) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_config(site.root, environ={})
    return [str(p) for p in caught.value.problems]


def test_a_new_series_that_starts_on_the_last_day_of_the_old_one_is_refused(site_dir: SiteDir) -> None:
    site_dir.meeting("call-2026.yaml", OLD_SERIES.format(until=";UNTIL=20270408"))
    site_dir.meeting("call-2027.yaml", NEW_SERIES.format(start="2027-04-08T15:00", byday="2TH"))
    assert _problems(site_dir) == [
        f"{NEW}:1: related_to: the first meeting, 2027-04-08 15:00 Asia/Seoul, is not after the last one of "
        f"'call-2026@test.example' ({OLD}:1), 2027-04-08 10:00 Asia/Seoul: end that series with an UNTIL "
        "before 2027-04-08"
    ]


def test_an_old_series_without_an_end_is_refused(site_dir: SiteDir) -> None:
    site_dir.meeting("call-2026.yaml", OLD_SERIES.format(until=""))
    site_dir.meeting("call-2027.yaml", NEW_SERIES.format(start="2027-04-09T15:00", byday="2FR"))
    assert _problems(site_dir) == [
        f"{NEW}:1: related_to: 'call-2026@test.example' ({OLD}:1) has no end: give it an UNTIL before "
        "2027-04-09 15:00 Asia/Seoul, the first meeting of this series"
    ]


def test_related_to_must_name_a_meeting(site_dir: SiteDir) -> None:
    site_dir.meeting("call-2027.yaml", NEW_SERIES.format(start="2027-04-09T15:00", byday="2FR"))
    assert _problems(site_dir) == [f"{NEW}:1: related_to: no other meeting has the UID 'call-2026@test.example'"]


def test_the_change_sends_one_update_of_the_old_series_and_one_invitation_to_the_new(
    site_dir: SiteDir, smtp_server: SmtpSink
) -> None:
    site_dir.settings(smtp_settings(smtp_server, delivery='update_quiet = "0s"'))  # the update at once
    site_dir.meeting("call-2026.yaml", OLD_SERIES.format(until=""))
    clock = Clock(NOW)

    async def main() -> None:
        s = Site(site_dir.root, load_settings(site_dir.root, environ={}))
        d = Dispatcher(s, clock=clock)
        try:
            s.sync(clock())
            assert (await d.deliver_due()).sent == 2
            smtp_server.clear()
            # from April on: on the second Friday at 15:00
            site_dir.meeting("call-2026.yaml", OLD_SERIES.format(until=";UNTIL=20270331"))
            site_dir.meeting("call-2027.yaml", NEW_SERIES.format(start="2027-04-09T15:00", byday="2FR"))
            clock.advance(hours=1)
            s.sync(clock())
            assert (await d.deliver_due()).sent == 4
            for who in (KIM, HA):
                got = {}
                for received in smtp_server.to(who):
                    part = calendar_part(received.message)
                    assert part.get_param("method") == "REQUEST"
                    (event,) = calendar_of(part).events()
                    got[str(event["UID"])] = (received.message, event)
                assert sorted(got) == ["call-2026@test.example", "call-2027@test.example"], who
                old_message, old = got["call-2026@test.example"]
                assert str(old_message["Subject"]).startswith("Updated invitation: Working call — ")
                assert int(old["SEQUENCE"]) == 1
                assert old["RRULE"]["UNTIL"][0] == datetime(2027, 3, 31, 14, 59, 59, tzinfo=UTC)
                new_message, new = got["call-2027@test.example"]
                assert str(new_message["Subject"]).startswith("Invitation: Working call — ")
                assert int(new["SEQUENCE"]) == 0
                assert str(new["RELATED-TO"]) == "call-2026@test.example"
                assert new.decoded("DTSTART").date() == date(2027, 4, 9)
                # the strict parser reads RELATED-TO too
                strict = calendar_of(calendar_part(new_message)).ical.events[0]
                assert [r.uid for r in strict.related_to] == ["call-2026@test.example"]
            clock.advance(hours=1)
            s.sync(clock())  # nothing more
            assert (await d.deliver_due()).sent == 0
        finally:
            await d.close()
            s.close()

    asyncio.run(main())
