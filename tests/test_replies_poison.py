"""One reply that cannot be taken never blocks the ones behind it: it is quarantined with a one-line reason (Maildir,
IMAP, `replies import`, `replies run`, `serve`), unless the database itself failed, which leaves it for later."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from meet_sched.cli import main
from meet_sched.errors import DatabaseError
from meet_sched.replies import intake as intake_module
from meet_sched.replies.apply import ReplyOutcome, Result, apply
from meet_sched.replies.intake import Intake, Tally
from meet_sched.replies.maildir import QUARANTINE_HEADER, MaildirInbox
from meet_sched.replies.parse import Incoming
from meet_sched.site import Site
from meet_sched.store import attendance
from meet_sched.store.attendance import PartStat

from .conftest import TEST_DB, SiteDir
from .replies_helpers import FIXTURES, NOW, UID, deliver, make_site
from .serving import serving

LI = "li.ming@chengdu.example"
ELLIS = "ellis@atlanta.example"


def poison(*lines: str, method: str = "REPLY", partstat: str = "ACCEPTED") -> bytes:
    """A REPLY from an invited attendee (Ellis) with these extra VEVENT lines: all that a forged From needs."""
    ics = "\r\n".join(
        [
            "BEGIN:VCALENDAR",
            f"METHOD:{method}",
            "PRODID:-//test//poison//EN",
            "VERSION:2.0",
            "BEGIN:VEVENT",
            f"ATTENDEE;PARTSTAT={partstat}:mailto:{ELLIS}",
            f"UID:{UID}",
            "SEQUENCE:0",
            *lines,
            "END:VEVENT",
            "END:VCALENDAR",
            "",
        ]
    )
    return (
        f"From: <{ELLIS}>\r\nTo: office@test.example\r\nSubject: Accepted\r\nMIME-Version: 1.0\r\n"
        f'Content-Type: text/calendar; charset="utf-8"; method={method}\r\n\r\n{ics}'
    ).encode()


POISONS = {
    "rid-utc-9999": poison("DTSTAMP:20261201T130000Z", "RECURRENCE-ID:99991231T235959Z"),
    "rid-date-9999": poison("DTSTAMP:20261201T130000Z", "RECURRENCE-ID;VALUE=DATE:99991231"),
    "rid-year-1-east": poison("DTSTAMP:20261201T130000Z", "RECURRENCE-ID:00010101T000000"),
    "dtstamp-9999": poison("DTSTAMP:99991231T235959Z"),
    "counter-9999": poison(
        "DTSTAMP:20261201T130000Z", "DTSTART:99991231T235959Z", "DTEND:99991231T235959Z", method="COUNTER"
    ),
}


def first(site: Site, data: bytes) -> Path:
    """A message in new/ that sorts before every delivered one: what stands in front of them."""
    path = site.settings.inbox_dir / "new" / "1764700000.M0P1.poison"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def take(site: Site) -> Tally:
    return MaildirInbox(Intake(site), site.settings.inbox_dir).run_once(lambda: NOW)


def answers(site: Site) -> dict[str, PartStat]:
    with site.db.transaction() as session:
        state = attendance.current(session, UID)
        return {who: state.partstat(who) for who in (LI, ELLIS)}


def quarantined(site: Site) -> list[str]:
    """The reason header of every quarantined message."""
    found = []
    for path in sorted((site.settings.inbox_dir / ".quarantine" / "new").iterdir()):
        head = path.read_bytes().split(b"\r\n", 1)[0].decode()
        assert head.startswith(f"{QUARANTINE_HEADER}: ")
        found.append(head.removeprefix(f"{QUARANTINE_HEADER}: "))
    return found


@pytest.mark.parametrize("name", sorted(POISONS))
def test_a_reply_with_a_date_out_of_range_is_quarantined_and_the_next_taken(site_dir: SiteDir, name: str) -> None:
    site = make_site(site_dir)
    first(site, POISONS[name])
    deliver(site, "google-accepted.eml")
    assert take(site).counts == {ReplyOutcome.QUARANTINED: 1, ReplyOutcome.APPLIED: 1}
    assert answers(site) == {LI: PartStat.ACCEPTED, ELLIS: PartStat.NEEDS_ACTION}
    (reason,) = quarantined(site)
    assert re.fullmatch(
        r"(RECURRENCE-ID|DTSTAMP|COUNTER DTSTART) \S+( UTC)? is outside the supported years 1900-2200", reason
    ), reason
    assert not any((site.settings.inbox_dir / "new").iterdir())


def test_replies_import_and_run_go_on_after_a_poison_reply(
    site_dir: SiteDir, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    site = make_site(site_dir)
    bad = tmp_path / "poison.eml"
    bad.write_bytes(POISONS["rid-utc-9999"])
    good = FIXTURES / "google-accepted.eml"
    assert main(["replies", "import", str(bad), str(good), "--root", str(site.root)]) == 1
    out, err = capsys.readouterr()
    assert (
        out.splitlines()[0]
        == f"{bad}: refused: RECURRENCE-ID 9999-12-31T23:59 UTC is outside the supported years 1900-2200"
    )
    assert f"{good}: applied: {LI} ACCEPTED" in out
    assert "Traceback" not in err
    first(site, POISONS["rid-date-9999"])
    deliver(site, "outlook-declined.eml")
    assert main(["replies", "run", "--root", str(site.root)]) == 0
    out, err = capsys.readouterr()
    assert out == "replies: 1 applied, 1 quarantined\nwrote calendars/default.ics\n"  # the answer reaches the feed
    assert "Traceback" not in err
    assert answers(site) == {LI: PartStat.ACCEPTED, ELLIS: PartStat.DECLINED}


def _fails_after_writing(error: Exception) -> object:
    """``apply`` that writes the poison message's answer, then fails as a bug or a bad value would."""

    def fake(session: Session, incoming: Incoming, now: object, meetings: object = None) -> Result:
        result = apply(session, incoming, now, meetings)  # type: ignore[arg-type]
        if incoming.sender == ELLIS:
            raise error
        return result

    return fake


