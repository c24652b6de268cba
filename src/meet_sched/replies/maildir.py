"""Answers from a Maildir (``[replies] maildir``, default ``var/inbox/``), which any MTA, fetchmail or
getmail can deliver into.

Every message in ``new/`` and ``cur/`` is taken in name order (Maildir names start with the
delivery time).  Afterwards it is moved, never deleted: into the Maildir++ folder ``.processed``
(applied, stale or a COUNTER), or ``.quarantine`` with an ``X-Meet-Sched-Quarantine`` header
that says why — both readable with any mail client (``mutt -f var/inbox/.quarantine``).  A message
is read only up to ``[replies] max_bytes`` (plus one byte, to tell that it is bigger).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path

from .apply import Outcome, Result
from .intake import Intake, Tally

PROCESSED = ".processed"
QUARANTINE = ".quarantine"
QUARANTINE_HEADER = "X-Meet-Sched-Quarantine"
BATCH = 200  # messages taken before the outbox is re-planned and the feeds told, in one pass
CHUNK = 50  # messages recorded in one transaction (then moved)
_UNSAFE = re.compile(r"[^\x20-\x7e]")


def ensure_maildir(path: Path) -> None:
    """``path`` as a Maildir (``tmp``, ``new``, ``cur``), private (0700) when made here."""
    for sub in ("tmp", "new", "cur"):
        (path / sub).mkdir(mode=0o700, parents=True, exist_ok=True)


def waiting(inbox: Path) -> list[Path]:
    """The messages waiting in ``inbox``, oldest (by name) first."""
    found: list[Path] = []
    for sub in ("new", "cur"):
        try:
            with os.scandir(inbox / sub) as entries:
                found += [Path(e.path) for e in entries if not e.name.startswith(".") and e.is_file()]
        except FileNotFoundError:
            continue
    return sorted(found, key=lambda p: p.name)


def read_bounded(path: Path, limit: int) -> bytes:
    with open(path, "rb") as f:
        return f.read(limit + 1)


def header_value(reason: str) -> str:
    """A reason fit for one header line: printable ASCII only (no header injection), bounded."""
    return _UNSAFE.sub("?", reason)[:300]


def _unique_name(name: str) -> str:
    base = name.split(":", 1)[0]
    return f"{base}:2,S"  # seen: it was read


def move_processed(inbox: Path, path: Path) -> Path:
    target = inbox / PROCESSED
    ensure_maildir(target)
    dest = target / "cur" / _unique_name(path.name)
    os.replace(path, dest)
    return dest


def move_quarantined(inbox: Path, path: Path, reason: str) -> Path:
    """The message, with a first header line saying why, into ``.quarantine/new`` (unread: to look at)."""
    target = inbox / QUARANTINE
    ensure_maildir(target)
    name = path.name.split(":", 1)[0]
    tmp = target / "tmp" / name
    line = f"{QUARANTINE_HEADER}: {header_value(reason)}\r\n".encode("ascii")
    with open(tmp, "wb") as out, open(path, "rb") as src:
        out.write(line)
        while chunk := src.read(1 << 16):
            out.write(chunk)
        out.flush()
        os.fsync(out.fileno())
    dest = target / "new" / name
    os.replace(tmp, dest)
    path.unlink()
    return dest


class MaildirInbox:
    """One pass over a Maildir: take every waiting message, move it, settle the batch."""

    def __init__(self, intake: Intake, path: Path) -> None:
        self.intake = intake
        self.path = path

    def messages(self) -> Iterator[Path]:
        yield from waiting(self.path)

    def _move(self, path: Path, result: Result) -> bool:
        try:
            if result.outcome is Outcome.QUARANTINED:
                move_quarantined(self.path, path, result.reason or "refused")
            else:
                move_processed(self.path, path)
        except FileNotFoundError:
            return False  # another process took it meanwhile
        return True

    def run_once(self, clock: Callable[[], datetime]) -> Tally:
        """Every waiting message, :data:`CHUNK` to a transaction (then moved), the outbox re-planned and
        the listeners told after every :data:`BATCH`; returns what was done."""
        ensure_maildir(self.path)
        total = Tally()
        batch = Tally()
        paths = list(self.messages())
        for start in range(0, len(paths), CHUNK):
            items: list[tuple[Path, bytes]] = []
            for path in paths[start : start + CHUNK]:
                try:
                    items.append((path, read_bounded(path, self.intake.max_bytes)))
                except FileNotFoundError:
                    continue
            results = self.intake.take_many([(p.name, data, False) for p, data in items], clock())
            for (path, _), result in zip(items, results, strict=True):
                if self._move(path, result):
                    batch.add(result)
                    total.add(result)
            if sum(batch.counts.values()) >= BATCH:
                self.intake.settle(batch, clock())
                batch = Tally()
        self.intake.settle(batch, clock())
        return total
