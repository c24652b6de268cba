"""The ``meet-sched`` commands for config as code: ``diff``, ``schema`` and ``new``."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .cli import command, now, site_root
from .config import json_schema
from .errors import MeetSchedError
from .review import plan, report

CHANGES = 2  # diff's exit status when a sync would change something (0: nothing, 1: invalid config)


@command("diff")
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


@command("schema")
def cmd_schema(args: argparse.Namespace) -> int:
    print(json_schema.render(args.kind), end="")
    return 0


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
    p.add_argument("kind", choices=json_schema.KINDS)
