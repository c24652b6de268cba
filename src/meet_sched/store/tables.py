"""The database schema (SQLAlchemy 2 typed ORM).  Alembic migrations create it; keep them in step.

Instants are stored as UTC (``UTCDateTime`` refuses naive values and gives back aware
ones, on SQLite too).  Uniqueness is a constraint, never a hope.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import JSON, DateTime, Dialect, Integer, String, Text, TypeDecorator
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class UTCDateTime(TypeDecorator[datetime]):
    """An aware instant, stored in UTC (``timestamptz`` on PostgreSQL, ISO text on SQLite)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; use an aware UTC instant")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime(), dict[str, Any]: JSON()}


class MeetingRow(Base):
    """One meeting as last synced from config, with its iCalendar versioning state."""

    __tablename__ = "meetings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uid: Mapped[str] = mapped_column(String(255), unique=True)
    calendar: Mapped[str] = mapped_column(String(64), index=True)
    data: Mapped[dict[str, Any]]  # Meeting.to_data()
    content_hash: Mapped[str] = mapped_column(String(64))
    sequence: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(16))  # confirmed | tentative | cancelled
    removed: Mapped[bool] = mapped_column(default=False)  # its config file is gone: kept as cancelled
    source: Mapped[str] = mapped_column(Text, default="")
    first_start: Mapped[datetime]
    last_end: Mapped[datetime | None]  # None: a series without an end
    created_at: Mapped[datetime]
    last_modified: Mapped[datetime]


class FeedToken(Base):
    """The secret of one attendee's personal feed: only its SHA-256 is kept."""

    __tablename__ = "feed_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)  # lower-cased
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)  # hex SHA-256 of the token
    created_at: Mapped[datetime]
