"""README "db upgrade": the packaged Alembic migrations build the schema the code maps, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.exc import StatementError

from meet_sched.store.db import MIGRATIONS, SCHEMA_HEAD, Database, safe_url
from meet_sched.store.tables import Base, MeetingRow, UTCDateTime

from .conftest import SiteDir, sqlite_only
from .db_helpers import database_url, execute


def test_upgrade_from_empty_reaches_head_and_is_idempotent(db_url: str) -> None:
    db = Database(db_url)
    try:
        assert db.current() is None
        db.upgrade()
        assert db.current() == db.head() is not None
        tables = set(inspect(db.engine).get_table_names())
        assert set(Base.metadata.tables) <= tables
        db.upgrade()  # again: nothing to do, nothing fails
        db.ensure_schema()
        assert db.current() == db.head()
    finally:
        db.dispose()


def test_the_known_head_is_alembics_head(db_url: str) -> None:
    """SCHEMA_HEAD spares a command the Alembic import: it must name the newest migration, as Alembic reads them."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    assert ScriptDirectory.from_config(cfg).get_current_head() == SCHEMA_HEAD
    db = Database(db_url)
    try:
        db.upgrade()
        with db.engine.connect() as conn:
            assert MigrationContext.configure(conn).get_current_revision() == db.current() == SCHEMA_HEAD
    finally:
        db.dispose()


def test_migrations_build_exactly_the_mapped_schema(db_url: str) -> None:
    """Autogenerate finds nothing to add: tables, columns, types, nullability, indexes, unique constraints."""
    db = Database(db_url)
    try:
        db.upgrade()
        with db.engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            assert compare_metadata(context, Base.metadata) == []
    finally:
        db.dispose()


@pytest.mark.postgres
def test_postgresql_stores_instants_as_timestamptz_and_keeps_uniqueness(pg_url: str) -> None:
    db = Database(pg_url)
    try:
        db.upgrade()
        with db.engine.connect() as conn:
            types = {
                (table, column): data_type
                for table, column, data_type in conn.execute(
                    text("SELECT table_name, column_name, data_type FROM information_schema.columns")
                )
            }
            unique = {
                (table, column)
                for table, column in conn.execute(
                    text(
                        "SELECT tc.table_name, kcu.column_name FROM information_schema.table_constraints tc "
                        "JOIN information_schema.key_column_usage kcu USING (constraint_schema, constraint_name) "
                        "WHERE tc.constraint_type = 'UNIQUE'"
                    )
                )
            }
        instants = [
            (table.name, column.name)
            for table in Base.metadata.tables.values()
            for column in table.columns
            if isinstance(column.type, UTCDateTime)
        ]
        assert ("meetings", "last_modified") in instants
        assert {types[key] for key in instants} == {"timestamp with time zone"}
        assert ("meetings", "uid") in unique
    finally:
        db.dispose()


@pytest.mark.postgres
def test_instants_come_back_utc_whatever_the_server_session_zone(pg_url: str) -> None:
    seoul_session = pg_url + "?options=-c%20TimeZone%3DAsia%2FSeoul"
    db = Database(seoul_session)
    try:
        db.upgrade()
        moment = datetime(2026, 3, 29, 1, 30, tzinfo=UTC)
        with db.transaction() as session:
            assert session.execute(text("SHOW TimeZone")).scalar() == "Asia/Seoul"
            session.add(_row(moment))
        with db.transaction() as session:
            row = session.query(MeetingRow).one()
            assert row.last_modified == moment and row.last_modified.utcoffset() == timedelta(0)
            assert row.last_modified.tzinfo is UTC
            # What the server holds is the instant, whatever zone it prints it in.
            assert session.execute(text("SELECT last_modified = '2026-03-29 01:30:00+00' FROM meetings")).scalar()
    finally:
        db.dispose()


def test_a_naive_datetime_never_reaches_the_database(db_url: str) -> None:
    db = Database(db_url)
    try:
        db.upgrade()
        with pytest.raises(StatementError, match="naive datetime"), db.transaction() as session:
            session.add(_row(datetime(2026, 3, 29, 1, 30)))
            session.flush()
    finally:
        db.dispose()


def test_the_uid_is_unique_in_the_database(db_url: str) -> None:
    from sqlalchemy.exc import IntegrityError

    db = Database(db_url)
    try:
        db.upgrade()
        moment = datetime(2026, 3, 29, 1, 30, tzinfo=UTC)
        with pytest.raises(IntegrityError), db.transaction() as session:
            session.add_all([_row(moment), _row(moment)])
            session.flush()
    finally:
        db.dispose()


def _row(moment: datetime) -> MeetingRow:
    return MeetingRow(
        uid="a@test.example",
        calendar="default",
        data={},
        content_hash="0" * 64,
        sequence=0,
        status="confirmed",
        removed=False,
        source="",
        first_start=moment,
        last_end=None,
        created_at=moment,
        last_modified=moment,
    )


def test_db_upgrade_command_is_idempotent_and_commands_migrate_by_themselves(site_dir: SiteDir, db_url: str) -> None:
    env = {"MEET_SCHED_DATABASE_URL": db_url}
    db = Database(db_url)
    try:
        head = db.head()
    finally:
        db.dispose()
    site_dir.meeting("a.yaml", "title: A\ntimezone: Asia/Seoul\nstart: 2026-12-10T10:00\nduration: 1h\n")
    assert site_dir.run("sync", env=env, check=True).returncode == 0  # migrates an empty database first
    for _ in range(2):
        result = site_dir.run("db", "upgrade", env=env, check=True)
        assert result.stdout.endswith(f": schema {head} (latest {head})\n")
        assert "Traceback" not in result.stderr
    assert site_dir.run("db", "current", env=env, check=True).stdout.endswith(f": schema {head} (latest {head})\n")


def test_a_schema_from_a_newer_version_is_a_message(site_dir: SiteDir) -> None:
    site_dir.run("db", "upgrade", check=True)
    execute(site_dir.root, "UPDATE alembic_version SET version_num = '9999'")
    result = site_dir.run("sync")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith(
        f"meet-sched: database {safe_url(database_url(site_dir.root))}: Can't locate revision identified by '9999'"
    )


@sqlite_only("a var/meet-sched.db that is not an SQLite file")
def test_a_file_that_is_not_a_database_is_a_message(site_dir: SiteDir) -> None:
    path: Path = site_dir.root / "var" / "meet-sched.db"
    path.parent.mkdir()
    path.write_bytes(b"this is not an SQLite database, it only has the name of one\n" * 20)
    result = site_dir.run("sync")
    assert result.returncode == 1
    assert result.stderr == f"meet-sched: database sqlite:///{path}: file is not a database\n"


def test_an_unreachable_server_is_a_message(site_dir: SiteDir) -> None:
    url = "postgresql+psycopg://meet:secret@127.0.0.1:1/meet"
    result = site_dir.run("sync", env={"MEET_SCHED_DATABASE_URL": url})
    assert result.returncode == 1
    assert result.stderr.startswith("meet-sched: database postgresql+psycopg://meet:***@127.0.0.1:1/meet: ")
    assert "secret" not in result.stderr and "Traceback" not in result.stderr
