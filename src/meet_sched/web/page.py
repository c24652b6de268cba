"""The agenda page: upcoming meetings of the public calendars, each in every participant city's time.

Rendered with Jinja2 (autoescaped) into plain HTML and inline SVG; no script.  Each page is
built in the reader's language (``?lang=``, then ``Accept-Language``, then ``[calendar]
language``), at most once a minute, and again after every sync that changed something.
Who works when comes from :mod:`meet_sched.places` (named places, each attendee's country and
hours), the same model ``validate`` and ``plan`` use.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from importlib import resources
from urllib.parse import quote
from zoneinfo import ZoneInfo

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from ..config.display import display_zone as site_zone
from ..config.places import rules as site_rules
from ..lang import languages
from ..localtimes import zone_abbreviation, zone_city
from ..mail.reading import Reader, mark_word
from ..model import Meeting, MeetingStatus, StoredMeeting, utc
from ..places import Place, Rules, verdict
from ..places.days import Why
from ..places.rules import participants
from ..site import Occurrence, Site, webcal_url
from ..workhours import Strip, WorkingHours, Workweek, strip
from .i18n import PageWords, page_words
from .turnout import Turnout, turnouts

MAX_ITEMS = 100
MAX_CACHED_PAGES = 256  # rendered pages (view x language) kept until the next minute or change
Clock = Callable[[], datetime]


@dataclass(frozen=True)
class CityTime:
    label: str
    time: str  # 10:00
    zone: str  # KST
    date: str  # Thu, Dec 10
    other_day: bool
    notes: list[str]  # why this is outside that city's working day, if it is
    holiday: bool  # someone there has a public holiday that day


@dataclass(frozen=True)
class Item:
    anchor: str
    uid: str
    url: str  # the meeting's own page
    title: str
    status: str
    status_text: str
    cancelled: bool
    calendar: str
    start: datetime
    date: str
    duration: str
    location: str
    video_url: str | None  # never for a cancelled meeting
    times: list[CityTime]
    strip: Strip | None  # None: an all-day meeting, on the same dates everywhere and at no time of day
    moved_from: str | None = None  # this occurrence alone was moved: from when, in the meeting's zone
    all_day: bool = False
    turnout: Turnout | None = None  # who answered what, for this occurrence

    @property
    def holiday(self) -> bool:
        return any(t.holiday for t in self.times)

    @property
    def marks(self) -> list[str]:
        """``Bac Ninh: public holiday: Tết`` for each city with a note."""
        return [f"{t.label}: {note}" for t in self.times for note in t.notes]


@dataclass(frozen=True)
class Subscription:
    name: str
    title: str
    url: str
    webcal: str
    google: str
    outlook: str


@dataclass(frozen=True)
class Frame:
    """What every page shows around its content: language, views, footer."""

    title: str
    language: str
    path: str  # of this page, for the language switch
    view: str  # list, week, month, meeting
    languages: list[tuple[str, str]]
    zone: ZoneInfo  # the site's display zone
    now: datetime
    updated: str  # the time of rendering, in the display zone
    hours: list[tuple[str, WorkingHours]]
    holidays: bool


@dataclass(frozen=True)
class PageModel:
    frame: Frame
    subscriptions: list[Subscription]
    base_url_set: bool
    overview: Strip | None
    items: list[Item]
    more: int
    days: int


@dataclass(frozen=True)
class Page:
    html: str
    etag: str
    language: str


def meeting_path(uid: str) -> str:
    """``/meetings/<uid>`` with every reserved character of the UID percent-encoded (``/`` too)."""
    return "/meetings/" + quote(uid, safe="")


def meeting_places(m: Meeting, rules: Rules) -> dict[str, list[Place]]:
    """The distinct places of the meeting's participants, by zone (the meeting's own zone included)."""
    by_zone: dict[str, list[Place]] = {}
    for a in participants(m.attendees):
        place = rules.for_attendee(a)
        found = by_zone.setdefault(place.zone.key, [])
        if all(p.key != place.key for p in found):
            found.append(place)
    for label, zone in m.zones():
        by_zone.setdefault(zone.key, [rules.for_zone(zone, label)])
    return by_zone


def labelled_zones(m: Meeting, places: dict[str, list[Place]]) -> list[tuple[str, ZoneInfo]]:
    """The meeting's zones, a zone nobody named a city for labelled by its named place (``Bac Ninh``)."""
    out = []
    for label, zone in m.zones():
        named = [p.label for p in places.get(zone.key, ()) if p.name]
        out.append((named[0] if named and label == zone_city(zone) else label, zone))
    return out


def first_places(groups: Iterable[dict[str, list[Place]]]) -> dict[str, Place]:
    out: dict[str, Place] = {}
    for group in groups:
        for key, places in group.items():
            out.setdefault(key, places[0])
    return out


