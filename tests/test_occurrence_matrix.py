"""One occurrence, one reading: every meeting shape reads the same for every attendee on every surface.

Each shape's occurrences are worked out here with dateutil and zoneinfo alone (not the project's
expansion); each surface is then read for each attendee (zone and language) and must show the same
occurrences, at the same local time (or on the same dates, all day), moved and cancelled ones marked.
A new shape is one more entry of SHAPES; a new surface is one more test function taking ``shape`` and
``person``.
"""

from __future__ import annotations

import dataclasses
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import icalendar
import pytest
import recurring_ical_events
from babel.dates import format_date, format_interval, format_skeleton
from dateutil import rrule
from sqlalchemy import create_engine, text

from meet_sched.agenda import render_agenda, zone_columns
from meet_sched.attendance import render as render_attendance
from meet_sched.attendance import report
from meet_sched.mail.render import MailRenderer, Recipient
from meet_sched.model import Attendee, StoredMeeting, utc
from meet_sched.rsvp import Opened
from meet_sched.site import Site
from meet_sched.store.attendance import PartStat
from meet_sched.web.i18n import page_words
from meet_sched.web.page import workweek
from meet_sched.web.rsvp import RsvpPages
from meet_sched.web.views import meeting_view, week_view

from .conftest import PG_ADMIN_URL, TEST_DB, SiteDir, _pg_available
from .ics_helpers import parse_both
from .mail_helpers import text_body

NOW = datetime(2027, 2, 15, tzinfo=UTC)  # before every shape's first occurrence
AFTER, BEFORE = datetime(2027, 2, 16, tzinfo=UTC), datetime(2027, 4, 20, tzinfo=UTC)  # every occurrence is inside


@dataclass(frozen=True)
class Person:
    name: str
    email: str
    zone: str
    language: str
    city: str

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.zone)

    def yaml(self) -> str:
        return (
            f"  - {{ name: {self.name}, email: {self.email}, timezone: {self.zone}, "
            f"language: {self.language}, city: {self.city} }}\n"
        )


PEOPLE = [
    Person("김지현", "kim@daegu.example", "Asia/Seoul", "ko", "Daegu"),
    Person("李明", "li@chengdu.example", "Asia/Shanghai", "zh", "Chengdu"),
    Person("Thu Hà", "ha@bacninh.example", "Asia/Ho_Chi_Minh", "vi", "Bac Ninh"),
    Person("Anna Weber", "anna@berlin.example", "Europe/Berlin", "en", "Berlin"),
    Person("Sam Lee", "sam@sydney.example", "Australia/Sydney", "en", "Sydney"),
    Person("Ellis Carter", "ellis@atlanta.example", "America/New_York", "en", "Atlanta"),
]

# What the marks say in each language (the words a reader looks for, written here, not taken from the code).
MOVED = {"en": "moved from", "ko": "에서 옮김", "zh": "改期", "vi": "dời từ"}
CANCELLED = {"en": "cancelled", "ko": "취소", "zh": "取消", "vi": "hủy"}
ALL_DAY = {"en": "all day", "ko": "종일", "zh": "全天", "vi": "cả ngày"}
CLOCK = re.compile(r"\b\d{1,2}:\d{2}\b")


@dataclass(frozen=True)
class Expected:
    """One occurrence as worked out by this test: where it is now, where the series had it, its state."""

    start: datetime  # aware; an all-day one: midnight of its first date in the meeting's zone
    original: datetime
    state: str  # planned, moved, cancelled, skipped
    days: int = 0  # all day: how many dates

    @property
    def going(self) -> bool:
        return self.state in ("planned", "moved")

    def first_last(self) -> tuple[date, date]:
        first = self.start.date()
        return first, first + timedelta(days=self.days - 1)


@dataclass(frozen=True)
class Shape:
    name: str
    zone: str
    body: str  # the meeting file without uid, calendar, title and attendees
    expected: list[Expected] = field(default_factory=list)

    @property
    def all_day(self) -> bool:
        return bool(self.expected[0].days)


def _wall(zone: str, *args: int) -> datetime:
    return datetime(*args, tzinfo=ZoneInfo(zone))  # type: ignore[misc]


def _weekly(zone: str, first: datetime, count: int) -> list[datetime]:
    """dateutil's expansion in wall time, then the zone: the series' own starts."""
    naive = rrule.rrule(rrule.WEEKLY, dtstart=first.replace(tzinfo=None), count=count)
    return [d.replace(tzinfo=ZoneInfo(zone)) for d in naive]


def _planned(starts: list[datetime]) -> list[Expected]:
    return [Expected(s, s, "planned") for s in starts]