@pytest.mark.parametrize(
    "error",
    [OverflowError("date value out of range"), ValueError("year 0 is out of range"), PermissionError(13, "denied")],
    ids=["overflow", "value", "permission"],
)
def test_whatever_fails_on_one_message_quarantines_it_alone_and_undoes_its_writes(
    site_dir: SiteDir, monkeypatch: pytest.MonkeyPatch, error: Exception
) -> None:
    """The one mechanism behind every case above: a failure of one message (here made to happen after it wrote its
    answer) is that message's; its writes are undone, the batch's others are recorded."""
    site = make_site(site_dir)
    deliver(site, "google-accepted.eml", "outlook-declined.eml", "apple-tentative.eml")
    monkeypatch.setattr(intake_module, "apply", _fails_after_writing(error))
    assert take(site).counts == {ReplyOutcome.QUARANTINED: 1, ReplyOutcome.APPLIED: 2}
    assert answers(site) == {LI: PartStat.ACCEPTED, ELLIS: PartStat.NEEDS_ACTION}  # Ellis's write undone
    with site.db.transaction() as session:
        assert ELLIS not in {a.attendee for a in attendance.history(session, UID)}
    (reason,) = quarantined(site)
    assert reason.startswith(f"cannot be applied ({type(error).__name__}: ")


def test_a_database_failure_leaves_every_message_to_be_taken_again(
    site_dir: SiteDir, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Never quarantine because the database is down: the pass stops, nothing of the batch is kept or moved."""
    site = make_site(site_dir)
    paths = deliver(site, "google-accepted.eml", "outlook-declined.eml")
    down = OperationalError("INSERT", {}, Exception("could not connect to server: Connection refused"))
    monkeypatch.setattr(intake_module, "apply", _fails_after_writing(down))
    with pytest.raises(DatabaseError, match="Connection refused"):
        take(site)
    assert all(p.exists() for p in paths)
    assert not (site.settings.inbox_dir / ".quarantine" / "new").exists() or not quarantined(site)
    assert answers(site) == {LI: PartStat.NEEDS_ACTION, ELLIS: PartStat.NEEDS_ACTION}
    monkeypatch.undo()
    assert take(site).counts == {ReplyOutcome.APPLIED: 2}  # back: taken


@pytest.mark.postgres
@pytest.mark.skipif(TEST_DB != "postgresql", reason="a PostgreSQL database made read-only (MEET_SCHED_TEST_DB)")
def test_a_read_only_postgresql_database_leaves_the_messages_in_place(
    site_dir: SiteDir, capsys: pytest.CaptureFixture[str]
) -> None:
    site = make_site(site_dir)
    paths = deliver(site, "google-accepted.eml")
    url = site_dir.database_url
    assert url is not None
    name = url.rsplit("/", 1)[1]
    admin = create_engine(url.rsplit("/", 1)[0] + "/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'ALTER DATABASE "{name}" SET default_transaction_read_only = on'))
    admin.dispose()
    site.db.dispose()
    assert main(["replies", "run", "--root", str(site.root)]) == 1
    err = capsys.readouterr().err
    assert "read-only transaction" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert all(p.exists() for p in paths)


@pytest.mark.slow
def test_serve_quarantines_a_poison_reply_and_takes_the_next(site_dir: SiteDir) -> None:
    site = make_site(site_dir)
    first(site, POISONS["rid-utc-9999"])
    deliver(site, "google-accepted.eml")
    site.db.dispose()
    with serving(site.root, no_traceback=True) as server:
        server.wait_for_log(re.compile(r"event=replies-taken applied=1 quarantined=1"))
        assert "replies-failed" not in server.log
    assert answers(site) == {LI: PartStat.ACCEPTED, ELLIS: PartStat.NEEDS_ACTION}
