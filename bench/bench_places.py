"""Places: validate's holiday and working-hour warnings, and the slot finder, timed in one run.

(a) ``meet-sched validate`` of a site with 1,000 recurring meetings (weekly, in five zones,
    3-5 attendees each) over 12 months, with the warnings on, against the same command with
    ``[warnings] enabled = false``: real processes, medians.  Target: at most 1.5x.
(b) ``meet-sched plan`` over 30 days for 5 places and the 20 participants of one meeting, on a
    database of 500 existing meetings of those participants.  Target: under 1 s.  The in-process
    part (reading the participants' meetings and ranking the slots) is printed too.

Usage: .venv/bin/python bench/bench_places.py [--meetings 1000] [--existing 500] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from meet_sched.config.places import rules as place_rules
from meet_sched.places.plan import Busy, candidates, first_midnight, resolve_places
from meet_sched.site import Site

PLACES = [  # (name, zone, city, language)
    ("daegu", "Asia/Seoul", "Daegu", "ko"),
    ("chengdu", "Asia/Shanghai", "Chengdu", "zh"),
    ("bac-ninh", "Asia/Ho_Chi_Minh", "Bac Ninh", "vi"),
    ("atlanta", "America/New_York", "Atlanta", "en"),
    ("berlin", "Europe/Berlin", "Berlin", "de"),
]
DAYS = ["MO", "TU", "WE", "TH", "FR"]


def settings(warnings: bool) -> str:
    body = ['[calendar]\ndomain = "bench.example"\n', f"[warnings]\nenabled = {str(warnings).lower()}\n"]
    for name, zone, city, _ in PLACES:
        country = '\ncountry = "DE"' if name == "berlin" else ""
        body.append(f'[places.{name}]\ntimezone = "{zone}"\ncity = "{city}"{country}\n')
    return "\n".join(body)


def person(i: int) -> tuple[str, str]:
    name = PLACES[i % len(PLACES)][0]
    return f"p{i}@{name}.example", name


def meeting(n: int, people: list[int], *, weekly: bool = True, day: int = 1) -> str:
    zone = PLACES[n % 3][1]
    lines = [
        f"uid: m{n}",
        f"title: Meeting {n}",
        f"timezone: {zone}",
        f"start: 2027-01-{day:02d}T{9 + n % 9:02d}:{(n % 2) * 30:02d}",
        "duration: 1h",
    ]
    if weekly:
        lines.append(f"recurrence: FREQ=WEEKLY;BYDAY={DAYS[n % 5]};COUNT=60")
    lines.append("attendees:")
    for i in people:
        email, place = person(i)
        lines.append(f"  - {{ email: {email}, place: {place}, language: {PLACES[i % len(PLACES)][3]} }}")
    return "\n".join(lines) + "\n"


def write_site(root: Path, meetings: int, warnings: bool) -> None:
    (root / "config" / "meetings").mkdir(parents=True)
    (root / "config" / "meet-sched.toml").write_text(settings(warnings), encoding="utf-8")
    for n in range(meetings):
        people = [(n + k * 7) % 40 for k in range(3 + n % 3)]
        (root / "config" / "meetings" / f"m{n:04d}.yaml").write_text(meeting(n, sorted(set(people))), "utf-8")


def run(root: Path, *args: str) -> float:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEET_SCHED_")}
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "meet_sched", *args, "--root", str(root)], capture_output=True, text=True, env=env,
        timeout=600,
    )  # fmt: skip
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"meet-sched {' '.join(args)} failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    return elapsed


def bench_validate(base: Path, meetings: int, repeat: int) -> None:
    on, off = base / "on", base / "off"
    write_site(on, meetings, True)
    write_site(off, meetings, False)
    args = ("validate", "--from", "2027-01-01", "--months", "12")
    run(off, *args)  # warm the file cache
    t_on, t_off = [], []
    for _ in range(repeat):
        t_off.append(run(off, *args))
        t_on.append(run(on, *args))
    a, b = statistics.median(t_on), statistics.median(t_off)
    print(f"(a) validate, {meetings} weekly meetings x 12 months (processes, median of {repeat}):")
    print(f"    warnings off {b:.2f} s · warnings on {a:.2f} s · ratio {a / b:.2f}x (target <= 1.5x)")


def bench_plan(base: Path, existing: int, repeat: int) -> None:
    root = base / "plan"
    (root / "config" / "meetings").mkdir(parents=True)
    (root / "config" / "meet-sched.toml").write_text(settings(True), encoding="utf-8")
    participants = list(range(20))
    for n in range(existing):
        people = sorted({participants[(n + k * 3) % 20] for k in range(3)})
        body = meeting(n, people, weekly=n % 2 == 0, day=1 + n % 28)
        (root / "config" / "meetings" / f"e{n:04d}.yaml").write_text(body, "utf-8")
    (root / "config" / "meetings" / "team.yaml").write_text(meeting(99999, participants, weekly=False), "utf-8")
    run(root, "sync")
    args = ("plan", "--with", ",".join(p[0] for p in PLACES), "--attendees", "m99999", "--duration", "1h",
            "--from", "2027-03-01", "--days", "30")  # fmt: skip
    times = [run(root, *args) for _ in range(repeat)]
    site = Site(root)
    rules = place_rules(site.settings.spec)
    inner = []
    for _ in range(repeat):
        started = time.perf_counter()
        who = [a.email for a in site.meeting("m99999").meeting.attendees]
        after = datetime(2027, 3, 1, tzinfo=UTC)
        data = site.planning(who, after - timedelta(days=1), after + timedelta(days=31), "m99999@bench.example")
        places = resolve_places([p[0] for p in PLACES], rules, data.cities)
        busy = Busy(data.busy)
        ranked = candidates(places, timedelta(hours=1), first_midnight(places, after.date(), after), 30, busy=busy)
        inner.append(time.perf_counter() - started)
    site.close()
    print(f"(b) plan, 5 places, 20 participants, {existing} existing meetings ({len(busy)} busy occurrences), 30 days:")
    print(f"    command {statistics.median(times):.2f} s (target < 1 s) · in process {statistics.median(inner):.3f} s")
    print(f"    best: {ranked[0].start:%Y-%m-%d %H:%M} UTC, {len(ranked)} slots ranked")


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{os.cpu_count()} CPUs ({cpu}), Python {platform.python_version()}, {platform.system()}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--meetings", type=int, default=1000)
    parser.add_argument("--existing", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print(f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {machine()}, load {os.getloadavg()[0]:.2f}")
    with tempfile.TemporaryDirectory() as tmp:
        bench_validate(Path(tmp), args.meetings, args.repeat)
        bench_plan(Path(tmp), args.existing, args.repeat)
    print(f"load afterwards {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
