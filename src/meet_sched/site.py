"""Use cases of one site: the only place that wires config, store and rendering together.

The CLI, the scheduler and the web app call these; each use case is one database
transaction, and each takes ``now`` from its caller (only ``serve`` reads the clock).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from .config import Config, Settings, load_config, load_settings
from .errors import NotFoundError
from .ics import IcsRenderer
from .model import Meeting, StoredMeeting, utc
from .store.db import Database
from .store.meetings import Change, ChangeKind, all_meetings, find_uid, get_meeting, sync_meetings

Progress = Callable[[Iterable[Path]], Iterable[Path]]


@dataclass(frozen=True)
class SyncReport:
    changes: list[Change]
    meetings: int
    files: int

    def count(self, kind: ChangeKind) -> int:
        return sum(1 for c in self.changes if c.kind is kind)

    def summary(self) -> str:
        if not self.changes:
            return f"{self.meetings} meetings from {self.files} files: nothing changed"
        counts = ", ".join(f"{self.count(k)} {k.value}" for k in ChangeKind if self.count(k))
        return f"{self.meetings} meetings from {self.files} files: {counts}"


@dataclass(frozen=True)
class ExportReport:
    written: list[Path] = field(default_factory=list)
    unchanged: list[Path] = field(default_factory=list)


@dataclass(frozen=True)
class Occurrence:
    stored: StoredMeeting
    start: datetime  # aware, in the meeting's zone

    @property
    def meeting(self) -> Meeting:
        return self.stored.meeting

    @property
    def end(self) -> datetime:
        return self.start + self.meeting.duration


class Site:
    """A folder with ``config/``, ``calendars/`` and ``var/``, and its database."""

    def __init__(self, root: Path, settings: Settings | None = None) -> None:
        self.root = root.resolve()
        self.settings = settings or load_settings(self.root)
        self._db: Database | None = None
        self.renderer = IcsRenderer(self.settings)

    @property
    def db(self) -> Database:
        if self._db is None:
            self._db = Database(self.settings.database_url)
            self._db.ensure_schema()
        return self._db

    def close(self) -> None:
        if self._db is not None:
            self._db.dispose()
            self._db = None

    # -- config → database --------------------------------------------------------

    def load(self, progress: Progress | None = None) -> Config:
        return load_config(self.root, progress=progress)

    def sync(self, now: datetime, config: Config | None = None, progress: Progress | None = None) -> SyncReport:
        """Apply the config to the database in one transaction (raises ConfigError, changing nothing)."""
        config = config or self.load(progress)
        with self.db.transaction(lock="meet-sched sync") as session:
            changes = sync_meetings(session, config.meetings, utc(now))
        return SyncReport(changes, len(config.meetings), config.files)

    # -- reading ----------------------------------------------------------------

    def meetings(self, calendar: str | None = None) -> list[StoredMeeting]:
        with self.db.transaction() as session:
            return all_meetings(session, calendar)

    def meeting(self, key: str) -> StoredMeeting:
        with self.db.transaction() as session:
            uids = find_uid(session, key)
            if len(uids) != 1:
                hint = (
                    "`meet-sched agenda` lists meetings; give the full UID" if uids else "run `meet-sched sync` first?"
                )
                raise NotFoundError("meeting", key, hint)
            found = get_meeting(session, uids[0])
            assert found is not None
            return found

    def calendars(self) -> dict[str, list[StoredMeeting]]:
        grouped: dict[str, list[StoredMeeting]] = {}
        for stored in self.meetings():
            grouped.setdefault(stored.meeting.calendar, []).append(stored)
        return grouped

    def calendar_title(self, name: str) -> str:
        base = self.settings.spec.calendar.name
        return base if name == "default" else f"{base} · {name}"

    def occurrences(self, after: datetime, before: datetime) -> list[Occurrence]:
        out = [
            Occurrence(s, start)
            for s in self.meetings()
            if not s.removed
            for start in s.meeting.occurrences(after - s.meeting.duration, before)
            if start + s.meeting.duration > after
        ]
        return sorted(out, key=lambda o: (utc(o.start), o.meeting.uid))

    # -- database → files ---------------------------------------------------------

    def export(self, calendars: dict[str, list[StoredMeeting]] | None = None) -> ExportReport:
        """Write ``calendars/<name>.ics`` for every calendar; only files whose bytes change are rewritten."""
        calendars = self.calendars() if calendars is None else calendars
        target = self.settings.calendars_dir
        target.mkdir(parents=True, exist_ok=True)
        report = ExportReport()
        for name, stored in sorted(calendars.items()):
            body = self.renderer.feed(self.calendar_title(name), stored)
            path = target / f"{name}.ics"
            (report.written if write_atomic(path, body) else report.unchanged).append(path)
        self.renderer.forget(s for group in calendars.values() for s in group)
        return report

    def invitation(self, key: str) -> bytes:
        return self.renderer.invitation(self.meeting(key))


def write_atomic(path: Path, body: bytes, mode: int = 0o644) -> bool:
    """Replace ``path`` with ``body`` atomically (temp file + rename); False if it already held it."""
    try:
        if path.stat().st_size == len(body) and path.read_bytes() == body:
            return False
    except FileNotFoundError:
        pass
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(body)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, mode)  # mkstemp makes 0600; a web server must be able to read a published calendar
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return True
