"""The ``meet-sched`` command.

One error boundary (:func:`main`) turns every :class:`~meet_sched.errors.MeetSchedError`
into messages on stderr and exit status 1; nothing a user can cause ends in a traceback.

Each command's module is imported when that command runs, and imports what it needs: the
parser itself needs none of the database, calendar, email or web libraries, so that
``--help``, ``validate`` and ``plan`` do not pay for the others at start.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from collections.abc import Sequence
from datetime import timedelta

from .. import __version__
from ..errors import MeetSchedError
from ..safe_text import neutral
from ..store.status import OutboxStatus
from . import review_args
from .args import date_, duration, grid, limit, months, names, positive, zone
from .common import Command

# command → (module of this package, function): imported only when the command runs
COMMANDS: dict[str, tuple[str, str]] = {
    "validate": ("config", "cmd_validate"),
    "sync": ("config", "cmd_sync"),
    "export": ("config", "cmd_export"),
    "run": ("config", "cmd_run"),
    "invite": ("mail", "cmd_invite"),
    "agenda": ("agenda", "cmd_agenda"),
    "plan": ("plan", "cmd_plan"),
    "serve": ("serve", "cmd_serve"),
    "feeds": ("feeds", "cmd_feeds"),
    "outbox": ("mail", "cmd_outbox"),
    "send-test": ("mail", "cmd_send_test"),
    "db": ("db", "cmd_db"),
    "diff": ("review", "cmd_diff"),
    "schema": ("review", "cmd_schema"),
    "new": ("review", "cmd_new"),
    "replies": ("replies", "cmd_replies"),
    "attendance": ("replies", "cmd_attendance"),
}


def command(name: str) -> Command:
    module, function = COMMANDS[name]
    found: Command = getattr(importlib.import_module(f".{module}", __package__), function)
    return found


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="meet-sched", description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--version", action="version", version=f"meet-sched {__version__}")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--root",
        default=os.environ.get("MEET_SCHED_ROOT", "."),
        help="the site folder holding config/, calendars/ and var/ (default: $MEET_SCHED_ROOT or .)",
    )
    common.add_argument("-v", "--verbose", action="store_true", help="log more")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    p = sub.add_parser("validate", parents=[common], help="check every config file; list every problem")
    p.add_argument("--strict", action="store_true", help="warnings are errors too (exit status 1)")
    p.add_argument("--format", choices=["text", "json"], default="text", help="text (default) or json for tools")
    p.add_argument("--all", action="store_true", help="list every clashing occurrence, not the first few")
    p.add_argument("--from", dest="start", type=date_, metavar="DATE", help="warn from this date (UTC) on, not now")
    p.add_argument("--months", type=months, metavar="N", help="how far ahead to warn (default [warnings] months)")
    sub.add_parser("sync", parents=[common], help="apply config/ to the database")
    sub.add_parser("export", parents=[common], help="write calendars/<calendar>.ics")
    sub.add_parser("run", parents=[common], help="validate, sync and export in one go")
    p = sub.add_parser("invite", parents=[common], help="print the iTIP invitation (REQUEST/CANCEL) of a meeting")
    p.add_argument("uid", help="the meeting's UID (the part before @ is enough)")
    p = sub.add_parser("agenda", parents=[common], help="upcoming meetings, with a column per time zone")
    p.add_argument("--days", type=positive, default=30, help="how far ahead (default 30)")
    p.add_argument(
        "--from",
        dest="start",
        type=date_,
        metavar="DATE",
        help="start at this date (YYYY-MM-DD, in the first --tz zone, else UTC) instead of now",
    )
    p.add_argument("--tz", type=zone, action="append", metavar="ZONE", help="a zone column (repeatable)")
    p = sub.add_parser("plan", parents=[common], help="find a time that suits every place; print a meeting file")
    p.add_argument("--with", dest="with_", type=names, metavar="PLACES", help="places, zones or cities (commas)")
    p.add_argument("--duration", type=duration, required=True, help="how long, e.g. 1h or 90m")
    p.add_argument("--from", dest="start", type=date_, metavar="DATE", help="first day (default tomorrow)")
    p.add_argument("--days", type=positive, default=14, help="days to search (default 14)")
    p.add_argument("--attendees", metavar="UID-or-FILE", help="a meeting whose attendees take part")
    p.add_argument("--every", metavar="RRULE", help='a recurring pattern, e.g. "FREQ=MONTHLY;BYDAY=2WE"')
    p.add_argument("--grid", type=grid, default=timedelta(minutes=30), help="15m or 30m (default 30m)")
    p.add_argument("--top", type=positive, default=10, help="how many slots to list (default 10)")
    p.add_argument("--pick", type=positive, default=1, help="which ranked slot --format yaml writes (default 1)")
    p.add_argument("--title", help="the title of the meeting file")
    p.add_argument("--format", choices=["text", "yaml"], default="text", help="text (default), or yaml: a meeting file")
    sub.add_parser("serve", parents=[common], help="run the service (sync on change, email, HTTP feeds)")
    p = sub.add_parser("feeds", help="subscription URLs of public and personal feeds")
    feeds = p.add_subparsers(dest="feeds_command", required=True, metavar="ACTION")
    feeds.add_parser("list", parents=[common], help="print every feed's URLs and who has a personal feed (issues none)")
    r = feeds.add_parser("rotate", parents=[common], help="issue a new personal feed URL; the old one stops working")
    r.add_argument("email", help="the attendee's email address")
    r = feeds.add_parser(
        "send", parents=[common], help="mail attendees (all, or EMAIL…) a new personal feed link, in their language"
    )
    r.add_argument("emails", nargs="*", metavar="EMAIL")
    r = feeds.add_parser("revoke", parents=[common], help="stop an attendee's personal feed")
    r.add_argument("email", help="the attendee's email address")
    p = sub.add_parser("outbox", parents=[common], help="emails planned, sent, failed or expired")
    p.add_argument("--status", choices=[st.value for st in OutboxStatus], help="only messages with this status")
    p.add_argument("--limit", type=limit, default=50, help="how many rows (default 50)")
    p = sub.add_parser("send-test", parents=[common], help="send a test email through [smtp] (or into the Maildir)")
    p.add_argument("email", help="where to send it")
    p = sub.add_parser("db", parents=[common], help="database schema")
    p.add_argument("db_command", choices=["upgrade", "current", "copy"])
    p.add_argument("--to", metavar="URL", help="db copy: the empty database (e.g. postgresql+psycopg://…) to copy into")
    p = sub.add_parser("replies", help="attendees' answers (iMIP REPLY and COUNTER)")
    rep = p.add_subparsers(dest="replies_command", required=True, metavar="ACTION")
    r = rep.add_parser("import", parents=[common], help="take answers from .eml or .ics files")
    r.add_argument("files", nargs="+", metavar="FILE", help=".eml messages or .ics files")
    rep.add_parser("run", parents=[common], help="one pass over the inbox ([replies] maildir, or [replies.imap])")
    p = sub.add_parser("attendance", parents=[common], help="who accepted, declined or did not answer")
    p.add_argument("uid", nargs="?", help="one meeting (the part before @ is enough); default: every meeting")
    p.add_argument("--from", dest="start", type=date_, metavar="DATE", help="occurrences from this date (UTC) on")
    p.add_argument(
        "--days", type=positive, help="how far ahead (default: 90 days; for one meeting, its next occurrences)"
    )
    review_args.add_parsers(sub, common)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
        stream=sys.stderr,
    )
    for noisy in ("alembic", "apscheduler"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        return command(args.command)(args)
    except MeetSchedError as exc:
        for line in exc.lines():  # a message may quote a file's name or a reply: nothing in it acts
            print(neutral(f"meet-sched: {line}" if line == str(exc) else line), file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("meet-sched: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except Exception as exc:
        reason = _database_failure(exc)
        if reason is None:
            raise  # a bug: its traceback is what a report needs
        print(f"meet-sched: {reason}", file=sys.stderr)
        return 1


def _database_failure(exc: Exception) -> str | None:
    """One line for a database error that reached the boundary unnamed (a refused privilege, a read-only
    database): never the statement nor its values."""
    if "sqlalchemy" not in sys.modules:  # nothing opened a database: it cannot be one
        return None
    from ..store.db import failure

    return failure(exc)
