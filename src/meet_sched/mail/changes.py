"""What changed between the meeting a recipient last received and the meeting as it is now.

Pure: two :class:`~meet_sched.model.Meeting` values in, the kinds of change out, in the order an
update mail names them (time first, as calendar programs do).
"""

from __future__ import annotations

import enum

from ..model import Attendee, Meeting


class Change(enum.StrEnum):
    TIME = "time"  # start, end (duration) or the zone the meeting is kept in
    RECURRENCE = "recurrence"  # the rule, skipped dates or extra dates
    TITLE = "title"
    PLACE = "place"  # location
    VIDEO = "video"  # video_url
    ATTENDEES = "attendees"  # someone added or removed
    DETAILS = "details"  # description


def changes(old: Meeting, new: Meeting) -> list[Change]:
    """The kinds of change from ``old`` to ``new``, in :class:`Change` order."""
    found = {
        Change.TIME: (old.start, old.end, old.timezone.key) != (new.start, new.end, new.timezone.key),
        Change.RECURRENCE: (old.recurrence, old.exdates, old.rdates) != (new.recurrence, new.exdates, new.rdates),
        Change.TITLE: old.title != new.title,
        Change.PLACE: old.location != new.location,
        Change.VIDEO: old.video_url != new.video_url,
        Change.ATTENDEES: bool(added(old, new) or added(new, old)),
        Change.DETAILS: old.description != new.description,
    }
    return [change for change in Change if found[change]]


def added(old: Meeting, new: Meeting) -> list[Attendee]:
    """Attendees of ``new`` who were not attendees of ``old`` (by address), in ``new``'s order."""
    before = {a.email.lower() for a in old.attendees}
    return [a for a in new.attendees if a.email.lower() not in before]
