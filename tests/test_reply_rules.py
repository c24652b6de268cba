"""Which iMIP answers are applied to what: RFC 5545 3.8.4.4 (a moved occurrence is named by its original
start), RFC 6047 section 3 (the originator is the ATTENDEE; a calendar service's own envelope), RFC 5546 4.2.5
(delegation), SEQUENCE and DTSTAMP that cannot outrank what was sent, COUNTERs, cancelled meetings and an
occurrence's own attendees (README "How answers are taken")."""

from __future__ import annotations

import email
import email.policy
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import icalendar
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from meet_sched.attendance import render, report
from meet_sched.cli import main
from meet_sched.ics import IcsRenderer
from meet_sched.mail import MailRenderer
from meet_sched.mail.summary import summary_message
from meet_sched.replies.apply import MAX_CLOCK_SKEW, ReplyOutcome
from meet_sched.replies.intake import Intake, Tally
from meet_sched.replies.maildir import QUARANTINE_HEADER, MaildirInbox
from meet_sched.site import Site
from meet_sched.store import attendance
from meet_sched.store.attendance import PartStat
from meet_sched.store.tables import OutboxRow

from .conftest import SiteDir
from .mail_helpers import text_body
from .replies_helpers import FIXTURES, MEETING, NOW, UID, deliver, pending_reminders

SEOUL, BERLIN = ZoneInfo("Asia/Seoul"), ZoneInfo("Europe/Berlin")
LI, ELLIS, KIM, HA = (
    "li.ming@chengdu.example",
    "ellis@atlanta.example",
    "jihyun.kim@daegu.example",
    "thuha.nguyen@bacninh.example",
)
WANG = "wang.fang@chengdu.example"
MAR_11 = datetime(2027, 3, 11, 1, 0, tzinfo=UTC)  # 10:00 KST: the occurrence moved to 12 March
MAR_12 = datetime(2027, 3, 12, 1, 0, tzinfo=UTC)  # where it is now
APR_08 = datetime(2027, 4, 8, 1, 0, tzinfo=UTC)  # the occurrence with its own attendees (and a guest)
MAY_13 = datetime(2027, 5, 13, 1, 0, tzinfo=UTC)  # the cancelled one
OVERRIDES = """overrides:
  - occurrence: 2027-03-11
    start: 2027-03-12T10:00
  - occurrence: 2027-04-08
    attendees:
      - { name: 김지현, email: jihyun.kim@daegu.example, language: ko, city: Daegu }
      - { name: Li Ming, email: li.ming@chengdu.example, timezone: Asia/Shanghai, language: zh, city: Chengdu }
      - { name: Wang Fang, email: wang.fang@chengdu.example, timezone: Asia/Shanghai, language: zh, city: Chengdu }
  - occurrence: 2027-05-13
    status: cancelled
"""
BERLIN_SYNC = """
uid: berlin-sync@test.example
title: Berlin sync
timezone: Europe/Berlin
start: 2027-03-04T10:00
duration: 1h
recurrence: FREQ=WEEKLY;BYDAY=TH;COUNT=8
attendees:
  - { name: Nguyễn Thu Hà, email: thuha.nguyen@bacninh.example, timezone: Asia/Ho_Chi_Minh, language: vi }
  - { name: Ellis Carter, email: ellis@atlanta.example, timezone: America/New_York }
overrides:
  - occurrence: 2027-03-25
    start: 2027-03-29T10:00
"""
VISIT = """
uid: visit@test.example
title: Plant visit
timezone: Asia/Seoul
date: 2027-04-14
days: 2
recurrence: FREQ=WEEKLY;COUNT=4
attendees:
  - { name: Ellis Carter, email: ellis@atlanta.example, timezone: America/New_York }
overrides:
  - occurrence: 2027-04-21
    start: 2027-04-22T00:00
"""


def site_with(site_dir: SiteDir, *, working: str = OVERRIDES, extra: dict[str, str] | None = None) -> Site:
    site_dir.settings('[replies]\nsummary = "each"\n[invitations]\nenabled = false\n')
    site_dir.meeting("working-call.yaml", MEETING.format(start="2026-12-10T10:00") + working)
    for name, body in (extra or {}).items():
        site_dir.meeting(name, body)
    site = Site(site_dir.root)
    site.open()
    site.sync(NOW)
    return site


def take(site: Site, now: datetime = NOW) -> Tally:
    return MaildirInbox(Intake(site), site.settings.inbox_dir).run_once(lambda: now)


