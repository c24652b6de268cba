"""Engines, sessions and migrations.  Nothing is connected at import time."""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, create_engine, event, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DatabaseError as SQLDatabaseError
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, OperationalError, SQLAlchemyError, StatementError
from sqlalchemy.orm import Session, sessionmaker

from ..errors import DatabaseError
from ..logfmt import quote

if TYPE_CHECKING:
    from alembic.config import Config as AlembicConfig

MIGRATIONS = Path(__file__).with_name("migrations")
# The newest revision under migrations/versions (tests/test_migrations.py checks it against Alembic's own
# reading): opening a database up to date then needs no Alembic import, which costs a command ~0.4 s.
SCHEMA_HEAD = "0007"
VERSION_TABLE = "alembic_version"
CONNECT_TIMEOUT = 10  # seconds to wait for a database server to accept a connection
MIGRATION_LOCK = "meet-sched migrations"  # the PostgreSQL advisory lock held while a process migrates
OUTBOX_CHANNEL = "meet_sched_outbox"  # PostgreSQL NOTIFY channel: another process changed the outbox
# PostgreSQL NOTIFY channel: a committed write changed what feeds, pages and calendars/*.ics show
# (a sync that changed meetings, an answer recorded); SQLite's PRAGMA data_version says the same (DataVersion)
CHANGES_CHANNEL = "meet_sched_changes"
LISTEN_POLL = 1.0  # seconds a listener waits for a notification before it checks whether to stop
LISTEN_RETRY_MAX = 30.0  # seconds: a lost listening connection is reopened after 1 s, doubling up to this

# Alembic's ``context`` and ``op`` are module globals: two migrations running at once in one
# process (two threads) would corrupt each other.  Every use of Alembic goes through this lock.
_alembic_lock = threading.RLock()


def safe_url(url: str) -> str:
    """The URL without its password, fit for logs and messages."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "<invalid database URL>"


def private_file(path: Path) -> None:
    """Make the database file 0600 (its folder 0700 if it is new) before SQLite opens it: it holds
    attendees' addresses, and SQLite gives the -wal and -shm files the mode of the database."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY | os.O_CLOEXEC, 0o600))
    except OSError:
        return  # not creatable here: SQLite says what is wrong when it opens it
    for file in (path, *(path.with_name(path.name + s) for s in ("-wal", "-shm", "-journal"))):
        try:
            if file.stat().st_mode & 0o077:  # written by an older version, or under a looser umask
                os.chmod(file, 0o600)
        except OSError:
            pass  # absent, or not ours to change


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()
    # Let SQLAlchemy, not the driver, say when a transaction begins (see _sqlite_begin).
    dbapi_connection.isolation_level = None


