"""Who is coming to each occurrence on the agenda page: counts of every answer, and the names.

Names are shown only when ``[server] public_attendees`` is true (as in the public feeds); the
counts always are.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ..model import utc
from ..site import Occurrence, Site
from ..store import attendance
from ..store.attendance import PartStat

SHOWN = (
    (PartStat.ACCEPTED, "accepted"),
    (PartStat.TENTATIVE, "tentative"),
    (PartStat.DECLINED, "declined"),
    (PartStat.NEEDS_ACTION, "no answer"),
)


@dataclass(frozen=True)
class Group:
    partstat: str  # ACCEPTED, TENTATIVE, DECLINED, NEEDS-ACTION
    label: str
    names: tuple[str, ...]  # empty when names are not public

    @property
    def css(self) -> str:
        return self.partstat.lower()


@dataclass(frozen=True)
class Turnout:
    groups: tuple[Group, ...]
    counts: tuple[int, ...]


def turnouts(site: Site, shown: Iterable[Occurrence]) -> dict[tuple[str, object], Turnout]:
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
        when = utc(occ.start) if (m.recurrence or m.rdates) else None
        by: dict[PartStat, list[str]] = {p: [] for p, _ in SHOWN}
        for a in m.attendees:
            said = state.partstat(a.email, when)
            by.get(said, by[PartStat.NEEDS_ACTION]).append(a.name or a.email)
        groups = tuple(Group(p.value, label, tuple(by[p]) if public else ()) for p, label in SHOWN)
        out[(occ.stored.uid, utc(occ.start))] = Turnout(groups, tuple(len(by[p]) for p, _ in SHOWN))
    return out
