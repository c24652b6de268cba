"""Config files → validated :class:`Settings` and :class:`~meet_sched.model.Meeting` objects.

Every problem in every file is collected (with ``file:line``) before anything is
reported; a caller either gets a complete, valid configuration or a
:class:`~meet_sched.errors.ConfigError` listing all that is wrong.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
import tempfile
import zoneinfo
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from difflib import get_close_matches
from importlib import metadata
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ValidationError

from ..errors import ConfigError, Problem
from ..model import (
    SUPPORTED_YEARS,
    UID_MAX_LENGTH,
    Attendee,
    Meeting,
    Person,
    Role,
    Status,
    format_duration,
    outside_years,
)
from .dates import check_rrule, wall_problem
from .limits import MAX_MEETING_DURATION, MAX_MEETING_FILES, MAX_MEETINGS_PER_FILE
from .places import resolve_place
from .schema import MeetingSpec, SettingsSpec
from .sources import KeyPath, Source, dotted, read_bytes, read_source

SETTINGS_FILE = "config/meet-sched.toml"
MEETINGS_DIR = "config/meetings"
MEETING_SUFFIXES = (".yaml", ".yml", ".toml")
DEFAULT_DATABASE = "var/meet-sched.db"


@dataclass(frozen=True)
class Settings:
    """Settings of one site: its folders, and the parsed ``config/meet-sched.toml``."""

    root: Path
    spec: SettingsSpec
    database_url: str
    smtp_password: str | None = field(default=None, repr=False)

    @property
    def config_dir(self) -> Path:
        return self.root / "config"

    @property
    def meetings_dir(self) -> Path:
        return self.root / MEETINGS_DIR

    @property
    def calendars_dir(self) -> Path:
        return self.root / "calendars"

    @property
    def var_dir(self) -> Path:
        return self.root / "var"

    @property
    def organizer(self) -> Person:
        o = self.spec.calendar.organizer
        return Person(o.name, o.email)


@dataclass(frozen=True)
class Config:
    settings: Settings
    meetings: tuple[Meeting, ...]
    files: int  # how many meeting files were read


def _problems_from(exc: ValidationError, source: Source, base: KeyPath) -> list[Problem]:
    out = []
    for err in exc.errors():
        loc: KeyPath = (*base, *err["loc"])
        kind = err["type"]
        if kind == "extra_forbidden":
            model = _model_at(exc.title, err["loc"][:-1])
            key = str(err["loc"][-1])
            close = get_close_matches(key, list(model.model_fields), n=1) if model else []
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            known = f"; known keys: {', '.join(model.model_fields)}" if model and not close else ""
            out.append(source.problem(loc, f"unknown key{hint}{known}"))
        elif kind == "missing":
            # named at the table it is missing from (the key itself has no line)
            out.append(Problem(source.path, source.line(loc[:-1]), dotted(loc), "required, but missing"))
        elif kind == "value_error":
            out.append(source.problem(loc, str(err["ctx"]["error"])))
        elif kind == "literal_error":
            out.append(source.problem(loc, f"must be one of {err['ctx']['expected']}, not {err['input']!r}"))
        elif kind == "string_pattern_mismatch":
            out.append(source.problem(loc, f"{err['input']!r} is not allowed here ({_pattern_help(loc)})"))
        elif kind in ("model_type", "dict_type"):
            out.append(source.problem(loc, "must be a table of keys (a mapping)"))
        elif kind == "list_type":
            out.append(source.problem(loc, "must be a list"))
        else:
            out.append(source.problem(loc, err["msg"][:1].lower() + err["msg"][1:]))
    return out


_MODELS: dict[str, type[BaseModel]] = {"MeetingSpec": MeetingSpec, "SettingsSpec": SettingsSpec}


def _model_at(title: str, loc: tuple[Any, ...]) -> type[BaseModel] | None:
    model: Any = _MODELS.get(title)
    for part in loc:
        if isinstance(part, int) or model is None:
            continue
        info = model.model_fields.get(part)
        if info is None:
            return None
        model = _inner_model(info.annotation)
    return model if isinstance(model, type) and issubclass(model, BaseModel) else None


def _inner_model(annotation: Any) -> Any:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        found = _inner_model(arg)
        if found is not None:
            return found
    return None


def _pattern_help(loc: KeyPath) -> str:
    last = loc[-1] if loc else ""
    return {
        "calendar": "lower-case letters, digits, - and _",
        "language": "a language code such as ko, zh, vi, en or pt-BR",
        "domain": "a domain name such as intl.daegu.example",
        "listen": "host:port such as 127.0.0.1:8080",
    }.get(str(last), "see the README")


# -- settings -------------------------------------------------------------------


def load_settings(root: Path, environ: dict[str, str] | None = None) -> Settings:
    env = os.environ if environ is None else environ
    problems: list[Problem] = []
    settings = _read_settings(root, env, problems)
    if problems or settings is None:
        raise ConfigError(problems)
    return settings


def _read_settings(root: Path, env: Any, problems: list[Problem]) -> Settings | None:
    path = root / SETTINGS_FILE
    spec = SettingsSpec()
    if path.exists():
        source = read_source(path, SETTINGS_FILE, problems)
        if source is None:
            return None
        try:
            spec = SettingsSpec.model_validate(source.data)
        except ValidationError as exc:
            problems.extend(_problems_from(exc, source, ()))
            return None
    url = env.get("MEET_SCHED_DATABASE_URL") or spec.database.url or f"sqlite:///{DEFAULT_DATABASE}"
    url = _anchor_sqlite(url, root)
    return Settings(root=root, spec=spec, database_url=url, smtp_password=env.get("MEET_SCHED_SMTP_PASSWORD"))


def _anchor_sqlite(url: str, root: Path) -> str:
    """A relative SQLite path is relative to the site, not to the current directory."""
    m = re.match(r"^(sqlite(?:\+\w+)?):///(?!/)(.+)$", url)
    if m and m.group(2) != ":memory:":
        return f"{m.group(1)}:///{(root / m.group(2)).resolve()}"
    return url


# -- meetings -------------------------------------------------------------------


def meeting_files(settings: Settings) -> list[Path]:
    base = settings.meetings_dir
    if not base.is_dir():
        return []
    return sorted(
        p for p in base.rglob("*") if p.is_file() and p.suffix in MEETING_SUFFIXES and not p.name.startswith(".")
    )


def load_config(
    root: Path,
    environ: dict[str, str] | None = None,
    progress: Callable[[Iterable[Path]], Iterable[Path]] | None = None,
    *,
    cache: bool = False,
    settings: Settings | None = None,
) -> Config:
    """Read and validate everything under ``root``; raise ConfigError listing every problem.

    ``cache=True`` takes the meetings of files whose bytes are unchanged since they last
    validated from ``var/config-cache.json`` instead of parsing them again: the same result, faster.
    ``settings`` given: meetings are validated against those instead of re-reading the settings file
    (a running service keeps the settings it started with).
    """
    env = os.environ if environ is None else environ
    problems: list[Problem] = []
    if settings is None:
        settings = _read_settings(root, env, problems)
    store = None
    if settings is None:  # still read every meeting file, so that all problems are listed at once
        settings = Settings(root=root, spec=SettingsSpec(), database_url="")
    elif cache:
        store = _ConfigCache(settings.var_dir / CACHE_FILE, _settings_digest(settings))
    files = meeting_files(settings)
    if len(files) > MAX_MEETING_FILES:
        problems.append(
            Problem(
                MEETINGS_DIR,
                None,
                "",
                f"holds {len(files):,} meeting files; at most {MAX_MEETING_FILES:,} are read (MAX_MEETING_FILES)",
            )
        )
        raise ConfigError(problems)
    meetings: list[Meeting] = []
    seen: dict[str, str] = {}
    inside = (root.resolve(), settings.meetings_dir.resolve())  # the folder may itself be a link
    for path in progress(files) if progress else files:
        shown = _shown(path, root, problems)
        if shown is None or not _inside_site(path, shown, inside, problems):
            continue
        found: list[_Cached] | None = None
        before = len(problems)
        body = read_bytes(path, shown, problems)
        if body is None:
            continue
        digest = hashlib.sha256(body).hexdigest()
        if store is not None:
            found = store.get(shown, digest)
        if found is None:
            source = read_source(path, shown, problems, body)
            if source is None:
                continue
            found = [
                _Cached(
                    meeting,
                    f"{shown}:{source.line((*loc, 'uid')) or source.line(loc) or 1}",
                    source.line((*loc, "uid")),
                    dotted((*loc, "uid")),
                )
                for loc, meeting in _meetings_in(source, settings, problems)
            ]
            if store is not None and len(problems) == before:
                store.put(shown, digest, found)
        for item in found:
            uid = item.meeting.uid
            if uid in seen:
                problems.append(
                    Problem(shown, item.uid_line, item.uid_field, f"UID {uid!r} is also used by {seen[uid]}")
                )
                continue
            seen[uid] = item.where
            meetings.append(item.meeting)
    if problems:
        raise ConfigError(problems)
    if store is not None:
        store.save()
    return Config(settings, tuple(meetings), len(files))


def _shown(path: Path, root: Path, problems: list[Problem]) -> str | None:
    """The path as shown in problems; None (and a problem) for a name that is not UTF-8.

    Such a name cannot be written into the database, a calendar or an email, so the file is
    refused where it is found rather than failing later.
    """
    shown = path.relative_to(root).as_posix()
    try:
        shown.encode("utf-8")
    except UnicodeEncodeError:
        printable = shown.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
        problems.append(Problem(printable, None, "", "the file name is not UTF-8; rename the file"))
        return None
    return shown


def _inside_site(path: Path, shown: str, inside: tuple[Path, ...], problems: list[Problem]) -> bool:
    """Whether a meeting file is in the site (or where config/meetings/ leads), following links.

    A link out of it is refused, unread: its keys would otherwise be printed with the problems.
    """
    try:
        target = path.resolve(strict=True)
    except (OSError, RuntimeError) as exc:  # RuntimeError: a loop of links
        problems.append(Problem(shown, None, "", f"cannot read: {getattr(exc, 'strerror', None) or exc}"))
        return False
    if not any(target.is_relative_to(base) for base in inside):
        problems.append(
            Problem(
                shown, None, "", "is a symbolic link to a file outside the site; copy the file into config/meetings/"
            )
        )
        return False
    return True


# -- a cache of files already validated -----------------------------------------------------

CACHE_FILE = "config-cache.json"
_CACHE_FORMAT = 1


@functools.cache
def _code_digest() -> str:
    """What validation depends on besides the files: this code, its libraries, the time zone data."""
    digest = hashlib.sha256(f"{_CACHE_FORMAT}".encode())
    package = Path(__file__).resolve().parent.parent
    code = [*package.joinpath("config").glob("*.py"), *package.joinpath("places").glob("*.py")]
    for source in sorted([*code, package / "model.py", package / "errors.py"]):
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
class _Cached:
    """One meeting of a file that validated cleanly, and what a duplicate-UID problem needs of it."""

    meeting: Meeting
    where: str  # path:line of its UID, named by a duplicate elsewhere
    uid_line: int | None
    uid_field: str


class _ConfigCache:
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

    def get(self, shown: str, digest: str) -> list[_Cached] | None:
        entry = self.old.get(shown)
        if not isinstance(entry, dict) or entry.get("sha256") != digest:
            return None
        try:
            found = [
                _Cached(Meeting.from_data(m["data"], source=m["source"]), m["where"], m["uid_line"], m["uid_field"])
                for m in entry["meetings"]
            ]
        except (KeyError, TypeError, ValueError):
            return None
        self.new[shown] = entry
        return found

    def put(self, shown: str, digest: str, found: list[_Cached]) -> None:
        self.new[shown] = {
            "sha256": digest,
            "meetings": [
                {
                    "data": c.meeting.to_data(),
                    "source": c.meeting.source,
                    "where": c.where,
                    "uid_line": c.uid_line,
                    "uid_field": c.uid_field,
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


def _settings_digest(settings: Settings) -> str:
    """The cache key: the settings meetings are validated against (not the file, which may differ)."""
    body = settings.spec.model_dump_json().encode()
    return hashlib.sha256(_code_digest().encode() + b"\0" + body).hexdigest()


def _meetings_in(source: Source, settings: Settings, problems: list[Problem]) -> list[tuple[KeyPath, Meeting]]:
    data = source.data
    if data is None:
        problems.append(source.problem((), "the file is empty"))
        return []
    if isinstance(data, dict) and "meetings" in data:
        if set(data) != {"meetings"}:
            extra = sorted(set(data) - {"meetings"})
            problems.append(
                source.problem((extra[0],), "unknown key beside 'meetings' (a list file holds only 'meetings:')")
            )
            return []
        items = data["meetings"]
        if not isinstance(items, list) or not items:
            problems.append(source.problem(("meetings",), "must be a non-empty list of meetings"))
            return []
        if len(items) > MAX_MEETINGS_PER_FILE:
            problems.append(
                source.problem(
                    ("meetings",),
                    f"holds {len(items):,} meetings; at most {MAX_MEETINGS_PER_FILE:,} are allowed in one file "
                    "(MAX_MEETINGS_PER_FILE)",
                )
            )
            return []
        entries: list[tuple[KeyPath, Any]] = [(("meetings", i), item) for i, item in enumerate(items)]
    else:
        entries = [((), data)]
    out = []
    for loc, item in entries:
        if not isinstance(item, dict):
            problems.append(source.problem(loc, "a meeting must be a table of keys (a mapping)"))
            continue
        try:
            spec = MeetingSpec.model_validate(item)
        except ValidationError as exc:
            problems.extend(_problems_from(exc, source, loc))
            continue
        meeting = _build(spec, source, loc, settings, problems, multi=bool(loc))
        if meeting is not None:
            out.append((loc, meeting))
    return out


def default_uid(shown: str, loc: KeyPath, domain: str) -> str:
    """A UID derived from the file path: stable across syncs and title edits."""
    stem = re.sub(r"\.(ya?ml|toml)$", "", shown.removeprefix(MEETINGS_DIR + "/"))
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", stem).strip("-")
    if loc and isinstance(loc[-1], int):
        slug += f"-{loc[-1] + 1}"
    return f"{slug}@{domain}"


def _build(
    spec: MeetingSpec, source: Source, loc: KeyPath, settings: Settings, problems: list[Problem], multi: bool
) -> Meeting | None:
    before = len(problems)

    def bad(key: str | KeyPath, message: str) -> None:
        problems.append(source.problem((*loc, *((key,) if isinstance(key, str) else key)), message))

    zone = ZoneInfo(spec.timezone)
    start = _as_datetime(spec.start)
    if isinstance(spec.start, date) and not isinstance(spec.start, datetime):
        bad("start", "give a time of day too, e.g. 2021-04-14T10:00 (all-day meetings are not supported)")
    start_outside = outside_years(start)
    if (why := start_outside or wall_problem(start, zone)) is not None:
        bad("start", why)
    if spec.duration is not None and spec.end is not None:
        bad("end", "give either 'duration' or 'end', not both")
    if start_outside:  # no base for any arithmetic
        end = start
    elif spec.end is not None:
        end = _as_datetime(spec.end)
        if (why := outside_years(end) or wall_problem(end, zone)) is not None:
            bad("end", why)
        elif end.replace(tzinfo=zone) <= start.replace(tzinfo=zone):
            bad("end", f"{end:%Y-%m-%d %H:%M} is not after start {start:%Y-%m-%d %H:%M}")
        elif (length := end.replace(tzinfo=zone) - start.replace(tzinfo=zone)) > MAX_MEETING_DURATION:
            bad(
                "end",
                f"{format_duration(length)} after its start is longer than "
                f"{format_duration(MAX_MEETING_DURATION)}, the longest meeting",
            )
    elif spec.duration is not None:
        try:
            end = (start.replace(tzinfo=zone) + spec.duration).replace(tzinfo=None)
            late = outside_years(end) is not None
        except OverflowError:
            end, late = start, True
        if late:
            bad(
                "duration",
                f"{format_duration(spec.duration)} after its start ends outside the supported years {SUPPORTED_YEARS}",
            )
    else:
        bad("duration", "give 'duration' (e.g. 1h) or 'end'")
        end = start + timedelta(hours=1)

    recurrence = None
    if spec.recurrence and not start_outside:
        recurrence = check_rrule(
            spec.recurrence,
            start,
            zone,
            lambda m: bad("recurrence", m),
            allow_hourly=settings.spec.limits.allow_hourly,
        )
    exdates: list[datetime] = []
    for i, ex in enumerate(spec.exdates):
        moment = datetime.combine(ex, start.time()) if not isinstance(ex, datetime) else ex
        if not spec.recurrence:
            bad(("exdates", i), "exdates only make sense with a recurrence")
            break
        if (why := outside_years(moment)) is not None:
            bad(("exdates", i), why)
            continue
        exdates.append(moment.replace(tzinfo=zone))
    rdates: list[datetime] = []
    for i, extra in enumerate(spec.rdates):
        moment = datetime.combine(extra, start.time()) if not isinstance(extra, datetime) else extra
        if not spec.recurrence:
            bad(("rdates", i), "rdates only make sense with a recurrence")
            break
        if (why := outside_years(moment) or wall_problem(moment, zone)) is not None:
            bad(("rdates", i), why)
            continue
        if moment < start:
            bad(("rdates", i), f"{moment:%Y-%m-%d %H:%M} is before the start {start:%Y-%m-%d %H:%M}")
            continue
        rdates.append(moment.replace(tzinfo=zone))

    reminders = spec.reminders if spec.reminders is not None else settings.spec.reminders.default
    attendees = []
    emails: dict[str, int] = {}
    for i, a in enumerate(spec.attendees):
        key = a.email.lower()
        if key in emails:
            bad(("attendees", i, "email"), f"{a.email} is already attendee {emails[key] + 1}")
            continue
        emails[key] = i
        where = resolve_place(a, zone, settings.spec, _at(bad, ("attendees", i)))
        if where is None:
            continue
        attendees.append(
            Attendee(
                name=a.name,
                email=a.email,
                timezone=where[0],
                language=a.language.replace("_", "-"),
                city=a.city,
                role=Role(a.role),
                reminders=None if a.reminders is None else _offsets(a.reminders),
                country=where[1],
                place=where[2],
            )
        )
    if len(problems) > before:
        return None
    uid = spec.uid or default_uid(source.path, loc, settings.spec.calendar.domain)
    if "@" not in uid:
        uid = f"{uid}@{settings.spec.calendar.domain}"
    if len(uid) > UID_MAX_LENGTH:
        bad("uid", f"the UID is {len(uid)} characters long, at most {UID_MAX_LENGTH} fit (give a shorter 'uid')")
        return None
    organizer = Person(spec.organizer.name, spec.organizer.email) if spec.organizer else settings.organizer
    return Meeting(
        uid=uid,
        calendar=spec.calendar,
        title=spec.title,
        description=spec.description,
        location=spec.location,
        video_url=spec.video_url,
        city=spec.city,
        organizer=organizer,
        timezone=zone,
        start=start.replace(tzinfo=zone),
        end=end.replace(tzinfo=zone),
        recurrence=recurrence,
        exdates=tuple(exdates),
        rdates=tuple(sorted(set(rdates))),
        status=Status(spec.status),
        attendees=tuple(attendees),
        reminders=_offsets(reminders),
        source=f"{source.path}:{source.line(loc) or 1}",
    )


def _at(bad: Callable[[KeyPath, str], None], loc: KeyPath) -> Callable[[str, str], None]:
    return lambda key, message: bad((*loc, key), message)


def _offsets(values: Iterable[timedelta]) -> tuple[timedelta, ...]:
    return tuple(sorted(set(values), reverse=True))


def _as_datetime(value: date | datetime) -> datetime:
    return value if isinstance(value, datetime) else datetime.combine(value, time(0))
