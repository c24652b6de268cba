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


CHENGDU = """\
uid: chengdu-visit
title: Chengdu visit
calendar: sister-cities
timezone: Asia/Shanghai
start: 2027-03-04T10:00
duration: 1h
attendees:
  - name: 김지현
    email: jihyun.kim@daegu.example
    timezone: Asia/Seoul
  - { name: 李明, email: li.ming@chengdu.example, timezone: Asia/Shanghai, language: zh, city: Chengdu }
"""
PUBLIC = '[server]\npublic_calendars = ["sister-cities"]\n'


def new(site: SiteDir, *flags: str) -> int:
    base = ["new", "--title", "Daegu–Chengdu monthly call", "--start", "2027-05-06T10:00", "--timezone", "Asia/Seoul"]
    return main([*base, *flags, "--root", str(site.root)])


def test_a_known_person_keeps_their_zone_language_and_city(
    site_dir: SiteDir, capsys: pytest.CaptureFixture[str]
) -> None:
    site_dir.settings(PUBLIC)
    site_dir.meeting("chengdu.yaml", CHENGDU)
    assert new(site_dir, "--with", "李明 <li.ming@chengdu.example>", "--calendar", "sister-cities") == 0
    out = capsys.readouterr()
    path = site_dir.root / "config" / "meetings" / "daegu-chengdu-monthly-call.yaml"  # the dash kept
    assert path.read_text(encoding="utf-8") == out.out
    assert "uid: daegu-chengdu-monthly-call\n" in out.out
    [meeting] = [m for m in load_config(site_dir.root).meetings if m.uid.startswith("daegu-chengdu")]
    [li] = meeting.attendees
    assert (li.name, li.timezone.key, li.language, li.city) == ("李明", "Asia/Shanghai", "zh", "Chengdu")
    assert (
        "note: li.ming@chengdu.example: timezone Asia/Shanghai, language zh, city Chengdu, "
        "as config/meetings/chengdu.yaml:11 gives them"
    ) in out.err.splitlines()
    assert "not public" not in out.err  # given a public calendar: nothing to point out
    assert main(["validate", "--root", str(site_dir.root)]) == 0
    assert "warning: config/" not in capsys.readouterr().out


def test_validate_names_both_places_where_one_address_has_two_zones_or_languages(
    site_dir: SiteDir, capsys: pytest.CaptureFixture[str]
) -> None:
    site_dir.meeting("chengdu.yaml", CHENGDU)
    site_dir.meeting(
        "monthly.yaml",
        """\
        uid: monthly
        title: Monthly call
        timezone: Asia/Seoul
        start: 2027-05-06T10:00
        duration: 1h
        attendees:
          - { email: jihyun.kim@daegu.example, language: ko }
          - { name: 李明, email: li.ming@chengdu.example }
        """,
    )
    assert main(["validate", "--root", str(site_dir.root)]) == 0
    warnings = [line for line in capsys.readouterr().out.splitlines() if line.startswith("warning: config/")]
    assert warnings == [
        # a language written out is the one to follow; the file that leaves it out is pointed at
        "warning: config/meetings/chengdu.yaml:8: attendees[0]: jihyun.kim@daegu.example has language en here "
        "(none given: English) but ko in config/meetings/monthly.yaml:7; give the same language in every file",
        "warning: config/meetings/monthly.yaml:8: attendees[1]: li.ming@chengdu.example has timezone Asia/Seoul "
        "here (none given: the meeting's) but Asia/Shanghai in config/meetings/chengdu.yaml:11; "
        "give the same timezone in every file",
        "warning: config/meetings/monthly.yaml:8: attendees[1]: li.ming@chengdu.example has language en here "
        "(none given: English) but zh in config/meetings/chengdu.yaml:11; give the same language in every file",
    ]


def test_a_meeting_in_no_public_calendar_is_pointed_out(site_dir: SiteDir, capsys: pytest.CaptureFixture[str]) -> None:
    site_dir.settings(PUBLIC)
    site_dir.meeting("chengdu.yaml", CHENGDU)
    assert new(site_dir, "--with", "li.ming@chengdu.example") == 0
    err = capsys.readouterr().err
    assert (
        "note: no calendar given: the meeting is in 'default', which is not public, so it is on no page or public "
        "feed ([server] public_calendars: sister-cities); add 'calendar: sister-cities' to the file "
        "(--calendar sister-cities writes it) to show it there"
    ) in err.splitlines()
    assert main(["validate", "--root", str(site_dir.root)]) == 0
    warnings = [line for line in capsys.readouterr().out.splitlines() if line.startswith("warning: config/")]
    assert warnings == [
        "warning: config/meetings/daegu-chengdu-monthly-call.yaml:1: calendar: no calendar given: the meeting is "
        "in 'default', which is not public, so it is on no page or public feed ([server] public_calendars: "
        "sister-cities); give 'calendar: sister-cities' (or 'calendar: default' to keep it private)"
    ]
    # Kept private on purpose, or a site without public calendars: nothing to say.
    path = site_dir.root / "config" / "meetings" / "daegu-chengdu-monthly-call.yaml"
    path.write_text("calendar: default\n" + path.read_text(encoding="utf-8"), encoding="utf-8")
    assert main(["validate", "--root", str(site_dir.root)]) == 0
    assert "warning: config/" not in capsys.readouterr().out
    site_dir.settings("")
    path.write_text(path.read_text(encoding="utf-8").replace("calendar: default\n", ""), encoding="utf-8")
    assert main(["validate", "--root", str(site_dir.root)]) == 0
    assert "warning: config/" not in capsys.readouterr().out
