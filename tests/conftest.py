"""Shared fixtures: throw-away sites, real SQLite files and real PostgreSQL databases."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from meet_sched.config import load_config
from meet_sched.errors import ConfigError
from meet_sched.model import Meeting

from .cli_helpers import run_in_process
from .smtp_sink import SmtpSink

REPO = Path(__file__).resolve().parent.parent
PG_ADMIN_URL = os.environ.get("MEET_SCHED_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
# MEET_SCHED_TEST_DB=postgresql: every site_dir gets a fresh PostgreSQL database of its own (dropped after)
TEST_DB = os.environ.get("MEET_SCHED_TEST_DB", "sqlite")
if TEST_DB not in ("sqlite", "postgresql"):
    raise pytest.UsageError(f"MEET_SCHED_TEST_DB={TEST_DB!r}: expected sqlite or postgresql")


# The quick tier: `pytest` alone leaves these out; --all, a named file or test, or an explicit -m runs them.
LEFT_OUT_OF_QUICK_TIER = ("slow",)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--all",
        action="store_true",
        dest="all_tiers",
        help=f"run every tier: also the tests marked {', '.join(LEFT_OUT_OF_QUICK_TIER)} (what scripts/test.sh runs)",
    )


def _quick_tier(config: pytest.Config) -> bool:
    """The default run (no --all, no -m, no file or test named): the quick tier. An xdist worker, whose
    arguments are the paths the controller resolved, takes the controller's answer."""
    workerinput = getattr(config, "workerinput", None)
    if workerinput is not None:
        return bool(workerinput["quick_tier"])
    return (
        not config.getoption("all_tiers")
        and not config.getoption("markexpr")
        and config.args_source != pytest.Config.ArgsSource.ARGS
    )


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    node.workerinput["quick_tier"] = _quick_tier(node.config)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not _quick_tier(config):
        return
    left_out = [item for item in items if any(item.get_closest_marker(m) for m in LEFT_OUT_OF_QUICK_TIER)]
    if left_out:
        kept = set(map(id, left_out))
        config.hook.pytest_deselected(items=left_out)
        items[:] = [item for item in items if id(item) not in kept]


def pytest_report_header(config: pytest.Config) -> str:
    if _quick_tier(config):
        return f"quick tier: tests marked {', '.join(LEFT_OUT_OF_QUICK_TIER)} left out (pytest --all runs every tier)"
    return "every tier"


def sqlite_only(reason: str) -> pytest.MarkDecorator:
    """A test about the SQLite file itself: it runs in the SQLite pass, and is skipped, saying why, in the
    PostgreSQL one (MEET_SCHED_TEST_DB=postgresql), where no such file exists."""
    return pytest.mark.skipif(TEST_DB == "postgresql", reason=f"SQLite-specific: {reason}")


class SiteDir:
    """A site folder in tmp_path, with helpers to write config files."""

    def __init__(self, root: Path, database_url: str | None = None) -> None:
        self.root = root
        self.database_url = database_url  # None: the site's own SQLite file
        (root / "config" / "meetings").mkdir(parents=True)
        self.settings("")

    def settings(self, body: str) -> Path:
        path = self.root / "config" / "meet-sched.toml"
        base = textwrap.dedent(
            """
            [calendar]
            name = "Test"
            domain = "test.example"
            organizer = { name = "Office", email = "office@test.example" }
            """
        )
        text_ = base + textwrap.dedent(body)
        if self.database_url is not None and "[database]" not in text_:
            text_ += f'\n[database]\nurl = "{self.database_url}"\n'
        path.write_text(text_, encoding="utf-8")
        return path

    def meeting(self, name: str, body: str) -> Path:
        path = self.root / "config" / "meetings" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(body).lstrip("\n"), encoding="utf-8")
        return path

    def load_one(self, body: str, name: str = "m.yaml") -> Meeting:
        """Write ``body`` as meeting file ``name`` and load the config: the site's only meeting."""
        self.meeting(name, body)
        (meeting,) = load_config(self.root, environ={}).meetings
        return meeting

    def problems(self, body: str, name: str = "m.yaml") -> list[str]:
        """Write ``body`` as meeting file ``name``: the problems the config loader reports, as printed."""
        self.meeting(name, body)
        with pytest.raises(ConfigError) as caught:
            load_config(self.root, environ={})
        return [str(p) for p in caught.value.problems]

    def run(
        self, *args: str, env: dict[str, str] | None = None, check: bool = False, process: bool = False
    ) -> subprocess.CompletedProcess[str]:
        """Run the `meet-sched` command on this site: ``main(argv)`` in this process, or the real command as
        a process where that is the point (``process=True``, or ``env`` naming anything but MEET_SCHED_*
        variables, such as TZ or PYTHONHASHSEED, which only a new interpreter reads)."""
        argv = [*args, "--root", str(self.root)]
        if not process and all(k.startswith("MEET_SCHED_") for k in env or {}):
            result = run_in_process(argv, env)
        else:
            full_env = {k: v for k, v in os.environ.items() if not k.startswith("MEET_SCHED_")}
            full_env.update(env or {})
            result = subprocess.run(
                [sys.executable, "-m", "meet_sched", *argv],
                capture_output=True,
                text=True,
                env=full_env,
                timeout=120,
            )
        if check and result.returncode != 0:
            raise AssertionError(f"meet-sched {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
        return result


@pytest.fixture
def site_dir(request: pytest.FixtureRequest, tmp_path: Path) -> SiteDir:
    """A fresh site; its database a SQLite file, or a fresh PostgreSQL one under MEET_SCHED_TEST_DB=postgresql."""
    url = str(request.getfixturevalue("pg_url")) if TEST_DB == "postgresql" else None
    return SiteDir(tmp_path / "site", url)


@pytest.fixture
def sample_site(tmp_path: Path) -> SiteDir:
    """A copy of the repository's own sample site."""
    root = tmp_path / "sample"
    root.mkdir()
    shutil.copytree(REPO / "config", root / "config")
    site = SiteDir.__new__(SiteDir)
    site.root = root
    site.database_url = None
    return site


def _pg_available() -> bool:
    try:
        with create_engine(PG_ADMIN_URL).connect() as conn:
            conn.execute(text("select 1"))
        return True
    except Exception:
        return False


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test, dropped afterwards."""
    if not _pg_available():
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(f"PostgreSQL is not reachable at {PG_ADMIN_URL} (CI is set: a skipped test would hide it)")
        pytest.skip(f"PostgreSQL is not reachable at {PG_ADMIN_URL} (set MEET_SCHED_TEST_PG to point elsewhere)")
    name = f"meet_sched_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The same test against a real SQLite file and a real PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'test.db'}"
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture
def smtp_server() -> Iterator[SmtpSink]:
    """A real SMTP server (aiosmtpd) on 127.0.0.1 and a free port, recording what it accepts."""
    sink = SmtpSink().start()
    try:
        yield sink
    finally:
        sink.stop()