BERLIN = "Europe/Berlin"
SEOUL = "Asia/Seoul"
# Tuesdays 10:00 Berlin from 2 March 2027: New York (14 March), Berlin (28 March) and Sydney (4 April)
# change their clocks in between.
WEEKLY = f"timezone: {BERLIN}\nstart: 2027-03-02T10:00\nduration: 1h\nrecurrence: FREQ=WEEKLY;COUNT=6\n"
TUESDAYS = _weekly(BERLIN, _wall(BERLIN, 2027, 3, 2, 10), 6)
MOVED_TO = _wall(BERLIN, 2027, 3, 17, 15)
RDATE = _wall(BERLIN, 2027, 3, 19, 10)
MONDAYS = _weekly(SEOUL, _wall(SEOUL, 2027, 2, 22, 10), 5)  # 1 March is a public holiday in Korea


def _shapes() -> list[Shape]:
    moved = _planned(TUESDAYS)
    moved[2] = Expected(MOVED_TO, TUESDAYS[2], "moved")
    cancelled = _planned(TUESDAYS)
    cancelled[3] = Expected(TUESDAYS[3], TUESDAYS[3], "cancelled")
    holiday = _planned(MONDAYS)
    holiday[1] = Expected(MONDAYS[1], MONDAYS[1], "skipped")
    visit = _wall(SEOUL, 2027, 3, 10, 0)
    return [
        Shape(
            "single",
            SEOUL,
            f"timezone: {SEOUL}\nstart: 2027-03-03T10:00\nduration: 1h\n",
            _planned([_wall(SEOUL, 2027, 3, 3, 10)]),
        ),
        Shape("weekly", BERLIN, WEEKLY, _planned(TUESDAYS)),
        Shape(
            "moved",
            BERLIN,
            WEEKLY + "overrides:\n  - occurrence: 2027-03-16\n    start: 2027-03-17T15:00\n",
            moved,
        ),
        Shape(
            "cancelled", BERLIN, WEEKLY + "overrides:\n  - occurrence: 2027-03-23\n    status: cancelled\n", cancelled
        ),
        Shape(
            "rdate",
            BERLIN,
            WEEKLY + "rdates: [2027-03-19T10:00]\n",
            sorted([*_planned(TUESDAYS), Expected(RDATE, RDATE, "planned")], key=lambda e: e.start),
        ),
        Shape(
            "holiday",
            SEOUL,
            f"timezone: {SEOUL}\nstart: 2027-02-22T10:00\nduration: 1h\nrecurrence: FREQ=WEEKLY;COUNT=5\n"
            "skip_holidays: [KR]\n",
            holiday,
        ),
        Shape(
            "off-rule",  # the first Thursday, for a rule of second Thursdays: the series starts on 11 March
            SEOUL,
            f"timezone: {SEOUL}\nstart: 2027-03-04T10:00\nduration: 1h\nrecurrence: FREQ=MONTHLY;BYDAY=2TH;COUNT=2\n",
            _planned(
                [
                    d.replace(tzinfo=ZoneInfo(SEOUL))
                    for d in rrule.rrule(
                        rrule.MONTHLY, byweekday=rrule.TH(2), dtstart=datetime(2027, 3, 4, 10), count=2
                    )
                ]
            ),
        ),
        Shape("all-day", SEOUL, f"timezone: {SEOUL}\ndate: 2027-03-10\n", [Expected(visit, visit, "planned", 1)]),
        Shape(
            "all-day-days",
            SEOUL,
            f"timezone: {SEOUL}\ndate: 2027-03-10\ndays: 3\n",
            [Expected(visit, visit, "planned", 3)],
        ),
    ]


SHAPES = _shapes()
TITLE = "Matrix call"
NEXT_SHOWN = 4  # a series' invitation lists this many occurrences after the one it leads with, then "…"


@dataclass
class Built:
    shape: Shape
    site: Site
    stored: StoredMeeting

    def attendee(self, person: Person) -> Attendee:
        return next(a for a in self.stored.meeting.attendees if a.email == person.email)


def _database(request: pytest.FixtureRequest) -> Iterator[str | None]:
    if TEST_DB != "postgresql":
        yield None
        return
    if not _pg_available():
        pytest.skip(f"PostgreSQL is not reachable at {PG_ADMIN_URL}")
    name = f"meet_sched_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="module", params=SHAPES, ids=[s.name for s in SHAPES])
