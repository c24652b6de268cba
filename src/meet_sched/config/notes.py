"""Mistakes that are not errors but that `validate` names: a mistyped calendar, a one-off meeting
already past, and files the loader skips (a near-miss extension, a meeting file outside
``config/meetings/``).  Each is a :class:`~meet_sched.errors.Problem` shown as a warning.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from difflib import get_close_matches
from pathlib import Path

from ..errors import Problem
from ..model import Meeting, MeetingStatus
from .limits import MAX_SCANNED_ENTRIES
from .settings import MEETING_SUFFIXES, MEETINGS_DIR, SETTINGS_FILE, Settings

DEFAULT_CALENDAR = "default"
# A one-off meeting that started longer ago than this is taken for a record kept on purpose
# (the sample site's 2021 calls), not for a mistyped date: it is listed by `validate -v` only.
PAST_START_QUIET = timedelta(days=366)
# Suffixes of editors' backups and merge leftovers: skipped silently, listed by `validate -v`.
BACKUP_SUFFIXES = ("~", ".bak", ".orig", ".rej", ".swp", ".swo", ".tmp", ".old")


@dataclass(frozen=True)
class Located:
    """A meeting with the file and lines of its keys, as the notes point at them."""

    meeting: Meeting
    path: str
    lines: Mapping[str, int]


def _where(item: Located, key: str) -> int | None:
    return item.lines.get(key) or item.lines.get("") or None


def listed_calendars(settings: Settings) -> list[str]:
    """The calendars the settings name: ``[server] public_calendars`` (and ``[calendars.<name>]`` tables)."""
    named = list(settings.spec.server.public_calendars)
    named += [n for n in getattr(settings.spec, "calendars", None) or {} if n not in named]
    return named


def calendar_notes(settings: Settings, items: Iterable[Located]) -> list[Problem]:
    """A calendar the settings do not list, or one file's own calendar with a name close to another's."""
    items = list(items)
    listed = listed_calendars(settings)
    files: dict[str, set[str]] = {}
    for item in items:
        files.setdefault(item.meeting.calendar, set()).add(item.path)
    public = list(settings.spec.server.public_calendars)
    out = []
    for item in items:
        name = item.meeting.calendar
        if name == DEFAULT_CALENDAR and public and "calendar" not in item.lines:
            hint = f"; give 'calendar: {public[0]}' (or 'calendar: {DEFAULT_CALENDAR}' to keep it private)"
            out.append(Problem(item.path, _where(item, ""), "calendar", no_public_calendar(public) + hint))
            continue
        if name == DEFAULT_CALENDAR or name in listed:
            continue
        others = [n for n in (*listed, *sorted(files)) if n != name]
        close = get_close_matches(name, list(dict.fromkeys(others)), n=1, cutoff=0.6)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        if listed:
            message = (
                f"{name!r} is not a calendar listed in the settings ([server] public_calendars: "
                f"{', '.join(listed)}); the meeting is only in calendars/{name}.ics{hint}"
            )
        elif len(files[name]) == 1 and close:
            message = f"{name!r} is used by this file only; the meeting is only in calendars/{name}.ics{hint}"
        else:
            continue
        out.append(Problem(item.path, _where(item, "calendar"), "calendar", message))
    return out


def no_public_calendar(public: list[str]) -> str:
    """What a meeting without ``calendar:`` misses on a site with public calendars."""
    return (
        f"no calendar given: the meeting is in {DEFAULT_CALENDAR!r}, which is not public, so it is on no page "
        f"or public feed ([server] public_calendars: {', '.join(public)})"
    )


def past_notes(items: Iterable[Located], reference: datetime, *, given: bool) -> tuple[list[Problem], list[str]]:
    """One-off meetings that start before ``reference`` (now, or ``--from`` when ``given``).

    Returns the warnings (started within :data:`PAST_START_QUIET`) and the older ones, as lines for ``-v``.
    """
    warnings, records = [], []
    for item in items:
        m = item.meeting
        if m.recurrence or m.rdates or m.status is MeetingStatus.CANCELLED or m.start >= reference:
            continue
        when = f"{m.start:%Y-%m-%d %H:%M} {m.timezone.key}"
        if reference - m.start > PAST_START_QUIET:
            records.append(f"{item.path}: {m.uid} started {when}, over a year ago (a record)")
            continue
        if given:
            message = f"{when} is before --from {reference:%Y-%m-%d} and the meeting does not recur"
        else:
            days = (reference - m.start).days
            ago = "today" if days == 0 else f"{days} day{'s' if days != 1 else ''} ago"
            message = f"{when} is already past ({ago}) and the meeting does not recur; a wrong year or month?"
        warnings.append(Problem(item.path, _where(item, "start"), "start", message))
    return warnings, records


def _near_miss(name: str) -> str | None:
    """Why a skipped file under config/meetings/ looks like a meeting file, or None."""
    lower = name.lower()
    for suffix in MEETING_SUFFIXES:
        if lower.endswith(suffix):
            return f"the extension must be lower-case {suffix!r}"
        if suffix + "." in lower:
            return f"ends in {name[lower.rindex(suffix) + len(suffix) :]!r} after {suffix!r}; only *{suffix} is read"
    extension = Path(name).suffix.lower()
    close = get_close_matches(extension, MEETING_SUFFIXES, n=1, cutoff=0.7) if extension else []
    if close:
        return f"{extension!r} is not a meeting extension (did you mean {close[0]!r}?)"
    return None


def skipped_files(root: Path) -> tuple[list[Problem], list[str]]:
    """Files under ``config/`` the loader does not read: warnings for the near misses, and every one for ``-v``.

    At most :data:`~meet_sched.config.limits.MAX_SCANNED_ENTRIES` entries are looked at.
    """
    config = root / "config"
    meetings = root / MEETINGS_DIR
    warnings: list[Problem] = []
    listed: list[str] = []
    seen = 0
    for folder, dirs, names in os.walk(config):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(names):
            seen += 1
            if seen > MAX_SCANNED_ENTRIES:
                listed.append(f"config/: only the first {MAX_SCANNED_ENTRIES:,} files were looked at")
                return warnings, listed
            path = Path(folder) / name
            shown = path.relative_to(root).as_posix()
            if shown == SETTINGS_FILE or name.startswith("."):
                continue
            inside = path.is_relative_to(meetings)
            if inside and path.suffix in MEETING_SUFFIXES:
                continue  # read by the loader
            if not inside:
                if path.suffix.lower() in MEETING_SUFFIXES:
                    outside = f"not read: meeting files go under {MEETINGS_DIR}/"
                    warnings.append(Problem(shown, None, "", outside))
                    listed.append(f"{shown}: {outside}")
                continue
            if name.endswith(BACKUP_SUFFIXES):
                listed.append(f"{shown}: a backup")
            elif (why := _near_miss(name)) is not None:
                warnings.append(Problem(shown, None, "", f"not read: {why}"))
                listed.append(f"{shown}: not read: {why}")
            else:
                listed.append(f"{shown}: not *.yaml, *.yml or *.toml")
    return warnings, listed
