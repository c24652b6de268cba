"""replies and attendance: answers taken in by hand (or one pass over the inbox), and who is coming."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from pathlib import Path

from .common import now, site


def cmd_replies(args: argparse.Namespace) -> int:
    """``replies import FILE…`` (.eml and .ics) or ``replies run`` (one pass over the inbox)."""
    from ..replies.apply import Outcome
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
        return 0
    tally = Tally()
    bad = 0
    for name in args.files:
        path = Path(name)
        try:
            data = read_file(path, intake.max_bytes + 1)  # regular files only, never past the limit
        except OSError as exc:  # one file that cannot be read does not keep the others from being taken
            why = f"{exc.kind}, not a regular file" if isinstance(exc, NotRegular) else exc.strerror or str(exc)
            print(f"{path}: refused: {why}")
            bad += 1
            continue
        result = intake.take(data, now(), ics=path.suffix.lower() == ".ics", name=str(path))
        tally.add(result)
        if result.outcome is Outcome.QUARANTINED:
            bad += 1
            print(f"{path}: refused: {result.reason}")
            continue
        for a in result.answers:
            when = a.occurrence.isoformat() if a.occurrence else "every occurrence"
            print(f"{path}: {a.outcome.value}: {a.attendee} {a.partstat} {a.uid} ({when})")
    intake.settle(tally, now())
    return 1 if bad else 0


def cmd_attendance(args: argparse.Namespace) -> int:
    """Per meeting and occurrence: who accepted, declined, answered tentatively or not at all."""
    from ..attendance import render, report

    s = site(args)
    after = now() if args.start is None else datetime.combine(args.start, datetime.min.time(), tzinfo=UTC)
    print(render(report(s, after, args.uid, args.days), s.root), end="")
    return 0