def shape(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Built]:
    """One site per shape, shared by every attendee and surface."""
    spec: Shape = request.param
    for url in _database(request):
        site_dir = SiteDir(tmp_path_factory.mktemp(spec.name) / "site", url)
        site_dir.settings(
            """
            [server]
            listen = "127.0.0.1:0"
            base_url = "https://meet.test.example"
            public_calendars = ["matrix"]
            """
        )
        people = "attendees:\n" + "".join(p.yaml() for p in PEOPLE)
        site_dir.meeting("m.yaml", f"uid: matrix\ncalendar: matrix\ntitle: {TITLE}\n{spec.body}{people}")
        site = Site(site_dir.root)
        site.sync(NOW)
        try:
            yield Built(spec, site, site.meeting("matrix"))
        finally:
            site.close()


@pytest.fixture(params=PEOPLE, ids=[f"{p.zone}-{p.language}" for p in PEOPLE])
def person(request: pytest.FixtureRequest) -> Person:
    return request.param  # type: ignore[no-any-return]


# -- what a reader expects, written with Babel's own formats ------------------------------------------------


def hm(moment: datetime) -> str:
    return f"{moment:%H:%M}"


def clock(moment: datetime, language: str) -> str:
    """The local time as the language writes it (Vietnamese: ``8:00``)."""
    return format_skeleton("Hm", moment.replace(tzinfo=None), locale=language)


def full(day: date, language: str) -> str:
    return format_date(day, "full", locale=language)


def short(moment: datetime, language: str) -> str:
    return format_skeleton("MMMEd", moment.replace(tzinfo=None), locale=language)


def dates(e: Expected, language: str) -> str:
    first, last = e.first_last()
    if first == last:
        return format_skeleton("MMMEd", first, locale=language)
    return format_interval(first, last, "MMMEd", locale=language)


def listed(e: Expected, p: Person) -> str:
    """How one occurrence reads in a list of a mail (``Tue, Mar 2 18:00``), in ``p``'s zone and language."""
    if e.days:
        return dates(e, p.language)
    local = e.start.astimezone(p.tz)
    return f"{short(local, p.language)} {clock(local, p.language)}"


def header(subject: str) -> str:
    """A subject as its header carries it: the thin spaces of a date range are plain spaces there."""
    return subject.replace("\u2009", " ").replace("\u202f", " ")


def going(built: Built) -> list[Expected]:
    return [e for e in built.shape.expected if e.going]


def first_going(built: Built) -> Expected:
    return going(built)[0]


def renderer(built: Built) -> MailRenderer:
    return MailRenderer(built.site.settings)


# -- the feed -----------------------------------------------------------------------------------------------


def test_feed(shape: Built) -> None:
    """A real parser expands the feed to exactly the occurrences going ahead, a moved one by its RECURRENCE-ID."""
    body = shape.site.renderer.feed("Matrix", [shape.stored])
    parse_both(body)  # icalendar and ical both read it
    calendar = icalendar.Calendar.from_ical(body)
    events = recurring_ical_events.of(calendar).between(AFTER, BEFORE)
    if shape.shape.all_day:
        got = sorted((e.decoded("DTSTART"), e.decoded("DTEND")) for e in events)
        want = [(e.first_last()[0], e.first_last()[1] + timedelta(days=1)) for e in going(shape)]
        assert got == want and all(type(s) is date for s, _ in got)
        return
    got_starts = sorted(utc(e.decoded("DTSTART")) for e in events)
    assert got_starts == [utc(e.start) for e in going(shape)]
    for e in going(shape):
        if e.state == "moved":
            (event,) = [x for x in events if utc(x.decoded("DTSTART")) == utc(e.start)]
            assert utc(event.decoded("RECURRENCE-ID")) == utc(e.original)


# -- mails --------------------------------------------------------------------------------------------------


def _check_when_row(body: str, e: Expected, p: Person) -> None:
    if e.days:
        assert f"{dates(e, p.language)} ({ALL_DAY[p.language]})" in body
        return
    local = e.start.astimezone(p.tz)
    assert f"{full(local.date(), p.language)} {clock(local, p.language)}" in body, body


def _check_list(body: str, built: Built, p: Person) -> None:
    """The occurrences after the first: each where it is now; a moved one marked with where it was,
    a cancelled one marked cancelled, a skipped one absent."""
    later = [e for e in built.shape.expected if e.start > first_going(built).start]
    shown = 0
    for e in later:
        shown += e.going
        if shown > NEXT_SHOWN:  # then "…"
            break
        seen = listed(e, p)
        if e.state == "skipped":
            assert seen not in body
            continue
        line = next((line for line in body.splitlines() if seen in line), None)
        assert line is not None, f"{seen} not in\n{body}"
        after = line[line.index(seen) + len(seen) :]
        if e.state == "moved":
            was = listed(dataclasses.replace(e, start=e.original), p)
            assert MOVED[p.language] in after and was in after, line
        if e.state == "cancelled":
            assert CANCELLED[p.language] in after.split("·")[0], line


