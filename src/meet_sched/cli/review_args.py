"""The command lines of diff, schema and new (the commands themselves are in :mod:`.review`, imported when run)."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from typing import Any

from .args import duration as _duration
from .args import names as _names

SCHEMA_KINDS = ("meeting", "settings")  # config/json_schema.py's KINDS (tests/test_json_schema.py keeps them equal)


def _moment(value: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r}: not a date and time (YYYY-MM-DDTHH:MM[+zone])") from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def add_parsers(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "diff",
        parents=[common],
        help="what `sync` would change, meeting by meeting, and the emails it would plan (writes nothing)",
    )
    p.add_argument("--base", metavar="DIR", help="compare with the config of this site folder, not the database")
    p.add_argument("--format", choices=["text", "json"], default="text", help="text (default) or json for tools")
    p.add_argument(
        "--at", type=_moment, metavar="TIME", help="plan as of this moment (ISO 8601, UTC if no zone), not now"
    )
    p = sub.add_parser(
        "schema", parents=[common], help="print the JSON Schema of a meeting file or of meet-sched.toml, for editors"
    )
    p.add_argument("kind", choices=SCHEMA_KINDS)
    p = sub.add_parser(
        "new", parents=[common], help="write a new meeting file from flags (validated; never overwrites)"
    )
    p.add_argument("--title", required=True)
    p.add_argument("--start", required=True, help="local wall time, e.g. 2027-01-14T10:00")
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("--timezone", help="the meeting's IANA zone, e.g. Asia/Seoul")
    where.add_argument("--place", help="a place of [places] (or a zone or city): gives the zone and city")
    p.add_argument("--duration", type=_duration, default=_duration("1h"), help="how long (default 1h)")
    p.add_argument(
        "--with",
        dest="with_",
        type=_names,
        action="append",
        metavar="WHO",
        help="attendees (addresses or 'Name <address>') or places, comma-separated or repeated",
    )
    p.add_argument("--every", metavar="RRULE", help='a recurrence, e.g. "FREQ=MONTHLY;BYDAY=2TH"')
    p.add_argument("--uid", help="the meeting's uid (default: from the title); also names the file")
    p.add_argument("--calendar", help="the calendar it is in, e.g. one of [server] public_calendars")
    p.add_argument("--file", help="where to write it, under config/meetings/ (default: <uid>.yaml)")
