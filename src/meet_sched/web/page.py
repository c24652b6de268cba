"""The agenda page: upcoming meetings of the public calendars, each in every participant city's time.

Rendered with Jinja2 (autoescaped) into plain HTML and inline SVG; no script.  The
HTML is built at most once a minute, and again after every sync that changed something.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from importlib import resources
from urllib.parse import quote
from zoneinfo import ZoneInfo

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from ..agenda import agenda_zones
from ..model import all_day_dates, utc, zone_abbreviation
from ..site import Occurrence, Site, webcal_url
from ..workhours import Strip, WorkingHours, Workweek, day_off, strip
from .turnout import Turnout, turnouts

MAX_ITEMS = 100
Clock = Callable[[], datetime]


@dataclass(frozen=True)
class CityTime:
    label: str
    time: str  # 10:00
    zone: str  # KST
    date: str  # Thu 10 Dec
    other_day: bool
    note: str | None  # why this is outside that city's working day, if it is


@dataclass(frozen=True)
class Item:
    anchor: str
    title: str
    status: str
    moved_from: str | None  # this occurrence alone was moved: from when, in the meeting's zone
    calendar: str
    start: datetime
    date: str
    duration: str
    location: str
    video_url: str | None
    times: list[CityTime]
    strip: Strip | None  # None: an all-day meeting, on the same dates everywhere and at no time of day
    all_day: bool = False
    turnout: Turnout | None = None  # who answered what, for this occurrence


@dataclass(frozen=True)
class Subscription:
    name: str
    title: str
    url: str
    webcal: str
    google: str
    outlook: str


@dataclass(frozen=True)
class PageModel:
    title: str
    subscriptions: list[Subscription]
    overview: Strip | None
    items: list[Item]
    more: int
    days: int
    now: datetime
    hours: list[tuple[str, WorkingHours]]
    holidays: bool


def human_duration(value: timedelta) -> str:
    minutes = int(value.total_seconds()) // 60
    days, minutes = divmod(minutes, 1440)
    hours, minutes = divmod(minutes, 60)
    parts = [f"{days} d"] if days else []
    if hours:
        parts.append(f"{hours} h")
    if minutes:
        parts.append(f"{minutes} min")
    return " ".join(parts) or "under a minute"


def city_times(occ: Occurrence, week: Workweek) -> list[CityTime]:
    home = occ.start.astimezone(occ.meeting.timezone).date()
    out = []
    for label, zone in occ.meeting.zones():
        local = occ.start.astimezone(zone)
        note = None
        if not week.at_work(zone, occ.start, occ.end):
            reason = day_off(zone, local.date(), use_holidays=week.holidays)
            note = reason or f"outside working hours ({week.hours(zone)})"
        out.append(
            CityTime(
                label=label,
                time=f"{local:%H:%M}",
                zone=zone_abbreviation(local),
                date=f"{local:%a %d %b}",
                other_day=local.date() != home,
                note=note,
            )
        )
    return out


def _item(site: Site, occ: Occurrence, week: Workweek) -> Item:
    m = occ.meeting
    local = occ.start.astimezone(m.timezone)
    if m.all_day:
        first, last = all_day_dates(m, occ.start)
        shown = f"{first:%A %d %B %Y}" + (f" – {last:%A %d %B %Y}" if last != first else "")
        return Item(
            anchor=hashlib.sha256(f"{m.uid}/{occ.start.isoformat()}".encode()).hexdigest()[:12],
            title=m.title,
            status=m.status.value,
            moved_from=None if occ.moved_from is None else f"{occ.moved_from.astimezone(m.timezone):%A %d %B %Y}",
            calendar=site.calendar_title(m.calendar),
            start=occ.start,
            date=shown,
            duration="all day" if m.days == 1 else f"{m.days} days, all day",
            location=m.location,
            video_url=m.video_url,
            times=[],
            strip=None,
            all_day=True,
        )
    return Item(
        anchor=hashlib.sha256(f"{m.uid}/{occ.start.isoformat()}".encode()).hexdigest()[:12],
        title=m.title,
        status=m.status.value,
        moved_from=None if occ.moved_from is None else f"{occ.moved_from.astimezone(m.timezone):%A %d %B %Y %H:%M}",
        calendar=site.calendar_title(m.calendar),
        start=occ.start,
        date=f"{local:%A %d %B %Y}",
        duration=human_duration(m.duration),
        location=m.location,
        video_url=m.video_url,
        times=city_times(occ, week),
        strip=strip(m.zones(), local.date(), m.timezone, week, [(occ.start, occ.end, m.title)]),
    )


def build_model(site: Site, now: datetime, base_url: str, week: Workweek) -> PageModel:
    spec = site.settings.spec
    public = set(spec.server.public_calendars)
    days = spec.server.agenda_days
    occurrences = [o for o in site.occurrences(now, now + timedelta(days=days)) if o.meeting.calendar in public]
    shown, more = occurrences[:MAX_ITEMS], max(0, len(occurrences) - MAX_ITEMS)
    items = []
    for occ in list(shown):
        try:
            items.append(_item(site, occ, week))
        except Exception as exc:  # one meeting's data must not take the page down
            site.report_failure(occ.stored, exc)
            shown.remove(occ)
    answered = turnouts(site, shown)
    items = [
        dataclasses.replace(item, turnout=answered.get((occ.stored.uid, utc(occ.start))))
        for item, occ in zip(items, shown, strict=True)
    ]
    overview = None
    zones = agenda_zones(shown)
    if zones:
        home = zones[0][1]
        today = now.astimezone(home).date()
        todays = [
            (o.start, o.end, o.meeting.title)
            for o in shown
            if o.start.astimezone(home).date() == today and not o.meeting.all_day
        ]
        overview = strip(zones, today, home, week, todays, now=now)
    subscriptions = []
    for name in spec.server.public_calendars:
        url = site.calendar_url(name, base_url)
        title = site.calendar_title(name)
        subscriptions.append(
            Subscription(
                name=name,
                title=title,
                url=url,
                webcal=webcal_url(url),
                google="https://calendar.google.com/calendar/r?cid=" + quote(webcal_url(url), safe=""),
                outlook="https://outlook.live.com/calendar/0/addfromweb?url="
                + quote(url, safe="")
                + "&name="
                + quote(title, safe=""),
            )
        )
    hours = [(label, week.hours(zone)) for label, zone in zones]
    return PageModel(spec.calendar.name, subscriptions, overview, items, more, days, now, hours, week.holidays)


def workweek(site: Site) -> Workweek:
    server = site.settings.spec.server
    return Workweek(
        default=WorkingHours.parse(server.working_hours),
        by_zone={zone: WorkingHours.parse(hours) for zone, hours in server.working_hours_by_zone.items()},
        holidays=server.holidays,
    )


def _asset_version(name: str) -> str:
    data = resources.files("meet_sched.web").joinpath("static", name).read_bytes()
    return hashlib.sha256(data).hexdigest()[:10]


class PageRenderer:
    """The page's HTML, rebuilt at most once a minute and after every change."""

    def __init__(self, site: Site, clock: Clock, base_url: str) -> None:
        self.site = site
        self.clock = clock
        self.base_url = base_url
        self.week = workweek(site)
        self.env = Environment(
            loader=PackageLoader("meet_sched.web", "templates"),
            autoescape=select_autoescape(default=True, default_for_string=True),
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.env.globals["css"] = f"/static/style.css?v={_asset_version('style.css')}"
        self.env.filters["pct"] = lambda x: f"{float(x) * 100:.3f}"
        self._generation = 0
        self._cached: tuple[tuple[int, datetime], str] | None = None
        self._lock = asyncio.Lock()

    def invalidate(self) -> None:
        self._generation += 1

    def render(self, now: datetime) -> str:
        model = build_model(self.site, now, self.base_url, self.week)
        return self.env.get_template("agenda.html").render(
            page=model, zone_abbreviation=zone_abbreviation, ZoneInfo=ZoneInfo
        )

    async def get(self) -> str:
        now = self.clock()
        key = (self._generation, now.replace(second=0, microsecond=0))
        cached = self._cached
        if cached is not None and cached[0] == key:
            return cached[1]
        async with self._lock:
            cached = self._cached
            if cached is not None and cached[0] == key:
                return cached[1]
            html = await asyncio.to_thread(self.render, now)
            self._cached = (key, html)
            return html
