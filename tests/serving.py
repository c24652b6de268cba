"""A real `meet-sched serve` process for tests: started on a free loopback port, stopped with SIGTERM."""

from __future__ import annotations

import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import httpx

if TYPE_CHECKING:
    from meet_sched.service import Service
    from meet_sched.web.state import Web

LISTENING = re.compile(r"event=listening url=(http://\S+)")
T = TypeVar("T")

# The meeting most served sites hold; tests add reminders or attendees to it where they need them.
COUNCIL = """
uid: council
calendar: city-hall
title: Council session
timezone: Asia/Seoul
start: 2027-03-04T10:00
duration: 1h
attendees:
  - { name: Ahn Mira, email: mira.ahn@test.example }
"""
BUI_LAN = "  - { name: Bui Lan, email: lan.bui@test.example, timezone: Asia/Ho_Chi_Minh }\n"  # a second attendee


class Served:
    """`meet-sched serve --root ROOT` with the address it listens on."""

    def __init__(self, root: Path, env: dict[str, str] | None = None, timeout: float = 30) -> None:
        full_env = {k: v for k, v in os.environ.items() if not k.startswith("MEET_SCHED_")}
        full_env.update(env or {})
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "meet_sched", "serve", "--root", str(root)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env=full_env,
        )
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self.url = self.wait_for_log(LISTENING, timeout).group(1)
        # identity unless a test asks for gzip, so that lengths and ETags are those of the plain body
        self.client = httpx.Client(base_url=self.url, timeout=30, headers={"Accept-Encoding": "identity"})

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.lines.append(line)
            self._queue.put(line)
        self._queue.put(None)

    def wait_for_log(self, pattern: re.Pattern[str], timeout: float = 30) -> re.Match[str]:
        """Block until the server logs a line matching ``pattern`` (or fail with its log)."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no log line matching {pattern.pattern!r} within {timeout}s:\n{self.log}")
            try:
                line = self._queue.get(timeout=left)
            except queue.Empty:
                continue
            if line is None:
                raise AssertionError(f"serve exited ({self.proc.wait()}) before {pattern.pattern!r}:\n{self.log}")
            found = pattern.search(line)
            if found:
                return found

    @property
    def log(self) -> str:
        return "".join(self.lines)

    @property
    def address(self) -> tuple[str, int]:
        """(host, port) it listens on, for tests that speak to it over a raw socket."""
        host, port = self.url.removeprefix("http://").rsplit(":", 1)
        return host, int(port)

    def connect(self, timeout: float) -> socket.socket:
        """A raw TCP connection to it: bytes exactly as a test writes them."""
        return socket.create_connection(self.address, timeout=timeout)

    def stop(self) -> int:
        self.client.close()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout=20)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
        self._reader.join(timeout=5)
        return code


@contextmanager
def serving(root: Path, *, no_traceback: bool = False) -> Iterator[Served]:
    """A served site for a fixture's lifetime; it must stop cleanly (exit 0), and log no traceback if asked."""
    server = Served(root)
    try:
        yield server
    finally:
        assert server.stop() == 0, server.log
        if no_traceback:
            assert "Traceback" not in server.log, server.log


def poll(fetch: Callable[[], T], done: Callable[[T], bool], timeout: float = 15, every: float = 0.1) -> T:
    """Call ``fetch`` until ``done(result)``; fail with the last result after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = fetch()
        if done(result):
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"still not there after {timeout}s: {result!r}")
        time.sleep(every)


def web_state(
    service: Service, *, base_url: str = "http://127.0.0.1", clock: Callable[[], datetime] | None = None
) -> Web:
    """The web side's state for ``service``'s site, as ``serve`` builds it, for the app in-process."""
    from meet_sched.web.feeds import FeedCache
    from meet_sched.web.page import PageRenderer
    from meet_sched.web.state import Web, render_feed

    site, now = service.site, clock or service.clock
    return Web(
        site=site,
        clock=now,
        metrics=service.metrics,
        service=service,
        base_url=base_url,
        feeds=FeedCache(render_feed(site), now),
        page=PageRenderer(site, now, base_url),
    )
