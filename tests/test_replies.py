"""RFC 5546 3.2.3 REPLY and 3.2.7 COUNTER through a real Maildir: the shapes Google, Outlook, Apple and
Thunderbird send are applied, the README's trust rules quarantine the rest, answers reach feeds and reminders."""

from __future__ import annotations

import email
import email.policy
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from meet_sched.replies.apply import ReplyOutcome
from meet_sched.replies.intake import Intake, Tally
from meet_sched.replies.maildir import QUARANTINE_HEADER, MaildirInbox
from meet_sched.site import Site
from meet_sched.store import attendance
from meet_sched.store.attendance import PartStat, Via

from .conftest import SiteDir
from .ics_helpers import parse_both
from .mail_helpers import calendar_part, text_body
from .replies_helpers import DEC_10, FIXTURES, JAN_14, MEETING, NOW, UID, deliver, make_site, pending_reminders, reply


def take(site: Site, now: datetime = NOW) -> Tally:
    return MaildirInbox(Intake(site), site.settings.inbox_dir).run_once(lambda: now)


def state(site: Site) -> attendance.Attendance:
    with site.db.transaction() as session:
        return attendance.current(session, UID)


def partstats(body: bytes) -> dict[tuple[str, object], str]:
    """(attendee, RECURRENCE-ID or None) → PARTSTAT, read by icalendar; checked against the `ical` package."""
    parsed = parse_both(body)
    out: dict[tuple[str, object], str] = {}
    for event in parsed.icalendar.walk("VEVENT"):
        rid = event.get("RECURRENCE-ID")
        for a in event.get("ATTENDEE", []):
            out[(str(a).removeprefix("mailto:"), None if rid is None else rid.dt)] = str(a.params["PARTSTAT"])
    strict = {
        (a.uri.removeprefix("mailto:"), e.recurrence_id): a.status for e in parsed.ical.events for a in e.attendees
    }
    assert {k[0]: v for k, v in out.items() if k[1] is None} == {k[0]: v for k, v in strict.items() if k[1] is None}
    return out


def test_the_four_clients_replies_are_applied_and_the_feed_shows_them(site_dir: SiteDir) -> None:
    site = make_site(site_dir)
    paths = deliver(
        site, "google-accepted.eml", "outlook-declined.eml", "apple-tentative.eml", "thunderbird-accepted.eml"
    )
    tally = take(site)
    assert tally.counts == {ReplyOutcome.APPLIED: 4}
    assert tally.changed == {UID}
    now_in_force = state(site)
    assert now_in_force.partstat("li.ming@chengdu.example") is PartStat.ACCEPTED  # Google
    assert now_in_force.partstat("ellis@atlanta.example") is PartStat.DECLINED  # Outlook: no ORGANIZER, mixed case
    assert now_in_force.partstat("thuha.nguyen@bacninh.example") is PartStat.TENTATIVE  # Apple
    assert now_in_force.partstat("jihyun.kim@daegu.example") is PartStat.ACCEPTED  # Thunderbird
    assert now_in_force.answer("ellis@atlanta.example").comment.startswith("Sorry, I am travelling")  # type: ignore[union-attr]
    # moved, never deleted: the inbox is empty, every message is in .processed/cur as it came
    inbox = site.settings.inbox_dir
    assert not any((inbox / "new").iterdir())
    kept = sorted(p.read_bytes() for p in (inbox / ".processed" / "cur").iterdir())
    assert kept == sorted(
        (Path(__file__).parent / "data" / "replies" / n).read_bytes()
        for n in ("google-accepted.eml", "outlook-declined.eml", "apple-tentative.eml", "thunderbird-accepted.eml")
    )
    assert all(not p.exists() for p in paths)
    # the feed carries each PARTSTAT, and a reply never bumps SEQUENCE (RFC 5546 2.1.4)
    site.export()
    body = (site.root / "calendars" / "default.ics").read_bytes()
    found = partstats(body)
    assert found[("li.ming@chengdu.example", None)] == "ACCEPTED"
    assert found[("ellis@atlanta.example", None)] == "DECLINED"
    assert found[("thuha.nguyen@bacninh.example", None)] == "TENTATIVE"
    assert found[("jihyun.kim@daegu.example", None)] == "ACCEPTED"
    (event,) = parse_both(body).icalendar.walk("VEVENT")
    assert int(event["SEQUENCE"]) == 0
    # and the personal feed of one of them too
    personal = partstats(site.personal_feed("ellis@atlanta.example").body)
    assert personal[("ellis@atlanta.example", None)] == "DECLINED"


def test_a_decliner_gets_no_reminders_and_gets_them_back_after_accepting(site_dir: SiteDir) -> None:
    site = make_site(site_dir)
    assert pending_reminders(site, "ellis@atlanta.example") == [DEC_10, JAN_14]
    assert pending_reminders(site, "thuha.nguyen@bacninh.example") == [DEC_10, JAN_14]
    deliver(site, "outlook-declined.eml", "apple-tentative.eml")
    take(site)
    assert pending_reminders(site, "ellis@atlanta.example") == []
    assert pending_reminders(site, "thuha.nguyen@bacninh.example") == [DEC_10, JAN_14]  # tentative: still reminded
    assert pending_reminders(site, "li.ming@chengdu.example") == [DEC_10, JAN_14]  # no answer: still reminded
    deliver(site, data=reply("ACCEPTED", stamp="20261201T140000Z"))
    take(site)
    assert pending_reminders(site, "ellis@atlanta.example") == [DEC_10, JAN_14]


