"""replies and attendance: answers taken in by hand (or one pass over the inbox), and who is coming."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from .. import occurrences
from ..errors import MeetSchedError
from ..marks import TableReader
from ..safe_text import neutral
from ..site import Site
from .common import now, site

if TYPE_CHECKING:
    from ..replies.intake import Tally


def cmd_replies(args: argparse.Namespace) -> int:
    """``replies import FILE…`` (.eml and .ics) or ``replies run`` (one pass over the inbox)."""
    from ..replies.apply import ReplyOutcome
    from ..replies.files import NotRegular, read_file
    from ..replies.intake import Intake, Tally

    s = site(args)
    intake = Intake(s)
    if args.replies_command == "run":
        from ..replies.maildir import MaildirInbox

        if s.settings.spec.replies.imap is not None:
            import asyncio

            from ..replies.imap import ImapInbox

            tally = asyncio.run(ImapInbox(intake, s.settings).run_once(now))
        else:
            tally = MaildirInbox(intake, s.settings.inbox_dir).run_once(now)
        print(f"replies: {tally.summary()}")
        _export(s, tally)
        return 0
    tally = Tally()
    bad = 0
    for name in args.files:
        path = Path(name)
        try:
            data = read_file(path, intake.max_bytes + 1)  # regular files only, never past the limit
        except OSError as exc:  # one file that cannot be read does not keep the others from being taken
            why = f"{exc.kind}, not a regular file" if isinstance(exc, NotRegular) else exc.strerror or str(exc)
            _say(f"{path}: refused: {why}")
            bad += 1
            continue
        result = intake.take(data, now(), ics=path.suffix.lower() == ".ics", name=str(path))
        tally.add(result)
        if result.outcome is ReplyOutcome.QUARANTINED:
            bad += 1
            _say(f"{path}: refused: {result.reason}")
            continue
        for a in result.answers:
            when = answered(s, a.uid, a.occurrence) if a.occurrence else "every occurrence"
            _say(f"{path}: {a.outcome.value}: {a.attendee} {a.partstat} {a.uid} ({when})")
    intake.settle(tally, now())
    _export(s, tally)
    return 1 if bad else 0


def answered(s: Site, uid: str, occurrence: datetime) -> str:
    """The occurrence an answer is for, as the other commands write times: in the organizer's zone (their own
    entry among the attendees, else ``[calendar] timezone``, else the meeting's), where it is now, and the
    start it moved from; an all-day one by its dates."""
    try:
        m = s.meeting(uid).meeting
    except MeetSchedError:
        return f"{occurrence:%Y-%m-%d %H:%M} UTC"
    own = next((a for a in m.attendees if a.email.lower() == m.organizer.email.lower()), None)
    named = s.settings.spec.calendar.timezone
    table = TableReader(own.timezone if own else ZoneInfo(named) if named else m.timezone)
    one = occurrences.of(m, occurrence)
    return " ".join([table.when(one), *(f"[{mark}]" for mark in table.marks(one))])


def _say(line: str) -> None:
    """One line about a reply: what it carries (addresses, reasons quoting it, the file's name) cannot act."""
    print(neutral(line))


def _export(s: Site, tally: Tally) -> None:
    """calendars/*.ics carry PARTSTAT: written again when answers in force changed (a running ``serve``
    sees the commit too, and renders its feeds again)."""
    if tally.changed:
        for path in s.export().written:
            print(f"wrote {path.relative_to(s.root)}")


def cmd_attendance(args: argparse.Namespace) -> int:
    """Per meeting and occurrence: who accepted, declined, answered tentatively or not at all."""
    from ..attendance import render, report

    s = site(args)
    after = now() if args.start is None else datetime.combine(args.start, datetime.min.time(), tzinfo=UTC)
    print(render(report(s, after, args.uid, args.days), s.root), end="")
    return 0
