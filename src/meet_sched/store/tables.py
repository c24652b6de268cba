"""The database schema (SQLAlchemy 2 typed ORM).  Alembic migrations create it; keep them in step.

Instants are stored as UTC (``UTCDateTime`` refuses naive values and gives back aware
ones, on SQLite too).  Uniqueness is a constraint, never a hope.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import JSON, DateTime, Dialect, Index, Integer, String, Text, TypeDecorator, UniqueConstraint
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
    # InstanceVersion.to_data() of each occurrence overridden since the series was last sent whole
    instances: Mapped[list[Any] | None] = mapped_column(JSON, nullable=True)


class FeedToken(Base):
    """The secret of one attendee's personal feed: only its SHA-256 is kept."""

    __tablename__ = "feed_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)  # lower-cased
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)  # hex SHA-256 of the token
    created_at: Mapped[datetime]


class InvitationVersion(Base):
    """What one invitation version showed (``OutboxRow.version`` → the meeting as announced): an update
    says what changed since the version its recipient last received."""

    __tablename__ = "invitation_versions"

    version: Mapped[str] = mapped_column(String(64), primary_key=True)
    data: Mapped[dict[str, Any]]  # Meeting.to_data() of the meeting as announced
    created_at: Mapped[datetime]


class OutboxRow(Base):
    """One email the service will send (or has sent): written before it is sent, kept as history after.

    ``key`` names the message (kind, meeting, recipient, occurrence or SEQUENCE): planning the
    same message twice is impossible by constraint, and the Message-ID is derived from it.
    """

    __tablename__ = "outbox"
    __table_args__ = (
        UniqueConstraint("key", name="uq_outbox_key"),
        Index("ix_outbox_due", "status", "not_before"),
        Index("ix_outbox_meeting", "meeting_uid", "kind"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(700))
    kind: Mapped[str] = mapped_column(String(16))  # request | cancel | reminder
    meeting_uid: Mapped[str] = mapped_column(String(255))
    recipient: Mapped[str] = mapped_column(String(320))  # lower-cased address
    attendee: Mapped[dict[str, Any]]  # name, timezone, language, city as planned (a removed attendee's cancel)
    sequence: Mapped[int] = mapped_column(Integer)  # the meeting's SEQUENCE when planned
    version: Mapped[str | None] = mapped_column(String(64))  # invitations: hash of what they announce
    occurrence: Mapped[datetime | None]  # reminders: the occurrence's start
    offset_seconds: Mapped[int | None] = mapped_column(Integer)  # reminders: how long before the start
    due_at: Mapped[datetime]  # when it should go out
    not_before: Mapped[datetime]  # next attempt: due_at, later after a temporary failure
    status: Mapped[str] = mapped_column(String(16))  # pending | sending | sent | failed | expired | skipped
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    lease_until: Mapped[datetime | None]  # while sending: when the claim may be retaken
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[str | None] = mapped_column(Text)  # the server's last answer, or why it was not sent
    created_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]  # when it was sent, failed, expired or skipped


class AnswerRow(Base):
    """One answer of one attendee, as received: the history is kept, the current answer is derived.

    ``occurrence`` is NULL for an answer to the whole series, else the UTC instant of the original
    occurrence (its RECURRENCE-ID).  ``kind`` is ``reply`` (a PARTSTAT) or ``counter`` (a proposed
    new time: recorded, never applied).  ``stale`` marks a reply that lost to a newer answer when it
    arrived (an older SEQUENCE, or an earlier DTSTAMP of the same SEQUENCE): kept, never applied.
    """

    __tablename__ = "answers"
    __table_args__ = (Index("ix_answers_meeting", "meeting_uid", "attendee"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    meeting_uid: Mapped[str] = mapped_column(String(255))
    occurrence: Mapped[datetime | None]
    attendee: Mapped[str] = mapped_column(String(320))  # lower-cased address
    kind: Mapped[str] = mapped_column(String(16))  # reply | counter
    partstat: Mapped[str] = mapped_column(String(32))  # NEEDS-ACTION | ACCEPTED | DECLINED | TENTATIVE | DELEGATED
    via: Mapped[str] = mapped_column(String(16))  # imip | link | config
    sequence: Mapped[int] = mapped_column(Integer)  # the SEQUENCE answered
    dtstamp: Mapped[datetime]  # the answer's DTSTAMP (when the attendee's client wrote it)
    delegated_to: Mapped[list[str] | None] = mapped_column(JSON)  # lower-cased addresses
    proposal: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # counter: start, end (UTC ISO), comment
    comment: Mapped[str | None] = mapped_column(Text)
    stale: Mapped[bool] = mapped_column(default=False)
    recorded_at: Mapped[datetime]  # when meet-sched received it


class RsvpToken(Base):
    """The secret of one one-click answer link (an attendee, a meeting): only its SHA-256 is kept.

    One is minted for each message that carries the links; ``occurrence`` is the occurrence the
    message is about (a reminder's), so that the page can offer to answer that one only.
    """

    __tablename__ = "rsvp_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)  # hex SHA-256 of the token
    meeting_uid: Mapped[str] = mapped_column(String(255), index=True)
    attendee: Mapped[str] = mapped_column(String(320))  # lower-cased address
    occurrence: Mapped[datetime | None]
    created_at: Mapped[datetime]