def _sqlite_begin(conn: Connection) -> None:
    """BEGIN IMMEDIATE for writers: the write lock is taken up front, so two processes queue
    on busy_timeout instead of failing with "database is locked" when a reader upgrades."""
    conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get("write") else "BEGIN")


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
            if database and database != ":memory:" and not database.startswith("file:"):  # not a URI filename
                private_file(Path(database))
            kwargs["connect_args"] = {"timeout": 10}
        else:
            kwargs["pool_pre_ping"] = True
            if parsed.get_backend_name() == "postgresql" and "connect_timeout" not in parsed.query:
                kwargs["connect_args"] = {"connect_timeout": CONNECT_TIMEOUT}  # libpq waits forever by default
        try:
            self.engine: Engine = create_engine(parsed, **kwargs)
        except (SQLAlchemyError, ImportError) as exc:
            raise DatabaseError(safe_url(url), str(exc).splitlines()[0]) from None
        if parsed.get_backend_name() == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
            event.listen(self.engine, "begin", _sqlite_begin)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._writers = sessionmaker(self.engine.execution_options(write=True), expire_on_commit=False)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def transaction(self, *, write: bool = False, lock: str | None = None, rollback: bool = False) -> Iterator[Session]:
        """One unit of work: committed when the block ends, rolled back if it raises.

        ``rollback=True``: rolled back when the block ends too (a dry run: it sees its own writes,
        nobody else ever does).

        ``write=True`` takes SQLite's write lock at BEGIN (BEGIN IMMEDIATE).  ``lock`` names a
        lock held until the end of the transaction by every process sharing the database
        (a PostgreSQL advisory lock; on SQLite the write lock already serializes writers).
        """
        sessions = self._writers if (write or lock is not None) else self._sessions
        try:
            with sessions.begin() as session:
                if lock is not None and self.dialect == "postgresql":
                    session.execute(text("SELECT pg_advisory_xact_lock(hashtext(:name))"), {"name": lock})
                yield session
                if rollback:
                    raise _RolledBack
        except _RolledBack:
            return
        except SQLDatabaseError as exc:
            if not _unusable(exc):
                raise
            raise DatabaseError(safe_url(self.url), _reason(exc)) from None

    # -- migrations -------------------------------------------------------------

    def _alembic(self) -> AlembicConfig:
        from alembic.config import Config as AlembicConfig

        cfg = AlembicConfig()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        return cfg

    def head(self) -> str | None:
        """The newest revision this meet-sched knows."""
        return SCHEMA_HEAD

    def current(self) -> str | None:
        """The database's schema revision (Alembic's version table), None before the first migration."""
        try:
            with self.engine.connect() as conn:
                if not inspect(conn).has_table(VERSION_TABLE):
                    return None
                found = conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
                return found[0] if len(found) == 1 else None
        except SQLDatabaseError as exc:
            if not _unusable(exc):
                raise
            raise DatabaseError(safe_url(self.url), _reason(exc)) from None

    def upgrade(self, revision: str = "head") -> bool:
        """Bring the schema to ``revision`` (idempotent; safe to run at every start); True if it migrated.

        One process and one thread at a time: a process-wide lock around Alembic, and across
        processes the database's own lock, held for the whole upgrade and the check before it
        (SQLite: the write lock, BEGIN IMMEDIATE; PostgreSQL: an advisory lock released at
        COMMIT).  Whoever comes second waits, then finds the schema up to date.
        """
        from alembic import command
        from alembic.runtime.migration import MigrationContext
        from alembic.util import CommandError

        cfg = self._alembic()
        with _alembic_lock:
            try:
                conn = self.engine.execution_options(write=True).connect()
            except SQLDatabaseError as exc:
                if not _unusable(exc):
                    raise
                raise DatabaseError(safe_url(self.url), _reason(exc)) from None
            try:
                with conn, conn.begin():
                    if self.dialect == "postgresql":
                        conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(:name))"), {"name": MIGRATION_LOCK})
                    before = MigrationContext.configure(conn).get_current_revision()
                    if revision == "head" and before == self.head():
                        return False
                    cfg.attributes["connection"] = conn
                    command.upgrade(cfg, revision)
                    return MigrationContext.configure(conn).get_current_revision() != before
            except SQLDatabaseError as exc:
                if not _unusable(exc):
                    raise
                raise DatabaseError(safe_url(self.url), _reason(exc)) from None
            except CommandError as exc:  # e.g. a schema revision written by a newer meet-sched
                raise DatabaseError(
                    safe_url(self.url), f"{exc}; this meet-sched knows schema revisions up to {self.head()}"
                ) from None

    def ensure_schema(self) -> bool:
        """Migrate to the newest schema if the database is behind; True if it did.

        The common case (already up to date) reads the revision without taking any write lock."""
        if self.current() == self.head():
            return False
        return self.upgrade()

    def notify(self, payload: str = "", channel: str = OUTBOX_CHANNEL) -> None:
        """Tell every process listening on ``channel`` that what it watches changed (PostgreSQL only;
        one process on SQLite wakes itself).  Delivered at commit, so a listener sees the new rows."""
        if self.dialect != "postgresql":
            return
        with self.transaction() as session:
            notify_at_commit(session, channel, payload)

    def data_version(self) -> DataVersion | None:
        """A look at whether anything was committed to this SQLite file since the last look, by any
        process; None for a database that tells its processes by NOTIFY instead (or a private one)."""
        parsed = make_url(self.url)
        database = parsed.database or ""
        if parsed.get_backend_name() != "sqlite" or database in ("", ":memory:") or "mode=memory" in database:
            return None
        return DataVersion(database, uri=database.startswith("file:"))

    def dispose(self) -> None:
        self.engine.dispose()


class DataVersion:
    """SQLite's ``PRAGMA data_version`` on a connection of its own, which never writes: the number
    moves whenever any other connection, of this process or another, commits to the file.

    One look costs a few microseconds (no query, no lock wait: ``timeout=0``, and a busy file is
    "no news", looked at again next time), so it can be asked on every request."""

    def __init__(self, database: str, *, uri: bool = False) -> None:
        self._database, self._uri = database, uri
        self._conn: sqlite3.Connection | None = None
        self._last: int | None = None
        self._lock = threading.Lock()

    def moved(self) -> bool:
        """Whether anything was committed since the last call (True the first time)."""
        with self._lock:
            try:
                if self._conn is None:
                    self._conn = sqlite3.connect(
                        self._database, uri=self._uri, timeout=0, check_same_thread=False, isolation_level=None
                    )
                row = self._conn.execute("PRAGMA data_version").fetchone()
            except sqlite3.Error:
                self._close()
                return False  # busy or away: the next look (or the periodic one) finds out
            version = int(row[0])
            moved, self._last = version != self._last, version
            return moved

    def _close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn, self._last = None, None

    def close(self) -> None:
        with self._lock:
            self._close()


