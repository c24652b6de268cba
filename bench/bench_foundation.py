"""The foundation: config files → database → ICS, timed against baselines measured in the same run.

(a) ``sync`` + ``export`` of a site with 2,000 generated meeting files (YAML and TOML, one-off
    and recurring, several zones), then a re-sync and re-export of the unchanged site, which
    must write nothing (SQLite's data_version and the calendar files' mtimes are checked) and
    take at most 25% of the first sync.
(b) one calendar of 10,000 events: our IcsRenderer against icalendar's own ``to_ical()`` of the
    same events built directly with icalendar (same properties, minimal own code); ours must
    take at most 1.2× that, and an unchanged re-export (same process, per-event cache) at most
    10% of it.

Usage: .venv/bin/python bench/bench_foundation.py [--files 2000] [--events 10000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import gc
import sqlite3
import statistics
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from icalendar import Alarm, Calendar, Conference, Event, Timezone, vCalAddress
from icalendar.prop import vDuration, vRecur

from machine import machine
from meet_sched.config import load_settings
from meet_sched.ics import IcsRenderer
from meet_sched.localtimes import local_times
from meet_sched.model import Attendee, Meeting, Person, Role, StoredMeeting
from meet_sched.site import Site
from meet_sched.store.meetings import sync_meetings

# (zone, city, language) of the people in generated meetings
PLACES = [
    ("Asia/Seoul", "Daegu", "ko"),
    ("Asia/Shanghai", "Chengdu", "zh"),
    ("Asia/Ho_Chi_Minh", "Bac Ninh", "vi"),
    ("America/New_York", "Atlanta", "en"),
    ("Europe/Berlin", "Berlin", "de"),
]
RULES = ["FREQ=WEEKLY;BYDAY=TH;COUNT=20", "FREQ=MONTHLY;BYDAY=2TH", "FREQ=DAILY;INTERVAL=7;UNTIL=20280101"]
MODEL_RULES = [rule.replace("UNTIL=20280101", "UNTIL=20280101T145959Z") for rule in RULES]  # as the config stores them


# -- (a) a site of generated files -----------------------------------------------------------


def meeting_yaml(n: int) -> str:
    zone, city, _ = PLACES[n % 3]  # the meeting's own zone: no DST gap at 10:00 anyway
    day = 1 + n % 28
    month = 1 + (n // 28) % 12
    recurring = n % 4 == 0
    people = "\n".join(
        f"  - {{ name: Person {n}-{i}, email: p{n}-{i}@{c.lower().replace(' ', '')}.example, "
        f"timezone: {z}, language: {lang}, city: {c} }}"
        for i, (z, c, lang) in enumerate(PLACES[: 1 + n % 5])
    )
    lines = [
        f"title: Working call {n} — 대구 · 成都 · Bắc Ninh",
        "calendar: " + ("sister-cities" if n % 2 else "partners"),
        "description: |",
        f"  Agenda item {n}: follow-up of the mayors' calls; exchange programmes, trade missions.",
        "  Interpreters: Korean–Chinese, Korean–Vietnamese.",
        "location: Video conference",
        f"video_url: https://video.bench.example/r/{n}",
        f"city: {city}",
        f"timezone: {zone}",
        f"start: 2027-{month:02d}-{day:02d}T10:00",
        "duration: 1h",
        *([f"recurrence: {RULES[n % 3]}"] if recurring else []),
        "reminders: [1d, 1h]",
        "attendees:",
        people,
    ]
    return "\n".join(lines) + "\n"


def meeting_toml(n: int) -> str:
    zone, city, _ = PLACES[n % 3]
    day = 1 + n % 28
    month = 1 + (n // 28) % 12
    attendees = "\n".join(
        textwrap.dedent(
            f"""
            [[attendees]]
            name = "Person {n}-{i}"
            email = "p{n}-{i}@{c.lower().replace(" ", "")}.example"
            timezone = "{z}"
            language = "{lang}"
            city = "{c}"
            """
        )
        for i, (z, c, lang) in enumerate(PLACES[: 1 + n % 5])
    )
    return (
        textwrap.dedent(
            f"""\
            title = "Working call {n} — 대구 · 成都 · Bắc Ninh"
            calendar = "{"sister-cities" if n % 2 else "partners"}"
            description = \"\"\"
            Agenda item {n}: follow-up of the mayors' calls; exchange programmes, trade missions.\"\"\"
            location = "Video conference"
            video_url = "https://video.bench.example/r/{n}"
            city = "{city}"
            timezone = "{zone}"
            start = 2027-{month:02d}-{day:02d}T10:00:00
            duration = "1h"
            reminders = ["1d", "1h"]
            """
        )
        + attendees
    )


def make_site(root: Path, files: int) -> None:
    (root / "config" / "meetings").mkdir(parents=True)
    (root / "config" / "meet-sched.toml").write_text(
        textwrap.dedent(
            """
            [calendar]
            name = "Bench"
            domain = "bench.example"
            organizer = { name = "Office", email = "office@bench.example" }
            """
        ),
        encoding="utf-8",
    )
    for n in range(files):
        folder = root / "config" / "meetings" / f"group-{n // 100:02d}"
        folder.mkdir(exist_ok=True)
        if n % 5 == 4:
            (folder / f"m{n:05d}.toml").write_text(meeting_toml(n), encoding="utf-8")
        else:
            (folder / f"m{n:05d}.yaml").write_text(meeting_yaml(n), encoding="utf-8")


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    gc.collect()
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def bench_site(files: int, resyncs: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="meet-sched-bench-") as tmp:
        root = Path(tmp) / "site"
        make_site(root, files)
        env = {"MEET_SCHED_DATABASE_URL": f"sqlite:///{root / 'var' / 'meet-sched.db'}"}

        site = Site(root, load_settings(root, environ=env))
        site.db  # noqa: B018 - create the schema outside the timings
        now = datetime(2026, 10, 1, tzinfo=UTC)  # the first reminders (January) are beyond the 60-day horizon
        t_sync, report = timed(lambda: site.sync(now))
        assert len(report.changes) == files, report.summary()
        t_export, exported = timed(site.export)
        assert len(exported.written) == 2
        site.close()

        # The unchanged site again, as a new command sees it: a new Site, nothing in memory.
        db = root / "var" / "meet-sched.db"
        probe = sqlite3.connect(db)
        version = probe.execute("PRAGMA data_version").fetchone()[0]
        stamps = {p: p.stat().st_mtime_ns for p in [*(root / "calendars").glob("*.ics"), *(root / "var").iterdir()]}
        t_resync, t_reexport, t_load, t_diff = [], [], [], []
        for i in range(resyncs):
            site = Site(root, load_settings(root, environ=env))
            site.db  # noqa: B018
            t, again = timed(lambda site=site, i=i: site.sync(now + timedelta(hours=1 + i)))
            assert again.changes == [], again.summary()
            t_resync.append(t)
            t, reexported = timed(site.export)
            assert reexported.written == [] and len(reexported.unchanged) == 2
            t_reexport.append(t)
            site.close()
            # Where a re-sync's time goes: reading the config, and the meetings' diff alone.
            site = Site(root, load_settings(root, environ=env))
            site.db  # noqa: B018
            t, config = timed(site.load)
            t_load.append(t)
            with site.db.transaction(lock="meet-sched sync") as session:
                t, diff = timed(lambda session=session, config=config: sync_meetings(session, config.meetings, now))
                assert diff == []
            t_diff.append(t)
            site.close()
        assert probe.execute("PRAGMA data_version").fetchone()[0] == version, "a re-sync wrote to the database"
        now_stamps = {p: p.stat().st_mtime_ns for p in [*(root / "calendars").glob("*.ics"), *(root / "var").iterdir()]}
        assert now_stamps == stamps, "a re-sync or re-export wrote a file"
        probe.close()
        return {
            "sync": t_sync,
            "export": t_export,
            "resync": statistics.median(t_resync),
            "reexport": statistics.median(t_reexport),
            "load": statistics.median(t_load),
            "diff": statistics.median(t_diff),
        }


# -- (b) one calendar of 10,000 events ---------------------------------------------------------


def generated_meetings(count: int) -> list[StoredMeeting]:
    seoul = ZoneInfo("Asia/Seoul")
    changed = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
    out = []
    for n in range(count):
        start = datetime(2027, 1, 1, 10, 0, tzinfo=seoul) + timedelta(days=n % 700, minutes=30 * (n % 3))
        attendees = tuple(
            Attendee(
                name=f"Person {n}-{i}",
                email=f"p{n}-{i}@{city.lower().replace(' ', '')}.example",
                timezone=ZoneInfo(zone),
                language=lang,
                city=city,
                role=Role.CHAIR if i == 0 else Role.REQUIRED,
            )
            for i, (zone, city, lang) in enumerate(PLACES[1:4])
        )
        meeting = Meeting(
            uid=f"bench-{n:05d}@bench.example",
            calendar="bench",
            title=f"Working call {n} — 대구 · 成都 · Bắc Ninh",
            description=f"Agenda item {n}: follow-up of the mayors' calls; exchange programmes, trade missions.",
            location="Video conference",
            video_url=f"https://video.bench.example/r/{n}",
            city="Daegu",
            start=start,
            end=start + timedelta(hours=1),
            timezone=seoul,
            organizer=Person("Daegu International Relations Office", "intl@daegu.example"),
            recurrence=MODEL_RULES[n % 3] if n % 10 == 0 else None,
            attendees=attendees,
            reminders=(timedelta(days=1), timedelta(hours=1)),
        )
        out.append(StoredMeeting(meeting, n % 4, changed, changed, False))
    return out


def icalendar_baseline(stored: list[StoredMeeting], title: str) -> bytes:
    """The same calendar built directly with icalendar's typed API: the least code that gives the same properties."""
    cal = Calendar.new(
        prodid="-//bench.example//baseline//EN",
        method="PUBLISH",
        calscale="GREGORIAN",
        name=title,
        refresh_interval=timedelta(hours=1),
    )
    cal.add("x-published-ttl", vDuration(timedelta(hours=1)))
    first = min(s.meeting.start for s in stored).date()
    last = max(s.meeting.end for s in stored).date() + timedelta(days=366 * 3)
    cal.add_component(Timezone.from_tzid("Asia/Seoul", first_date=first, last_date=last))
    for s in stored:
        m = s.meeting
        times = " · ".join(f"{lt.label} {lt.moment:%H:%M} {lt.moment.tzname()}" for lt in local_times(m, m.start))
        event = Event.new(
            uid=m.uid,
            summary=m.title,
            description=f"{m.description}\n\nVideo: {m.video_url}\n\nTime: {times}",
            location=m.location,
            url=m.video_url,
            start=m.start,
            end=m.end,
            stamp=s.last_modified,
            created=s.created_at,
            last_modified=s.last_modified,
            sequence=s.sequence,
            status="CONFIRMED",
            organizer=vCalAddress.new(f"mailto:{m.organizer.email}", cn=m.organizer.name),
            attendees=[
                vCalAddress.new(
                    f"mailto:{a.email}",
                    cn=a.name,
                    cutype="INDIVIDUAL",
                    role=a.role.ical,
                    partstat="NEEDS-ACTION",
                    rsvp=True,
                    language=a.language,
                )
                for a in m.attendees
            ],
            conferences=[Conference(m.video_url, feature=["VIDEO", "AUDIO"], label=m.title)],
        )
        if m.recurrence:
            event.add("rrule", vRecur.from_ical(m.recurrence))
        for offset in m.reminders:
            event.add_component(Alarm.new_display(description=f"{m.title} (reminder)", trigger=-offset))
        cal.add_component(event)
    body: bytes = cal.to_ical()
    return body


