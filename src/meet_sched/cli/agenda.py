"""agenda: upcoming meetings, with a column per time zone."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from ..agenda import render_agenda, zone_columns
from .common import left_out, now, quiet_troubles, site


def cmd_agenda(args: argparse.Namespace) -> int:
    quiet_troubles(args)
    s = site(args)
    start = now()
    if args.start is not None:
        zone = ZoneInfo(args.tz[0]) if args.tz else UTC
        start = datetime.combine(args.start, time(0), tzinfo=zone)
    occurrences = s.occurrences(start, start + timedelta(days=args.days), skipped=True)
    zones = zone_columns(args.tz, occurrences) if args.tz else []
    print(render_agenda(occurrences, zones))
    return left_out(s)