def city_times(occ: Occurrence, places: dict[str, list[Place]], w: PageWords) -> list[CityTime]:
    home = occ.start.astimezone(occ.meeting.timezone).date()
    out = []
    for label, zone in labelled_zones(occ.meeting, places):
        local = occ.start.astimezone(zone)
        notes: list[str] = []
        holiday = False
        for place in places.get(zone.key, ()):
            found = verdict(place, occ.start, occ.end)
            holiday = holiday or Why.HOLIDAY in found.reasons
            note = w.note(place, found.reasons, found.plan.day)
            if note and note not in notes:
                notes.append(note)
        out.append(
            CityTime(
                label=label,
                time=w.time(local),
                zone=zone_abbreviation(local),
                date=w.short_date(local),
                other_day=local.date() != home,
                notes=notes,
                holiday=holiday,
            )
        )
    return out


def item(site: Site, occ: Occurrence, week: Workweek, rules: Rules, w: PageWords) -> Item:
    m = occ.meeting
    local = occ.start.astimezone(m.timezone)
    places = meeting_places(m, rules)
    cancelled = m.status is MeetingStatus.CANCELLED
    reader = Reader(w.mail, m.timezone, occ.start)  # a year is named when it is not the occurrence's own
    moved = reader.moved_from(occ.one)
    if m.all_day:  # the same dates for everyone: no times of day, no strip of hours
        first, last = occ.one.dates
        date = w.full_date(first) + (f" – {w.full_date(last)}" if last != first else "")
        length = w("all_day") if m.days == 1 else w("days_all_day", days=m.days)
        times: list[CityTime] = []
        hours: Strip | None = None
    else:
        date, length, times = w.full_date(local.date()), w.duration(m.duration), city_times(occ, places, w)
        shared = week.among(first_places([places]))
        hours = strip(labelled_zones(m, places), local.date(), m.timezone, shared, [(occ.start, occ.end, m.title)])
    return Item(
        anchor=hashlib.sha256(f"{m.uid}/{occ.start.isoformat()}".encode()).hexdigest()[:12],
        uid=m.uid,
        url=meeting_path(m.uid),
        title=m.title,
        status=m.status.value,
        status_text=mark_word(w.mail, "cancelled")
        if cancelled
        else w(f"status.{m.status.value}")
        if m.status is not MeetingStatus.CONFIRMED
        else "",
        cancelled=cancelled,
        calendar=site.calendar_title(m.calendar),
        start=occ.start,
        date=date,
        duration=length,
        location=m.location,
        video_url=None if cancelled else m.video_url,
        times=times,
        strip=hours,
        moved_from=moved,
        all_day=m.all_day,
    )


def display_zone(site: Site, meetings: Iterable[StoredMeeting]) -> ZoneInfo:
    """The site's display zone (:func:`meet_sched.config.display.display_zone`) for the public meetings."""
    return site_zone(site.settings, [s.meeting for s in meetings])


def public_meetings(site: Site) -> list[StoredMeeting]:
    out: list[StoredMeeting] = []
    for name in site.public_calendars:
        out += [s for s in site.current_meetings(name) if not s.removed]
    return out


def public_occurrences(site: Site, after: datetime, before: datetime) -> list[Occurrence]:
    public = set(site.public_calendars)
    return [o for o in site.occurrences(after, before) if o.meeting.calendar in public]


def rules_of(week: Workweek) -> Rules:
    return week.rules or Rules(hours=week.default, hours_by_zone=week.by_zone, holidays=week.holidays)


def workweek(site: Site) -> Workweek:
    server = site.settings.spec.server
    return Workweek(
        default=WorkingHours.parse(server.working_hours),
        by_zone={zone: WorkingHours.parse(hours) for zone, hours in server.working_hours_by_zone.items()},
        holidays=server.holidays,
        rules=site_rules(site.settings.spec),
    )


def frame(
    site: Site, now: datetime, w: PageWords, path: str, view: str, zones: list[tuple[str, ZoneInfo]], week: Workweek
) -> Frame:
    zone = display_zone(site, public_meetings(site))
    local = now.astimezone(zone)
    return Frame(
        title=site.settings.spec.calendar.name,
        language=w.language,
        path=path,
        view=view,
        languages=list(languages()),
        zone=zone,
        now=now,
        updated=f"{w.short_date(local)} {w.time(local)} {zone_abbreviation(local)}",
        hours=[(label, week.hours(z)) for label, z in zones],
        holidays=week.holidays,
    )


