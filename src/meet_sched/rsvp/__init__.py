"""One-click answers: what a link's token opens, and recording the answer given on its page.

A token (see :mod:`meet_sched.store.rsvp`) opens a page only while its attendee is invited to a
current meeting (:mod:`.rules`, shared with the iMIP replies); otherwise it is as unknown as a token
never issued.  Showing the page changes nothing; :func:`answer` records a PARTSTAT (how: ``link``)
for one occurrence (by its identity, the original start) or the whole series, at the SEQUENCE sent
(the series', or that occurrence's own), and re-plans that meeting's messages (no reminders for what
was declined, the organizer's summary of the answers) in the same transaction.
"""

from __future__ import annotations

import dataclasses
import enum
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

from .. import occurrences
from ..model import Attendee, StoredMeeting, utc
from ..site import Site, plan_policy, summary_policy
from ..store import attendance, rsvp
from ..store.attendance import PartStat, Via
from ..store.meetings import get_meeting
from ..store.outbox import plan_outbox
from ..store.summaries import plan_summaries
from . import rules

CHOICES = (PartStat.ACCEPTED, PartStat.TENTATIVE, PartStat.DECLINED)


class Scope(enum.StrEnum):
    SERIES = "series"
    OCCURRENCE = "occurrence"


@dataclass(frozen=True)
class Opened:
    """What the page shows: the meeting, who answers, which occurrence, and the answer so far."""

    stored: StoredMeeting
    attendee: Attendee
    occurrence: datetime | None  # the identity (original start, UTC) of the occurrence offered; None: single
    start: datetime  # where that occurrence (or the meeting) is now, aware
    current: PartStat  # the answer in force for the scope offered
    series: bool  # a series: the page asks for which scope
    scope: Scope | None = None  # the scope offered first (a series); after an answer, the one chosen
    whole_series: bool = True  # whether the attendee may answer for the series (not a guest of one occurrence)


class Answered(NamedTuple):
    """What :func:`answer` did: the page's new state, whether the answer in force changed, and whether
    the answer was applied (False: stale, an answer of higher rank is in force)."""

    opened: Opened
    changed: bool
    applied: bool


def _opened(
    stored: StoredMeeting | None, grant: rsvp.Grant | None, state: attendance.Attendance, now: datetime
) -> Opened | None:
    """The page ``grant`` opens: a series invitation's link answers for the series by default (as Google
    Calendar and Outlook do), a link about one occurrence (a reminder's, an occurrence's own invitation)
    for that occurrence, or the next one the attendee is invited to once it is past or gone."""
    if stored is None or grant is None or rules.not_current(stored) is not None:
        return None
    m = stored.meeting
    in_series = rules.invited(m, grant.attendee, None)
    if not rules.recurs(m):
        if in_series is None:
            return None
        return Opened(stored, in_series, None, m.start, state.partstat(grant.attendee), False)
    wanted = None if grant.occurrence is None else rules.located(m, grant.occurrence, now)
    if wanted is not None and (
        utc(occurrences.of(m, wanted).start) < utc(now) or rules.invited(m, grant.attendee, wanted) is None
    ):
        wanted = None  # past, or no longer theirs: the next one they are invited to
    if wanted is None:
        wanted = next(rules.ahead(m, grant.attendee, utc(now), now), None)
    if wanted is None:
        return None if in_series is None else Opened(stored, in_series, None, m.start, PartStat.NEEDS_ACTION, False)
    who = rules.invited(m, grant.attendee, wanted)
    assert who is not None
    scope = Scope.SERIES if grant.occurrence is None and in_series is not None else Scope.OCCURRENCE
    occurrence = utc(wanted)
    shown = state.partstat(grant.attendee, None if scope is Scope.SERIES else occurrence)
    start = occurrences.of(m, wanted).start
    return Opened(stored, who, occurrence, start, shown, True, scope, in_series is not None)


def open_link(site: Site, token: str, now: datetime) -> Opened | None:
    """What ``token`` opens at ``now``, or None (malformed, unknown, revoked, no longer invited, or a
    meeting no longer current).

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
    """Record ``partstat`` for the series (or the meeting), or for the occurrence of a series whose
    identity (original start) or present start is ``occurrence``.

    Returns (the page's new state, whether the answer in force changed, whether it applied), or None when the
    token opens nothing, or the attendee is not invited to what they answer (the series, or that occurrence).
    The outbox is re-planned for the meeting in the same transaction (a decline removes the reminders it no
    longer calls for)."""
    now = utc(now)
    with site.db.transaction(write=True, lock="meet-sched sync") as session:
        grant = rsvp.find(session, token)
        stored = None if grant is None else get_meeting(session, grant.meeting_uid)
        if grant is None or stored is None:
            return None
        state = attendance.current(session, stored.uid)
        opened = _opened(stored, grant, state, now)
        if opened is None:
            return None
        m = stored.meeting
        target: datetime | None = None
        sequence = stored.sequence
        if opened.series and not whole_series:
            found = None if occurrence is None else rules.located(m, occurrence, now)
            if found is None or rules.invited(m, grant.attendee, found) is None:
                return None
            target = utc(found)
            sequence = max(sequence, stored.instance_version(found).sequence)
        elif opened.series and not opened.whole_series:
            return None  # a guest of one occurrence answers for it alone
        previous = state.answer(grant.attendee, target)
        done = attendance.record(
            session,
            meeting_uid=stored.uid,
            attendee=grant.attendee,
            partstat=partstat,
            via=Via.LINK,
            sequence=sequence,
            now=now,
            # pressing the button is the attendee's latest word: never ranked below the answer in force
            dtstamp=now if previous is None or previous.sequence != sequence else max(now, previous.dtstamp),
            occurrence=target,
        )
        if done.changed:
            plan_outbox(session, now, plan_policy(site.settings), troubled=site.troubles.report, only=[stored.uid])
            plan_summaries(session, now, summary_policy(site.settings), [stored.uid])
        state = attendance.current(session, stored.uid)
        if target is not None:
            identity = target.astimezone(m.timezone)
            page = Opened(
                stored,
                opened.attendee,
                target,
                occurrences.of(m, identity).start,
                state.partstat(grant.attendee, target),
                True,
                Scope.OCCURRENCE,
                opened.whole_series,
            )
        else:
            scope = Scope.SERIES if opened.series else None
            page = dataclasses.replace(opened, current=state.partstat(grant.attendee), scope=scope)
        return Answered(page, done.changed, done.applied)
