"""agenda: upcoming meetings, with a column per time zone."""

from __future__ import annotations

import argparse
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from ..agenda import agenda_zones, render_agenda, zone_columns
from ..config.display import display_zone
from ..localtimes import zone_city
from .common import left_out, now, quiet_troubles, site


def cmd_agenda(args: argparse.Namespace) -> int:
    quiet_troubles(args)
    s = site(args)
    start = now()
    shown = display_zone(s.settings, (stored.meeting for stored in s.meetings()))
    if args.start is not None:
        zone = ZoneInfo(args.tz[0]) if args.tz else shown
        start = datetime.combine(args.start, time(0), tzinfo=zone)
    occurrences = s.occurrences(start, start + timedelta(days=args.days), skipped=True)
    zones = zone_columns(args.tz, occurrences) if args.tz else _first(agenda_zones(occurrences), shown)
    print(render_agenda(occurrences, zones))
    return left_out(s)


def _first(zones: list[tuple[str, ZoneInfo]], shown: ZoneInfo) -> list[tuple[str, ZoneInfo]]:
    """The participants' zones, the site's display zone first: its column gives the dates."""
    if not zones:
        return []
    mine = [z for z in zones if z[1].key == shown.key] or [(zone_city(shown) if "/" in shown.key else shown.key, shown)]
    return [*mine, *(z for z in zones if z[1].key != shown.key)]
