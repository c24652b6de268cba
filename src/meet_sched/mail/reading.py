"""How one occurrence reads for one person: its date and time in their zone and language, or its dates
and "all day", and the marks "moved from …", "cancelled", "skipped".

Mails, pages and commands take these words from here, so an occurrence reads the same on each of
them (dates and times through the mails' :class:`~meet_sched.mail.i18n.Words`, hence Babel).  The
commands' tables write dates as ISO dates (:class:`meet_sched.marks.TableReader`), with the same marks.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from ..localtimes import local_times, zone_city
from ..marks import MARKS
from ..model import Meeting
from ..occurrences import Occurrence
from .i18n import FALLBACK, Words


def mark_word(w: Words, key: str, **values: str) -> str:
    return (MARKS.get(w.language) or MARKS[FALLBACK])[key].format(**values)


def zone_label(m: Meeting, zone: ZoneInfo, city: str | None = None) -> str:
    """What a person's zone is called for ``m``: its participants' city there (``New York``), else
    ``city``, else the zone's own city — as the When row of their mail names it."""
    found = next((label for label, z in m.zones() if z.key == zone.key), None)
    return found or city or zone_city(zone)


@dataclass(frozen=True)
class Reader:
    """Occurrences as words for a reader of language ``w`` in ``zone``, on ``now``'s date."""

    w: Words
    zone: ZoneInfo
    now: datetime

    def local(self, moment: datetime) -> datetime:
        return moment.astimezone(self.zone)

    def when(self, occ: Occurrence) -> str:
        """``Wednesday, March 3, 2027 10:00 KST``; all day: ``Wed, Apr 14 – Fri, Apr 16 (all day)``."""
        if occ.all_day:
            return f"{self.dates(occ)} ({self.w('all_day')})"
        mine = self.local(occ.start)
        return f"{self.w.full_date(mine)} {self.w.time(mine)}"

    def subject(self, occ: Occurrence) -> str:
        """``tomorrow 10:00 KST``, ``Wed, Mar 3 10:00 KST``: the start in this reader's zone, as a subject
        says it; all day: ``today``, ``tomorrow`` or the dates, on this reader's own date."""
        if occ.all_day:
            return self.w.day_span(*occ.dates, self.local(self.now))
        mine = self.local(occ.start)
        return f"{self.w.day(mine, self.now)} {self.w.time(mine)}"

    def short(self, occ: Occurrence) -> str:
        """``Wed, Mar 3 10:00 KST``; all day: the dates alone."""
        return self.short_at(occ, occ.start)

    def short_at(self, occ: Occurrence, start: datetime) -> str:
        if occ.all_day:
            first = start.astimezone(occ.series.timezone).date()
            return self.w.dates(first, first + (occ.dates[1] - occ.dates[0]), self.now)
        mine = self.local(start)
        return f"{self.w.short_date(mine, self.now)} {self.w.time(mine)}"

    def dates(self, occ: Occurrence) -> str:
        first, last = occ.dates
        return self.w.dates(first, last, self.now)

    def moved_from(self, occ: Occurrence) -> str | None:
        if occ.moved_from is None:
            return None
        return mark_word(self.w, "moved_from", when=self.short_at(occ, occ.moved_from))

    def marks(self, occ: Occurrence) -> list[str]:
        """``moved from Tue, Mar 9 10:00 CET``, ``cancelled``, ``skipped: Chuseok (KR)``: what sets it apart."""
        found = self.moved_from(occ)
        if found is not None:
            return [found]
        if occ.cancelled:
            return [mark_word(self.w, "cancelled")]
        if occ.skipped and occ.reason:
            return [mark_word(self.w, "skipped", why=occ.reason)]
        return []

    def listed(self, occ: Occurrence) -> str:
        """``Wed, Mar 3 10:00 KST (moved from …)``: one occurrence in a list of them."""
        marks = self.marks(occ)
        return self.short(occ) + (f" ({'; '.join(marks)})" if marks else "")

    def labelled(self, occ: Occurrence, city: str | None = None) -> str:
        """``Wednesday, March 3, 2027 21:00 EST (New York)``: the When of a mail or answer page."""
        if occ.all_day:
            return self.when(occ)
        return f"{self.when(occ)} ({zone_label(occ.meeting, self.zone, city)})"

    def other_zones(self, occ: Occurrence) -> list[str]:
        """``Seoul 10:00 KST (Thu, Dec 10)``: the same start in every other zone of the meeting."""
        mine = self.local(occ.start)
        return [
            f"{t.label} {self.w.time(t.moment)}"
            + (f" ({self.w.short_date(t.moment, self.now)})" if t.moment.date() != mine.date() else "")
            for t in local_times(occ.meeting, occ.start)
            if _key(t.moment) != self.zone.key
        ]


def _key(moment: datetime) -> str:
    tz = moment.tzinfo
    return tz.key if isinstance(tz, ZoneInfo) else str(tz)
