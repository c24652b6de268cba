"""The command run in-process (the quick tier's way) gives the exit status, stdout and stderr of the real one."""

from __future__ import annotations

import logging
import os

import pytest

from .cli_helpers import run_in_process
from .conftest import SiteDir

MEETING = """\
title: Weekly call
start: 2027-01-04T10:00
timezone: Asia/Seoul
duration: 1h
"""


@pytest.mark.slow
@pytest.mark.parametrize(
    "args",
    [
        ["validate"],  # a clean site
        ["validate", "--no-such-option"],  # argparse: usage on stderr, status 2
        ["agenda", "--tz", "Asia/Seol"],  # a usage error in the program's words
    ],
    ids=["ok", "usage", "refused"],
)
def test_in_process_and_real_process_agree(site_dir: SiteDir, args: list[str]) -> None:
    site_dir.meeting("m.yaml", MEETING)
    real = site_dir.run(*args, process=True)
    mine = site_dir.run(*args)
    assert (mine.returncode, mine.stdout, mine.stderr) == (real.returncode, real.stdout, real.stderr)


def test_a_refused_config_is_status_1_with_its_line_and_no_traceback(site_dir: SiteDir) -> None:
    site_dir.meeting("m.yaml", MEETING.replace("duration: 1h", "duration: soon"))
    result = site_dir.run("validate")
    assert result.returncode == 1
    assert "m.yaml:" in result.stderr and "Traceback" not in result.stderr


def test_the_environment_and_the_loggers_are_put_back(site_dir: SiteDir, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEET_SCHED_ROOT", "/nowhere")
    handlers = logging.getLogger().handlers[:]
    site_dir.run("validate", "--verbose", env={"MEET_SCHED_DATABASE_URL": "sqlite:////nowhere/x.db"})
    assert logging.getLogger().handlers == handlers
    assert os.environ["MEET_SCHED_ROOT"] == "/nowhere" and "MEET_SCHED_DATABASE_URL" not in os.environ


def test_an_exception_is_a_traceback_on_stderr_and_status_1(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(argv: list[str]) -> int:
        raise RuntimeError("a bug")

    monkeypatch.setattr("tests.cli_helpers.main", broken)
    result = run_in_process(["validate"])
    assert result.returncode == 1
    assert "Traceback" in result.stderr and "RuntimeError: a bug" in result.stderr
