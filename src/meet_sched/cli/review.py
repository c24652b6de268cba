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

from ..config import Config, json_schema, load_config, load_settings
from ..config import people as people_of
from ..config.loader import check_meeting_file, not_read
from ..config.meeting_spec import attendee_from_text
from ..config.notes import no_public_calendar
from ..config.places import rules as place_rules
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
    try:
        config: Config | None = load_config(root)
    except ConfigError:
        config = None  # the rest of the config has problems of its own: validate lists them
    known = people_of.known(config.located if config is not None else ())
    followed = [_as_known(p, known) for p in people]
    people = [p for p, _ in followed]
    data: dict[str, Any] = {"uid": uid, "title": args.title}
    if args.calendar:
        data["calendar"] = args.calendar
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
    taken = {m.uid: m.source for m in config.meetings} if config is not None else {}
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
    for _, said in followed:
        if said:
            print(f"note: {said}", file=sys.stderr)
    public = list(settings.spec.server.public_calendars)
    if public and meetings[0].calendar not in public and not args.calendar:
        hint = f"add 'calendar: {public[0]}' to the file (--calendar {public[0]} writes it) to show it there"
        print(f"note: {no_public_calendar(public)}; {hint}", file=sys.stderr)
    sys.stdout.write(body)
    return 0


def _as_known(person: dict[str, Any], known: dict[str, people_of.Known]) -> tuple[dict[str, Any], str | None]:
    """``person`` (name and address from --with) with the zone, language and city the other meeting
    files give that address (a place for the zone when they name one), and a note saying so."""
    found = known.get(str(person.get("email", "")).lower())
    if found is None:
        return person, None
    out = {"name": person.get("name") or found.name, "email": person["email"]}
    said = []
    if found.zone is not None:
        key, value = ("place", found.place) if found.place else ("timezone", found.zone)
        out[key] = value
        said.append(f"{key} {value}")
    if found.language is not None:
        out["language"] = found.language
        said.append(f"language {found.language}")
    if found.city:
        out["city"] = found.city
        said.append(f"city {found.city}")
    return out, f"{out['email']}: {', '.join(said)}, as {found.where} gives them"


def _slug(title: str) -> str:
    """``Daegu–Chengdu monthly call`` → ``daegu-chengdu-monthly-call``: any run of what is not a letter or
    digit (dashes of every kind, spaces) is one dash, then accents go and other scripts drop out."""
    dashed = re.sub(r"[\W_]+", "-", title)
    ascii_title = unicodedata.normalize("NFKD", dashed).encode("ascii", "ignore").decode()
    return re.sub(r"-+", "-", re.sub(r"[^a-z0-9-]+", "", ascii_title.lower())).strip("-")[:80]
