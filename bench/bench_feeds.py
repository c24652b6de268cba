"""Feeds over HTTP: a 10,000-event calendar from `meet-sched serve`, against Radicale serving the same events.

Measures, in one run on this machine:

* full 200 GETs per second (identity and gzip) and 304s per second, with `wrk` as a separate
  client process on loopback (installed from Debian when missing and run as root; else a
  Python keep-alive client in a subprocess);
* the same full GET of the same events from Radicale (installed into a throw-away venv,
  never into this project), cold (the first GET after the upload) and warm;
* the first GET after a change (the render the server does once per change);
* the server's resident memory before and after each load.

Usage: .venv/bin/python bench/bench_feeds.py [--events 10000] [--seconds 10] [--no-radicale]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import httpx

PYTHON = sys.executable
CITIES = [
    ("Asia/Shanghai", "Chengdu", "zh"),
    ("Asia/Ho_Chi_Minh", "Bac Ninh", "vi"),
    ("America/New_York", "Atlanta", "en"),
]


# -- the site ------------------------------------------------------------------------------


def meeting_toml(n: int, title: str | None = None) -> str:
    day, month, year = 1 + n % 28, 1 + (n // 28) % 12, 2027 + n // (28 * 12)
    tz, city, lang = CITIES[n % 3]
    return f"""[[meetings]]
uid = "bench-{n:05d}"
calendar = "bench"
title = "{title or f"Working call {n}"}"
description = "Agenda item {n}: follow-up of the mayors' calls, exchange programmes, trade missions, next visits."
location = "Video conference"
video_url = "https://video.bench.example/r/{n}"
city = "Daegu"
timezone = "Asia/Seoul"
start = {year:04d}-{month:02d}-{day:02d}T{9 + n % 8:02d}:00:00
duration = "1h"
reminders = ["1d", "10m"]

[[meetings.attendees]]
name = "Kim {n}"
email = "kim{n % 50}@daegu.example"
language = "ko"
city = "Daegu"

[[meetings.attendees]]
name = "Guest {n}"
email = "guest{n % 50}@partner.example"
timezone = "{tz}"
language = "{lang}"
city = "{city}"
"""


def make_site(root: Path, events: int) -> None:
    (root / "config" / "meetings").mkdir(parents=True)
    (root / "config" / "meet-sched.toml").write_text(
        textwrap.dedent(
            """
            [calendar]
            name = "Bench"
            domain = "bench.example"
            organizer = { name = "Office", email = "office@bench.example" }

            [server]
            listen = "127.0.0.1:0"
            public_calendars = ["bench"]
            public_attendees = true  # the heavier feed, as measured before attendees were left out by default

            [invitations]
            enabled = false  # this measures feeds, not email
            """
        ),
        encoding="utf-8",
    )
    per_file = 100
    for f in range(0, events, per_file):
        body = "\n".join(meeting_toml(n) for n in range(f, min(events, f + per_file)))
        (root / "config" / "meetings" / f"batch-{f // per_file:03d}.toml").write_text(body, encoding="utf-8")


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


class Serve:
    def __init__(self, root: Path) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("MEET_SCHED_")}
        self.proc = subprocess.Popen(
            [PYTHON, "-m", "meet_sched", "serve", "--root", str(root)],
            stderr=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            text=True,
            env=env,
        )
        self.lines: list[str] = []
        self.url = ""
        ready = threading.Event()

        def read() -> None:
            assert self.proc.stderr is not None
            for line in self.proc.stderr:
                self.lines.append(line)
                found = re.search(r"event=listening url=(\S+)", line)
                if found:
                    self.url = found.group(1)
                    ready.set()

        threading.Thread(target=read, daemon=True).start()
        if not ready.wait(300):
            raise SystemExit("serve did not start:\n" + "".join(self.lines))

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(30)


# -- load ----------------------------------------------------------------------------------


@dataclass
class Load:
    requests: int
    seconds: float
    codes: str

    @property
    def rate(self) -> float:
        return self.requests / self.seconds


def ensure_wrk() -> str | None:
    found = shutil.which("wrk")
    if found or os.geteuid() != 0 or not shutil.which("apt-get"):
        return found
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], env=env, capture_output=True)
    if not shutil.which("wrk"):
        subprocess.run(["apt-get", "update", "-qq"], env=env, capture_output=True)
        subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], env=env, capture_output=True)
    return shutil.which("wrk")


def wrk(url: str, seconds: float, connections: int, headers: dict[str, str]) -> Load:
    args = ["wrk", "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--latency"]
    for k, v in headers.items():
        args += ["-H", f"{k}: {v}"]
    out = subprocess.run([*args, url], capture_output=True, text=True, check=True).stdout
    m = re.search(r"(\d+) requests in ([\d.]+)(m?s)", out)
    assert m, out
    secs = float(m.group(2)) / (1000 if m.group(3) == "ms" else 1)
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return Load(int(m.group(1)), secs, f"{bad.group(1)} non-2xx/3xx" if bad else "all 2xx/3xx")


PY_CLIENT = r"""
import socket, sys, threading, time
host, port, path, seconds, conns = sys.argv[1], int(sys.argv[2]), sys.argv[3], float(sys.argv[4]), int(sys.argv[5])
extra = "".join(f"{h}\r\n" for h in sys.argv[6:])
req = f"GET {path} HTTP/1.1\r\nHost: {host}\r\n{extra}\r\n".encode()
counts = []
def run():
    s = socket.create_connection((host, port)); f = s.makefile("rb"); n = 0
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        s.sendall(req); status = f.readline(); length = 0
        while (line := f.readline()) not in (b"\r\n", b""):
            if line.lower().startswith(b"content-length:"): length = int(line.split(b":")[1])
        f.read(length); n += 1
    counts.append(n)