def state(site: Site, uid: str = UID) -> attendance.Attendance:
    with site.db.transaction() as session:
        return attendance.current(session, uid)


def history(site: Site, uid: str = UID) -> list[attendance.Answer]:
    with site.db.transaction() as session:
        return attendance.history(session, uid)


def quarantine_reason(site: Site) -> str:
    (held,) = (site.settings.inbox_dir / ".quarantine" / "new").iterdir()
    message = email.message_from_bytes(held.read_bytes(), policy=email.policy.default)
    return str(message[QUARANTINE_HEADER])


def message(
    who: str,
    *lines: str,
    uid: str = UID,
    method: str = "REPLY",
    attendee: str | None = None,
    headers: str | None = None,
    stamp: str = "20261201T113000Z",
) -> bytes:
    """A REPLY (or COUNTER) as Outlook writes it, with the VEVENT ``lines`` given."""
    person = attendee or f"ATTENDEE;PARTSTAT=ACCEPTED:mailto:{who}"
    ics = "\r\n".join(
        [
            "BEGIN:VCALENDAR",
            f"METHOD:{method}",
            "PRODID:Microsoft Exchange Server 2010",
            "VERSION:2.0",
            "BEGIN:VEVENT",
            person,
            f"UID:{uid}",
            f"DTSTAMP:{stamp}",
            *lines,
            "END:VEVENT",
            "END:VCALENDAR",
            "",
        ]
    )
    head = headers if headers is not None else f"From: <{who}>\r\n"
    return (
        f"{head}To: office@test.example\r\nSubject: answer\r\nMIME-Version: 1.0\r\n"
        f'Content-Type: text/calendar; charset="utf-8"; method={method}\r\n\r\n{ics}'
    ).encode()


def refused(site: Site, data: bytes, reason: str) -> None:
    deliver(site, data=data)
    assert take(site).counts == {ReplyOutcome.QUARANTINED: 1}
    assert reason in quarantine_reason(site)
    assert history(site) == []  # nothing of it recorded


# -- RFC 5545 3.8.4.4: a moved occurrence answered by its original start ----------------------------------------


def test_google_answers_a_moved_occurrence_by_its_original_start_in_utc(site_dir: SiteDir) -> None:
    site = site_with(site_dir)
    deliver(site, "google-moved-occurrence.eml")  # RECURRENCE-ID:20270311T010000Z, through calendar-server
    assert take(site).counts == {ReplyOutcome.APPLIED: 1}
    now_in_force = state(site)
    assert now_in_force.declined(LI, MAR_11)  # the occurrence, named by its identity
    assert now_in_force.partstat(LI) is PartStat.NEEDS_ACTION  # not the series
    (answer,) = history(site)
    assert answer.occurrence is not None and answer.occurrence.replace(tzinfo=UTC) == MAR_11
    # the feed shows it on that occurrence's own VEVENT
    site.export()
    body = (site.root / "calendars" / "default.ics").read_bytes()
    cal = icalendar.Calendar.from_ical(body)
    moved = [e for e in cal.walk("VEVENT") if e.get("RECURRENCE-ID") and e["RECURRENCE-ID"].dt == MAR_11]
    assert moved and any(
        str(a) == f"mailto:{LI}" and a.params["PARTSTAT"] == "DECLINED" for e in moved for a in e["ATTENDEE"]
    )


def test_apple_answers_a_berlin_occurrence_moved_across_the_dst_change_with_its_tzid(site_dir: SiteDir) -> None:
    site = site_with(site_dir, extra={"berlin-sync.yaml": BERLIN_SYNC})
    deliver(site, "apple-moved-occurrence.eml")  # RECURRENCE-ID;TZID=Europe/Berlin:20270325T100000 (CET)
    assert take(site).counts == {ReplyOutcome.APPLIED: 1}
    original = datetime(2027, 3, 25, 10, 0, tzinfo=BERLIN)  # 09:00 UTC; it is now 29 March 10:00 CEST
    now_in_force = state(site, "berlin-sync@test.example")
    assert now_in_force.partstat(HA, original.astimezone(UTC)) is PartStat.ACCEPTED
    assert now_in_force.partstat(HA) is PartStat.NEEDS_ACTION


