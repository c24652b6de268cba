"""Notices about the site itself, through the outbox: a config change the running service refused,
and the config accepted again.

One notice per episode and recipient: the first refusal after a good state plans a REJECTED row,
later refusals (retries, more edits still broken) plan nothing, and the first good sync after it
plans one FIXED row.  The key counts the recipient's notices (``config-rejected/3/<address>``),
so two processes planning the same notice meet the unique constraint and one row is kept.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..model import utc
from .outbox import MessageKind, OutboxStatus
from .outbox.rows import NewRow, insert_new
from .tables import OutboxRow

SITE_UID = ""  # the meeting_uid of a notice: it belongs to no meeting
MAX_NOTICE_PROBLEMS = 100  # problems listed in one notice (the rest are counted)
NOTICE_KINDS = (MessageKind.REJECTED.value, MessageKind.FIXED.value)


def plan_notices(
    session: Session,
    now: datetime,
    recipients: Sequence[str],
    language: str,
    problems: Sequence[str] | None,
) -> int:
    """Plan a REJECTED notice (``problems``: the config was refused) or a FIXED one (None: accepted)
    to each recipient whose last notice says otherwise; returns how many were planned."""
    now = utc(now)
    rows: list[NewRow] = []
    for recipient in sorted({r.lower() for r in recipients}):
        last = session.scalar(
            select(OutboxRow.kind)
            .where(
                OutboxRow.meeting_uid == SITE_UID,
                OutboxRow.recipient == recipient,
                OutboxRow.kind.in_(NOTICE_KINDS),
            )
            .order_by(OutboxRow.id.desc())
            .limit(1)
        )
        if problems is not None and last == MessageKind.REJECTED.value:
            continue  # told already; the next notice is the one saying it is fixed
        if problems is None and last != MessageKind.REJECTED.value:
            continue  # nothing was broken
        kind = MessageKind.REJECTED if problems is not None else MessageKind.FIXED
        count = session.scalar(
            select(func.count()).where(
                OutboxRow.meeting_uid == SITE_UID, OutboxRow.recipient == recipient, OutboxRow.kind == kind.value
            )
        )
        shown = list(problems or ())
        data = {
            "name": "",
            "email": recipient,
            "language": language,
            "problems": shown[:MAX_NOTICE_PROBLEMS],
            "more": max(0, len(shown) - MAX_NOTICE_PROBLEMS),
        }
        rows.append(
            {
                "key": f"{kind.value}/{int(count or 0) + 1}/{recipient}",
                "kind": kind.value,
                "meeting_uid": SITE_UID,
                "recipient": recipient,
                "attendee": data,
                "sequence": 0,
                "version": None,
                "occurrence": None,
                "offset_seconds": None,
                "due_at": now,
                "not_before": now,
                "status": OutboxStatus.PENDING.value,
                "attempts": 0,
                "created_at": now,
            }
        )
    return len(insert_new(session, rows)) if rows else 0