def subscriptions(site: Site, base_url: str) -> list[Subscription]:
    out = []
    for name in site.settings.spec.server.public_calendars:
        url = site.calendar_url(name, base_url)
        title = site.calendar_title(name)
        out.append(
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
    return out


def build_model(site: Site, now: datetime, base_url: str, week: Workweek, w: PageWords) -> PageModel:
    spec = site.settings.spec
    rules = rules_of(week)
    days = spec.server.agenda_days
    occurrences = public_occurrences(site, now, now + timedelta(days=days))
    shown, more = occurrences[:MAX_ITEMS], max(0, len(occurrences) - MAX_ITEMS)
    items = []
    for occ in list(shown):
        try:
            items.append(item(site, occ, week, rules, w))
        except Exception as exc:  # one meeting's data must not take the page down
            site.report_failure(occ.stored, exc)
            shown.remove(occ)
    answered = turnouts(site, shown, w)
    items = [
        dataclasses.replace(i, turnout=answered.get((occ.stored.uid, utc(occ.start))))
        for i, occ in zip(items, shown, strict=True)
    ]
    overview = None
    groups = [(o.meeting, meeting_places(o.meeting, rules)) for o in shown]
    seen: dict[str, tuple[str, ZoneInfo]] = {}
    for m, places in groups:
        for label, zone in labelled_zones(m, places):
            seen.setdefault(zone.key, (label, zone))
    zones = list(seen.values())
    everyone = week.among(first_places(places for _, places in groups))
    if zones:
        home = zones[0][1]
        today = now.astimezone(home).date()
        todays = [
            (o.start, o.end, o.meeting.title)
            for o in shown
            if o.start.astimezone(home).date() == today
            and o.meeting.status is not MeetingStatus.CANCELLED
            and not o.meeting.all_day
        ]
        overview = strip(zones, today, home, everyone, todays, now=now)
    public_base = bool(spec.server.base_url)
    return PageModel(
        frame=frame(site, now, w, "/", "list", zones, everyone),
        subscriptions=subscriptions(site, base_url) if public_base else [],
        base_url_set=public_base,
        overview=overview,
        items=items,
        more=more,
        days=days,
    )


def _asset_version(name: str) -> str:
    data = resources.files("meet_sched.web").joinpath("static", name).read_bytes()
    return hashlib.sha256(data).hexdigest()[:10]


def environment() -> Environment:
    env = Environment(
        loader=PackageLoader("meet_sched.web", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals["css"] = f"/static/style.css?v={_asset_version('style.css')}"
    env.filters["pct"] = lambda x: f"{float(x) * 100:.3f}"
    env.filters["breakable"] = breakable
    return env


def breakable(url: str) -> list[tuple[str, bool]]:
    """A URL cut after each ``/`` and before each ``.``, ``?``, ``&``: the page offers line breaks
    there (``<wbr>``), so a long address wraps between its parts, never inside a word."""
    out: list[tuple[str, bool]] = []
    piece = ""
    for c in url:
        if c in ".?&=" and piece:
            out.append((piece, True))
            piece = ""
        piece += c
        if c == "/":
            out.append((piece, True))
            piece = ""
    out.append((piece, False))
    return out


View = tuple[str, str]  # (kind, argument): ("list", ""), ("week", "2027-W15"), ("meeting", uid) …


class PageRenderer:
    """The pages' HTML, per view and language, rebuilt at most once a minute and after every change."""

    def __init__(self, site: Site, clock: Clock, base_url: str) -> None:
        self.site = site
        self.clock = clock
        self.base_url = base_url
        self.week = workweek(site)
        self.env = environment()
        self._generation = 0
        self._cached: dict[tuple[View, str], tuple[tuple[int, datetime], Page | None]] = {}
        self._lock = asyncio.Lock()

    def invalidate(self) -> None:
        self._generation += 1

    def render(self, now: datetime, language: str = "en", view: View = ("list", "")) -> Page | None:
        """The page of ``view`` in ``language``, or None when there is no such page (an unknown meeting)."""
        from . import views

        w = page_words(language)
        kind, arg = view
        if kind == "list":
            model: object = build_model(self.site, now, self.base_url, self.week, w)
            template = "agenda.html"
        else:
            found = views.build(kind, arg, self.site, now, self.week, w)
            if found is None:
                return None
            model, template = found, f"{kind}.html"
        html = self.env.get_template(template).render(page=model, w=w)
        etag = '"' + hashlib.sha256(html.encode()).hexdigest()[:32] + '"'
        return Page(html, etag, w.language)

    async def get(self, language: str = "en", view: View = ("list", "")) -> Page | None:
        now = self.clock()
        key = (self._generation, now.replace(second=0, microsecond=0))
        slot = (view, language)
        cached = self._cached.get(slot)
        if cached is not None and cached[0] == key:
            return cached[1]
        async with self._lock:
            cached = self._cached.get(slot)
            if cached is not None and cached[0] == key:
                return cached[1]
            page = await asyncio.to_thread(self.render, now, language, view)
            if len(self._cached) >= MAX_CACHED_PAGES or any(k != key for k, _ in self._cached.values()):
                self._cached = {s: c for s, c in self._cached.items() if c[0] == key}
                if len(self._cached) >= MAX_CACHED_PAGES:
                    self._cached.clear()
            self._cached[slot] = (key, page)
            return page
