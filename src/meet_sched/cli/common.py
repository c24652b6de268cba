"""What every command shares: the clock, the site folder and its database, progress and left-out meetings."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import MeetSchedError

if TYPE_CHECKING:
    from ..site import Site

Command = Callable[[argparse.Namespace], int]


def now() -> datetime:
    return datetime.now(UTC)


def progress(files: Iterable[Path]) -> Iterator[Path]:
    """Show "reading 1200/2000 files" on a terminal when there are many files."""
    items = list(files)
    show = sys.stderr.isatty() and len(items) >= 200
    for i, path in enumerate(items, start=1):
        if show and (i % 50 == 0 or i == len(items)):
            print(f"\rreading {i}/{len(items)} files", end="", file=sys.stderr, flush=True)
        yield path
    if show:
        print(file=sys.stderr)


def site_root(args: argparse.Namespace) -> Path:
    root = Path(args.root)
    if not root.is_dir():
        raise MeetSchedError(f"--root {root}: no such folder")
    return root.resolve()


def site(args: argparse.Namespace, *, open_database: bool = True) -> Site:
    """The site, its database opened and migrated once, before the command does anything else
    (whatever state the meeting files are in: only the settings are read here)."""
    from ..site import Site

    s = Site(site_root(args))
    if open_database:
        s.open()
    return s


def left_out(s: Site) -> int:
    """Say which stored meetings were left out (they cannot be read or rendered): 1 if any, else 0."""
    found = s.troubles.current()
    if not found:
        return 0
    n = len(found)
    print(
        f"meet-sched: left out {n} stored meeting{'s' if n != 1 else ''} that cannot be read or rendered:",
        file=sys.stderr,
    )
    for bad in found:
        print(f"  {bad.uid}: {bad.reason}", file=sys.stderr)
    print("hint: the next sync that changes its config file (or adds one with that uid) replaces it", file=sys.stderr)
    return 1


def quiet_troubles(args: argparse.Namespace) -> None:
    if not args.verbose:  # left_out says it all; -v shows the log lines too
        logging.getLogger("meet_sched.troubles").setLevel(logging.CRITICAL)
