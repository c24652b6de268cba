"""Errors that the CLI turns into messages for the person who can fix them.

Every error builds its own message from its fields; none of them needs a traceback
to be understood.  Anything that is not a :class:`MeetSchedError` is a bug.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class Problem:
    """One thing wrong in one place of one config file."""

    path: str
    line: int | None
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else self.path
        return f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"


class MeetSchedError(Exception):
    """Base class of every error meant for a user, not a developer."""

    hint: str | None = None

    def lines(self) -> list[str]:
        out = [str(self)]
        if self.hint:
            out.append(f"hint: {self.hint}")
        return out


class ConfigError(MeetSchedError):
    """The configuration has one or more problems; nothing was applied."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = sorted(problems, key=lambda p: (p.path, p.line or 0, p.field, p.message))
        n = len(self.problems)
        super().__init__(f"{n} problem{'s' if n != 1 else ''} in the configuration; nothing was changed")

    def lines(self) -> list[str]:
        return [str(p) for p in self.problems] + [str(self)]


class NotFoundError(MeetSchedError):
    def __init__(self, what: str, key: str, hint: str | None = None) -> None:
        self.what, self.key, self.hint = what, key, hint
        super().__init__(f"no {what} {key!r}")


class DatabaseError(MeetSchedError):
    def __init__(self, url: str, reason: str) -> None:
        self.url, self.reason = url, reason
        super().__init__(f"database {url}: {reason}")


class UnreadableMeetingError(MeetSchedError):
    """A stored meeting that cannot be read back (written by an older version, or corrupt)."""

    def __init__(self, uid: str, reason: str) -> None:
        self.uid, self.reason = uid, reason
        self.hint = "the next sync that changes its config file (or adds one with this uid) replaces it"
        super().__init__(f"meeting {uid!r} cannot be read from the database: {reason}")
