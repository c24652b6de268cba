"""The states of an outbox message: plain names, importable without the database layer."""

from __future__ import annotations

import enum


class OutboxStatus(enum.StrEnum):
    PENDING = "pending"  # waiting for not_before
    SENDING = "sending"  # claimed by a process until lease_until
    SENT = "sent"
    FAILED = "failed"  # refused for good (5xx), or given up
    EXPIRED = "expired"  # too late: the meeting had started (or ended)
    SKIPPED = "skipped"  # a later reminder of the same occurrence was due too (after downtime)

    @property
    def finished(self) -> bool:
        return self not in (OutboxStatus.PENDING, OutboxStatus.SENDING)