def test_an_all_day_occurrence_moved_is_answered_by_its_original_date(site_dir: SiteDir) -> None:
    site = site_with(site_dir, extra={"visit.yaml": VISIT})
    data = message(ELLIS, "RECURRENCE-ID;VALUE=DATE:20270421", "SEQUENCE:0", uid="visit@test.example")
    deliver(site, data=data)
    assert take(site).counts == {ReplyOutcome.APPLIED: 1}
    original = datetime(2027, 4, 21, tzinfo=SEOUL).astimezone(UTC)
    assert state(site, "visit@test.example").partstat(ELLIS, original) is PartStat.ACCEPTED


@pytest.mark.parametrize(
    ("rid", "why"),
    [
        ("RECURRENCE-ID:20270312T010000Z", "RECURRENCE-ID 2027-03-12T01:00 UTC is not an occurrence"),  # a new start
        ("RECURRENCE-ID:20270513T010000Z", "is not an occurrence"),  # cancelled
        ("RECURRENCE-ID:99991231T235959Z", "RECURRENCE-ID 9999-12-31T23:59 UTC is outside the supported years"),
        ("RECURRENCE-ID;VALUE=DATE:99991231", "RECURRENCE-ID 9999-12-31 is outside the supported years"),
    ],
)
def test_what_is_no_occurrence_is_refused_with_the_reason(site_dir: SiteDir, rid: str, why: str) -> None:
    site = site_with(site_dir)
    refused(site, message(LI, rid, "SEQUENCE:0"), why)


# -- an occurrence's own attendees ------------------------------------------------------------------------------


def test_an_override_s_attendees_answer_that_occurrence_and_no_one_else(site_dir: SiteDir) -> None:
    site = site_with(site_dir)
    guest = message(WANG, "RECURRENCE-ID;TZID=Asia/Seoul:20270408T100000", "SEQUENCE:0")
    deliver(site, data=guest)
    assert take(site).counts == {ReplyOutcome.APPLIED: 1}  # the guest of that occurrence alone
    assert state(site).partstat(WANG, APR_08) is PartStat.ACCEPTED
    before = len(history(site))
    outsider = message(ELLIS, "RECURRENCE-ID:20270408T010000Z", "SEQUENCE:0")  # not on that occurrence
    deliver(site, data=outsider)
    assert take(site).counts == {ReplyOutcome.QUARANTINED: 1}
    assert f"ATTENDEE {ELLIS} is not invited to the occurrence 2027-04-08T01:00 UTC" in quarantine_reason(site)
    assert len(history(site)) == before


def test_a_guest_of_one_occurrence_cannot_answer_for_the_series(site_dir: SiteDir) -> None:
    site = site_with(site_dir)
    refused(site, message(WANG, "SEQUENCE:0"), f"ATTENDEE {WANG} is not invited to the series")


# -- a cancelled meeting ----------------------------------------------------------------------------------------


def test_a_reply_to_a_cancelled_meeting_is_refused(site_dir: SiteDir) -> None:
    site = site_with(site_dir)
    site_dir.meeting("working-call.yaml", MEETING.format(start="2026-12-10T10:00") + OVERRIDES + "status: cancelled\n")
    site.sync(NOW + timedelta(hours=1))
    deliver(site, "google-accepted.eml")
    assert take(site, NOW + timedelta(hours=2)).counts == {ReplyOutcome.QUARANTINED: 1}
    assert f"meeting {UID} is cancelled" in quarantine_reason(site)
    assert [a.via.value for a in history(site)] == []


# -- SEQUENCE and DTSTAMP no higher than what was sent, and the clock ------------------------------------------


def test_a_sequence_above_the_one_sent_does_not_survive_the_reset_after_a_new_time(site_dir: SiteDir) -> None:
    site = site_with(site_dir)
    deliver(site, data=message(ELLIS, "SEQUENCE:2147483647"))
    assert take(site).counts == {ReplyOutcome.APPLIED: 1}
    (first,) = history(site)
    assert first.sequence == 0  # what was sent to him
    site_dir.meeting("working-call.yaml", MEETING.format(start="2026-12-10T11:00") + OVERRIDES)
    site.sync(NOW + timedelta(hours=1))  # a new time: SEQUENCE 1, everyone asked again
    assert state(site).partstat(ELLIS) is PartStat.NEEDS_ACTION


