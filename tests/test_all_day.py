"""README "All-day and multi-day meetings": DATE values on the wire, one date for all, reminders in each own zone."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import icalendar
import pytest
import recurring_ical_events
from babel.dates import format_date
from ical.calendar_stream import IcsCalendarStream
from sqlalchemy import select

from meet_sched.config import load_settings
from meet_sched.delivery.dispatcher import Dispatcher
from meet_sched.ics import IcsRenderer
from meet_sched.model import Meeting, StoredMeeting
from meet_sched.site import Site
from meet_sched.store.tables import OutboxRow

from .conftest import SiteDir
from .ics_helpers import parse_both
from .mail_helpers import Clock, smtp_settings, text_body
from .serving import Served
from .smtp_sink import SmtpSink
from .test_agenda_page import Cards, browse, squash

NOW = datetime(2026, 12, 1, tzinfo=UTC)
SEOUL = ZoneInfo("Asia/Seoul")
PLACE = "config/meetings/m.yaml"
KIM, HA = "kim@daegu.example", "ha@bacninh.example"
PEOPLE = f"""attendees:
  - {{ name: 김지현, email: {KIM}, language: ko, city: Daegu }}
  - {{ name: Thu Ha, email: {HA}, timezone: Asia/Ho_Chi_Minh, language: en, city: Bac Ninh }}
"""
VISIT = (
    """uid: visit
title: Delegation visit to Chengdu
timezone: Asia/Seoul
date: 2027-04-14
end_date: 2027-04-16
"""
    + PEOPLE
)
EXCHANGE_DAY = (
    """uid: exchange-day
