"""Personal feed tokens: only the SHA-256 of a token is stored, never the token.

A token is a bearer secret in a URL (``/feeds/<token>.ics``), so it must be unguessable
(:func:`new_token` gives 256 random bits) and must not be recoverable from the database.
Every function takes the session of the caller's transaction.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from . import attendance
from .tables import FeedToken, MeetingRow

TOKEN_BYTES = 32  # 256 bits; secrets.token_urlsafe gives 43 characters of [A-Za-z0-9_-]
TOKEN_SHAPE = re.compile(r"^[A-Za-z0-9_-]{22,128}$")  # ≥ 128 bits; anything else cannot be one of ours


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("ascii", "replace")).hexdigest()


def plausible(token: str) -> bool:
    """Could ``token`` have been issued here?  (Checked before any database work.)"""
    return bool(TOKEN_SHAPE.match(token))


def email_for(session: Session, token: str) -> str | None:
    """The email whose token this is, or None.

    The row is found by the token's hash, so the index compares hashes, not the secret;
    the final comparison is constant-time all the same.
    """
    digest = token_hash(token)
    row = session.scalar(select(FeedToken).where(FeedToken.token_hash == digest))
    if row is None or not hmac.compare_digest(row.token_hash, digest):
        return None
    return row.email


def issued(session: Session) -> dict[str, datetime]:
    """email (lower-case) → when its current token was issued."""
    return {row.email: row.created_at for row in session.scalars(select(FeedToken))}


def issue(session: Session, email: str, now: datetime, token: str | None = None) -> str:
    """Give ``email`` a new token (``token``, or a fresh one), replacing (and so revoking) any previous
    one; returns the token."""
    key = email.lower()
    token = token or new_token()
    session.execute(delete(FeedToken).where(FeedToken.email == key))
    session.add(FeedToken(email=key, token_hash=token_hash(token), created_at=now))
    session.flush()
    return token


def revoke(session: Session, email: str) -> bool:
    """Forget ``email``'s token; True if there was one."""
    result = session.execute(delete(FeedToken).where(FeedToken.email == email.lower()))
    return bool(getattr(result, "rowcount", 0))


def meeting_versions(session: Session, calendar: str | None = None) -> list[tuple[str, int, datetime]]:
    """(uid, SEQUENCE, LAST-MODIFIED) of every meeting, in feed order: a cheap way to tell what changed."""
    query = select(MeetingRow.uid, MeetingRow.sequence, MeetingRow.last_modified).order_by(
        MeetingRow.first_start, MeetingRow.uid
    )
    if calendar is not None:
        query = query.where(MeetingRow.calendar == calendar)
    return [(uid, sequence, modified) for uid, sequence, modified in session.execute(query)]


FeedState = tuple[int, int, datetime | None, int]


def feed_state(session: Session) -> FeedState:
    """(meetings, sum of SEQUENCEs, newest LAST-MODIFIED, newest answer): two aggregates that change
    with every write that changes what a feed, the page or calendars/*.ics shows.  Meetings are never
    deleted and a SEQUENCE never goes down, so a meeting added, edited or removed always moves the
    first two numbers; answers are never deleted or rewritten, so every answer recorded (PARTSTAT, a
    reset to NEEDS-ACTION) moves the last.  Two processes that read the same state read the same tuple."""
    count, sequences, newest = session.execute(
        select(
            func.count(MeetingRow.id),
            func.coalesce(func.sum(MeetingRow.sequence), 0),
            func.max(MeetingRow.last_modified),
        )
    ).one()
    return int(count), int(sequences), newest, attendance.version(session)