def test_an_occurrence_reply_applies_to_that_occurrence_only(site_dir: SiteDir) -> None:
    site = make_site(site_dir)
    deliver(site, "google-accepted.eml", "google-declined-occurrence.eml")
    assert take(site).counts == {ReplyOutcome.APPLIED: 2}
    now_in_force = state(site)
    assert now_in_force.partstat("li.ming@chengdu.example", DEC_10) is PartStat.ACCEPTED
    assert now_in_force.declined("li.ming@chengdu.example", JAN_14)
    assert pending_reminders(site, "li.ming@chengdu.example") == [DEC_10]
    site.export()
    found = partstats((site.root / "calendars" / "default.ics").read_bytes())
    assert found[("li.ming@chengdu.example", None)] == "ACCEPTED"
    instance = [v for (who, rid), v in found.items() if who == "li.ming@chengdu.example" and rid is not None]
    assert instance == ["DECLINED"]
    rid = next(rid for (who, rid) in found if rid is not None)
    assert rid.utcoffset() == timedelta(hours=9) and rid.hour == 10 and rid.day == 14  # in the meeting's own zone


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("spoofed-from.eml", "From attacker@evil.example is not the attendee li.ming@chengdu.example"),
        ("spoofed-envelope.eml", "envelope sender bounce@evil.example is not the attendee li.ming@chengdu.example"),
        ("wrong-uid.eml", "no meeting has UID no-such-meeting@test.example"),
        ("unknown-attendee.eml", "ATTENDEE mallory@chengdu.example is not invited to working-call@test.example"),
        ("two-attendees.eml", "2 ATTENDEEs in one answer"),
        ("broken-ics.eml", "no VEVENT"),
        ("broken-mime.eml", "no VEVENT"),
    ],
)
def test_untrusted_or_malformed_messages_are_quarantined_with_the_reason(
    site_dir: SiteDir, name: str, reason: str
) -> None:
    site = make_site(site_dir)
    deliver(site, name)
    tally = take(site)
    assert tally.counts == {ReplyOutcome.QUARANTINED: 1} and not tally.changed
    (held,) = (site.settings.inbox_dir / ".quarantine" / "new").iterdir()
    message = email.message_from_bytes(held.read_bytes(), policy=email.policy.default)
    assert reason in str(message[QUARANTINE_HEADER])
    original = (Path(__file__).parent / "data" / "replies" / name).read_bytes()
    assert held.read_bytes().endswith(original)  # kept whole, after one line that says why
    with site.db.transaction() as session:
        assert attendance.history(session, UID) == []  # nothing half-applied


def test_an_oversized_message_is_quarantined_unread(site_dir: SiteDir) -> None:
    site = make_site(site_dir)
    big = (Path(__file__).parent / "data" / "replies" / "google-accepted.eml").read_bytes()
    big = big.replace(b"Li Ming has accepted this invitation.", b"x" * 5_000_000)
    deliver(site, data=big)
    assert take(site).counts == {ReplyOutcome.QUARANTINED: 1}
    (held,) = (site.settings.inbox_dir / ".quarantine" / "new").iterdir()
    assert f"{QUARANTINE_HEADER}: larger than 1000000 bytes".encode() in held.read_bytes()[:200]
    assert state(site).partstat("li.ming@chengdu.example") is PartStat.NEEDS_ACTION


def test_a_later_dtstamp_wins_and_an_earlier_one_is_stale(site_dir: SiteDir) -> None:
    site = make_site(site_dir)
    deliver(site, data=reply("DECLINED", stamp="20261201T150000Z"))
    take(site)
    deliver(site, data=reply("ACCEPTED", stamp="20261201T140000Z"))  # written earlier, arrived later
    assert take(site).counts == {ReplyOutcome.STALE: 1}
    assert state(site).declined("ellis@atlanta.example")
    with site.db.transaction() as session:
        assert [a.stale for a in attendance.history(session, UID)] == [False, True]