def test_a_dtstamp_from_the_future_does_not_make_later_answers_stale(site_dir: SiteDir) -> None:
    site = site_with(site_dir)
    deliver(site, data=message(ELLIS, "SEQUENCE:0", stamp="21991231T000000Z"))
    assert take(site).counts == {ReplyOutcome.APPLIED: 1}
    (first,) = history(site)
    assert first.dtstamp.replace(tzinfo=UTC) == NOW  # taken as the time it came
    later = NOW + timedelta(hours=1)
    no = message(ELLIS, "SEQUENCE:0", attendee=f"ATTENDEE;PARTSTAT=DECLINED:mailto:{ELLIS}", stamp="20261201T124500Z")
    deliver(site, data=no)
    assert take(site, later).counts == {ReplyOutcome.APPLIED: 1}
    assert state(site).declined(ELLIS)


def test_a_dtstamp_within_the_skew_is_kept(site_dir: SiteDir) -> None:
    site = site_with(site_dir)
    deliver(site, data=message(ELLIS, "SEQUENCE:0", stamp="20261201T180000Z"))  # 6 h ahead: a clock off
    assert take(site).counts == {ReplyOutcome.APPLIED: 1}
    (first,) = history(site)
    assert first.dtstamp.replace(tzinfo=UTC) == datetime(2026, 12, 1, 18, 0, tzinfo=UTC)


# -- COUNTER ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("lines", "why"),
    [
        (("DTSTART:99991231T235959Z",), "COUNTER DTSTART 9999-12-31T23:59 UTC is outside the supported years"),
        (("DTSTART:00010101T000000Z",), "outside the supported years"),
        (("DTSTART:20261210T030000Z", "DTEND:99991231T235959Z"), "COUNTER DTEND"),
        (("DTSTART:20261210T030000Z", "DTEND:20261210T020000Z"), "COUNTER DTEND is not after its DTSTART"),
        (("DTSTART:21991210T030000Z",), "more than 3660 days ahead"),
    ],
)
def test_an_absurd_counter_is_refused_with_the_reason(site_dir: SiteDir, lines: tuple[str, ...], why: str) -> None:
    site = site_with(site_dir)
    refused(site, message(LI, "SEQUENCE:0", *lines, method="COUNTER"), why)


def test_attendance_and_the_summary_read_a_stored_absurd_proposal_without_crashing(site_dir: SiteDir) -> None:
    """A row an older version stored: shown as unreadable, the rest of the report intact."""
    site = site_with(site_dir)
    with site.db.transaction(write=True) as session:
        attendance.record_counter(
            session,
            meeting_uid=UID,
            attendee=LI,
            sequence=0,
            now=NOW,
            start=datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC),
            end=None,
        )
    shown = render(report(site, NOW, UID))
    assert "proposed by li.ming@chengdu.example: (a time that cannot be read)" in shown
    assert "Thu 2026-12-10 10:00 KST" in shown
    # the organizer's summary that the next real answer plans keeps both
    deliver(site, "google-accepted.eml")
    assert take(site).counts == {ReplyOutcome.APPLIED: 1}
    with site.db.transaction() as session:
        (row,) = session.scalars(select(OutboxRow).where(OutboxRow.kind == "answer-summary"))
        data, recipient = row.attendee, row.recipient
    mail = MailRenderer(site.settings, IcsRenderer(site.settings))
    sent = summary_message(mail, data, recipient, message_id="<s@test.example>", now=NOW + timedelta(minutes=3))
    text = text_body(sent.message)
    assert "- Li Ming: accepted (every meeting of the series)" in text
    assert "- Li Ming: proposed a new time: ?" in text


# -- RFC 6047 section 3: who may send an answer -----------------------------------------------------------------


def test_google_s_replies_come_with_its_own_envelope_sender_and_are_applied(site_dir: SiteDir) -> None:
    site = site_with(site_dir)
    deliver(site, "google-calendar-server.eml")  # Return-Path …@calendar-server.bounces.google.com
    assert take(site).counts == {ReplyOutcome.APPLIED: 1}
    assert state(site).partstat(LI) is PartStat.ACCEPTED


SERVICE_ENVELOPE = "Return-Path: <3yQ5nZ@calendar-server.bounces.google.com>\r\n"


