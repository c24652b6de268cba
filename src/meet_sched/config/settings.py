"""The settings of one site: where its folders are, and the parsed ``config/meet-sched.toml``."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..model import Person
from .settings_spec import SettingsSpec

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
    imap_password: str | None = field(default=None, repr=False)

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
    def inbox_dir(self) -> Path:
        """The Maildir replies are read from (``[replies] maildir``)."""
        return self.root / self.spec.replies.maildir

    @property
    def organizer(self) -> Person:
        o = self.spec.calendar.organizer
        return Person(o.name, o.email)
