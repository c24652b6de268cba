"""invite, outbox and send-test: the email side of a site."""

from __future__ import annotations

import argparse
import sys
from datetime import timedelta

from ..config.display import display_zone, local
from ..durations import format_duration
from ..errors import MeetSchedError
from ..store.status import OutboxStatus
from .common import now, site


def cmd_invite(args: argparse.Namespace) -> int:
    s = site(args)
    stored = s.meeting(args.uid)
    if not stored.meeting.everyone():  # RFC 5546 3.2.2: a REQUEST names at least one attendee
        where = f"{stored.meeting.source}: " if stored.meeting.source else ""
        raise MeetSchedError(f"{where}{stored.uid} has no attendees: there is no one to invite")
    sys.stdout.buffer.write(s.invitation(args.uid))
    sys.stdout.flush()
    return 0


TITLE_WIDTH = 40  # outbox: a longer meeting title is cut, with an ellipsis


def cmd_outbox(args: argparse.Namespace) -> int:
    """The outbox as a table: what will be sent when, and what became of what was sent."""
    s = site(args)
    status = OutboxStatus(args.status) if args.status else None
    entries, counts = s.outbox(status, args.limit)
    stored = s.meetings()
    titles = {m.meeting.uid: m.meeting.title for m in stored}
    zone = display_zone(s.settings, (m.meeting for m in stored))
    moment = now()
    rows = [(f"Due ({zone.key})", "Status", "Kind", "Recipient", "Meeting", "Title", "Tries", "Detail")]
    for e in entries:
        kind = e.kind
        if e.offset_seconds is not None:
            kind = f"{kind} {format_duration(timedelta(seconds=e.offset_seconds))}"
        due = e.not_before if e.status == "pending" else e.due_at
        detail = e.detail or ""
        if e.status == "pending" and e.not_before > e.due_at:
            detail = f"retry ({detail})" if detail else "retry"
        elif e.status == "pending" and e.kind in ("update", "cancel") and e.not_before > moment:
            detail = f"waits for more edits until {e.not_before.astimezone(zone):%H:%M:%S}"
        elif e.status == "pending" and e.kind == "answer-summary" and e.not_before > moment:
            detail = f"waits for more answers until {local(e.not_before, zone)}"
        title = titles.get(e.meeting_uid or "", "")
        title = title if len(title) <= TITLE_WIDTH else title[: TITLE_WIDTH - 1] + "…"
        rows.append((local(due, zone), e.status, kind, e.recipient, e.meeting_uid, title, str(e.attempts), detail[:60]))
    if len(rows) == 1:
        print("the outbox is empty" if not counts else f"no {args.status} messages")
    else:
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        for i, row in enumerate(rows):
            print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
            if i == 0:
                print("  ".join("-" * w for w in widths))
    if counts:
        order = ["pending", "sending", "sent", "failed", "expired", "skipped"]
        print("\n" + " · ".join(f"{counts[k]} {k}" for k in order if counts.get(k)))
    return 0


def cmd_send_test(args: argparse.Namespace) -> int:
    """Send one test message through the configured transport and print the server's answer."""
    import asyncio

    from ..delivery.dispatcher import send_test

    name, reply = asyncio.run(send_test(site(args, open_database=False), args.email, now()))
    print(f"sent to {args.email} via {name}: {reply}")
    return 0