@pytest.mark.parametrize(
    ("headers", "why"),
    [
        (f"From: <{LI}>\r\nFrom: <{ELLIS}>\r\n", "2 From headers"),
        (f"Return-Path: <{LI}>\r\nReturn-Path: <{LI}>\r\nFrom: <{LI}>\r\n", "2 Return-Path headers"),
        (SERVICE_ENVELOPE + "From: <attacker@evil.example>\r\n", "From attacker@evil.example is not the attendee"),
        (
            SERVICE_ENVELOPE + f"Sender: <bounce@evil.example>\r\nFrom: <{LI}>\r\n",
            "envelope sender 3yq5nz@calendar-server.bounces.google.com is not the attendee",
        ),
        (f"Return-Path: <x@calendar-server.bounces.google.com.evil.example>\r\nFrom: <{LI}>\r\n", "envelope sender x@"),
    ],
)
def test_senders_that_are_not_the_attendee_stay_refused(site_dir: SiteDir, headers: str, why: str) -> None:
    site = site_with(site_dir)
    refused(site, message(LI, "SEQUENCE:0", headers=headers), why)


def test_sent_by_the_organizer_is_trusted_and_by_anyone_else_not(site_dir: SiteDir) -> None:
    site = site_with(site_dir)
    office = "office@test.example"
    for_him = f'ATTENDEE;PARTSTAT=DECLINED;SENT-BY="mailto:{office}":mailto:{ELLIS}'
    deliver(site, data=message(ELLIS, "SEQUENCE:0", attendee=for_him, headers=f"From: <{office}>\r\n"))
    assert take(site).counts == {ReplyOutcome.APPLIED: 1}
    assert state(site).declined(ELLIS)
    by_li = f'ATTENDEE;PARTSTAT=ACCEPTED;SENT-BY="mailto:{LI}":mailto:{ELLIS}'
    deliver(site, data=message(ELLIS, "SEQUENCE:0", attendee=by_li, headers=f"From: <{LI}>\r\n"))
    assert take(site).counts == {ReplyOutcome.QUARANTINED: 1}
    assert state(site).declined(ELLIS)


# -- RFC 5546 4.2.5: delegation ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("attendee", "why"),
    [
        (f"ATTENDEE;PARTSTAT=DELEGATED:mailto:{LI}", "PARTSTAT=DELEGATED without DELEGATED-TO"),
        (f'ATTENDEE;PARTSTAT=DELEGATED;DELEGATED-TO="mailto:{LI}":mailto:{LI}', f"{LI} delegated to themselves"),
        (
            f'ATTENDEE;PARTSTAT=DELEGATED;DELEGATED-TO="mailto:no address":mailto:{LI}',
            "DELEGATED-TO 'no address' is not an email address",
        ),
        (f'ATTENDEE;PARTSTAT=DELEGATED;DELEGATED-TO="mailto:":mailto:{LI}', "is not an email address"),
    ],
)
def test_a_delegation_that_names_no_one_else_is_refused(site_dir: SiteDir, attendee: str, why: str) -> None:
    site = site_with(site_dir)
    refused(site, message(LI, "SEQUENCE:0", attendee=attendee), why)


def test_a_delegation_back_to_the_delegator_is_refused(site_dir: SiteDir) -> None:
    site = site_with(site_dir)
    to_kim = f'ATTENDEE;PARTSTAT=DELEGATED;DELEGATED-TO="mailto:{KIM}":mailto:{LI}'
    deliver(site, data=message(LI, "SEQUENCE:0", attendee=to_kim))
    assert take(site).counts == {ReplyOutcome.APPLIED: 1}
    back = f'ATTENDEE;PARTSTAT=DELEGATED;DELEGATED-TO="mailto:{LI}":mailto:{KIM}'
    deliver(site, data=message(KIM, "SEQUENCE:0", attendee=back))
    assert take(site).counts == {ReplyOutcome.QUARANTINED: 1}
    assert f"delegation loop: {LI} delegated to {KIM}" in quarantine_reason(site)
    assert state(site).partstat(KIM) is PartStat.NEEDS_ACTION


# -- `replies import` says which occurrence, as the other commands write times --------------------------------


def test_replies_import_names_the_occurrence_in_the_organizer_s_zone(
    site_dir: SiteDir, capsys: pytest.CaptureFixture[str]
) -> None:
    site = site_with(site_dir)
    site.close()
    guest = site_dir.root / "guest.eml"
    guest.write_bytes(message(WANG, "RECURRENCE-ID;TZID=Asia/Seoul:20270408T100000", "SEQUENCE:0"))
    moved = FIXTURES / "google-moved-occurrence.eml"
    assert main(["replies", "import", str(moved), str(guest), "--root", str(site_dir.root)]) == 0
    out = capsys.readouterr().out
    assert f"applied: {LI} DECLINED {UID} (Fri 2027-03-12 10:00 KST [moved from Thu 2027-03-11 10:00 KST])" in out
    assert f"applied: {WANG} ACCEPTED {UID} (Thu 2027-04-08 10:00 KST)" in out
    assert "+00:00" not in out


