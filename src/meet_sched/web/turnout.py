"""Who is coming to each occurrence on the agenda and meeting pages: counts of every answer, and the names.

Names are shown only when ``[server] public_attendees`` is true (as in the public feeds); the
counts always are.  Labels and counts are in the page's language (:meth:`PageWords.answer`).
An attendee who delegated (RFC 5546 4.2.5) is shown with the address they delegated to: the
delegate is not added to the meeting, whose attendees come from its config file.  For a series,
the answers someone gave for one occurrence alone, differing from their answer for the series
(declined only this one), are listed as that occurrence's exceptions.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from ..model import Meeting, utc
from ..safe_text import neutral
from ..site import Occurrence, Site
from ..store import attendance
from ..store.attendance import PartStat
from .i18n import PageWords

SHOWN = (PartStat.ACCEPTED, PartStat.TENTATIVE, PartStat.DECLINED, PartStat.NEEDS_ACTION)
SHOWN_IF_ANY = (PartStat.DELEGATED,)  # a group listed only when someone gave that answer


@dataclass(frozen=True)
class Group:
    partstat: str  # ACCEPTED, TENTATIVE, DECLINED, NEEDS-ACTION, DELEGATED
    label: str  # in the page's language
    names: tuple[str, ...]  # empty when names are not public
    count: str = ""  # the number of attendees, written for the page's language

    @property
    def css(self) -> str:
        return self.partstat.lower()


@dataclass(frozen=True)
class Turnout:
    groups: tuple[Group, ...]
    counts: tuple[int, ...]
    exceptions: tuple[str, ...] = ()  # answers for this occurrence alone, unlike the series answer


def _name(m: Meeting, email: str) -> str:
    """An attendee's name, or the address a DELEGATED-TO wrote (its controls shown, not acting)."""
    found = next((a for a in m.attendees if a.email.lower() == email.lower()), None)
    return found.name or found.email if found is not None else neutral(email)


def turnout(m: Meeting, state: attendance.Attendance, when: datetime | None, public: bool, w: PageWords) -> Turnout:
    """The answers in force at one occurrence (``when``: its UTC start; None for a single meeting)."""
    by: dict[PartStat, list[str]] = {p: [] for p in (*SHOWN, *SHOWN_IF_ANY)}
    only: list[str] = []
    for a in m.attendees:
        found = state.answer(a.email, when)
        said = PartStat.NEEDS_ACTION if found is None else found.partstat
        name = a.name or a.email
        if found is not None and said is PartStat.DELEGATED and found.delegated_to:
            to = ", ".join(_name(m, d) for d in found.delegated_to)
            by[said].append(w("turnout.delegated_to", who=name, to=to))
        else:
            by.get(said, by[PartStat.NEEDS_ACTION]).append(name)
        own = when is not None and found is not None and found.occurrence is not None
        if own and said is not state.partstat(a.email):  # this occurrence alone, unlike the series answer
            only.append(w("turnout.only", who=name, answer=w.answer(said)))
    shown = [*SHOWN, *(p for p in SHOWN_IF_ANY if by[p])]
    groups = tuple(
        Group(p.value, w.answer(p.value), tuple(by[p]) if public else (), w.count(len(by[p]))) for p in shown
    )
    exceptions = tuple(only) if public else ((w("turnout.only.count", count=len(only)),) if only else ())
    return Turnout(groups, tuple(len(by[p]) for p in shown), exceptions)


def turnouts(site: Site, shown: Iterable[Occurrence], w: PageWords) -> dict[tuple[str, object], Turnout]:
    """(uid, UTC start) → the answers in force for that occurrence, of every attendee."""
    items = [o for o in shown if o.meeting.attendees]
    if not items:
        return {}
    with site.db.transaction() as session:
        states = attendance.current_all(session, sorted({o.stored.uid for o in items}))
    public = site.settings.spec.server.public_attendees
    out: dict[tuple[str, object], Turnout] = {}
    for occ in items:
        m = occ.meeting
        state = states.get(occ.stored.uid) or attendance.Attendance(occ.stored.uid)
        when = occ.one.recurrence_id  # answers name an occurrence by its RECURRENCE-ID, even once moved
        out[(occ.stored.uid, utc(occ.start))] = turnout(m, state, when, public, w)
    return out