def test_invitation(shape: Built, person: Person) -> None:
    to = Recipient.of(shape.attendee(person))
    out = renderer(shape).invitation(shape.stored, to, message_id="<m@test.example>", now=NOW)
    e = first_going(shape)
    subject = out.subject
    if e.days:
        assert header(dates(e, person.language)) in subject and not CLOCK.search(subject), subject
    else:
        local = e.start.astimezone(person.tz)
        assert f"{short(local, person.language)} {clock(local, person.language)}" in subject, subject
    body = text_body(out.message)
    _check_when_row(body, e, person)
    _check_list(body, shape, person)


def test_update(shape: Built, person: Person) -> None:
    to = Recipient.of(shape.attendee(person))
    previous = dataclasses.replace(shape.stored.meeting, title="Old title")
    out = renderer(shape).invitation(
        shape.stored, to, message_id="<u@test.example>", now=NOW, update=True, previous=previous
    )
    body = text_body(out.message)
    _check_when_row(body, first_going(shape), person)
    _check_list(body, shape, person)


def test_reminder(shape: Built, person: Person) -> None:
    """A reminder of each occurrence going ahead, ten days before: its own date and local time."""
    to = Recipient.of(shape.attendee(person))
    for e in going(shape):
        out = renderer(shape).reminder(
            shape.stored, to, e.start, message_id="<r@test.example>", now=utc(e.start) - timedelta(days=10)
        )
        if e.days:
            assert header(dates(e, person.language)) in out.subject and not CLOCK.search(out.subject)
        else:
            local = e.start.astimezone(person.tz)
            assert f"{short(local, person.language)} {clock(local, person.language)}" in out.subject, out.subject
        _check_when_row(text_body(out.message), e, person)


# -- pages --------------------------------------------------------------------------------------------------


def test_answer_page(shape: Built, person: Person) -> None:
    """The one-click answer page names the occurrence as the mail does, the zone by its city, all day by dates."""
    e = first_going(shape)
    m = shape.stored.meeting
    series = bool(m.recurrence or m.rdates)
    opened = Opened(
        shape.stored,
        shape.attendee(person),
        occurrence=utc(e.original) if series else None,  # its identity, as the link names it
        start=e.start,
        current=PartStat.NEEDS_ACTION,
        series=series,
    )

    async def answered(_: frozenset[str]) -> None:
        return None

    pages = RsvpPages(shape.site, lambda: NOW, "https://meet.test.example", answered)
    html = pages.render("token", opened, None, None)
    if e.days:
        assert f"{dates(e, person.language)} ({ALL_DAY[person.language]})" in html
        assert not CLOCK.search(html.split("<form")[0]), html
    else:
        local = e.start.astimezone(person.tz)
        assert f"{full(local.date(), person.language)} {clock(local, person.language)}" in html
        assert f"({person.city})" in html and person.zone not in html


def _items(built: Built, language: str) -> list:  # type: ignore[type-arg]
    view = meeting_view(built.site, "matrix@test.example", NOW, workweek(built.site), page_words(language))
    assert view is not None
    return view.items


def test_meeting_page(shape: Built, person: Person) -> None:
    """Every occurrence not skipped, in order; the attendee's city at its local time; the marks."""
    items = _items(shape, person.language)
    shown = [e for e in shape.shape.expected if e.state != "skipped"]
    assert [utc(i.start) for i in items] == [utc(e.start) for e in shown]
    for i, e in zip(items, shown, strict=True):
        assert i.cancelled == (e.state == "cancelled")
        if e.state == "cancelled":
            assert CANCELLED[person.language] in i.status_text
        assert (i.moved_from is not None) == (e.state == "moved")
        if e.state == "moved":
            assert MOVED[person.language] in i.moved_from
        if e.days:
            assert i.all_day and not i.times and full(e.first_last()[0], person.language) in i.date
            continue
        (mine,) = [t for t in i.times if t.label == person.city]
        assert mine.time == clock(e.start.astimezone(person.tz), person.language)


def _weeks() -> list[date]:
    monday = date(2027, 2, 15)
    return [monday + timedelta(days=7 * n) for n in range(9)]


