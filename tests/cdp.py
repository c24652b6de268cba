"""Headless Chromium driven over the DevTools protocol on a pipe (``--remote-debugging-pipe``):
open a page, read its DOM, press a button — with no client library beyond the standard one."""

from __future__ import annotations

import contextlib
import json
import os
import select
import subprocess
import time
from pathlib import Path
from typing import Any


class Browser:
    def __init__(self, chromium: str, profile: Path) -> None:
        to_child, self._write = os.pipe()
        self._read, from_child = os.pipe()

        def fds() -> None:  # Chromium reads commands on fd 3 and writes answers on fd 4
            os.dup2(to_child, 3)
            os.dup2(from_child, 4)

        self.proc = subprocess.Popen(
            [
                chromium,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                f"--user-data-dir={profile}",
                "--remote-debugging-pipe",
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=fds,  # fds 3 and 4 are made after the fork, before exec
            close_fds=False,  # else the fds made by dup2 in preexec_fn are closed before exec
        )
        os.close(to_child)
        os.close(from_child)
        self._buffer = b""
        self._next = 0
        self.events: list[dict[str, Any]] = []
        target = self.call("Target.createTarget", url="about:blank")["targetId"]
        self.session = self.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        self.call("Page.enable", session=self.session)

    def call(self, method: str, session: str | None = None, timeout: float = 30, **params: Any) -> dict[str, Any]:
        self._next += 1
        ident = self._next
        message: dict[str, Any] = {"id": ident, "method": method, "params": params}
        if session is not None:
            message["sessionId"] = session
        os.write(self._write, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            for item in self._messages(deadline - time.monotonic()):
                if item.get("id") == ident:
                    if "error" in item:
                        raise AssertionError(f"{method}: {item['error']}")
                    return dict(item.get("result", {}))
                self.events.append(item)

    def wait_for(self, event: str, timeout: float = 30) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            for i, item in enumerate(self.events):
                if item.get("method") == event:
                    del self.events[: i + 1]
                    return item
            self.events.extend(self._messages(deadline - time.monotonic()))

    def _messages(self, timeout: float) -> list[dict[str, Any]]:
        if timeout <= 0:
            raise AssertionError("no answer from Chromium in time")
        ready, _, _ = select.select([self._read], [], [], timeout)
        if not ready:
            raise AssertionError("no answer from Chromium in time")
        chunk = os.read(self._read, 1 << 20)
        if not chunk:
            raise AssertionError(f"Chromium exited ({self.proc.poll()})")
        self._buffer += chunk
        *whole, self._buffer = self._buffer.split(b"\0")
        return [json.loads(w) for w in whole if w]

    def open(self, url: str) -> str:
        """Navigate to ``url``, wait for it to load, return the DOM."""
        self.events.clear()
        self.call("Page.navigate", session=self.session, url=url)
        self.wait_for("Page.loadEventFired")
        return self.dom()

    def dom(self) -> str:
        expression = "document.documentElement.outerHTML"
        found = self.call("Runtime.evaluate", session=self.session, expression=expression, returnByValue=True)
        return str(found["result"]["value"])

    def check(self, selector: str) -> None:
        """Tick a radio button or checkbox (nothing is sent)."""
        expression = f"document.querySelector({json.dumps(selector)}).click()"
        self.call("Runtime.evaluate", session=self.session, expression=expression)

    def click(self, selector: str) -> str:
        """Click the element (a submit button: the form is sent and the answer page loads); the new DOM."""
        self.events.clear()
        expression = f"document.querySelector({json.dumps(selector)}).click()"
        self.call("Runtime.evaluate", session=self.session, expression=expression)
        self.wait_for("Page.loadEventFired")
        return self.dom()

    def close(self) -> None:
        with contextlib.suppress(OSError):
            os.write(self._write, json.dumps({"id": 0, "method": "Browser.close"}).encode() + b"\0")
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self._write)
        os.close(self._read)
