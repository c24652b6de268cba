"""The identity of a message (its key and Message-ID) and the versions of what an invitation shows."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta
from typing import Any

from ...model import Attendee, Meeting, utc
from .messages import MessageKind


def message_key(
    kind: MessageKind | str,
    uid: str,
    recipient: str,
    *,
    sequence: int | None = None,
    occurrence: datetime | None = None,
    offset: timedelta | int | None = None,
) -> str:
    """The identity of one message; the unique constraint on it makes a duplicate impossible.

    ``reminder/<occurrence UTC>/<offset>s/<recipient>/<uid>``, or ``<kind>/<SEQUENCE>/<recipient>/<uid>``
    for invitations (request, update, cancel), ``…/<uid>/<occurrence UTC>`` for one occurrence of a series.
    """
    recipient = recipient.lower()
    if kind == MessageKind.REMINDER:
        if occurrence is None or offset is None:
            raise ValueError("a reminder key needs its occurrence and offset")
        seconds = int(offset.total_seconds()) if isinstance(offset, timedelta) else int(offset)
        return f"reminder/{utc(occurrence):%Y%m%dT%H%M%SZ}/{seconds}s/{recipient}/{uid}"
    if sequence is None:
        raise ValueError("an invitation key needs the SEQUENCE it announces")
    key = f"{MessageKind(kind).value}/{sequence}/{recipient}/{uid}"
    return key if occurrence is None else f"{key}/{utc(occurrence):%Y%m%dT%H%M%SZ}"  # one occurrence of a series


def message_id(key: str, domain: str) -> str:
    """``<…@domain>``: the same for every attempt at the same message (RFC 5322 section 3.6.4)."""
    digest = hashlib.sha256(key.encode()).hexdigest()[:32]
    kind = key.split("/", 1)[0]
    return f"<{kind}.{digest}@{domain}>"


def invitation_version(meeting: Meeting) -> str:
    """Changes exactly when what an invitation shows changes (not for reminders or the feed name)."""
    data = meeting.series_data()  # a changed occurrence is announced on its own (RFC 5546 section 3.2.2)
    for key in ("calendar", "reminders"):
        data.pop(key, None)
    data["attendees"] = [{k: v for k, v in a.items() if k != "reminders"} for a in data["attendees"]]
    blob = json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()


def occurrence_version(uid: str, occurrence: datetime, digest: str) -> str:
    """Under which what a message about one occurrence showed (that occurrence alone) is kept: one
    per meeting, occurrence and the digest of its override (``OutboxRow.version`` of such messages)."""
    return hashlib.sha256(f"{uid}\n{utc(occurrence).isoformat()}\n{digest}".encode()).hexdigest()


def attendee_data(a: Attendee) -> dict[str, Any]:
    return {"name": a.name, "email": a.email, "timezone": a.timezone.key, "language": a.language, "city": a.city}