t0 = time.monotonic(); ts = [threading.Thread(target=run) for _ in range(conns)]
[t.start() for t in ts]; [t.join() for t in ts]
print(sum(counts), time.monotonic() - t0)
"""


def py_load(url: str, seconds: float, connections: int, headers: dict[str, str]) -> Load:
    m = re.match(r"http://([^:/]+):(\d+)(/.*)", url)
    assert m
    args = [PYTHON, "-c", PY_CLIENT, m.group(1), m.group(2), m.group(3), str(seconds), str(connections)]
    args += [f"{k}: {v}" for k, v in headers.items()]
    n, secs = subprocess.run(args, capture_output=True, text=True, check=True).stdout.split()
    return Load(int(n), float(secs), "unchecked")


def sequential(url: str, count: int, headers: dict[str, str] | None = None) -> tuple[float, list[float]]:
    """``count`` GETs one after another on one connection: (requests/s, each latency)."""
    times = []
    with httpx.Client(timeout=600, headers={"Accept-Encoding": "identity", **(headers or {})}) as client:
        for _ in range(count):
            t = time.perf_counter()
            r = client.get(url)
            r.raise_for_status()
            times.append(time.perf_counter() - t)
    return count / sum(times), times


def render_stats(url: str) -> tuple[float, int]:
    text = httpx.get(url + "/metrics").text
    total = float(re.search(r"^meet_sched_feed_render_seconds_sum (\S+)$", text, re.M).group(1))  # type: ignore[union-attr]
    count = int(float(re.search(r"^meet_sched_feed_render_seconds_count (\S+)$", text, re.M).group(1)))  # type: ignore[union-attr]
    return total, count


# -- Radicale ------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Radicale:
    """Radicale in its own throw-away venv, on loopback, with the same events in one collection."""

    def __init__(self, tmp: Path) -> None:
        venv = tmp / "radicale-venv"
        t = time.perf_counter()
        subprocess.run([sys.base_prefix + "/bin/python3", "-m", "venv", str(venv)], check=True)
        subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "Radicale"], check=True)
        self.install_seconds = time.perf_counter() - t
        self.version = subprocess.run(
            [str(venv / "bin" / "python"), "-c", "import radicale; print(radicale.VERSION)"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        port = free_port()
        config = tmp / "radicale.conf"
        config.write_text(
            textwrap.dedent(
                f"""
                [server]
                hosts = 127.0.0.1:{port}
                [auth]
                type = none
                [storage]
                filesystem_folder = {tmp / "radicale-collections"}
                [logging]
                level = warning
                """
            ),
            encoding="utf-8",
        )
        self.proc = subprocess.Popen(
            [str(venv / "bin" / "python"), "-m", "radicale", "--config", str(config)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(self.base + "/.web/", timeout=2)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        self.url = self.base + "/bench/cal/"
        self.auth = ("bench", "bench")

    def upload(self, body: bytes) -> float:
        t = time.perf_counter()
        r = httpx.put(self.url, content=body, auth=self.auth, headers={"Content-Type": "text/calendar"}, timeout=3600)
        assert r.status_code in (200, 201, 204), (r.status_code, r.text[:500])
        return time.perf_counter() - t

    def get(self, headers: dict[str, str] | None = None) -> tuple[float, httpx.Response]:
        t = time.perf_counter()
        r = httpx.get(self.url, auth=self.auth, timeout=3600, headers=headers)
        r.raise_for_status()
        return time.perf_counter() - t, r

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(30)


# -- the run -------------------------------------------------------------------------------


def machine() -> str:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if "model name" in line
        ),
        platform.processor(),
    )
    return (
        f"{os.cpu_count()} CPUs ({cpu}), Python {platform.python_version()}, {platform.system()} {platform.release()}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--seconds", type=float, default=10, help="length of each load run")
    parser.add_argument("--no-radicale", action="store_true")
    args = parser.parse_args()
    results: dict[str, object] = {
        "date": date.today().isoformat(),
        "machine": machine(),
        "events": args.events,
        "load_average_at_start": os.getloadavg()[0],
    }
    print(f"# bench_feeds {results['date']} on {results['machine']}")

    with tempfile.TemporaryDirectory(prefix="bench-feeds-") as tmpdir:
        tmp = Path(tmpdir)
        root = tmp / "site"
        make_site(root, args.events)
        t = time.perf_counter()
        subprocess.run([PYTHON, "-m", "meet_sched", "run", "--root", str(root)], check=True, capture_output=True)
        results["initial_sync_s"] = round(time.perf_counter() - t, 2)
        body = (root / "calendars" / "bench.ics").read_bytes()
        results["feed_bytes"] = len(body)
        print(
            f"site: {args.events} events, feed {len(body) / 1e6:.1f} MB; `meet-sched run` {results['initial_sync_s']} s"
        )

        server = Serve(root)
        feed = server.url + "/calendars/bench.ics"
        try:
            t = time.perf_counter()
            first = httpx.get(feed, headers={"Accept-Encoding": "identity"}, timeout=600)
            results["first_get_after_start_s"] = round(time.perf_counter() - t, 3)
            assert first.content == body, "the served feed differs from the exported file"
            etag = first.headers["etag"]
            rss = {"warm": rss_kib(server.proc.pid)}

            use_wrk = ensure_wrk()
            load = wrk if use_wrk else py_load
            results["client"] = "wrk 1 thread" if use_wrk else "Python keep-alive client"
            not_modified = load(feed, args.seconds, 8, {"If-None-Match": etag, "Accept-Encoding": "identity"})
            rss["after_304s"] = rss_kib(server.proc.pid)
            full = load(feed, args.seconds, 4, {"Accept-Encoding": "identity"})
            rss["after_full"] = rss_kib(server.proc.pid)
            zipped = load(feed, args.seconds, 4, {"Accept-Encoding": "gzip"})
            rss["after_gzip"] = rss_kib(server.proc.pid)
            seq_rate, _ = sequential(feed, 20)
            # memory over at least 10,000 full GETs, sampled between bursts
            series, done = [rss_kib(server.proc.pid)], 0
            while done < 10_000:
                done += load(feed, 5, 4, {"Accept-Encoding": "identity"}).requests
                series.append(rss_kib(server.proc.pid))
            results["memory_full_gets"] = done
            results["memory_series_mib"] = [round(k / 1024) for k in series]
            results.update(
                rate_304=round(not_modified.rate),
                requests_304=not_modified.requests,
                rate_full=round(full.rate, 1),
                requests_full=full.requests,
                rate_gzip=round(zipped.rate, 1),
                requests_gzip=zipped.requests,
                rate_full_sequential=round(seq_rate, 1),
                codes=[not_modified.codes, full.codes, zipped.codes],
                rss_kib=rss,
            )

            # a change: one meeting's title in one file
            render_sum, render_count = render_stats(server.url)
            path = root / "config" / "meetings" / "batch-000.toml"
            path.write_text(path.read_text().replace('title = "Working call 7"', 'title = "Working call 7 (moved)"'))
            t = time.perf_counter()
            client = httpx.Client(headers={"Accept-Encoding": "identity", "If-None-Match": etag}, timeout=600)
            while True:
                t_req = time.perf_counter()
                r = client.get(feed)
                if r.status_code == 200:
                    break
                time.sleep(0.05)
            results["change_visible_after_s"] = round(time.perf_counter() - t, 2)
            results["first_get_after_change_s"] = round(time.perf_counter() - t_req, 3)
            after_sum, after_count = render_stats(server.url)
            results["render_after_change_s"] = round((after_sum - render_sum) / max(1, after_count - render_count), 3)
            assert b"Working call 7 (moved)" in r.content
            client.close()
            rss["end"] = rss_kib(server.proc.pid)
            results["load_average_at_end"] = os.getloadavg()[0]
        finally:
            server.stop()

        if not args.no_radicale:
            radicale = Radicale(tmp)
            try:
                results["radicale_version"] = radicale.version
                results["radicale_upload_s"] = round(radicale.upload(body), 1)
                cold, r = radicale.get()
                n_events = r.content.count(b"BEGIN:VEVENT")
                assert n_events == args.events, n_events
                warm_times = [radicale.get()[0] for _ in range(5)]
                etag_r = r.headers.get("etag")
                cond = radicale.get({"If-None-Match": etag_r})[1].status_code if etag_r else None
                results.update(
                    radicale_first_get_s=round(cold, 2),
                    radicale_warm_get_s=round(sum(warm_times) / len(warm_times), 3),
                    radicale_warm_rate=round(len(warm_times) / sum(warm_times), 3),
                    radicale_conditional_status=cond,
                )
            finally:
                radicale.stop()

    print(json.dumps(results, indent=1))
    print()
    print(
        f"full GET  : {results['rate_full']} req/s identity, {results['rate_gzip']} req/s gzip "
        f"({results['requests_full']} and {results['requests_gzip']} requests), "
        f"{results['rate_full_sequential']} req/s one at a time"
    )
    print(f"304       : {results['rate_304']} req/s ({results['requests_304']} requests)  goal >= 2000")
    print(
        f"change    : visible {results['change_visible_after_s']} s after the edit (config re-read and sync), "
        f"render {results['render_after_change_s']} s, first GET {results['first_get_after_change_s']} s"
    )
    rss = results["rss_kib"]
    assert isinstance(rss, dict)
    print(
        f"memory    : RSS over {results['memory_full_gets']} full GETs, sampled every 5 s (MiB): "
        f"{results['memory_series_mib']}"
    )
    print(
        f"memory    : RSS {rss['warm'] / 1024:.0f} MiB warm -> {rss['after_304s'] / 1024:.0f} after 304s -> "
        f"{rss['after_full'] / 1024:.0f} after full GETs -> {rss['after_gzip'] / 1024:.0f} after gzip GETs -> "
        f"{rss['end'] / 1024:.0f} MiB at the end"
    )
    if "radicale_warm_rate" in results:
        warm = float(results["radicale_warm_rate"])  # type: ignore[arg-type]
        print(
            f"Radicale {results['radicale_version']}: upload {results['radicale_upload_s']} s, first GET "
            f"{results['radicale_first_get_s']} s, warm GET {results['radicale_warm_get_s']} s ({warm} req/s), "
            f"If-None-Match -> {results['radicale_conditional_status']}"
        )
        full_ratio = float(results["rate_full"]) / warm  # type: ignore[arg-type]
        seq_ratio = float(results["rate_full_sequential"]) / warm  # type: ignore[arg-type]
        print(
            f"ratio     : full GET {full_ratio:.0f}x Radicale's warm rate ({seq_ratio:.0f}x one at a time)"
            "  goal >= 100x"
        )
        render = float(results["render_after_change_s"])  # type: ignore[arg-type]
        warm_get = float(results["radicale_warm_get_s"])  # type: ignore[arg-type]
        print(
            f"ratio     : render after a change {render:.3f} s vs Radicale warm GET {warm_get:.3f} s "
            f"({warm_get / render:.1f}x faster)  goal > 1x"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
