"""One-click answers: what a link's token opens, and recording the answer given on its page.

A token (see :mod:`meet_sched.store.rsvp`) opens a page only while its attendee is invited to a
current meeting; otherwise it is as unknown as a token never issued.  Showing the page changes
nothing; :func:`answer` records a PARTSTAT (how: ``link``) for one occurrence or the whole series,
at the meeting's current SEQUENCE, and re-plans that meeting's messages (no reminders for what
was declined, the organizer's summary of the answers) in the same transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import NamedTuple

from ..model import Attendee, StoredMeeting, utc
from ..site import Site, plan_policy, summary_policy
from ..store import attendance, rsvp
from ..store.attendance import PartStat, Via
from ..store.meetings import get_meeting
from ..store.outbox import plan_outbox
from ..store.summaries import plan_summaries

CHOICES = (PartStat.ACCEPTED, PartStat.TENTATIVE, PartStat.DECLINED)
LOOKAHEAD = timedelta(days=3660)  # how far the page looks for the next occurrence of a series


@dataclass(frozen=True)
class Opened:
    """What the page shows: the meeting, who answers, which occurrence, and the answer so far."""

    stored: StoredMeeting
    attendee: Attendee
    occurrence: datetime | None  # the occurrence offered (a series'), UTC; None for a single meeting
    current: PartStat  # the answer in force for that occurrence (or the meeting)
    series: bool


class Answered(NamedTuple):
    """What :func:`answer` did: the page's new state, whether the answer in force changed, and whether
    the answer was applied (False: stale, an answer of higher rank is in force)."""

    opened: Opened
    changed: bool
    applied: bool


def _opened(
    stored: StoredMeeting | None, grant: rsvp.Grant | None, state: attendance.Attendance, now: datetime
) -> Opened | None:
    if stored is None or grant is None or stored.removed:
        return None
    m = stored.meeting
    who = next((a for a in m.attendees if a.email.lower() == grant.attendee), None)
    if who is None:
        return None
    series = bool(m.recurrence or m.rdates)
    occurrence: datetime | None = None
    if series:
        wanted = grant.occurrence
        if wanted is not None and next(iter(m.occurrences(wanted, wanted + timedelta(seconds=1))), None) is None:
            wanted = None  # no longer an occurrence (the series changed): offer the next one
        if wanted is None or utc(wanted) < utc(now):
            wanted = next(iter(m.occurrences(utc(now), utc(now) + LOOKAHEAD)), None)
        occurrence = None if wanted is None else utc(wanted)
    return Opened(stored, who, occurrence, state.partstat(grant.attendee, occurrence), series)


def open_link(site: Site, token: str, now: datetime) -> Opened | None:
    """What ``token`` opens at ``now``, or None (malformed, unknown, revoked, or no longer invited).

    The token is hashed and looked up whatever its shape, so a wrong one takes the same path as a
    right one."""
    with site.db.transaction() as session:
        grant = rsvp.find(session, token)
        stored = None if grant is None else get_meeting(session, grant.meeting_uid)
        state = attendance.current(session, grant.meeting_uid) if grant else attendance.Attendance("")
        return _opened(stored, grant, state, now)


def answer(
    site: Site, token: str, partstat: PartStat, *, whole_series: bool, occurrence: datetime | None, now: datetime
) -> Answered | None:
    """Record ``partstat`` for the series (or the meeting), or for ``occurrence`` of a series.

    Returns (the page's new state, whether the answer in force changed, whether it applied), or None when the token
    opens nothing or ``occurrence`` is not one of the meeting's.  The outbox is re-planned for the
    meeting in the same transaction (a decline removes the reminders it no longer calls for)."""
    now = utc(now)
    with site.db.transaction(write=True, lock="meet-sched sync") as session:
        grant = rsvp.find(session, token)
        stored = None if grant is None else get_meeting(session, grant.meeting_uid)
        if grant is None or stored is None:
            return None
        opened = _opened(stored, grant, attendance.current(session, stored.uid), now)
        if opened is None:
            return None
        target: datetime | None = None
        if opened.series and not whole_series:
            if occurrence is None:
                return None
            found = next(iter(stored.meeting.occurrences(occurrence, occurrence + timedelta(seconds=1))), None)
            if found is None:
                return None
            target = utc(found)
        done = attendance.record(
            session,
            meeting_uid=stored.uid,
            attendee=grant.attendee,
            partstat=partstat,
            via=Via.LINK,
            sequence=stored.sequence,
            now=now,
            occurrence=target,
        )
        if done.changed:
            plan_outbox(session, now, plan_policy(site.settings), troubled=site.troubles.report, only=[stored.uid])
            plan_summaries(session, now, summary_policy(site.settings), [stored.uid])
        state = attendance.current(session, stored.uid)
        shown = target if target is not None else opened.occurrence
        page = Opened(stored, opened.attendee, shown, state.partstat(grant.attendee, shown), opened.series)
        return Answered(page, done.changed, done.applied)