def notify_at_commit(session: Session, channel: str, payload: str = "") -> None:
    """NOTIFY ``channel`` as part of the session's transaction: sent at its commit, never if it rolls
    back (PostgreSQL; nothing on SQLite)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_notify(:c, :p)"), {"c": channel, "p": payload})


def listens(url: str) -> bool:
    """Whether ``url`` names a database whose processes can notify each other (PostgreSQL)."""
    try:
        return make_url(url).get_backend_name() == "postgresql"
    except Exception:
        return False


def listen(url: str, on_notify: Callable[[str], None], stop: threading.Event, channel: str = OUTBOX_CHANNEL) -> None:
    """Call ``on_notify(payload)`` for each notification on ``channel`` until ``stop`` is set.

    Runs on a thread of its own with its own connection (psycopg, autocommit).  A lost
    connection is reopened with a backoff; meanwhile the caller's timer still wakes it, so a
    notification is only ever an early wake-up, never the only one.
    """
    import psycopg  # only PostgreSQL sites need it

    parsed = make_url(url)
    conninfo = parsed.set(drivername="postgresql").render_as_string(hide_password=False)
    log = logging.getLogger("meet_sched.store")
    delay = 1.0
    while not stop.is_set():
        try:
            with psycopg.connect(conninfo, autocommit=True, connect_timeout=CONNECT_TIMEOUT) as conn:
                conn.execute(f"LISTEN {channel}")  # one of our constants, never outside text
                delay = 1.0
                on_notify("")  # (re)connected: whatever was notified meanwhile is looked at now
                while not stop.is_set():
                    for note in conn.notifies(timeout=LISTEN_POLL):
                        on_notify(note.payload)
        except psycopg.Error as exc:
            reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            log.warning("event=listen-failed database=%s error=%s", quote(safe_url(url)), quote(reason))
            stop.wait(delay)
            delay = min(LISTEN_RETRY_MAX, delay * 2)


class _RolledBack(Exception):
    """Ends a dry-run transaction through the session's own rollback path."""


# SQLSTATEs that are the operator's to fix, not the code's, though the driver files them under programming or
# internal errors: the role lacks a privilege; the database (or the role) is read-only
_OPERATORS_TO_FIX = frozenset({"42501", "25006"})


def _unusable(exc: SQLDatabaseError) -> bool:
    """The database cannot be used at all (unreachable, locked, not a database file, no rights): the user's to fix.

    Constraint violations and SQL errors are not: they stay exceptions for the code to handle.
    """
    return isinstance(exc, OperationalError) or type(exc) is SQLDatabaseError or _sqlstate(exc) in _OPERATORS_TO_FIX


def _sqlstate(exc: SQLDatabaseError) -> str | None:
    found = getattr(exc.orig, "sqlstate", None)
    return found if isinstance(found, str) else None


def _privilege(exc: SQLDatabaseError, text: str) -> str:
    """The privilege a refused statement needed: its verb (CREATE on a schema, SELECT, INSERT… on a table)."""
    if "for sequence" in text:
        return "USAGE"
    verb = (str(exc.statement or "").split(None, 1) or [""])[0].upper()
    return {"ALTER": "CREATE", "DROP": "CREATE", "WITH": "SELECT"}.get(verb, verb)


def transient(exc: BaseException) -> bool:
    """Whether ``exc`` says the database failed (unreachable, locked, out of space, no rights, a
    conflict), not what was being written: the work is tried again later rather than given up.

    Only a data exception (a value the database cannot hold) or an integrity violation is
    the written thing's own fault; so is any error that is not the database's."""
    if isinstance(exc, DatabaseError):
        return True
    if isinstance(exc, DBAPIError):
        return not isinstance(exc, DataError | IntegrityError)
    if isinstance(exc, StatementError):  # raised before the database saw it: a value that cannot be sent
        return exc.orig is not None and transient(exc.orig)
    return isinstance(exc, SQLAlchemyError)


def _reason(exc: SQLDatabaseError) -> str:
    """The driver's first line, never the statement nor its values (addresses); for a refused privilege,
    which one."""
    text = str(exc.orig) if exc.orig is not None else str(exc)
    line = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
    if _sqlstate(exc) == "42501" and (privilege := _privilege(exc, line)):
        return f"{line} (the role needs the {privilege} privilege)"
    return line


def failure(exc: BaseException) -> str | None:
    """One line for an error that is the database's (see :func:`transient`) raised past the code that knew
    the database's URL; None for anything else."""
    if isinstance(exc, DatabaseError):
        return str(exc)
    if isinstance(exc, SQLDatabaseError) and transient(exc):
        return f"database: {_reason(exc)}"
    return None
