"""A PostgreSQL role without the rights a command needs: one line naming the privilege missing, exit status 1, no
traceback, never the SQL statement or its values (attendees' addresses)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text

from meet_sched.cli import main

from .conftest import SiteDir
from .replies_helpers import FIXTURES, MEETING

pytestmark = pytest.mark.postgres

COMMANDS = {
    "sync": ["sync"],
    "replies-import": ["replies", "import", str(FIXTURES / "google-accepted.eml")],
    "attendance": ["attendance"],
    "run": ["run"],
    "feeds-rotate": ["feeds", "rotate", "ellis@atlanta.example"],
}


@pytest.fixture
def role(pg_url: str) -> Iterator[str]:
    """A login role with no rights of its own, in ``pg_url``'s database (PUBLIC may still connect)."""
    name = f"meet_sched_nobody_{uuid.uuid4().hex[:8]}"
    admin = create_engine(pg_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE ROLE {name} LOGIN"))
    try:
        yield name
    finally:
        with admin.connect() as conn:
            conn.execute(text(f"DROP OWNED BY {name}"))
            conn.execute(text(f"DROP ROLE {name}"))
        admin.dispose()


def as_role(pg_url: str, role: str) -> str:
    return pg_url.replace("://postgres@", f"://{role}@", 1)


def run(site_dir: SiteDir, args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main([*args, "--root", str(site_dir.root)])
    return code, capsys.readouterr().err


def refused(code: int, err: str, role: str, what: str) -> None:
    lines = err.strip().splitlines()
    assert code == 1 and len(lines) == 1, err
    assert lines[0].startswith(f"meet-sched: database postgresql+psycopg://{role}@127.0.0.1:5432/"), err
    assert lines[0].endswith(what), err
    assert "Traceback" not in err and "[SQL" not in err and "@atlanta" not in err and "@chengdu" not in err


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_a_role_without_rights_on_a_new_database_is_told_it_cannot_create_tables(
    tmp_path: object, pg_url: str, role: str, command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    site_dir = SiteDir(tmp_path / "site", as_role(pg_url, role))  # type: ignore[operator]
    site_dir.meeting("working-call.yaml", MEETING.format(start="2027-06-10T10:00"))
    code, err = run(site_dir, COMMANDS[command], capsys)
    refused(code, err, role, "permission denied for schema public (the role needs the CREATE privilege)")


def test_a_role_that_may_only_read_is_told_which_privilege_each_command_lacks(
    tmp_path: object, pg_url: str, role: str, capsys: pytest.CaptureFixture[str]
) -> None:
    owner = SiteDir(tmp_path / "site", pg_url)  # type: ignore[operator]
    owner.meeting("working-call.yaml", MEETING.format(start="2027-06-10T10:00"))
    assert main(["sync", "--root", str(owner.root)]) == 0
    capsys.readouterr()
    owner.database_url = as_role(pg_url, role)
    owner.settings("")
    code, err = run(owner, ["attendance"], capsys)
    refused(code, err, role, "permission denied for table alembic_version (the role needs the SELECT privilege)")
    admin = create_engine(pg_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {role}"))
    admin.dispose()
    assert run(owner, ["attendance"], capsys)[0] == 0  # reading is all it needs
    owner.meeting("working-call.yaml", MEETING.format(start="2027-06-10T11:00"))  # a change to write
    for command in ("sync", "run", "replies-import", "feeds-rotate"):
        code, err = run(owner, COMMANDS[command], capsys)
        refused(code, err, role, "privilege)")
        assert "permission denied for table " in err and any(
            f"(the role needs the {p} privilege)" in err for p in ("INSERT", "UPDATE", "DELETE")
        ), err
