"""Planning reminders: one per occurrence, attendee and offset, and when one is too late to send."""

from __future__ import annotations

from datetime import datetime, timedelta

from ... import occurrences
from ...localtimes import all_day_reminder
from ...model import Attendee, Role, StoredMeeting, utc
from .. import attendance
from ..status import OutboxStatus
from .identity import attendee_data, message_key
from .messages import MessageKind, PlanPolicy
from .rows import Planned, _Existing, _new_row

# How long after an all-day occurrence's start (midnight in the meeting's zone) a reminder of it may
# still be due: the day itself at all_day_at in a zone up to a day behind.
ALL_DAY_LOOKBACK = timedelta(days=2)
# A reminder due after its occurrence's start (an all-day meeting's, on the day) not sent within this
# time is expired: nobody wants "today" in the evening.
ALL_DAY_REMINDER_GRACE = timedelta(hours=6)


def reminder_too_late(occurrence: datetime, due: datetime, now: datetime) -> bool:
    """Whether a reminder may no longer go out: its meeting has started, or (one due on the day of an
    all-day meeting, after its date began in the meeting's zone) it is ALL_DAY_REMINDER_GRACE late."""
    occurrence, due = utc(occurrence), utc(due)
    return now >= occurrence if due < occurrence else now >= due + ALL_DAY_REMINDER_GRACE


def _plan_reminders(
    stored: StoredMeeting,
    rows: list[_Existing],
    now: datetime,
    policy: PlanPolicy,
    out: Planned,
    answers: attendance.Attendance | None = None,
) -> None:
    """Reminders of the occurrences ahead: ``offset`` before the start, or for an all-day meeting at
    ``policy.all_day_at`` in each attendee's own zone, ``offset`` counted in whole days before the date."""
    m = stored.meeting
    horizon = policy.horizon
    wanted: dict[str, tuple[datetime, Attendee, timedelta, datetime]] = {}
    if not (stored.removed or m.cancelled):
        everyone = [*m.attendees, *(a for o in m.overrides for a in (o.attendees or ()))]
        offsets = {a.email.lower(): m.reminders_for(a) for a in everyone}
        longest = max((o for offs in offsets.values() for o in offs), default=timedelta(0))
        back = ALL_DAY_LOOKBACK if m.all_day else timedelta(0)
        for one in occurrences.starting(m, now - back, now + horizon + longest + back):
            start = one.start
            if utc(start) <= now and not m.all_day:
                continue
            # a moved occurrence is reminded of at its new time (and to its own attendees)
            people = [a for a in one.attendees if a.role is not Role.NON_PARTICIPANT]
            answered_as = utc(one.original)  # answers name an occurrence by its RECURRENCE-ID, moved or not
            for a in people:
                if answers is not None and answers.declined(a.email, answered_as):
                    continue  # they said they will not come: no reminder for it
                for offset in offsets[a.email.lower()]:
                    if m.all_day:  # by whole days: 1d and 1d2h are the same reminder, on the same day
                        offset = timedelta(days=offset.days)
                        due = all_day_reminder(start.date(), offset, policy.all_day_at, a.timezone)
                    else:
                        due = utc(start) - offset
                    key = message_key(MessageKind.REMINDER, m.uid, a.email, occurrence=start, offset=offset)
                    wanted[key] = (start, a, offset, due)
    existing = {row.key for row in rows}
    for row in rows:
        if row.status == OutboxStatus.PENDING and row.key not in wanted:
            out.drop.append(row.id)
    for key, (start, a, offset, due) in wanted.items():
        if m.all_day and due >= utc(start) + ALL_DAY_LOOKBACK:
            continue
        if key in existing or due < now or due > now + horizon:
            continue
        out.inserts.append(
            _new_row(
                key,
                MessageKind.REMINDER,
                stored,
                a.email.lower(),
                attendee_data(a),
                due=due,
                now=now,
                occurrence=utc(start),
                offset=offset,
            )
        )
