"""README "meet-sched new": a meeting file from flags, validated before it is written, with a uid, never over a file."""

from __future__ import annotations

import pytest

from meet_sched.cli import main
from meet_sched.config import load_config

from .conftest import SiteDir

FLAGS = [
    "new",
    "--title",
    "Budget review",
    "--start",
    "2027-02-03T10:00",
    "--timezone",
    "Asia/Seoul",
    "--duration",
    "45m",
    "--with",
    "li@chengdu.example,Park Seoyeon <seoyeon.park@daegu.example>",
    "--every",
    "FREQ=MONTHLY;BYDAY=1WE;COUNT=6",
]


def test_new_writes_a_file_validate_accepts(site_dir: SiteDir) -> None:
    result = site_dir.run(*FLAGS, check=True)
    path = site_dir.root / "config" / "meetings" / "budget-review.yaml"
    assert path.read_text(encoding="utf-8") == result.stdout
    assert "uid: budget-review\n" in result.stdout
    [meeting] = load_config(site_dir.root).meetings
    assert meeting.uid == "budget-review@test.example"
    assert meeting.title == "Budget review"
    assert meeting.timezone.key == "Asia/Seoul"
    assert f"{meeting.start:%Y-%m-%d %H:%M}" == "2027-02-03 10:00"
    assert meeting.recurrence is not None
    assert sorted(meeting.recurrence.split(";")) == ["BYDAY=1WE", "COUNT=6", "FREQ=MONTHLY"]
    assert [(a.name, a.email) for a in meeting.attendees] == [
        ("", "li@chengdu.example"),
        ("Park Seoyeon", "seoyeon.park@daegu.example"),
    ]
    assert "warning: config/meetings/budget-review.yaml:2: meetings" not in site_dir.run("validate", check=True).stdout


def test_new_never_overwrites(site_dir: SiteDir) -> None:
    site_dir.run(*FLAGS, check=True)
    path = site_dir.root / "config" / "meetings" / "budget-review.yaml"
    before = path.read_bytes()
    again = site_dir.run(*FLAGS)
    assert again.returncode == 1
    assert "already used by config/meetings/budget-review.yaml" in again.stderr
    other = site_dir.run(*FLAGS, "--uid", "budget-2")  # a new uid, the same file
    assert other.returncode == 0, other.stderr
    taken = site_dir.run(*FLAGS, "--uid", "budget-3", "--file", str(path))
    assert taken.returncode == 1
    assert "exists already" in taken.stderr
    assert path.read_bytes() == before


def test_an_invalid_meeting_is_not_written(site_dir: SiteDir) -> None:
    result = site_dir.run(*[f if f != "2027-02-03T10:00" else "2027-02-30T10:00" for f in FLAGS])
    assert result.returncode == 1
    expected = "config/meetings/budget-review.yaml:4: start: '2027-02-30T10:00' is not an ISO 8601 date-time"
    assert expected in result.stderr
    assert "Traceback" not in result.stderr
    assert not list((site_dir.root / "config" / "meetings").iterdir())


def test_a_place_gives_zone_and_city(site_dir: SiteDir) -> None:
    site_dir.settings(
        """
        [places.chengdu]
        timezone = "Asia/Shanghai"
        country = "CN"
        """
    )
    result = site_dir.run(
        "new",
        "--title",
        "Call",
        "--start",
        "2027-02-03T10:00",
        "--place",
        "chengdu",
        "--with",
        "li@chengdu.example",
        check=True,
    )
    [meeting] = load_config(site_dir.root).meetings
    assert meeting.timezone.key == "Asia/Shanghai"
    assert "timezone: Asia/Shanghai" in result.stdout


def test_a_title_without_ascii_needs_a_uid(site_dir: SiteDir) -> None:
    result = site_dir.run("new", "--title", "예산 회의", "--start", "2027-02-03T10:00", "--timezone", "Asia/Seoul")
    assert result.returncode == 1
    assert "give --uid" in result.stderr
    ok = site_dir.run(
        "new", "--title", "예산 회의", "--uid", "budget", "--start", "2027-02-03T10:00", "--timezone", "Asia/Seoul"
    )
    assert ok.returncode == 0, ok.stderr
    assert (site_dir.root / "config" / "meetings" / "budget.yaml").is_file()


def test_a_file_the_loader_never_reads_is_refused(site_dir: SiteDir, capsys: pytest.CaptureFixture[str]) -> None:
    meetings = site_dir.root / "config" / "meetings"
    for name in (".hidden.yaml", "drafts/.call.yml"):
        flags = ["new", "--title", "Call", "--start", "2027-02-03T10:00", "--timezone", "Asia/Seoul"]
        assert main([*flags, "--file", str(meetings / name), "--root", str(site_dir.root)]) == 1
        out = capsys.readouterr()
        lines = out.err.splitlines()
        assert lines == [
            f"meet-sched: {meetings / name}: not written: its name starts with '.': the loader never reads "
            "hidden files; give another --file"
        ]
        assert out.out == ""
    assert not list(meetings.rglob("*"))