title: Exchange day
timezone: Asia/Seoul
date: 2027-01-14
recurrence: FREQ=YEARLY;UNTIL=20320114
exdates: [2029-01-14]
rdates: [2028-06-01, 2031-02-02]
reminders: [1d, 10m]
"""
    + PEOPLE
)


def _feed(site: SiteDir, meeting: Meeting) -> bytes:
    renderer = IcsRenderer(load_settings(site.root, environ={}))
    return renderer.feed("Test", [StoredMeeting(meeting, 0, NOW, NOW, False)])


def test_a_multi_day_meeting_is_written_with_date_values_and_no_zone(site_dir: SiteDir) -> None:
    meeting = site_dir.load_one(VISIT)
    assert meeting.all_day and meeting.days == 3
    body = _feed(site_dir, meeting)
    parsed = parse_both(body)
    event, strict = parsed.event("visit@test.example")
    assert event["DTSTART"].params.get("VALUE") == "DATE" and event["DTEND"].params.get("VALUE") == "DATE"
    # RFC 5545 section 3.6.1: DTEND is the day after the last date
    assert event.decoded("DTSTART") == date(2027, 4, 14) and event.decoded("DTEND") == date(2027, 4, 17)
    assert type(event.decoded("DTSTART")) is date
    assert strict.dtstart == date(2027, 4, 14) and strict.dtend == date(2027, 4, 17)  # type: ignore[attr-defined]
    assert list(parsed.icalendar.walk("VTIMEZONE")) == []
    assert "Time: 2027-04-14 – 2027-04-16, all day" in str(event["DESCRIPTION"])
    # alarms at 09:00 local: the day before (1d) and on the day (10m, less than a day)
    triggers = sorted(a.decoded("TRIGGER") for a in event.walk("VALARM"))
    assert triggers == [-timedelta(hours=15), timedelta(hours=9)]


def test_days_gives_the_same_dates_as_end_date(site_dir: SiteDir) -> None:
    by_end = site_dir.load_one(VISIT)
    by_days = site_dir.load_one(VISIT.replace("end_date: 2027-04-16", "days: 3"))
    assert (by_days.start, by_days.end) == (by_end.start, by_end.end)
    assert by_days.content_hash() == by_end.content_hash()
    single = site_dir.load_one(VISIT.replace("end_date: 2027-04-16\n", ""))
    assert single.days == 1


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            "title: T\ntimezone: Asia/Seoul\ndate: 2027-04-14\nstart: 2027-04-14T10:00\n",
            [f"{PLACE}:4: start: give either 'start' (a time) or 'date' (all day), not both"],
        ),
        (
            "title: T\ntimezone: Asia/Seoul\ndate: 2027-04-14\nduration: 1h\n",
            [f"{PLACE}:4: duration: 'duration' is not allowed with 'date': give 'days' or 'end_date' (inclusive)"],
        ),
        (
            "title: T\ntimezone: Asia/Seoul\ndate: 2027-04-14\nend: 2027-04-15T10:00\n",
            [f"{PLACE}:4: end: 'end' is not allowed with 'date': give 'days' or 'end_date' (inclusive)"],
        ),
        (
            "title: T\ntimezone: Asia/Seoul\ndate: 2027-04-14\ndays: 0\n",
            [f"{PLACE}:4: days: must be from 1 to 31 (the most dates one all-day meeting covers)"],
        ),
        (
            "title: T\ntimezone: Asia/Seoul\ndate: 2027-04-14\ndays: 32\n",
            [f"{PLACE}:4: days: must be from 1 to 31 (the most dates one all-day meeting covers)"],
        ),
        (
            "title: T\ntimezone: Asia/Seoul\ndate: 2027-04-14\nend_date: 2027-04-13\n",
            [f"{PLACE}:4: end_date: 2027-04-13 is before the date 2027-04-14"],
        ),
        (
            "title: T\ntimezone: Asia/Seoul\ndate: 2027-04-14\nend_date: 2027-05-31\n",
            [f"{PLACE}:4: end_date: 2027-04-14 to 2027-05-31 covers 48 dates; at most 31 are allowed"],
        ),
        (
            "title: T\ntimezone: Asia/Seoul\ndate: 2027-04-14\ndays: 2\nend_date: 2027-04-15\n",
            [f"{PLACE}:5: end_date: give either 'days' or 'end_date', not both"],
        ),
        (
            "title: T\ntimezone: Asia/Seoul\ndays: 2\n",
            [f"{PLACE}:1: date: an all-day meeting needs 'date' (its first date, e.g. 2027-04-14)"],
        ),
        (
            "title: T\ntimezone: Asia/Seoul\ndate: 2027-04-14T10:00\n",
            [
                f"{PLACE}:3: date: must be a date without a time of day, such as 2027-04-14 (use 'start' for a time)",
            ],
        ),
        (
            "title: T\ntimezone: Asia/Seoul\ndate: 2027-04-14\nrecurrence: FREQ=YEARLY\nexdates: [2028-04-14T10:00]\n",
            [f"{PLACE}:5: exdates[0]: give a date without a time of day (2028-04-14): the meeting is all day"],
        ),
        (
            "title: T\ntimezone: Asia/Seoul\n",
            [
                f"{PLACE}:1: start: give 'start' (a local date-time such as 2021-04-14T10:00) "
                "or 'date' (an all-day meeting)"
            ],
        ),
    ],
)
def test_validation_messages(site_dir: SiteDir, body: str, expected: list[str]) -> None:
    assert site_dir.problems(body) == expected


def _dates(events: list[icalendar.Event]) -> list[date]:
    return sorted(e.decoded("DTSTART") for e in events)


def test_a_recurring_all_day_series_expands_as_two_independent_readers_do(site_dir: SiteDir) -> None:
    meeting = site_dir.load_one(EXCHANGE_DAY)
    assert meeting.recurrence == "FREQ=YEARLY;UNTIL=20320114"  # a date, as DTSTART is (RFC 5545 section 3.3.10)
    body = _feed(site_dir, meeting)
    after, before = datetime(2026, 1, 1, tzinfo=UTC), datetime(2034, 1, 1, tzinfo=UTC)
    ours = [o.date() for o in meeting.occurrences(after, before)]
    assert ours == [
        date(2027, 1, 14),
        date(2028, 1, 14),
        date(2028, 6, 1),
        date(2030, 1, 14),
        date(2031, 1, 14),
        date(2031, 2, 2),
        date(2032, 1, 14),
    ]
    cal = icalendar.Calendar.from_ical(body)
    assert _dates(recurring_ical_events.of(cal).between(date(2026, 1, 1), date(2034, 1, 1))) == ours
    strict = IcsCalendarStream.calendar_from_ics(body.decode())
    assert [e.dtstart for e in strict.timeline] == ours
    (event,) = cal.walk("VEVENT")
    for name, expected in (("RDATE", [date(2028, 6, 1), date(2031, 2, 2)]), ("EXDATE", [date(2029, 1, 14)])):
        values = event[name] if isinstance(event[name], list) else [event[name]]
        assert all(v.params.get("VALUE") == "DATE" for v in values), name
        assert [d.dt for v in values for d in v.dts] == expected, name


def _site(site: SiteDir) -> Site:
    return Site(site.root, load_settings(site.root, environ={}))


def _reminders(s: Site) -> dict[tuple[str, int], datetime]:
    with s.db.transaction() as session:
        rows = session.execute(
            select(OutboxRow.recipient, OutboxRow.offset_seconds, OutboxRow.due_at).where(OutboxRow.kind == "reminder")
        )
        return {(r.recipient, r.offset_seconds // 86400): r.due_at.astimezone(UTC) for r in rows}


@pytest.mark.parametrize(
    ("setting", "at_kst_utc", "at_ict_utc"),
    [("", (0, 0), (2, 0)), ('[reminders]\nall_day_at = "18:30"\n', (9, 30), (11, 30))],
)
def test_reminders_fire_at_a_local_time_in_each_attendees_zone(
    site_dir: SiteDir, setting: str, at_kst_utc: tuple[int, int], at_ict_utc: tuple[int, int]
) -> None:
    site_dir.settings(setting)
    site_dir.meeting("m.yaml", EXCHANGE_DAY)
    s = _site(site_dir)
    try:
        s.sync(NOW)
        due = _reminders(s)
    finally:
        s.close()

    def at(day: int, hm: tuple[int, int]) -> datetime:
        return datetime(2027, 1, day, *hm, tzinfo=UTC)

    # 09:00 (or 18:30) in Daegu (UTC+9) and in Bac Ninh (UTC+7): the day before (1d) and the day itself (10m)
    assert due == {
        (KIM, 1): at(13, at_kst_utc),
        (KIM, 0): at(14, at_kst_utc),
        (HA, 1): at(13, at_ict_utc),
        (HA, 0): at(14, at_ict_utc),
    }


def test_reminders_on_the_day_go_out_after_the_date_began_in_the_meetings_zone(
    site_dir: SiteDir, smtp_server: SmtpSink
) -> None:
    """Bac Ninh's 09:00 comes after midnight in Seoul: the reminder is still sent, once, then none is doubled."""
    site_dir.settings(smtp_settings(smtp_server))
    site_dir.meeting("m.yaml", EXCHANGE_DAY)
    clock = Clock(NOW)

    async def main() -> None:
        s = _site(site_dir)
        d = Dispatcher(s, clock=clock)
        try:
            s.sync(clock())
            assert (await d.deliver_due()).sent == 2  # the invitations
            (invitation,) = smtp_server.to(HA)
            assert str(invitation.message["Subject"]) == "Invitation: Exchange day — Thu, Jan 14, 2027"
            assert text_body(invitation.message).splitlines()[:5] == [
                "You are invited to Exchange day.",
                "",
                "When: Thu, Jan 14, 2027 (all day)",
                "Next meetings: Fri, Jan 14, 2028 · Thu, Jun 1, 2028 · Mon, Jan 14, 2030 · Tue, Jan 14, 2031 …",
                "Organizer: Office <office@test.example>",
            ]
            smtp_server.clear()
            steps = [
                (datetime(2027, 1, 13, 0, 5, tzinfo=UTC), [KIM]),
                (datetime(2027, 1, 13, 2, 5, tzinfo=UTC), [HA]),
                (datetime(2027, 1, 14, 0, 5, tzinfo=UTC), [KIM]),
                (datetime(2027, 1, 14, 2, 5, tzinfo=UTC), [HA]),  # 11:05 in Seoul on the 14th: the date has begun
            ]
            for moment, who in steps:
                clock.set(moment)
                s.sync(clock())  # planning again must not plan what was sent
                await d.deliver_due()
                got = [r.rcpt_tos[0] for r in smtp_server.received]
                assert got == who, moment
                if moment == steps[-1][0]:
                    message = smtp_server.received[0].message
                    assert str(message["Subject"]) == "Reminder: Exchange day — today"
                    text = text_body(message)
                    assert text.splitlines()[:4] == [
                        "Exchange day is today, all day.",
                        "",
                        "When: Thu, Jan 14 (all day)",
                        "Organizer: Office <office@test.example>",
                    ]
                smtp_server.clear()
        finally:
            await d.close()
            s.close()

    asyncio.run(main())


