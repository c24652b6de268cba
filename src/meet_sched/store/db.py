"""Engines, sessions and migrations.  Nothing is connected at import time."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from ..errors import DatabaseError

MIGRATIONS = Path(__file__).with_name("migrations")


def safe_url(url: str) -> str:
    """The URL without its password, fit for logs and messages."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "<invalid database URL>"


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


class Database:
    """One database: an engine, a session factory, and its migrations."""

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = url
        try:
            parsed = make_url(url)
        except SQLAlchemyError as exc:
            raise DatabaseError(safe_url(url), f"not a database URL ({exc})") from None
        kwargs: dict[str, Any] = {"echo": echo, "future": True}
        if parsed.get_backend_name() == "sqlite":
            database = parsed.database or ""
            if database and database != ":memory:":
                Path(database).parent.mkdir(parents=True, exist_ok=True)
            kwargs["connect_args"] = {"timeout": 10}
        else:
            kwargs["pool_pre_ping"] = True
        try:
            self.engine: Engine = create_engine(parsed, **kwargs)
        except (SQLAlchemyError, ImportError) as exc:
            raise DatabaseError(safe_url(url), str(exc).splitlines()[0]) from None
        if parsed.get_backend_name() == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """One unit of work: committed when the block ends, rolled back if it raises."""
        try:
            with self._sessions.begin() as session:
                yield session
        except OperationalError as exc:
            raise DatabaseError(safe_url(self.url), _reason(exc)) from None

    # -- migrations -------------------------------------------------------------

    def _alembic(self) -> AlembicConfig:
        cfg = AlembicConfig()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        return cfg

    def head(self) -> str | None:
        return ScriptDirectory.from_config(self._alembic()).get_current_head()

    def current(self) -> str | None:
        try:
            with self.engine.connect() as conn:
                return MigrationContext.configure(conn).get_current_revision()
        except OperationalError as exc:
            raise DatabaseError(safe_url(self.url), _reason(exc)) from None

    def upgrade(self, revision: str = "head") -> None:
        """Bring the schema to ``revision`` (idempotent; safe to run at every start)."""
        cfg = self._alembic()
        try:
            with self.engine.begin() as conn:
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, revision)
        except OperationalError as exc:
            raise DatabaseError(safe_url(self.url), _reason(exc)) from None

    def ensure_schema(self) -> None:
        if self.current() != self.head():
            self.upgrade()

    def dispose(self) -> None:
        self.engine.dispose()


def _reason(exc: OperationalError) -> str:
    text = str(exc.orig) if exc.orig is not None else str(exc)
    return text.strip().splitlines()[0] if text.strip() else type(exc).__name__
