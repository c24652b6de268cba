"""The `meet-sched` command run in this process, seen as a process would see it: exit status, stdout, stderr."""

from __future__ import annotations

import gc
import io
import logging
import os
import subprocess
import sys
import threading
import traceback
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from typing import Any
from unittest.mock import patch

from meet_sched.cli import main


@contextmanager
def _environment(env: Mapping[str, str]) -> Iterator[None]:
    """os.environ without the caller's MEET_SCHED_* variables and with ``env``, restored afterwards."""
    saved = dict(os.environ)
    try:
        for key in [k for k in os.environ if k.startswith("MEET_SCHED_")]:
            del os.environ[key]
        os.environ.update(env)
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


class _ThisThread(logging.Filter):
    """Only the records of the thread that runs the command: a server a test runs in a thread of this
    process (an SMTP sink) logs to the same root logger, and a process of its own would not see that."""

    def __init__(self) -> None:
        super().__init__()
        self.thread = threading.get_ident()

    def filter(self, record: logging.LogRecord) -> bool:
        return record.thread == self.thread


@contextmanager
def _fresh_logging() -> Iterator[None]:
    """The root logger as a new process has it (no handlers), so main()'s basicConfig writes to the stderr
    captured here as it would to a process's; pytest's handlers and the level are put back afterwards."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    for handler in handlers:
        root.removeHandler(handler)
    basic_config = logging.basicConfig

    def basic_config_of_this_thread(**kwargs: Any) -> None:
        basic_config(**kwargs)
        for handler in root.handlers:
            handler.addFilter(_ThisThread())

    try:
        with patch.object(logging, "basicConfig", basic_config_of_this_thread):
            yield
    finally:
        for handler in root.handlers[:]:
            root.removeHandler(handler)
        for handler in handlers:
            root.addHandler(handler)
        root.setLevel(level)


def _text(stream: io.TextIOWrapper) -> str:
    """What ``subprocess.run(text=True)`` would read from this stream: decoded, universal newlines."""
    stream.flush()
    raw = stream.buffer.getvalue()  # type: ignore[attr-defined]
    return io.TextIOWrapper(io.BytesIO(raw), encoding="utf-8", errors="strict", newline=None).read()


def run_in_process(argv: Sequence[str], env: Mapping[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``main(argv)`` with its own stdout, stderr, environment and logging, as ``python -m meet_sched``
    would run: SystemExit becomes the exit status, an uncaught exception a traceback on stderr and status 1."""
    out = io.TextIOWrapper(io.BytesIO(), encoding="utf-8", errors="strict", write_through=True)
    err = io.TextIOWrapper(io.BytesIO(), encoding="utf-8", errors="backslashreplace", write_through=True)
    with _environment(env or {}), _fresh_logging(), redirect_stdout(out), redirect_stderr(err):
        try:
            code: object = main(list(argv))
        except SystemExit as exc:
            code = exc.code
        except Exception:
            traceback.print_exc(file=sys.stderr)
            code = 1
        for handler in logging.getLogger().handlers:
            handler.flush()
        gc.collect()  # what the process's exit would release (a database connection left in a pool) goes now
    if code is None:
        returncode = 0
    elif isinstance(code, int):
        returncode = code
    else:  # SystemExit("message"): Python prints it and exits with 1
        err.write(f"{code}\n")
        returncode = 1
    return subprocess.CompletedProcess([sys.executable, "-m", "meet_sched", *argv], returncode, _text(out), _text(err))