def test_the_agenda_shows_the_dates_and_no_time(site_dir: SiteDir) -> None:
    site_dir.meeting("visit.yaml", VISIT)
    site_dir.meeting(
        "working-call.yaml",
        "title: Working call\ntimezone: Asia/Seoul\nstart: 2027-04-15T10:00\nduration: 1h\n" + PEOPLE,
    )
    site_dir.run("sync", check=True)
    out = site_dir.run("agenda", "--from", "2027-04-01", "--days", "30", check=True).stdout
    assert out.splitlines() == [
        "Date            Daegu      Bac Ninh     Meeting",
        "--------------  ---------  -----------  -------",
        "Wed 2027-04-14  all day    all day      Delegation visit to Chengdu (to Fri 2027-04-16)",
        "Thu 2027-04-15  10:00 KST  08:00 UTC+7  Working call",
        "",
        "Dates are Daegu's; (+1d)/(-1d): the local date there is a day later/earlier.",
    ]


@pytest.mark.slow
@pytest.mark.browser
def test_the_page_lists_an_all_day_meeting_without_a_time(site_dir: SiteDir, tmp_path: Path) -> None:
    first = (datetime.now(SEOUL) + timedelta(days=2)).date()
    site_dir.settings('[server]\nlisten = "127.0.0.1:0"\npublic_calendars = ["default"]\n')
    site_dir.meeting("visit.yaml", VISIT.replace("2027-04-14", f"{first}").replace("end_date: 2027-04-16", "days: 3"))
    server = Served(site_dir.root)
    try:
        dom = browse(server.url + "/", tmp_path / "profile", "--dump-dom").stdout
    finally:
        assert server.stop() == 0, server.log
    page = Cards()
    page.feed(dom)
    (card,) = (squash(c) for c in page.cards)
    last = first + timedelta(days=2)
    dates = f"{format_date(first, 'full', locale='en')} – {format_date(last, 'full', locale='en')}"
    shown = f"{dates} Delegation visit to Chengdu 3 days, all day · Test"
    assert card == shown + " 0 accepted 0 tentative 0 declined 2 no answer"  # its answers too, without a strip
    assert page.strip_rows[1:] == []  # no strip of hours for it (the first is today's overview, if any)


def test_diff_shows_a_change_of_dates_as_dates(site_dir: SiteDir) -> None:
    site_dir.meeting("visit.yaml", VISIT)
    site_dir.run("sync", check=True)
    site_dir.meeting("visit.yaml", VISIT.replace("end_date: 2027-04-16", "end_date: 2027-04-17"))
    result = site_dir.run("diff")
    assert result.returncode == 2, result.stderr
    assert "    date: '2027-04-14, all day, 3 days' → '2027-04-14, all day, 4 days'" in result.stdout.splitlines()
    assert "duration" not in result.stdout
    site_dir.meeting("visit.yaml", VISIT.replace("date: 2027-04-14", "date: 2027-04-13"))
    result = site_dir.run("diff")
    assert "    start: '2027-04-14, all day, 3 days' → '2027-04-13, all day, 4 days'" in result.stdout.splitlines()
