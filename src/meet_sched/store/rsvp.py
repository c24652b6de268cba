"""One-click answer tokens: only the SHA-256 of a token is stored, never the token.

Each message that carries Accept / Maybe / Decline links gets a token of its own (minted when the
message is claimed for sending, so the raw token only ever exists inside that message).  A token
names an attendee and a meeting; whether it still opens anything is decided when it is used (the
attendee must still be invited to a current meeting).  Same rules as :mod:`.feeds`.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from ..model import utc
from .feeds import new_token, plausible, token_hash
from .tables import RsvpToken

__all__ = ["Grant", "find", "mint", "plausible", "revoke", "token_hash"]


@dataclass(frozen=True)
class Grant:
    """What a token lets its holder answer."""

    meeting_uid: str
    attendee: str  # lower-cased
    occurrence: datetime | None  # the occurrence the message was about (UTC), or None


def mint(session: Session, meeting_uid: str, attendee: str, occurrence: datetime | None, now: datetime) -> str:
    """A new token for ``attendee`` of ``meeting_uid``; returns the token (its hash is stored)."""
    token = new_token()
    session.add(
        RsvpToken(
            token_hash=token_hash(token),
            meeting_uid=meeting_uid,
            attendee=attendee.lower(),
            occurrence=None if occurrence is None else utc(occurrence),
            created_at=utc(now),
        )
    )
    return token


def find(session: Session, token: str) -> Grant | None:
    """What ``token`` grants, or None (unknown or revoked).  Found by hash; compared in constant time."""
    digest = token_hash(token)
    row = session.scalar(select(RsvpToken).where(RsvpToken.token_hash == digest))
    if row is None or not hmac.compare_digest(row.token_hash, digest):
        return None
    return Grant(row.meeting_uid, row.attendee, row.occurrence)


def revoke(session: Session, meeting_uid: str, attendee: str | None = None) -> int:
    """Forget the tokens of a meeting (of one attendee of it); returns how many."""
    query = delete(RsvpToken).where(RsvpToken.meeting_uid == meeting_uid)
    if attendee is not None:
        query = query.where(RsvpToken.attendee == attendee.lower())
    return int(getattr(session.execute(query), "rowcount", 0) or 0)
