"""plan: find a time that suits every place, a recurring pattern's clashes, a meeting file."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

from ..agenda import day_shift, render_table
from ..config import load_config
from ..config.places import rules as place_rules
from ..durations import format_duration
from ..errors import MeetSchedError
from ..localtimes import zone_abbreviation
from ..model import Attendee
from ..places import plan as plan_slot
from ..places.rules import Place, participants
from ..site import Site
from .common import now, site


def cmd_plan(args: argparse.Namespace) -> int:
    """Find a time: slots ranked by fit for every place; a recurring pattern's clashes; a meeting file."""
    from ..places import plan

    s = site(args)
    rules = place_rules(s.settings.spec)
    uid, people = _plan_attendees(s, args.attendees)
    horizon = timedelta(days=args.days + (400 if args.every else 1))
    first_guess = now() if args.start is None else datetime.combine(args.start, time(0), tzinfo=UTC)
    data = s.planning([a.email for a in people], first_guess - timedelta(days=1), first_guess + horizon, uid)
    try:
        named = plan.resolve_places(args.with_, rules, data.cities) if args.with_ else []
        places = plan.unique([*named, *(rules.for_attendee(a) for a in people)])
        if not places:
            raise plan.PlanError("give --with PLACES or --attendees UID-or-FILE")
        busy = plan.Busy(data.busy)
        start = plan.first_midnight(places, args.start, now())
        ranked = plan.candidates(places, args.duration, start, args.days, grid=args.grid, busy=busy)
        chosen = ranked[min(args.pick, len(ranked)) - 1]
        found = None
        if args.every:
            found = plan.pattern(places, args.every, chosen, args.duration, grid=args.grid, busy=busy)
            chosen = found.slots[0]  # DTSTART is the first occurrence (RFC 5545)
    except plan.PlanError as exc:
        raise MeetSchedError(str(exc)) from None
    if args.format == "yaml":
        from ..places.output import meeting_yaml

        note = None
        if found is not None and found.rotation:
            note = "no time fits everyone's working hours: plan ranks a rotation (see the text output)"
        title = args.title or "Call: " + " – ".join(p.label for p in places)
        body = meeting_yaml(chosen, places, args.duration, title=title, every=args.every, attendees=people, note=note)
        sys.stdout.write(body)
        return 0
    shown = ranked[: args.top]
    rows = [[str(i), *_slot_cells(places, slot), _fit(slot)] for i, slot in enumerate(shown, start=1)]
    print(render_table(["#", "Date", *(p.label for p in places), "Fit"], rows))
    print(
        f"\n{len(ranked)} slots of {format_duration(args.duration)} from {start:%Y-%m-%d} for {args.days} days; "
        f"dates are {places[0].label}'s; {len(busy)} existing occurrences of the participants checked"
    )
    if found is not None:
        print(f"\n--every {args.every}: the next {len(found.slots)} occurrences")
        rows = [[str(i), *_slot_cells(places, slot), _fit(slot)] for i, slot in enumerate(found.slots, start=1)]
        print(render_table(["#", "Date", *(p.label for p in places), "Fit"], rows))
        if found.rotation:
            first, second = (", ".join(p.label for p in side) for side in found.sides(places))
            print(
                "No time fits everyone's working hours, so the occurrences rotate: odd ones keep "
                f"{first} inside working hours, even ones {second} (the times above)."
            )
        for place, outside, off in found.burden(places):
            print(f"  {place.label}: outside working hours {outside} of {len(found.slots)}, on a day off {off}")
    return 0


def _plan_attendees(s: Site, key: str | None) -> tuple[str | None, list[Attendee]]:
    """The participants of a meeting named by UID, or of a meeting file of this site."""
    if not key:
        return None, []
    path = Path(key)
    if path.suffix in (".yaml", ".yml", ".toml") or path.is_file():
        tried = [path, s.root / path, s.settings.meetings_dir / path]
        full = next((p for p in tried if p.is_file()), path).resolve()
        try:
            shown = full.relative_to(s.root).as_posix()
        except ValueError:
            raise MeetSchedError(f"--attendees {key}: not a meeting file of this site ({s.root})") from None
        meetings = [m for m in load_config(s.root).meetings if m.source.rsplit(":", 1)[0] == shown]
        if not meetings:
            raise MeetSchedError(f"--attendees {key}: no meeting in that file")
        meeting = meetings[0]
    else:
        meeting = s.meeting(key).meeting
    return meeting.uid, participants(meeting.attendees)


def _slot_cells(places: Sequence[Place], slot: plan_slot.Slot) -> list[str]:
    ref = slot.start.astimezone(places[0].zone)
    cells = [f"{ref:%a %Y-%m-%d}"]
    for p in places:
        local = slot.start.astimezone(p.zone)
        cells.append(f"{local:%H:%M} {zone_abbreviation(local)}{day_shift(local, ref)}")
    return cells


def _fit(slot: plan_slot.Slot) -> str:
    return "fits everyone" if slot.fits else "; ".join(slot.problems())
