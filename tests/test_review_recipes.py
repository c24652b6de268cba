"""README "Reviewing a change": the pre-commit hook (real pre-commit) and docs/ci-diff.sh in real git repositories."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

from .conftest import REPO

BIN = Path(sys.executable).parent
GOOD = """\
uid: weekly
title: Weekly call
timezone: Asia/Seoul
start: 2027-01-05T10:00
duration: 1h
attendees:
  - Kim <kim@seoul.example>
"""
SETTINGS = """\
[calendar]
name = "Test"
domain = "test.example"
organizer = { name = "Office", email = "office@test.example" }

[warnings]
enabled = false
"""


def git(cwd: Path, *args: str) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@x", "GIT_COMMITTER_NAME": "t"}
    env["GIT_COMMITTER_EMAIL"] = "t@x"
    done = subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=60, check=True)
    return done.stdout


def config_repo(path: Path) -> Path:
    (path / "config" / "meetings").mkdir(parents=True)
    (path / "config" / "meet-sched.toml").write_text(SETTINGS, encoding="utf-8")
    (path / "config" / "meetings" / "weekly.yaml").write_text(GOOD, encoding="utf-8")
    git(path, "init", "-q", "-b", "main")
    return path


def environ() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEET_SCHED_")}
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    return env


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_the_pre_commit_hook_refuses_an_invalid_meeting(tmp_path: Path) -> None:
    repo = config_repo(tmp_path / "site")
    hooks = yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))
    [hook] = [h for h in hooks if h["id"] == "meet-sched-validate"]
    # The hook as published, run from this checkout's environment (no network to build one).
    local = {**hook, "language": "system"}
    (repo / ".pre-commit-config.yaml").write_text(
        yaml.safe_dump({"repos": [{"repo": "local", "hooks": [local]}]}), encoding="utf-8"
    )
    git(repo, "add", "-A")
    env = {**environ(), "PRE_COMMIT_HOME": str(tmp_path / "cache")}
    run = [str(BIN / "pre-commit"), "run", "--all-files"]
    ok = subprocess.run(run, cwd=repo, env=env, capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "meet-sched validate --strict" in ok.stdout and "Passed" in ok.stdout

    (repo / "config" / "meetings" / "weekly.yaml").write_text(GOOD.replace("duration: 1h", "durration: 1h"))
    git(repo, "add", "-A")
    bad = subprocess.run(run, cwd=repo, env=env, capture_output=True, text=True, timeout=120)
    assert bad.returncode == 1
    assert "Failed" in bad.stdout
    assert "config/meetings/weekly.yaml:5: durration: unknown key (did you mean 'duration'?)" in bad.stdout


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_ci_diff_posts_what_the_pull_request_would_do(tmp_path: Path) -> None:
    origin = config_repo(tmp_path / "origin")
    git(origin, "add", "-A")
    git(origin, "commit", "-qm", "base")
    work = tmp_path / "work"
    git(tmp_path, "clone", "-q", str(origin), str(work))
    (work / "config" / "meetings" / "weekly.yaml").write_text(GOOD.replace("T10:00", "T15:00"), encoding="utf-8")
    git(work, "commit", "-qam", "move the call")
    posted = tmp_path / "posted"
    fake = tmp_path / "bin"
    fake.mkdir()
    # `gh` stands in for GitHub here: it records the comment instead of posting it.
    (fake / "gh").write_text(
        textwrap.dedent(
            f"""\
            #!/bin/sh
            echo "$@" > {posted}.args
            cp "$5" {posted}
            """
        )
    )
    (fake / "gh").chmod(0o755)
    env = {**environ(), "BASE_REF": "main", "PR": "7"}
    env["PATH"] = f"{fake}{os.pathsep}{env['PATH']}"
    done = subprocess.run(
        ["sh", str(REPO / "docs" / "ci-diff.sh")], cwd=work, env=env, capture_output=True, text=True, timeout=180
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert posted.with_suffix(".args").read_text().split()[:4] == ["pr", "comment", "7", "--body-file"]
    comment = posted.read_text(encoding="utf-8")
    assert comment.startswith("### What this change would do\n")
    assert "~ changed   weekly@test.example" in comment
    assert "start: '2027-01-05 10:00 Asia/Seoul' → '2027-01-05 15:00 Asia/Seoul'" in comment
    assert "1 update to kim@seoul.example" in comment
    assert git(work, "worktree", "list").count("\n") == 1  # the base checkout is gone
