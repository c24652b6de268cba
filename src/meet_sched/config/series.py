"""A series that changes from a date on: the old one ends (UNTIL), a new one continues it
(``related_to``); the two must not overlap, or attendees would get both on one day."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from ..errors import Problem
from ..model import Meeting


def _where(meeting: Meeting) -> tuple[str, int | None]:
    path, _, line = meeting.source.rpartition(":")
    return (path, int(line)) if line.isdigit() else (meeting.source, None)


def _shown(meeting: Meeting, start: datetime) -> str:
    local = start.astimezone(meeting.timezone)
    return f"{local:%Y-%m-%d}" if meeting.all_day else f"{local:%Y-%m-%d %H:%M} {meeting.timezone.key}"


def _last_start(meeting: Meeting) -> datetime | None:
    """The start of the old series' last occurrence (exdates left out); None if it has no end."""
    if not meeting.bounded():
        return None
    excluded = set(meeting.exdates)
    last = None
    for start in meeting.expand():  # bounded: COUNT, UNTIL and the supported years
        if start not in excluded:
            last = start
    return last if last is not None else meeting.start


def series_problems(meetings: Sequence[Meeting]) -> list[Problem]:
    """Every ``related_to`` that names no meeting, or a series still running when the new one starts."""
    by_uid = {m.uid: m for m in meetings}
    problems: list[Problem] = []
    for new in meetings:
        if not new.related_to:
            continue
        path, line = _where(new)

        def bad(message: str, path: str = path, line: int | None = line) -> None:
            problems.append(Problem(path, line, "related_to", message))

        old = by_uid.get(new.related_to)
        if old is None or old is new:
            bad(f"no other meeting has the UID {new.related_to!r}")
            continue
        first = next(iter(new.expand()), new.start) if new.recurrence else new.start
        last = _last_start(old)
        if last is None:
            bad(
                f"{old.uid!r} ({old.source}) has no end: give it an UNTIL before {_shown(new, first)}, "
                "the first meeting of this series"
            )
            continue
        if first.astimezone(new.timezone).date() <= last.astimezone(old.timezone).date():
            bad(
                f"the first meeting, {_shown(new, first)}, is not after the last one of {old.uid!r} "
                f"({old.source}), {_shown(old, last)}: end that series with an UNTIL before "
                f"{first.astimezone(new.timezone):%Y-%m-%d}"
            )
    return problems
