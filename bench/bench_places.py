"""Places: validate's holiday and working-hour warnings, and the slot finder, timed in one run.

(a) ``meet-sched validate`` of a site with 1,000 recurring meetings (weekly, 3-6 attendees each)
    over 12 months, with the warnings on, against the same command with ``[warnings] enabled =
    false``: real processes, medians.  Target: at most 1.5x.  Two mixes: ``office`` (four meetings
    in five among Daegu, Chengdu and Bac Ninh at office times, one with Atlanta or Berlin) and
    ``far`` (all five places in every meeting at any hour: nearly every occurrence clashes).
(b) ``meet-sched plan`` over 30 days for 5 places and the 20 participants of one meeting, on a
    database of 500 existing meetings of those participants.  Target: under 1 s.  The in-process
    part (reading the participants' meetings and ranking the slots) is printed too.

Wall times and the CPU time of each process (user + system, from getrusage) are printed: on a
shared machine the CPU time is the steadier of the two.

Usage: .venv/bin/python bench/bench_places.py [--meetings 1000] [--existing 500] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from machine import machine
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
    """People 0-29 work in the three Asian cities, 30-39 in Atlanta and Berlin."""
    name = PLACES[i % 3][0] if i < 30 else PLACES[3 + i % 2][0]
    return f"p{i}@{name}.example", name


def meeting(n: int, people: list[int], *, weekly: bool = True, day: int = 1, at: str | None = None) -> str:
    zone = PLACES[n % 3][1]
    lines = [
        f"uid: m{n}",
        f"title: Meeting {n}",
        f"timezone: {zone}",
        f"start: 2027-01-{day:02d}T{at or f'{9 + n % 9:02d}:{(n % 2) * 30:02d}'}",
        "duration: 1h",
    ]
    if weekly:
        lines.append(f"recurrence: FREQ=WEEKLY;BYDAY={DAYS[n % 5]};COUNT=60")
    lines.append("attendees:")
    for i in people:
        email, place = person(i)
        language = next(p[3] for p in PLACES if p[0] == place)
        lines.append(f"  - {{ email: {email}, place: {place}, language: {language} }}")
    return "\n".join(lines) + "\n"


def write_site(root: Path, meetings: int, warnings: bool, mix: str) -> None:
    """``office``: four meetings in five among the three Asian cities at office times, one with Atlanta
    or Berlin; ``far``: every meeting mixes all five places at any hour (nearly every occurrence clashes)."""
    (root / "config" / "meetings").mkdir(parents=True)
    (root / "config" / "meet-sched.toml").write_text(settings(warnings), encoding="utf-8")
    for n in range(meetings):
        if mix == "far":
            people, at = sorted({(n + k * 7) % 40 for k in range(3 + n % 3)}), None
        else:
            people = sorted({(n + k * 7) % 30 for k in range(3 + n % 3)})
            if n % 5 == 0:
                people.append(30 + n % 10)
            at = ("10:00", "11:00", "15:00", "16:00", "16:30")[n % 5]
        body = meeting(n, people, at=at)
        (root / "config" / "meetings" / f"m{n:04d}.yaml").write_text(body, "utf-8")


CPU: list[float] = []  # CPU seconds (user + system) of each command run, beside its wall time


def run(root: Path, *args: str) -> float:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEET_SCHED_")}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "meet_sched", *args, "--root", str(root)], capture_output=True, text=True, env=env,
        timeout=600,
    )  # fmt: skip
    elapsed = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    CPU.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    if done.returncode != 0:
        raise SystemExit(f"meet-sched {' '.join(args)} failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    return elapsed


def bench_validate(base: Path, meetings: int, repeat: int, mix: str) -> None:
    on, off = base / f"on-{mix}", base / f"off-{mix}"
    write_site(on, meetings, True, mix)
    write_site(off, meetings, False, mix)
    args = ("validate", "--from", "2027-01-01", "--months", "12")
    run(off, *args)  # warm the file cache
    t_on, t_off, c_on, c_off = [], [], [], []
    for _ in range(repeat):
        t_off.append(run(off, *args))
        c_off.append(CPU[-1])
        t_on.append(run(on, *args))
        c_on.append(CPU[-1])
    a, b = statistics.median(t_on), statistics.median(t_off)
    ca, cb = statistics.median(c_on), statistics.median(c_off)
    print(f"(a) validate, {meetings} weekly meetings x 12 months, mix {mix!r} (processes, median of {repeat}):")
    print(f"    wall: warnings off {b:.2f} s · on {a:.2f} s · ratio {a / b:.2f}x (target <= 1.5x)")
    print(f"    CPU:  warnings off {cb:.2f} s · on {ca:.2f} s · ratio {ca / cb:.2f}x")


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
    times, cpu = [], []
    for _ in range(repeat):
        times.append(run(root, *args))
        cpu.append(CPU[-1])
    floor, floor_cpu = [], []
    for _ in range(repeat):  # what every command pays before it starts: the interpreter and the imports
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import meet_sched.cli"], check=True, timeout=120)
        floor.append(time.perf_counter() - started)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        floor_cpu.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
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
    print(
        f"    command {statistics.median(times):.2f} s (target < 1 s), of which starting Python and importing "
        f"meet_sched.cli {statistics.median(floor):.2f} s · the plan in process {statistics.median(inner):.3f} s"
    )
    print(f"    CPU: command {statistics.median(cpu):.2f} s, imports {statistics.median(floor_cpu):.2f} s")
    print(f"    best: {ranked[0].start:%Y-%m-%d %H:%M} UTC, {len(ranked)} slots ranked")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--meetings", type=int, default=1000)
    parser.add_argument("--existing", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print(f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {machine()}, load {os.getloadavg()[0]:.2f}")
    with tempfile.TemporaryDirectory() as tmp:
        bench_validate(Path(tmp), args.meetings, args.repeat, "office")
        bench_validate(Path(tmp), args.meetings, 1, "far")
        bench_plan(Path(tmp), args.existing, args.repeat)
    print(f"load afterwards {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