def bench_render(events: int, repeat: int) -> dict[str, float]:
    stored = generated_meetings(events)
    with tempfile.TemporaryDirectory(prefix="meet-sched-bench-") as tmp:
        settings = load_settings(Path(tmp), environ={})
    baseline_times, first_times, again_times = [], [], []
    for _ in range(repeat):
        t, base = timed(lambda: icalendar_baseline(stored, "Bench"))
        baseline_times.append(t)
        renderer = IcsRenderer(settings)
        t, ours = timed(lambda renderer=renderer: renderer.feed("Bench", stored))
        first_times.append(t)
        t, again = timed(lambda renderer=renderer: renderer.feed("Bench", stored))
        again_times.append(t)
        assert again == ours
        assert ours.count(b"BEGIN:VEVENT") == base.count(b"BEGIN:VEVENT") == events
    return {
        "baseline": statistics.median(baseline_times),
        "ours": statistics.median(first_times),
        "again": statistics.median(again_times),
        "baseline_kb": len(base) / 1024,
        "ours_kb": len(ours) / 1024,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--files", type=int, default=2000)
    parser.add_argument("--events", type=int, default=10000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print(f"machine: {machine()}")

    runs = [bench_site(args.files, resyncs=3) for _ in range(args.repeat)]
    site = {key: statistics.median(run[key] for run in runs) for key in runs[0]}
    print(f"\n(a) a site of {args.files} meeting files, SQLite (median of {args.repeat} sites, 3 re-syncs each)")
    print(f"  first sync      {site['sync']:8.3f} s")
    print(f"  first export    {site['export']:8.3f} s")
    print(f"  re-sync         {site['resync']:8.3f} s   (wrote nothing)")
    print(f"    reading the config (cached)  {site['load']:6.3f} s")
    print(f"    the meetings' diff           {site['diff']:6.3f} s")
    rest = site["resync"] - site["load"] - site["diff"]
    print(f"    the rest: rows read back for the outbox planning, the planning  {rest:6.3f} s")
    print(f"  re-export       {site['reexport']:8.3f} s   (wrote nothing)")
    resync_ratio = site["resync"] / site["sync"]
    both_ratio = (site["resync"] + site["reexport"]) / (site["sync"] + site["export"])
    print(f"  re-sync / first sync                     = {resync_ratio:6.1%}  (target ≤ 25%)")
    print(f"  (re-sync + re-export) / (sync + export)  = {both_ratio:6.1%}")
    own_ratio = (site["load"] + site["diff"]) / site["sync"]
    print(f"  (config + diff) / first sync             = {own_ratio:6.1%}")

    render = bench_render(args.events, args.repeat)
    print(f"\n(b) one calendar of {args.events} events (median of {args.repeat})")
    print(f"  icalendar to_ical() baseline  {render['baseline']:8.3f} s  ({render['baseline_kb']:,.0f} KiB)")
    print(f"  IcsRenderer.feed, first       {render['ours']:8.3f} s  ({render['ours_kb']:,.0f} KiB)")
    print(f"  IcsRenderer.feed, unchanged   {render['again']:8.3f} s")
    first_ratio = render["ours"] / render["baseline"]
    again_ratio = render["again"] / render["baseline"]
    print(f"  ours / baseline               = {first_ratio:6.2f}×  (target ≤ 1.2×)")
    print(f"  unchanged re-export / baseline = {again_ratio:6.1%}  (target ≤ 10%)")
    ok = resync_ratio <= 0.25 and first_ratio <= 1.2 and again_ratio <= 0.10
    print("\nall targets met" if ok else "\nsome targets missed")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
