"""The week and month views and a page per meeting, beside the agenda's list.

URLs: ``/week/2027-W15`` (an ISO week), ``/month/2027-04``, ``/meetings/<uid>`` (the UID
percent-encoded) and ``/meetings/<uid>/calendar.ics``; ``/week`` and ``/month`` show the
current ones.  Days are those of the site's display zone (``[calendar] timezone``).  A
meeting's page shows each occurrence's answers (:mod:`.turnout`), those given for it alone too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from .. import occurrences
from ..config.limits import MAX_ALL_DAY_DAYS
from ..localtimes import zone_abbreviation
from ..model import MeetingStatus, StoredMeeting, utc
from ..recurrence import FIRST_YEAR, LAST_YEAR
from ..site import Occurrence, Site
from ..workhours import Workweek
from .i18n import PageWords
from .page import (
    Frame,
    Item,
    display_zone,
    first_places,
    frame,
    item,
    labelled_zones,
    meeting_path,
    meeting_places,
    public_meetings,
    public_occurrences,
    rules_of,
)
from .turnout import turnouts

WEEK = re.compile(r"^(\d{4})-W(\d{2})$")
MONTH = re.compile(r"^(\d{4})-(\d{2})$")
MAX_MEETING_OCCURRENCES = 24  # a meeting's page lists this many of its next occurrences
MEETING_PAGE_DAYS = 366  # … within this many days
MAX_DAY_ENTRIES = 50  # a day of the week or month view shows this many meetings, then a count


@dataclass(frozen=True)
class Entry:
    time: str  # in the display zone
    zone: str  # its abbreviation
    title: str
    url: str
    status: str
    status_text: str
    cancelled: bool
    cities: str  # Daegu 10:00 · Chengdu 09:00 …
    marks: list[str]
    holiday: bool
    moved_from: str | None = None  # this occurrence alone was moved: the same mark as the meeting's cards


@dataclass(frozen=True)
class DayBox:
    day: date
    label: str
    number: int
    today: bool
    inside: bool  # in the month shown (a month view's first and last weeks reach into the next ones)
    entries: list[Entry]
    more: int


@dataclass(frozen=True)
class CalendarView:
    frame: Frame
    heading: str
    weekdays: list[str]
    weeks: list[list[DayBox]]
    prev_url: str
    next_url: str
    prev_text: str
    next_text: str
    zone: str


@dataclass(frozen=True)
class MeetingView:
    frame: Frame
    title: str
    status: str
    status_text: str
    cancelled: bool
    calendar: str
    duration: str
    location: str
    video_url: str | None
    description: str
    attendees: list[str]
    items: list[Item]
    ics_url: str


def iso_week(text: str) -> date | None:
    """``2027-W15`` → its Monday, or None."""
    m = WEEK.match(text)
    if not m:
        return None
    year, week = int(m.group(1)), int(m.group(2))
    if not FIRST_YEAR < year < LAST_YEAR:
        return None
    try:
        return date.fromisocalendar(year, week, 1)
    except ValueError:
        return None


def month_start(text: str) -> date | None:
    m = MONTH.match(text)
    if not m:
        return None
    year, month = int(m.group(1)), int(m.group(2))
    if not FIRST_YEAR < year < LAST_YEAR or not 1 <= month <= 12:
        return None
    return date(year, month, 1)


def week_key(day: date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def _entry(site: Site, occ: Occurrence, zone: ZoneInfo, week: Workweek, w: PageWords) -> Entry:
    full = item(site, occ, week, rules_of(week), w)
    local = occ.start.astimezone(zone)
    return Entry(
        time=w("all_day") if full.all_day else w.time(local),  # an all-day meeting: the same dates everywhere
        zone="" if full.all_day else zone_abbreviation(local),
        title=full.title,
        url=full.url,
        status=full.status,
        status_text=full.status_text,
        cancelled=full.cancelled,
        cities=" · ".join(f"{t.label} {t.time}" for t in full.times),
        marks=full.marks,
        holiday=full.holiday,
        moved_from=full.moved_from,
    )


def _days(
    site: Site, first: date, last: date, zone: ZoneInfo, now: datetime, week: Workweek, w: PageWords, month: int | None
) -> list[DayBox]:
    start = datetime.combine(first, time(0), zone)
    end = datetime.combine(last + timedelta(days=1), time(0), zone)
    by_day: dict[date, list[Occurrence]] = {}
    # An all-day meeting is on its own dates in every zone, each of them; a timed one on the date it starts here.
    for occ in public_occurrences(site, start - timedelta(days=MAX_ALL_DAY_DAYS), end + timedelta(days=1)):
        if occ.meeting.all_day:
            first_day, last_day = occ.one.dates
            on = first_day
            while on <= last_day:
                if first <= on <= last:
                    by_day.setdefault(on, []).append(occ)
                on += timedelta(days=1)
        elif start <= occ.start < end:
            by_day.setdefault(occ.start.astimezone(zone).date(), []).append(occ)
    today = now.astimezone(zone).date()
    out = []
    day = first
    while day <= last:
        found = sorted(by_day.get(day, []), key=lambda o: (not o.meeting.all_day, o.start))
        entries = []
        for occ in found[:MAX_DAY_ENTRIES]:
            try:
                entries.append(_entry(site, occ, zone, week, w))
            except Exception as exc:  # one meeting's data must not take the view down
                site.report_failure(occ.stored, exc)
        out.append(
            DayBox(
                day=day,
                label=w.day_heading(day),
                number=day.day,
                today=day == today,
                inside=month is None or day.month == month,
                entries=entries,
                more=max(0, len(found) - MAX_DAY_ENTRIES),
            )
        )
        day += timedelta(days=1)
    return out


def week_view(site: Site, monday: date, now: datetime, week: Workweek, w: PageWords) -> CalendarView:
    zone = display_zone(site, public_meetings(site))
    days = _days(site, monday, monday + timedelta(days=6), zone, now, week, w, None)
    f = frame(site, now, w, f"/week/{week_key(monday)}", "week", [], week)
    this_week = monday <= now.astimezone(zone).date() < monday + timedelta(days=7)
    return CalendarView(
        frame=f,
        heading=w("week.this" if this_week else "week.h", date=w.full_date(monday)),
        weekdays=w.weekdays(),
        weeks=[days],
        prev_url=f"/week/{week_key(monday - timedelta(days=7))}",
        next_url=f"/week/{week_key(monday + timedelta(days=7))}",
        prev_text=w("week.prev"),
        next_text=w("week.next"),
        zone=zone.key,
    )


def month_view(site: Site, first: date, now: datetime, week: Workweek, w: PageWords) -> CalendarView:
    zone = display_zone(site, public_meetings(site))
    nxt = (first.replace(day=28) + timedelta(days=4)).replace(day=1)
    prev = (first - timedelta(days=1)).replace(day=1)
    grid_start = first - timedelta(days=first.weekday())
    last = nxt - timedelta(days=1)
    grid_end = last + timedelta(days=6 - last.weekday())
    days = _days(site, grid_start, grid_end, zone, now, week, w, first.month)
    f = frame(site, now, w, f"/month/{first:%Y-%m}", "month", [], week)
    return CalendarView(
        frame=f,
        heading=w.month_title(first),
        weekdays=w.weekdays(),
        weeks=[days[i : i + 7] for i in range(0, len(days), 7)],
        prev_url=f"/month/{prev:%Y-%m}",
        next_url=f"/month/{nxt:%Y-%m}",
        prev_text=w("month.prev"),
        next_text=w("month.next"),
        zone=zone.key,
    )


def find_public(site: Site, uid: str) -> StoredMeeting | None:
    return next((s for s in public_meetings(site) if s.meeting.uid == uid), None)


def meeting_view(site: Site, uid: str, now: datetime, week: Workweek, w: PageWords) -> MeetingView | None:
    stored = find_public(site, uid)
    if stored is None:
        return None
    m = stored.meeting
    rules = rules_of(week)
    ahead = occurrences.upcoming(m, now - m.duration, MAX_MEETING_OCCURRENCES, timedelta(days=MEETING_PAGE_DAYS))
    shown = [Occurrence(stored, one) for one in ahead if utc(one.end) > utc(now)][:MAX_MEETING_OCCURRENCES]
    answered = turnouts(site, shown, w)  # the same answers as the agenda's cards, names only when public
    items = [replace(item(site, occ, week, rules, w), turnout=answered.get((m.uid, utc(occ.start)))) for occ in shown]
    places = meeting_places(m, rules)
    everyone = week.among(first_places([places]))
    path = meeting_path(m.uid)
    public = site.settings.spec.server.public_attendees
    cancelled = m.status is MeetingStatus.CANCELLED
    return MeetingView(
        frame=frame(site, now, w, path, "meeting", labelled_zones(m, places), everyone),
        title=m.title,
        status=m.status.value,
        status_text=w(f"status.{m.status.value}") if m.status is not MeetingStatus.CONFIRMED else "",
        cancelled=cancelled,
        calendar=site.calendar_title(m.calendar),
        duration=w.duration(m.duration),
        location=m.location,
        video_url=None if cancelled else m.video_url,
        description=m.description,
        attendees=[a.name or a.email for a in m.attendees] if public else [],
        items=items,
        ics_url=path + "/calendar.ics",
    )


def build(kind: str, arg: str, site: Site, now: datetime, week: Workweek, w: PageWords) -> object | None:
    """The model of one view, or None when the argument names nothing (a clean 404)."""
    if kind == "meeting":
        return meeting_view(site, arg, now, week, w)
    today = now.astimezone(display_zone(site, public_meetings(site))).date()
    if kind == "week":
        monday = iso_week(arg) if arg else today - timedelta(days=today.weekday())
        return None if monday is None else week_view(site, monday, now, week, w)
    if kind == "month":
        first = month_start(arg) if arg else today.replace(day=1)
        return None if first is None else month_view(site, first, now, week, w)
    return None


def meeting_ics(site: Site, uid: str) -> bytes | None:
    """That one meeting as a PUBLISH calendar (attendees only with ``public_attendees``), or None."""
    stored = find_public(site, uid)
    if stored is None:
        return None
    return site.renderer.feed(stored.meeting.title, [stored], attendees=site.settings.spec.server.public_attendees)