def test_replies_import_uses_the_organizer_s_own_zone_when_they_attend(
    site_dir: SiteDir, capsys: pytest.CaptureFixture[str]
) -> None:
    site = site_with(site_dir, working=OVERRIDES + "organizer: { name: Ellis Carter, email: ellis@atlanta.example }\n")
    site.close()
    guest = site_dir.root / "guest.eml"
    guest.write_bytes(message(WANG, "RECURRENCE-ID:20270408T010000Z", "SEQUENCE:0"))
    assert main(["replies", "import", str(guest), "--root", str(site_dir.root)]) == 0
    assert f"applied: {WANG} ACCEPTED {UID} (Wed 2027-04-07 21:00 EDT)" in capsys.readouterr().out


def test_declining_a_moved_occurrence_drops_its_reminders(site_dir: SiteDir) -> None:
    site = site_with(site_dir)
    march = datetime(2027, 3, 1, tzinfo=UTC)
    site.plan(march)
    assert MAR_12 in pending_reminders(site, LI)  # reminded where it is now
    deliver(site, "google-moved-occurrence.eml")
    assert take(site, march).counts == {ReplyOutcome.APPLIED: 1}
    assert MAR_12 not in pending_reminders(site, LI) and APR_08 in pending_reminders(site, LI)


# -- whatever a REPLY says, the intake answers with an outcome ----------------------------------------------


def _stamp(moment: datetime) -> str:
    return f"{moment.year:04d}{moment:%m%dT%H%M%S}"


rids = st.one_of(
    st.none(),
    st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30)).map(
        lambda d: f"RECURRENCE-ID:{_stamp(d)}Z"
    ),
    st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30)).map(
        lambda d: f"RECURRENCE-ID;TZID=Europe/Berlin:{_stamp(d)}"
    ),
    st.dates().map(lambda d: f"RECURRENCE-ID;VALUE=DATE:{d.year:04d}{d:%m%d}"),
    st.sampled_from(["RECURRENCE-ID:20270311T010000Z", "RECURRENCE-ID;TZID=Asia/Seoul:20270408T100000"]),
)
moments = st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30)).map(lambda d: _stamp(d) + "Z")


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    rid=rids,
    sequence=st.one_of(st.integers(min_value=-5, max_value=2**40).map(str), st.text(max_size=5)),
    stamp=moments,
    partstat=st.sampled_from(["ACCEPTED", "DECLINED", "DELEGATED", "X-ODD", "TENTATIVE"]),
    comment=st.text(max_size=40),
    counter=st.one_of(st.none(), moments),
    who=st.sampled_from([LI, ELLIS, WANG, "mallory@evil.example"]),
)
def test_any_reply_gets_an_outcome_and_never_outranks_what_was_sent(
    site_dir: SiteDir,
    rid: str | None,
    sequence: str,
    stamp: str,
    partstat: str,
    comment: str,
    counter: str | None,
    who: str,
) -> None:
    site = _fuzz_site(site_dir)
    escaped = comment.replace("\\", "\\\\").replace("\n", "\\n").replace("\r", "").replace(";", "\\;")
    lines = [f"SEQUENCE:{sequence}", f"COMMENT:{escaped}", *([rid] if rid else [])]
    if counter is not None:
        lines.append(f"DTSTART:{counter}")
    data = message(
        who,
        *lines,
        method="COUNTER" if counter is not None else "REPLY",
        attendee=f"ATTENDEE;PARTSTAT={partstat}:mailto:{who}",
        stamp=stamp,
    )
    result = Intake(site).take(data, NOW)
    assert result.outcome in set(ReplyOutcome)
    for a in history(site):
        assert a.sequence <= 0 and a.dtstamp.replace(tzinfo=UTC) <= NOW + MAX_CLOCK_SKEW


_FUZZ_SITES: dict[str, Site] = {}


def _fuzz_site(site_dir: SiteDir) -> Site:
    """One site for every example of the test (hypothesis calls it many times with the same site_dir)."""
    key = str(site_dir.root)
    if key not in _FUZZ_SITES:
        for old in _FUZZ_SITES.values():
            old.close()
        _FUZZ_SITES.clear()
        _FUZZ_SITES[key] = site_with(site_dir)
    return _FUZZ_SITES[key]
