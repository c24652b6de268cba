"""Config files → validated :class:`Settings` and :class:`~meet_sched.model.Meeting` objects.

Every problem in every file is collected (with ``file:line``) before anything is
reported; a caller either gets a complete, valid configuration or a
:class:`~meet_sched.errors.ConfigError` listing all that is wrong.
"""

from __future__ import annotations

import ast
import hashlib
import os
import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from difflib import get_close_matches
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from ..errors import ConfigError, Problem
from ..model import CALENDAR_NAME_WORDS, Meeting
from .build import build_meeting
from .cache import CACHE_FILE, Cached, ConfigCache, settings_digest
from .fields import UnknownZone
from .limits import MAX_MEETING_FILES, MAX_MEETINGS_PER_FILE
from .meeting_spec import MeetingSpec
from .notes import Located
from .series import series_problems
from .settings import DEFAULT_DATABASE, MEETING_SUFFIXES, MEETINGS_DIR, SETTINGS_FILE, Settings
from .settings_spec import SettingsSpec
from .sources import KeyPath, Source, dotted, read_bytes, read_source

__all__ = ["CACHE_FILE", "Config", "Settings", "load_config", "load_settings", "meeting_files", "not_read"]


@dataclass(frozen=True)
class Config:
    settings: Settings
    meetings: tuple[Meeting, ...]
    files: int  # how many meeting files were read
    notes: tuple[Problem, ...] = ()  # not errors, but worth a warning (`validate` shows them)
    located: tuple[Located, ...] = ()  # the meetings with their files and key lines, for `validate`'s notes


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
        "calendar": CALENDAR_NAME_WORDS,
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


def _read_settings(root: Path, env: Any, problems: list[Problem], confined: bool = False) -> Settings | None:
    path = root / SETTINGS_FILE
    spec = SettingsSpec()
    present = confined and (path.is_symlink() or path.exists())
    if present and not _inside_site(path, SETTINGS_FILE, (root.resolve(),), problems, "config/"):
        return None
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
    return Settings(
        root=root,
        spec=spec,
        database_url=url,
        smtp_password=env.get("MEET_SCHED_SMTP_PASSWORD"),
        imap_password=env.get("MEET_SCHED_IMAP_PASSWORD"),
    )


def _anchor_sqlite(url: str, root: Path) -> str:
    """A relative SQLite path is relative to the site, not to the current directory."""
    m = re.match(r"^(sqlite(?:\+\w+)?):///(?!/)(.+)$", url)
    if m and m.group(2) != ":memory:":
        return f"{m.group(1)}:///{(root / m.group(2)).resolve()}"
    return url


# -- meetings -------------------------------------------------------------------


def not_read(name: str) -> str | None:
    """Why the loader never reads a file of this name under config/meetings/, or None when it does."""
    if name.startswith("."):
        return "its name starts with '.': the loader never reads hidden files"
    if Path(name).suffix not in MEETING_SUFFIXES:
        return f"only {', '.join('*' + s for s in MEETING_SUFFIXES)} files are read"
    return None


def meeting_files(settings: Settings) -> list[Path]:
    base = settings.meetings_dir
    if not base.is_dir():
        return []
    return sorted(p for p in base.rglob("*") if p.is_file() and not_read(p.name) is None)


def load_config(
    root: Path,
    environ: dict[str, str] | None = None,
    progress: Callable[[Iterable[Path]], Iterable[Path]] | None = None,
    *,
    cache: bool = False,
    settings: Settings | None = None,
    confined: bool = False,
) -> Config:
    """Read and validate everything under ``root``; raise ConfigError listing every problem.

    ``cache=True`` takes the meetings of files whose bytes are unchanged since they last
    validated from ``var/config-cache.json`` instead of parsing them again: the same result, faster.
    ``settings`` given: meetings are validated against those instead of re-reading the settings file
    (a running service keeps the settings it started with).  ``confined``: a tree from elsewhere
    (``diff --base``): no file is read, the settings included, that a link takes out of ``root``,
    even through a linked ``config/meetings/``.
    """
    env = os.environ if environ is None else environ
    problems: list[Problem] = []
    if settings is None:
        settings = _read_settings(root, env, problems, confined)
    store = None
    if settings is None:  # still read every meeting file, so that all problems are listed at once
        settings = Settings(root=root, spec=SettingsSpec(), database_url="")
    elif cache:
        store = ConfigCache(settings.var_dir / CACHE_FILE, settings_digest(settings))
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
    located: list[Located] = []
    notes: list[Problem] = []
    seen: dict[str, str] = {}
    # The folder may itself be a link (not in a confined tree, whose every file is inside it).
    inside = (root.resolve(),) if confined else (root.resolve(), settings.meetings_dir.resolve())
    for path in progress(files) if progress else files:
        shown = _shown(path, root, problems)
        if shown is None or not _inside_site(path, shown, inside, problems):
            continue
        found: list[Cached] | None = None
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
                Cached(
                    meeting,
                    f"{shown}:{source.line((*loc, 'uid')) or source.line(loc) or 1}",
                    source.line((*loc, "uid")),
                    dotted((*loc, "uid")),
                    bool(loc) and (*loc, "uid") not in source.lines,
                    _key_lines(source, loc),
                    notes,
                )
                for loc, meeting, notes in _meetings_in(source, settings, problems)
            ]
            if store is not None and len(problems) == before:
                store.put(shown, digest, found)
        for item in found:
            notes.extend(item.notes)
            if item.positional:
                notes.append(
                    Problem(
                        shown,
                        int(item.where.rpartition(":")[2] or 0) or None,
                        item.uid_field,
                        f"no uid: {item.meeting.uid!r} comes from the meeting's place in the list, and changes "
                        "if the list is reordered (subscribers then see a new meeting); give it a 'uid'",
                    )
                )
            uid = item.meeting.uid
            if uid in seen:
                problems.append(
                    Problem(shown, item.uid_line, item.uid_field, f"UID {uid!r} is also used by {seen[uid]}")
                )
                continue
            seen[uid] = item.where
            meetings.append(item.meeting)
            located.append(Located(item.meeting, shown, item.lines))
    problems.extend(series_problems(meetings))
    if problems:
        raise ConfigError(_reword_zones(problems, settings, meetings))
    if store is not None:
        store.save()
    return Config(settings, tuple(meetings), len(files), tuple(notes), tuple(located))


