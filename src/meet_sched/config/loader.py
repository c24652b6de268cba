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
from datetime import UTC, date, datetime, time, timedelta
from difflib import get_close_matches
from importlib import metadata
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from dateutil import rrule
from icalendar.prop import vRecur
from pydantic import BaseModel, ValidationError

from ..errors import ConfigError, Problem
from ..model import UID_MAX_LENGTH, Attendee, Meeting, Person, Role, Status
from .places import resolve_place
from .schema import MeetingSpec, SettingsSpec
from .sources import KeyPath, Source, dotted, read_source

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
    meetings: list[Meeting] = []
    seen: dict[str, str] = {}
    for path in progress(files) if progress else files:
        shown = path.relative_to(root).as_posix()
        found: list[_Cached] | None = None
        body = digest = None
        if store is not None:
            try:
                body = path.read_bytes()
            except OSError:
                body = None
            if body is not None:
                digest = hashlib.sha256(body).hexdigest()
                found = store.get(shown, digest)
        if found is None:
            before = len(problems)
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
            if store is not None and digest is not None and len(problems) == before:
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
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                out.write(body)
            os.replace(tmp, self.path)
        except OSError:  # a read-only var/ only costs speed
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


@functools.cache
def _offset_change_days(zone: ZoneInfo, year: int) -> frozenset[date]:
    """Local dates of ``year`` on (or right after) which ``zone`` changes its UTC offset.

    A wall time can only fall in a gap or an overlap on such a day, so a long series needs
    the exact check for a few of its occurrences only.
    """
    days: set[date] = set()
    day = date(year, 1, 1)
    before = datetime.combine(day - timedelta(days=1), time(12), zone).utcoffset()
    while day.year == year:
        after = datetime.combine(day, time(12), zone).utcoffset()
        if after != before:
            days.update((day - timedelta(days=1), day))
        before = after
        day += timedelta(days=1)
    return frozenset(days)


def _wall_problem(moment: datetime, zone: ZoneInfo) -> str | None:
    """Why a local wall time is not one instant in ``zone``: a DST gap or overlap."""
    aware = moment.replace(tzinfo=zone)
    back = aware.astimezone(UTC).astimezone(zone).replace(tzinfo=None)
    if back != moment:
        return (
            f"{moment:%Y-%m-%d %H:%M} does not exist in {zone.key} (the clocks skip it for daylight saving time); "
            "pick a time outside the gap"
        )
    if aware.utcoffset() != aware.replace(fold=1).utcoffset():
        return (
            f"{moment:%Y-%m-%d %H:%M} happens twice in {zone.key} (the clocks turn back); "
            "pick a time outside the overlap"
        )
    return None


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
    if (why := _wall_problem(start, zone)) is not None:
        bad("start", why)
    if spec.duration is not None and spec.end is not None:
        bad("end", "give either 'duration' or 'end', not both")
    if spec.end is not None:
        end = _as_datetime(spec.end)
        if (why := _wall_problem(end, zone)) is not None:
            bad("end", why)
        if end.replace(tzinfo=zone) <= start.replace(tzinfo=zone):
            bad("end", f"{end:%Y-%m-%d %H:%M} is not after start {start:%Y-%m-%d %H:%M}")
    elif spec.duration is not None:
        end = (start.replace(tzinfo=zone) + spec.duration).replace(tzinfo=None)
    else:
        bad("duration", "give 'duration' (e.g. 1h) or 'end'")
        end = start + timedelta(hours=1)

    recurrence = None
    if spec.recurrence:
        recurrence = _check_rrule(spec.recurrence, start, zone, lambda m: bad("recurrence", m))
    exdates: list[datetime] = []
    for i, ex in enumerate(spec.exdates):
        moment = datetime.combine(ex, start.time()) if not isinstance(ex, datetime) else ex
        if not spec.recurrence:
            bad(("exdates", i), "exdates only make sense with a recurrence")
            break
        exdates.append(moment.replace(tzinfo=zone))

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


def _check_rrule(text: str, start: datetime, zone: ZoneInfo, bad: Callable[[str], None]) -> str | None:
    recur = vRecur.from_ical(text)  # the syntax was checked by the schema
    canonical: str = vRecur(recur).to_ical().decode()  # type: ignore[no-untyped-call]
    if "UNTIL" in recur:
        # RFC 5545 wants UNTIL in UTC when DTSTART has a zone; people write local dates.
        until = recur["UNTIL"][0]
        if not isinstance(until, datetime):
            until = datetime.combine(until, time(23, 59, 59))
        if until.tzinfo is None:
            until = until.replace(tzinfo=zone)
        recur["UNTIL"] = [until.astimezone(UTC)]
        canonical = vRecur(recur).to_ical().decode()  # type: ignore[no-untyped-call]
    interval = recur.get("INTERVAL", [1])[0]
    if not isinstance(interval, int) or interval < 1:
        # dateutil repeats the first occurrence forever with INTERVAL=0
        bad(f"{text!r}: INTERVAL must be a whole number of 1 or more")
        return None
    try:
        rule = rrule.rrulestr(canonical, dtstart=start.replace(tzinfo=zone))
        first = rule.after(start.replace(tzinfo=zone), inc=True)
        if first is None:
            bad(f"{text!r} has no occurrence at or after the start")
            return None
        for i, naive in enumerate(rule):
            if i >= 500:
                break
            day = naive.date()
            if day not in _offset_change_days(zone, day.year) and day not in _offset_change_days(zone, day.year + 1):
                continue
            if (why := _wall_problem(naive.replace(tzinfo=None), zone)) is not None:
                bad(f"an occurrence falls on a daylight-saving change: {why}")
                return None
    except (ValueError, TypeError, OverflowError) as exc:
        bad(f"{text!r} is not a valid RRULE ({exc})")
        return None
    return canonical