def test_a_new_time_resets_answers_and_a_reply_to_the_old_sequence_is_stale(site_dir: SiteDir) -> None:
    site = make_site(site_dir)
    deliver(site, "outlook-declined.eml")
    take(site)
    assert pending_reminders(site, "ellis@atlanta.example") == []
    make_site(site_dir, start="2026-12-10T11:00", now=NOW + timedelta(hours=2))  # SEQUENCE 1, a new time
    now_in_force = state(site)
    assert now_in_force.partstat("ellis@atlanta.example") is PartStat.NEEDS_ACTION
    assert attendance.must_answer(now_in_force, "ellis@atlanta.example")
    assert pending_reminders(site, "ellis@atlanta.example") == [
        DEC_10 + timedelta(hours=1),
        JAN_14 + timedelta(hours=1),
    ]
    deliver(site, "google-accepted.eml")  # SEQUENCE:0, answering the old time
    assert take(site, NOW + timedelta(hours=3)).counts == {ReplyOutcome.STALE: 1}
    assert state(site).partstat("li.ming@chengdu.example") is PartStat.NEEDS_ACTION
    deliver(site, data=reply("ACCEPTED", who="li.ming@chengdu.example", seq=1, stamp="20261201T160000Z"))
    assert take(site, NOW + timedelta(hours=4)).counts == {ReplyOutcome.APPLIED: 1}
    assert state(site).partstat("li.ming@chengdu.example") is PartStat.ACCEPTED


def test_counter_is_recorded_never_applied_and_delegation_is_recorded(site_dir: SiteDir) -> None:
    site = make_site(site_dir)
    deliver(site, "counter.eml", "delegated.eml")
    assert take(site).counts == {ReplyOutcome.COUNTER: 1, ReplyOutcome.APPLIED: 1}
    with site.db.transaction() as session:
        (proposal,) = attendance.counters(session, UID)
        current = attendance.current(session, UID)
    assert proposal.proposal == {"start": "2026-12-10T03:00:00+00:00", "end": "2026-12-10T04:00:00+00:00"}
    assert proposal.comment == "Could we start two hours later?"
    found = current.answer("li.ming@chengdu.example")
    assert found is not None and found.partstat is PartStat.DELEGATED and found.via is Via.IMIP
    assert found.delegated_to == ("wang.fang@chengdu.example",)
    (event,) = parse_both(site.invitation(UID)).icalendar.walk("VEVENT")
    assert str(event["DTSTART"].dt.hour) == "10"  # the proposal changed nothing


def test_replies_import_and_attendance_commands(site_dir: SiteDir) -> None:
    site_dir.meeting("working-call.yaml", MEETING.format(start="2027-06-10T10:00"))
    site_dir.run("sync", check=True)
    data = Path(__file__).parent / "data" / "replies"
    done = site_dir.run("replies", "import", str(data / "thunderbird-reply.ics"), str(data / "outlook-declined.eml"))
    assert done.returncode == 0, done.stderr
    assert "applied: jihyun.kim@daegu.example ACCEPTED working-call@test.example" in done.stdout
    assert "applied: ellis@atlanta.example DECLINED" in done.stdout
    refused = site_dir.run("replies", "import", str(data / "spoofed-from.eml"))
    assert refused.returncode == 1 and "refused: From attacker@evil.example" in refused.stdout
    assert "Traceback" not in refused.stderr
    shown = site_dir.run("attendance", "working-call", "--from", "2027-06-01", check=True).stdout
    assert "Thu 2027-06-10 10:00 KST: 1 accepted, 1 declined, 2 no answer" in shown
    assert "accepted: 김지현 (Daegu, Asia/Seoul)" in shown
    assert "declined: Ellis Carter (Atlanta, America/New_York)" in shown
    assert "no answer: Li Ming (Chengdu, Asia/Shanghai); Nguyễn Thu Hà (Bac Ninh, Asia/Ho_Chi_Minh)" in shown


def test_the_update_after_a_new_time_asks_everyone_to_answer_again_in_their_language(site_dir: SiteDir) -> None:
    soon = datetime.now(UTC) + timedelta(days=5)
    site_dir.settings('[delivery]\nupdate_quiet = "0s"\n')  # the update at once, not after the quiet period
    body = MEETING.replace("recurrence: FREQ=MONTHLY;BYDAY=2TH\n", "")
    site_dir.meeting("working-call.yaml", body.format(start=soon.strftime("%Y-%m-%dT10:00")))
    site_dir.run("run", check=True)  # the invitations, into var/mail
    site_dir.run("replies", "import", str(FIXTURES / "outlook-declined.eml"), check=True)
    site_dir.run("run", check=True)  # nothing new: an answer is not a change of the meeting
    mail = site_dir.root / "var" / "mail" / "new"
    assert len(list(mail.iterdir())) == 4
    site_dir.meeting("working-call.yaml", body.format(start=soon.strftime("%Y-%m-%dT11:00")))
    site_dir.run("run", check=True)
    updates = {}
    for path in mail.iterdir():
        msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        if "SEQUENCE:1" in calendar_part(msg).get_content():
            updates[str(msg["To"]).split("<")[-1].rstrip(">")] = text_body(msg)
    assert sorted(updates) == sorted(EXPECTED_AGAIN)
    for who, words in EXPECTED_AGAIN.items():
        assert words in updates[who], f"{who}: {updates[who][:300]}"


EXPECTED_AGAIN = {
    "jihyun.kim@daegu.example": "초대에 다시 응답해 주세요",
    "li.ming@chengdu.example": "请重新回复此邀请",
    "thuha.nguyen@bacninh.example": "vui lòng trả lời lại lời mời",
    "ellis@atlanta.example": "please answer the invitation again",
}