def test_week_and_month_views(shape: Built, person: Person) -> None:
    """Each occurrence on its date(s) in the site's display zone, the attendee's city at its local time, marked."""
    w = page_words(person.language)
    week = workweek(shape.site)
    entries: list[tuple[date, object]] = []
    zone = None
    for monday in _weeks():
        view = week_view(shape.site, monday, NOW, week, w)
        zone = ZoneInfo(view.zone)
        entries += [(box.day, entry) for box in view.weeks[0] for entry in box.entries]
    assert zone is not None
    shown = [e for e in shape.shape.expected if e.state != "skipped"]
    want_days: list[date] = []
    for e in shown:
        if e.days:
            first, last = e.first_last()
            want_days += [first + timedelta(days=n) for n in range((last - first).days + 1)]
        else:
            want_days.append(e.start.astimezone(zone).date())
    assert [day for day, _ in entries] == want_days
    by_day = {day: entry for day, entry in entries}
    for e in shown:
        if e.days:
            for n in range(e.days):
                entry = by_day[e.first_last()[0] + timedelta(days=n)]
                assert entry.time == ALL_DAY[person.language] and not CLOCK.search(entry.cities)  # type: ignore[attr-defined]
            continue
        entry = by_day[e.start.astimezone(zone).date()]
        assert entry.time == clock(e.start.astimezone(zone), person.language)  # type: ignore[attr-defined]
        mine = f"{person.city} {clock(e.start.astimezone(person.tz), person.language)}"
        assert mine in entry.cities  # type: ignore[attr-defined]
        assert entry.cancelled == (e.state == "cancelled")  # type: ignore[attr-defined]
        moved = entry.moved_from or ""  # type: ignore[attr-defined]
        assert (MOVED[person.language] in moved) == (e.state == "moved"), moved


# -- commands -----------------------------------------------------------------------------------------------


def test_agenda(shape: Built, person: Person) -> None:
    """``agenda --tz <the attendee's zone>``: one line per occurrence, dates and times there, the marks."""
    found = shape.site.occurrences(AFTER, BEFORE, skipped=True)
    text_ = render_agenda(found, zone_columns([person.zone], found))
    lines = [line for line in text_.splitlines() if TITLE in line]
    assert len(lines) == len(shape.shape.expected), text_
    for line, e in zip(lines, shape.shape.expected, strict=True):
        if e.days:
            first, _ = e.first_last()
            assert line.startswith(f"{first:%a %Y-%m-%d}  all day") and not CLOCK.search(line), line
            continue
        local = e.start.astimezone(person.tz)
        assert line.startswith(f"{local:%a %Y-%m-%d}  {hm(local)} "), line
        if e.state == "moved":
            assert f"[moved from {e.original.astimezone(person.tz):%a %Y-%m-%d %H:%M}" in line
        assert ("[cancelled]" in line) == (e.state == "cancelled")
        assert ("(skipped: " in line) == (e.state == "skipped")


def test_attendance(shape: Built) -> None:
    """``attendance UID``: every occurrence, in the meeting's zone; all day by its dates, never a time."""
    text_ = render_attendance(report(shape.site, NOW, "matrix"))
    lines = [line for line in text_.splitlines() if line.startswith("  ") and not line.startswith("    ")]
    shown = [e for e in shape.shape.expected if e.state != "skipped"]
    assert len(lines) == len(shown), text_
    zone = ZoneInfo(shape.shape.zone)
    for line, e in zip(lines, shown, strict=True):
        if e.days:
            first, _ = e.first_last()
            assert line.startswith(f"  {first:%a %Y-%m-%d}") and "(all day)" in line, line
            assert not CLOCK.search(line), line
            continue
        local = e.start.astimezone(zone)
        assert line.startswith(f"  {local:%a %Y-%m-%d} {hm(local)} "), line
        if e.state == "moved":
            assert f"[moved from {e.original.astimezone(zone):%a %Y-%m-%d %H:%M}" in line
        assert ("[cancelled]" in line) == (e.state == "cancelled"), line


def test_the_shapes_are_what_they_say() -> None:
    """The expectations are this test's own: the moved, cancelled and skipped ones are where meant."""
    by_name = {s.name: s for s in SHAPES}
    assert [e.state for e in by_name["moved"].expected] == ["planned"] * 2 + ["moved"] + ["planned"] * 3
    assert by_name["moved"].expected[2].original == datetime(2027, 3, 16, 10, tzinfo=ZoneInfo(BERLIN))
    assert [e.state for e in by_name["cancelled"].expected].index("cancelled") == 3
    assert by_name["holiday"].expected[1].start == datetime(2027, 3, 1, 10, tzinfo=ZoneInfo(SEOUL))
    assert len(by_name["rdate"].expected) == 7 and by_name["rdate"].expected[3].start == RDATE