def _key_lines(source: Source, loc: KeyPath) -> dict[str, int]:
    """The lines of the keys the notes point at: ``calendar``, ``start``, each attendee (``attendees.0``)
    and the keys written for it (``attendees.0.timezone``; a key left out has no line)."""
    found = {key: source.lines.get((*loc, key)) for key in ("calendar", "start")}
    entry = _entry(source.data, loc)
    attendees = entry.get("attendees") if isinstance(entry, dict) else None
    for i in range(len(attendees) if isinstance(attendees, list) else 0):
        at = (*loc, "attendees", i)
        found[f"attendees.{i}"] = source.line(at)
        for key in ("timezone", "language", "place", "city"):
            found[f"attendees.{i}.{key}"] = source.lines.get((*at, key))
    return {"": source.line(loc) or 1, **{k: v for k, v in found.items() if v}}


def _entry(data: Any, loc: KeyPath) -> Any:
    """The value at ``loc`` (a meeting of a ``meetings:`` list, or the file's own)."""
    for part in loc:
        if isinstance(data, dict):
            data = data.get(part)
        elif isinstance(data, list) and isinstance(part, int) and part < len(data):
            data = data[part]
        else:
            return None
    return data


_UNKNOWN_ZONE = re.compile(r"^unknown time zone ('(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\")")


def site_zones(settings: Settings, meetings: Iterable[Meeting]) -> tuple[list[str], dict[str, str]]:
    """The zones a site uses, most used first, and its cities' zones (``Chengdu`` → ``Asia/Shanghai``)."""
    used: Counter[str] = Counter()
    cities: dict[str, str] = {}
    for name, place in settings.spec.places.items():
        used[place.timezone] += 1
        cities.setdefault(place.city or name, place.timezone)
    for meeting in meetings:
        used[meeting.timezone.key] += 1
        if meeting.city:
            cities.setdefault(meeting.city, meeting.timezone.key)
        for a in meeting.attendees:
            used[a.timezone.key] += 1
            if a.city:
                cities.setdefault(a.city, a.timezone.key)
    return [zone for zone, _ in used.most_common()], cities


def _reword_zones(problems: list[Problem], settings: Settings, meetings: list[Meeting]) -> list[Problem]:
    """Unknown zones again, now that the site's own zones and cities are known (they are suggested first)."""
    if not any(_UNKNOWN_ZONE.match(p.message) for p in problems):
        return problems
    prefer, cities = site_zones(settings, meetings)
    out = []
    for p in problems:
        m = _UNKNOWN_ZONE.match(p.message)
        if m is not None and m.end() == len(p.message.split(" (", 1)[0]):
            p = replace(p, message=UnknownZone(ast.literal_eval(m.group(1))).message(prefer, cities))
        out.append(p)
    return out


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


def _inside_site(
    path: Path, shown: str, inside: tuple[Path, ...], problems: list[Problem], folder: str = "config/meetings/"
) -> bool:
    """Whether a config file is in the site (or where config/meetings/ leads), following links.

    A link out of it is refused, unread: its keys would otherwise be printed with the problems.
    """
    try:
        target = path.resolve(strict=True)
    except (OSError, RuntimeError) as exc:  # RuntimeError: a loop of links
        problems.append(Problem(shown, None, "", f"cannot read: {getattr(exc, 'strerror', None) or exc}"))
        return False
    if not any(target.is_relative_to(base) for base in inside):
        problems.append(
            Problem(shown, None, "", f"is a symbolic link to a file outside the site; copy the file into {folder}")
        )
        return False
    return True


def check_meeting_file(settings: Settings, path: Path, body: bytes) -> list[Meeting]:
    """The meetings of a file not written yet (``body``), validated as ``validate`` would; raises ConfigError."""
    problems: list[Problem] = []
    shown = path.resolve().relative_to(settings.root.resolve()).as_posix()
    source = read_source(path, shown, problems, body)
    found = [] if source is None else [m for _, m, _ in _meetings_in(source, settings, problems)]
    if problems:
        raise ConfigError(problems)
    return found


def _meetings_in(
    source: Source, settings: Settings, problems: list[Problem]
) -> list[tuple[KeyPath, Meeting, tuple[Problem, ...]]]:
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
        notes: list[Problem] = []
        meeting = build_meeting(spec, source, loc, settings, problems, multi=bool(loc), notes=notes)
        if meeting is not None:
            out.append((loc, meeting, tuple(notes)))
    return out
