"""The ``meet-sched`` commands for config as code: ``diff``, ``schema`` and ``new``."""

from __future__ import annotations

import argparse
import json
import re
import sys
import unicodedata
from pathlib import Path
from typing import Any

import yaml

from ..config import json_schema, load_config, load_settings
from ..config.loader import check_meeting_file, not_read
from ..config.places import rules as place_rules
from ..config.schema import attendee_from_text
from ..durations import format_duration
from ..errors import ConfigError, MeetSchedError
from ..places import plan as places
from ..review import plan, report
from .common import now, site_root

CHANGES = 2  # diff's exit status when a sync would change something (0: nothing, 1: invalid config)


def cmd_diff(args: argparse.Namespace) -> int:
    root = site_root(args)
    at = args.at or now()
    if args.base is not None:
        base = Path(args.base)
        if not base.is_dir():
            raise MeetSchedError(f"--base {base}: no such folder")
        _, sync = plan.against_base(root, base, at)
    else:
        _, sync = plan.against_database(root, at)
    diff = report.build(sync)
    if args.format == "json":
        print(json.dumps(report.to_json(diff), ensure_ascii=False, indent=1))
    else:
        for line in report.render_text(diff):
            print(line)
    return CHANGES if diff.changed else 0


def cmd_schema(args: argparse.Namespace) -> int:
    print(json_schema.render(args.kind), end="")
    return 0


def cmd_new(args: argparse.Namespace) -> int:
    """Write a new meeting file from flags: validated first, with an explicit uid, never over a file."""
    root = site_root(args)
    settings = load_settings(root)
    rules = place_rules(settings.spec)
    entries = [w for item in args.with_ or [] for w in item]
    people = [attendee_from_text(w) for w in entries if "@" in w]
    named = [w for w in entries if "@" not in w]
    try:
        if args.place:
            [home] = places.resolve_places([args.place], rules)
        else:
            home = None
        others = places.resolve_places(named, rules) if named else []
    except (places.PlanError, ValueError) as exc:
        raise MeetSchedError(str(exc)) from None
    uid = args.uid or _slug(args.title)
    if not uid:
        raise MeetSchedError(f"--title {args.title!r} gives no ASCII name for the uid and the file: give --uid")
    data: dict[str, Any] = {"uid": uid, "title": args.title}
    if home is not None:
        data["city"] = home.label
    data["timezone"] = home.zone.key if home is not None else args.timezone
    data["start"] = args.start
    data["duration"] = format_duration(args.duration)
    if args.every:
        data["recurrence"] = args.every
    listed: list[dict[str, Any]] = [{k: v for k, v in p.items() if v} for p in people]
    if listed:
        data["attendees"] = listed
    comments = [
        f"# {p.label}: add its attendees with " + (f"place: {p.name}" if p.name else f"timezone: {p.zone.key}")
        for p in others
    ]
    body = "\n".join([*comments, ""]) + yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=1000)
    given = Path(args.file) if args.file else settings.meetings_dir / f"{uid}.yaml"
    target = given.resolve()
    if not target.is_relative_to(settings.meetings_dir.resolve()) or target.suffix not in (".yaml", ".yml"):
        raise MeetSchedError(f"{target}: a new meeting file must be a .yaml file under {settings.meetings_dir}")
    for name in dict.fromkeys((given.name, target.name)):
        if (why := not_read(name)) is not None:
            raise MeetSchedError(f"{given}: not written: {why}; give another --file")
    meetings = check_meeting_file(settings, target, body.encode())
    try:
        taken = {m.uid: m.source for m in load_config(root).meetings}
    except ConfigError:
        taken = {}  # the rest of the config has problems of its own: validate lists them
    for m in meetings:
        if m.uid in taken:
            raise MeetSchedError(f"uid {m.uid!r} is already used by {taken[m.uid]}: give another --uid")
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        with target.open("x", encoding="utf-8") as out:
            out.write(body)
    except FileExistsError:
        raise MeetSchedError(f"{target}: exists already; new never overwrites a file (give --file or --uid)") from None
    print(f"wrote {target.relative_to(root)}: {meetings[0].uid}", file=sys.stderr)
    sys.stdout.write(body)
    return 0


def _slug(title: str) -> str:
    ascii_title = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_title.lower()).strip("-")[:80]
