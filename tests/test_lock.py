"""The lock file (requirements/): every dependency pinned with hashes, and the tests run on exactly those versions."""

from __future__ import annotations

import os
import re
import tomllib
from importlib import metadata

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from .conftest import REPO

PIN = re.compile(r"^([A-Za-z0-9_.\-]+)==([^\s;\\]+)")


def pins(name: str) -> dict[str, str]:
    """``{canonical name: version}`` of one lock file; every pin must carry at least one hash."""
    found: dict[str, str] = {}
    current: str | None = None
    hashed: set[str] = set()
    for line in (REPO / "requirements" / name).read_text().splitlines():
        if m := PIN.match(line):
            current = canonicalize_name(m.group(1))
            found[current] = m.group(2)
        elif current and line.strip().startswith("--hash=sha256:"):
            hashed.add(current)
    assert found, f"requirements/{name} pins nothing"
    assert set(found) == hashed, f"pins without a hash in requirements/{name}: {sorted(set(found) - hashed)}"
    return found


def declared() -> tuple[set[str], set[str]]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    runtime = {canonicalize_name(Requirement(r).name) for r in project["dependencies"]}
    extras = project["optional-dependencies"]
    test = {canonicalize_name(Requirement(r).name) for group in extras.values() for r in group}
    return runtime, test


def test_every_declared_dependency_is_locked() -> None:
    runtime, test = declared()
    main, full = pins("main.txt"), pins("test.txt")
    assert runtime - set(main) == set()
    assert (runtime | test) - set(full) == set()
    assert {"setuptools", "wheel"} <= set(main), "the build backend is locked too (installs use --no-build-isolation)"


def test_the_runtime_lock_agrees_with_the_test_lock() -> None:
    main, full = pins("main.txt"), pins("test.txt")
    assert {n: v for n, v in main.items() if full.get(n) != v} == {}


@pytest.mark.skipif(os.environ.get("MEET_SCHED_LATEST") == "1", reason="scripts/test.sh --latest runs unlocked")
def test_the_suite_runs_on_the_locked_versions() -> None:
    """A test comparing localized text (Babel's CLDR data) is only meaningful on the pinned data."""
    wrong = {}
    for name, version in pins("test.txt").items():
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            installed = None
        if installed != version:
            wrong[name] = (installed, version)
    assert wrong == {}, "installed ≠ locked (run `bash scripts/install.sh --test`): " + ", ".join(
        f"{n} {i} (locked {v})" for n, (i, v) in sorted(wrong.items())
    )
