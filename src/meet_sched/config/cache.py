"""A cache of meeting files already validated, in ``var/``: the same result as reading them, faster."""

from __future__ import annotations

import functools
import hashlib
import json
import os
import tempfile
import zoneinfo
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from ..errors import Problem
from ..model import Meeting
from .settings import Settings

CACHE_FILE = "config-cache.json"
_CACHE_FORMAT = 3


def code_files() -> list[Path]:
    """The modules validation runs: config/, places/ and the domain modules they import."""
    package = Path(__file__).resolve().parent.parent
    code = [*package.joinpath("config").glob("*.py"), *package.joinpath("places").glob("*.py")]
    shared = ("__init__.py", "model.py", "durations.py", "recurrence.py", "localtimes.py", "errors.py", "safe_text.py")
    return sorted([*code, *(package / name for name in shared)])


@functools.cache
def _code_digest() -> str:
    """What validation depends on besides the files: this code, its libraries, the time zone data."""
    digest = hashlib.sha256(f"{_CACHE_FORMAT}".encode())
    for source in code_files():
        digest.update(source.name.encode() + b"\0" + source.read_bytes())
    libraries = ("pydantic", "pydantic-core", "email-validator", "icalendar", "python-dateutil", "PyYAML", "tzdata")
    for dist in (*libraries, "holidays"):
        try:
            digest.update(f"{dist}={metadata.version(dist)}\0".encode())
        except metadata.PackageNotFoundError:
            digest.update(f"{dist}=-\0".encode())
    for folder in zoneinfo.TZPATH:  # the system's zone data wins over the tzdata package
        for name in ("tzdata.zi", "+VERSION"):
            try:
                with open(os.path.join(folder, name), "rb") as f:
                    digest.update(f.readline())
            except OSError:
                pass
    return digest.hexdigest()


@dataclass(frozen=True)
class Cached:
    """One meeting of a file that validated cleanly, and what a duplicate-UID problem needs of it."""

    meeting: Meeting
    where: str  # path:line of its UID, named by a duplicate elsewhere
    uid_line: int | None
    uid_field: str
    positional: bool = False  # in a ``meetings:`` list without a ``uid``: its UID comes from its place
    lines: dict[str, int] = field(default_factory=dict)  # lines of its keys ("" the meeting's), for warnings
    notes: tuple[Problem, ...] = ()  # what `validate` says of it that is no error


class ConfigCache:
    """Meetings of files that validated cleanly, by the SHA-256 of their bytes, in ``var/``.

    Valid only for the same settings file, the same code and the same zone data (the key);
    anything unreadable or stale is ignored.  It saves re-reading unchanged files, nothing else:
    deleting it changes no result.
    """

    def __init__(self, path: Path, key: str) -> None:
        self.path = path
        self.key = key
        self.old: dict[str, Any] = {}
        self.new: dict[str, Any] = {}
        try:
            stored = json.loads(path.read_bytes())
            if stored.get("key") == key and isinstance(stored.get("files"), dict):
                self.old = stored["files"]
        except (OSError, ValueError, AttributeError):
            pass

    def get(self, shown: str, digest: str) -> list[Cached] | None:
        entry = self.old.get(shown)
        if not isinstance(entry, dict) or entry.get("sha256") != digest:
            return None
        try:
            found = [
                Cached(
                    Meeting.from_data(m["data"], source=m["source"]),
                    m["where"],
                    m["uid_line"],
                    m["uid_field"],
                    bool(m.get("positional", False)),
                    {str(k): int(v) for k, v in (m.get("lines") or {}).items()},
                    tuple(Problem(shown, n[0], n[1], n[2]) for n in m.get("notes") or ()),
                )
                for m in entry["meetings"]
            ]
        except (KeyError, TypeError, ValueError):
            return None
        self.new[shown] = entry
        return found

    def put(self, shown: str, digest: str, found: list[Cached]) -> None:
        self.new[shown] = {
            "sha256": digest,
            "meetings": [
                {
                    "data": c.meeting.to_data(),
                    "source": c.meeting.source,
                    "where": c.where,
                    "uid_line": c.uid_line,
                    "uid_field": c.uid_field,
                    "positional": c.positional,
                    "lines": c.lines,
                    "notes": [[n.line, n.field, n.message] for n in c.notes],
                }
                for c in found
            ],
        }

    def save(self) -> None:
        if self.new == self.old:
            return  # nothing new: an unchanged site writes nothing
        body = json.dumps({"key": self.key, "files": self.new}, ensure_ascii=False, separators=(",", ":"))
        tmp: str | None = None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.", suffix=".tmp")
            with os.fdopen(fd, "wb") as out:
                out.write(body.encode("utf-8"))
            os.replace(tmp, self.path)
            tmp = None
        except OSError:  # a read-only var/ only costs speed
            pass
        finally:  # on any failure, even one that is not an OSError, no temporary file stays behind
            if tmp is not None:
                Path(tmp).unlink(missing_ok=True)


def settings_digest(settings: Settings) -> str:
    """The cache key: the settings meetings are validated against (not the file, which may differ)."""
    body = settings.spec.model_dump_json().encode()
    return hashlib.sha256(_code_digest().encode() + b"\0" + body).hexdigest()
