"""What an outbox message is: its kinds, what planning adds or drops, a claimed job and its outcome."""

from __future__ import annotations

import enum
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any

from ...model import utc
from ..status import OutboxStatus


class MessageKind(enum.StrEnum):
    REQUEST = "request"  # iTIP REQUEST: the first invitation this recipient gets
    UPDATE = "update"  # iTIP REQUEST to someone who received an earlier version
    CANCEL = "cancel"  # iTIP CANCEL
    REMINDER = "reminder"
    REJECTED = "config-rejected"  # to the site's contact: the running service refused a config change
    FIXED = "config-fixed"  # to the same: the config is accepted again
    SUMMARY = "answer-summary"  # to an organizer: who answered what (see store/summaries.py)

    @property
    def notice(self) -> bool:
        """A message about the site itself, not about a meeting (see store/notices.py)."""
        return self in (MessageKind.REJECTED, MessageKind.FIXED)

    @property
    def self_contained(self) -> bool:
        """Rendered from its row alone (a notice, an organizer's summary): no meeting needs reading."""
        return self.notice or self is MessageKind.SUMMARY

    @property
    def itip_request(self) -> bool:
        return self in (MessageKind.REQUEST, MessageKind.UPDATE)


INVITATION_KINDS = (MessageKind.REQUEST.value, MessageKind.UPDATE.value, MessageKind.CANCEL.value)


@dataclass(frozen=True)
class PlanPolicy:
    horizon: timedelta  # reminders are planned this far ahead of their due time
    invitations: bool = True
    all_day_at: time = time(9, 0)  # local time, in each attendee's zone, of all-day meetings' reminders
    update_quiet: timedelta = timedelta(0)  # updates and uninvitations wait this long for the next edit


@dataclass(frozen=True, order=True)
class Mail:
    """One email the plan adds or drops: enough for a person to see what it is."""

    meeting_uid: str
    kind: str
    recipient: str
    occurrence: datetime | None  # reminders: the occurrence (UTC) they are for
    due_at: datetime
    sequence: int

    @classmethod
    def of(cls, row: Any) -> Mail:
        occurrence = None if row.occurrence is None else utc(row.occurrence)
        return cls(row.meeting_uid, row.kind, row.recipient, occurrence, utc(row.due_at), row.sequence)


@dataclass
class PlanReport:
    planned: Counter[str] = field(default_factory=Counter)  # by kind
    dropped: int = 0  # pending messages no longer wanted
    added: list[Mail] = field(default_factory=list)  # the rows behind ``planned``
    removed: list[Mail] = field(default_factory=list)  # the rows behind ``dropped``

    def summary(self) -> str:
        if not self.planned and not self.dropped:
            return "outbox: nothing new"
        names = {"request": "invitation", "update": "update", "cancel": "cancellation", "reminder": "reminder"}
        parts = [
            f"{self.planned[kind]} {name}{'s' if self.planned[kind] != 1 else ''}"
            for kind, name in names.items()
            if self.planned[kind]
        ]
        text = f"outbox: planned {', '.join(parts)}" if parts else "outbox: planned nothing"
        return text + (f"; dropped {self.dropped} no longer wanted" if self.dropped else "")


@dataclass(frozen=True)
class Job:
    """A claimed message: what the dispatcher needs to render and send it."""

    id: int
    key: str
    kind: MessageKind
    meeting_uid: str
    recipient: str
    attendee: dict[str, Any]
    occurrence: datetime | None
    offset_seconds: int | None
    due_at: datetime
    attempts: int  # attempts before this one

    @property
    def offset(self) -> timedelta | None:
        return None if self.offset_seconds is None else timedelta(seconds=self.offset_seconds)


@dataclass(frozen=True)
class SendOutcome:
    """What became of one attempt at a claimed message."""

    id: int
    status: OutboxStatus  # SENT, FAILED, EXPIRED, SKIPPED, or PENDING for a retry
    detail: str
    at: datetime  # when it happened
    retry_at: datetime | None = None  # PENDING: the next attempt
    attempted: bool = True  # counts as an attempt (a released claim does not)


@dataclass(frozen=True)
class Finished:
    """A message finished by a bulk rule (expired, skipped), for the log."""

    key: str
    kind: str
    recipient: str
    status: OutboxStatus
    detail: str
