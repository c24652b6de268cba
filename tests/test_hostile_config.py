"""README "Limits": a careless or hostile config file ends in `path:line: field: message`, bounded, changing nothing."""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from meet_sched.config import load_settings
from meet_sched.errors import ConfigError

from .conftest import SiteDir

MEMORY_CAP = 1024 * 1024 * 1024  # address space of each command run here
TIME_CAP = 30  # seconds

GOOD_YAML = """\
title: Good
timezone: Asia/Seoul
start: 2030-01-10T10:00
duration: 1h
attendees:
  - { name: Ann, email: ann@test.example }
"""

MEETING_HEAD = "title: T\ntimezone: Asia/Seoul\nstart: 2030-01-10T10:00\n"


def _cap() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP, MEMORY_CAP))


def meet_sched(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The real command, under a memory cap and a time limit."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEET_SCHED_")}
    return subprocess.run(
        [sys.executable, "-m", "meet_sched", *args, "--root", str(root)],
        capture_output=True,
        text=True,
        env=env,
        timeout=TIME_CAP,
        preexec_fn=_cap,
    )


def _snapshot(root: Path) -> dict[str, tuple[bytes, int]]:
    """Bytes and mtimes of the database and the calendars, and every name under var/."""
    out: dict[str, tuple[bytes, int]] = {}
    for folder in ("var", "calendars"):
        for path in sorted((root / folder).rglob("*")):
            if path.is_file():
                out[path.relative_to(root).as_posix()] = (path.read_bytes(), path.stat().st_mtime_ns)
    return out


@dataclass(frozen=True)
class Case:
    id: str
    write: Callable[[Path], None]  # adds the hostile input to a site that had a good run
    expected: list[str]  # the exact problem lines
    run_too: bool = False  # the finding was in sync/run: `run` must refuse it the same way


def meeting(body: str | bytes, name: str = "m.yaml") -> Callable[[Path], None]:
    def write(root: Path) -> None:
        path = root / "config" / "meetings" / name
        if isinstance(body, bytes):
            path.write_bytes(body)
        else:
            path.write_text(body, encoding="utf-8")

    return write


def settings(extra: str) -> Callable[[Path], None]:
    def write(root: Path) -> None:
        path = root / "config" / "meet-sched.toml"
        path.write_text(path.read_text(encoding="utf-8") + extra, encoding="utf-8")

    return write


def _alias_bomb(levels: int) -> str:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, levels)]
    return "\n".join(lines) + "\n"


def _bad_name(root: Path) -> None:
    (root / "config" / "meetings").joinpath(os.fsdecode(b"bad-\xff.yaml")).write_text(GOOD_YAML, encoding="utf-8")


def _outside_link(root: Path) -> None:
    secret = root.parent / f"{root.name}-secret.yaml"
    secret.write_text("title: secret\npassword: hunter2\n", encoding="utf-8")
    (root / "config" / "meetings" / "link.yaml").symlink_to(secret)


def _many_files(root: Path) -> None:
    folder = root / "config" / "meetings" / "many"
    folder.mkdir()
    for i in range(10_000):
        (folder / f"m{i}.yaml").write_bytes(b"")


def _attendees(n: int) -> str:
    return (
        MEETING_HEAD + "duration: 1h\nattendees:\n" + "".join(f"  - {{email: a{i}@test.example}}\n" for i in range(n))
    )


M = "config/meetings/m.yaml"
S = "config/meet-sched.toml"
BIG_HEAD = MEETING_HEAD + "duration: 1h\nattendees: [{email: a@test.example}]\ndescription: "
BIG_SIZE = len(BIG_HEAD) + 50_000_000 + 1  # one attendee and a 50 MB description


def _big_description(root: Path) -> None:
    with open(root / "config" / "meetings" / "m.yaml", "wb") as f:
        f.write(BIG_HEAD.encode())
        for _ in range(50):
            f.write(b"x" * 1_000_000)
        f.write(b"\n")
    assert (root / "config" / "meetings" / "m.yaml").stat().st_size == BIG_SIZE


MANY_ATTENDEES = _attendees(100_000)

CASES = [
    # aliases and depth: bounded before any node is built
    Case(
        "alias-bomb",
        meeting(_alias_bomb(9)),
        [f"{M}:6: the document holds more than 200,000 values (MAX_YAML_NODES), counting what the alias *a4 repeats"],
    ),
    Case(
        "alias-bomb-in-a-value",
        meeting(MEETING_HEAD + "duration: 1h\n" + _alias_bomb(9).replace("a0: ", "description: ", 1)),
        [f"{M}:10: the document holds more than 200,000 values (MAX_YAML_NODES), counting what the alias *a4 repeats"],
    ),
    Case(
        "recursive-alias",
        meeting(MEETING_HEAD + "duration: 1h\nreminders: &r [1h, *r]\n"),
        [
            f"{M}:5: the alias *r refers to no complete anchor before it "
            "(an alias may not stand for a list or table it is inside of)"
        ],
    ),
    Case(
        "deep-flow-yaml",
        meeting(MEETING_HEAD + "duration: 1h\ndescription: " + "[" * 1200 + "]" * 1200 + "\n"),
        [f"{M}:5: lists and tables are nested more than 20 deep (MAX_NESTING)"],
    ),
    Case(
        "deep-block-yaml",
        meeting("".join(" " * i + f"k{i}:\n" for i in range(1100)) + " " * 1100 + "x\n"),
        [f"{M}:21: lists and tables are nested more than 20 deep (MAX_NESTING)"],
    ),
    Case(
        "deep-yaml-with-a-syntax-error",
        meeting("description: " + "[" * 5000 + "\n"),
        [f"{M}:1: lists and tables are nested more than 20 deep (MAX_NESTING)"],
    ),
    Case(
        "deep-toml",
        meeting('title = "T"\ndescription = ' + "[" * 600 + "]" * 600 + "\n", "m.toml"),
        ["config/meetings/m.toml: arrays and tables are nested more than 20 deep (MAX_NESTING)"],
    ),
    Case(
        "deep-toml-under-the-recursion-limit",
        meeting('title = "T"\ndescription = ' + "[" * 30 + "]" * 30 + "\n", "m.toml"),
        [
            "config/meetings/m.toml: description[0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0]: "
            "arrays and tables are nested more than 20 deep (MAX_NESTING)"
        ],
    ),
    Case(
        "deep-settings",
        settings("[server]\npublic_calendars = " + "[" * 600 + "]" * 600 + "\n"),
        [f"{S}: arrays and tables are nested more than 20 deep (MAX_NESTING)"],
    ),
    # standard tags with values their constructors cannot read
    Case(
        "timestamp-tag",
        meeting("title: T\ntimezone: Asia/Seoul\nstart: !!timestamp 2030-01-10T10:00\nduration: 1h\n"),
        [
            f"{M}:3: start: '2030-01-10T10:00' is not a YAML timestamp (!!timestamp); leave out the !!timestamp "
            "tag: a plain 2021-04-14T10:00 is read as a wall time"
        ],
    ),
    Case(
        "int-tag",
        meeting(MEETING_HEAD + "duration: !!int abc\n"),
        [f"{M}:4: duration: 'abc' is not a whole number (!!int)"],
    ),
    Case(
        "float-tag",
        meeting(MEETING_HEAD + "duration: !!float abc\n"),
        [f"{M}:4: duration: 'abc' is not a number (!!float)"],
    ),
    Case(
        "bool-tag",
        meeting(MEETING_HEAD + "duration: 1h\nattendees:\n  - email: !!bool maybe\n"),
        [f"{M}:6: attendees[0].email: 'maybe' is not true or false (!!bool)"],
    ),
    Case(
        "binary-int-tag",
        meeting(MEETING_HEAD + "duration: !!int 0b2\n"),
        [f"{M}:4: duration: '0b2' is not a whole number (!!int)"],
    ),
    Case(
        "empty-int-tag",
        meeting(MEETING_HEAD + 'duration: !!int ""\n'),
        [f"{M}:4: duration: '' is not a whole number (!!int)"],
    ),
    Case(
        "python-tag",
        meeting(MEETING_HEAD + "duration: !!python/object:os.system echo\n"),
        [
            f"{M}:4: invalid YAML: could not determine a constructor for the tag "
            "'tag:yaml.org,2002:python/object:os.system'"
        ],
    ),
    # links
    Case(
        "video-url-quotes",
        meeting(MEETING_HEAD + "duration: 1h\nvideo_url: 'https://v.example/r/a\"><script>'\n"),
        [
            f"{M}:5: video_url: 'https://v.example/r/a\"><script>' contains '\"', which a link may not hold as it is "
            "(RFC 3986); write it percent-encoded"
        ],
        run_too=True,
    ),
    # durations: each kind its own maximum
    Case(
        "duration-overflow",
        meeting(MEETING_HEAD + "duration: 99999999999d\n"),
        [f"{M}:4: duration: '99999999999d' is longer than 36500d, the longest duration read"],
    ),
    Case(
        "duration-too-long",
        meeting(MEETING_HEAD + "duration: 32d\n"),
        [f"{M}:4: duration: 32d is longer than 31d, the longest meeting"],
    ),
    Case(
        "end-too-far",
        meeting(MEETING_HEAD + "end: 2199-01-10T10:00\n"),
        [f"{M}:4: end: 61726d after its start is longer than 31d, the longest meeting"],
    ),
    Case(
        "reminder-overflow",
        meeting(MEETING_HEAD + "duration: 1h\nreminders: [99999999999d]\n"),
        [f"{M}:5: reminders[0]: '99999999999d' is longer than 36500d, the longest duration read"],
    ),
    Case(
        "reminder-million-days",
        meeting(MEETING_HEAD + "duration: 1h\nreminders: [1000000d]\n"),
        [f"{M}:5: reminders[0]: '1000000d' is longer than 36500d, the longest duration read"],
        run_too=True,
    ),
    Case(
        "reminder-too-early",
        meeting(MEETING_HEAD + "duration: 1h\nattendees:\n  - { email: a@test.example, reminders: [10m, 400d] }\n"),
        [f"{M}:6: attendees[0].reminders[1]: 400d is longer than 31d, the longest reminder offset"],
        run_too=True,
    ),
    Case(
        "horizon",
        settings('[reminders]\nhorizon = "3000000d"\n'),
        [f"{S}:7: reminders.horizon: '3000000d' is longer than 36500d, the longest duration read"],
        run_too=True,
    ),
    Case(
        "horizon-too-far",
        settings('[reminders]\nhorizon = "400d"\n'),
        [f"{S}:7: reminders.horizon: 400d is longer than 366d, the longest reminder horizon"],
        run_too=True,
    ),
    Case(
        "lease",
        settings('[delivery]\nlease = "999999999d"\n'),
        [f"{S}:7: delivery.lease: '999999999d' is longer than 36500d, the longest duration read"],
        run_too=True,
    ),
    Case(
        "lease-too-long",
        settings('[delivery]\nlease = "2h"\nretry_max = "2d"\n'),
        [
            f"{S}:7: delivery.lease: 2h is longer than 1h, the longest lease",
            f"{S}:8: delivery.retry_max: 2d is longer than 1d, the longest wait between retries",
        ],
        run_too=True,
    ),
    # file names and links
    Case(
        "name-not-utf8",
        _bad_name,
        ["config/meetings/bad-\\xff.yaml: the file name is not UTF-8; rename the file"],
        run_too=True,
    ),
    Case(
        "link-out-of-the-site",
        _outside_link,
        [
            "config/meetings/link.yaml: is a symbolic link to a file outside the site; "
            "copy the file into config/meetings/"
        ],
        run_too=True,
    ),
    # sizes
    Case(
        "big-description",
        _big_description,
        [f"{M}: the file is {BIG_SIZE:,} bytes; at most 1,048,576 are read (MAX_FILE_BYTES)"],
        run_too=True,
    ),
    Case(
        "hundred-thousand-attendees",
        meeting(MANY_ATTENDEES),
        [f"{M}: the file is {len(MANY_ATTENDEES):,} bytes; at most 1,048,576 are read (MAX_FILE_BYTES)"],
        run_too=True,
    ),
    Case(
        "attendees",
        meeting(_attendees(501)),
        [f"{M}:5: attendees: has 501 attendees; at most 500 are allowed"],
        run_too=True,
    ),
    Case(
        "description",
        meeting(MEETING_HEAD + "duration: 1h\ndescription: " + "가" * 10_001 + "\n"),
        [f"{M}:5: description: is 10,001 characters long; at most 10,000 are allowed in a description"],
    ),
    Case(
        "title",
        meeting("title: " + "T" * 501 + "\ntimezone: Asia/Seoul\nstart: 2030-01-10T10:00\nduration: 1h\n"),
        [f"{M}:1: title: is 501 characters long; at most 500 are allowed in one line"],
    ),
    Case(
        "reminders",
        meeting(MEETING_HEAD + "duration: 1h\nreminders: [" + ", ".join(f"{i}m" for i in range(1, 22)) + "]\n"),
        [f"{M}:5: reminders: has 21 reminders; at most 20 are allowed"],
    ),
    Case(
        "meetings-per-file",
        meeting("meetings:\n" + "".join(f"  - {{title: T{i}}}\n" for i in range(501))),
        [
            f"{M}:1: meetings: holds 501 meetings; at most 500 are allowed in one file (MAX_MEETINGS_PER_FILE)",
        ],
    ),
    Case(
        "files",
        _many_files,
        ["config/meetings: holds 10,001 meeting files; at most 10,000 are read (MAX_MEETING_FILES)"],
    ),
    # what misleads a reader, or cannot be sent
    Case(
        "c1-control",
        meeting('title: "Budget\\x9b2J review"\ntimezone: Asia/Seoul\nstart: 2030-01-10T10:00\nduration: 1h\n'),
        [f"{M}:1: title: contains the control character U+009B at character 7"],
    ),
    Case(
        "c1-control-unescaped",
        meeting(MEETING_HEAD + "duration: 1h\nlocation: Room\u009b2J\n"),
        [f"{M}:5: invalid YAML: the character U+009B is not allowed"],
    ),
    Case(
        "bidi-override-in-a-name",
        meeting(MEETING_HEAD + 'duration: 1h\nattendees:\n  - { name: "Ann \u202egnp.exe", email: a@test.example }\n'),
        [
            f"{M}:6: attendees[0].name: contains the bidirectional control U+202E at character 5, "
            "which can make the line display as something other than what it says"
        ],
    ),
    Case(
        "bidi-isolate-in-a-title",
        meeting('title: "Call \u2067x\u2069"\ntimezone: Asia/Seoul\nstart: 2030-01-10T10:00\nduration: 1h\n'),
        [
            f"{M}:1: title: contains the bidirectional control U+2067 at character 6, "
            "which can make the line display as something other than what it says"
        ],
    ),
    Case(
        "bidi-override-in-a-description",
        meeting(MEETING_HEAD + 'duration: 1h\ndescription: "Agenda \u202dreversed"\n'),
        [
            f"{M}:5: description: contains the bidirectional override U+202D at character 8, "
            "which makes the text display in an order other than the one it is written in"
        ],
    ),
    Case(
        "non-ascii-local-part",
        meeting(MEETING_HEAD + "duration: 1h\nattendees:\n  - { email: jürgen@test.example }\n"),
        [
            f"{M}:6: attendees[0].email: 'jürgen@test.example' is not a valid email address: "
            "Internationalized characters before the @-sign are not supported: 'ü'."
        ],
        run_too=True,
    ),
]


@pytest.fixture(scope="module")
def good_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A site after a good `run`: a database, a calendar and a config cache to keep unchanged."""
    site = SiteDir(tmp_path_factory.mktemp("good") / "site")
    site.meeting("good.yaml", GOOD_YAML)
    result = meet_sched(site.root, "run")
    assert result.returncode == 0, result.stderr
    assert (site.root / "var" / "meet-sched.db").exists() and list((site.root / "calendars").glob("*.ics"))
    return site.root


@pytest.mark.slow
@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_hostile_input_is_one_problem_and_changes_nothing(case: Case, good_site: Path, tmp_path: Path) -> None:
    root = tmp_path / "site"
    shutil.copytree(good_site, root, symlinks=True)  # copy2: bytes and mtimes as they were
    before = _snapshot(root)
    case.write(root)
    for command in ("validate", "run") if case.run_too else ("validate",):
        result = meet_sched(root, command)
        assert "Traceback" not in result.stderr, result.stderr
        n = len(case.expected)
        summary = f"meet-sched: {n} problem{'s' if n != 1 else ''} in the configuration; nothing was changed"
        assert result.stderr.splitlines() == [*case.expected, summary], command
        assert result.returncode == 1
        assert _snapshot(root) == before, f"{command} changed the database, the calendars or var/"


@pytest.mark.slow
def test_idn_domain_is_kept_in_its_ascii_form(site_dir: SiteDir) -> None:
    """An internationalized domain has an A-label every mail system reads: the address is stored in it."""
    site_dir.meeting("m.yaml", MEETING_HEAD + "uid: idn\nduration: 1h\nattendees:\n  - { email: a@例え.jp }\n")
    result = meet_sched(site_dir.root, "run")
    assert result.returncode == 0, result.stderr
    invite = meet_sched(site_dir.root, "invite", "idn")
    assert invite.returncode == 0, invite.stderr
    assert "mailto:a@xn--r8jz45g.jp" in invite.stdout and "例え" not in invite.stdout


@pytest.mark.slow
def test_aliases_within_the_bound_are_read(site_dir: SiteDir) -> None:
    """Aliases are allowed while the expanded document stays under MAX_YAML_NODES."""
    site_dir.meeting(
        "m.yaml",
        "meetings:\n"
        "  - &base { title: A, timezone: Asia/Seoul, start: 2030-01-10T10:00, duration: 1h, uid: a }\n"
        "  - { <<: *base, title: B, uid: b }\n",
    )
    result = meet_sched(site_dir.root, "validate")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok: 2 meetings in 1 files"


@pytest.mark.slow
def test_no_temporary_file_is_left_when_the_cache_cannot_be_written(site_dir: SiteDir) -> None:
    """The config cache is written atomically: a failure leaves neither a half file nor a temporary one."""
    site_dir.meeting("m.yaml", GOOD_YAML)
    var = site_dir.root / "var"
    var.mkdir()
    (var / "config-cache.json").mkdir()  # os.replace onto a folder fails
    result = meet_sched(site_dir.root, "run")
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in var.iterdir() if p.name.endswith(".tmp")) == []


@pytest.mark.slow
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["outbox", "--limit", "99999999999999999999"],
            "meet-sched outbox: error: argument --limit: '99999999999999999999' is not a whole number of rows "
            "from 1 to 100,000",
        ),
        (
            ["agenda", "--days", "99999999"],
            "meet-sched agenda: error: argument --days: '99999999' is not a whole number of days from 1 to 3,660",
        ),
        (
            ["agenda", "--from", "0001-01-01"],
            "meet-sched agenda: error: argument --from: '0001-01-01' is not between 1900-01-01 and 2200-12-31",
        ),
    ],
)
def test_cli_arguments_are_bounded(args: list[str], message: str, site_dir: SiteDir) -> None:
    result = meet_sched(site_dir.root, *args)
    assert "Traceback" not in result.stderr
    assert result.stderr.splitlines()[-1] == message
    assert result.returncode == 2


@pytest.mark.slow
def test_agenda_at_its_bounds_runs(site_dir: SiteDir) -> None:
    site_dir.meeting("m.yaml", GOOD_YAML)
    for start in ("1900-01-01", "2200-12-31"):
        result = meet_sched(site_dir.root, "agenda", "--from", start, "--days", "3660", "--tz", "Pacific/Kiritimati")
        assert result.returncode == 0, result.stderr


def test_idn_sender_is_kept_in_its_ascii_form(site_dir: SiteDir) -> None:
    """The From header carries the A-label too; a non-ASCII local part is refused there as well."""
    site_dir.settings('[smtp]\nhost = "127.0.0.1"\nsender = "Daegu Office <intl@예시.kr>"\n')
    assert load_settings(site_dir.root, environ={}).spec.smtp.sender == "Daegu Office <intl@xn--vv4b11d.kr>"  # type: ignore[union-attr]
    site_dir.settings('[smtp]\nhost = "127.0.0.1"\nsender = "Daegu Office <지현@daegu.example>"\n')
    with pytest.raises(ConfigError) as refused:
        load_settings(site_dir.root, environ={})
    assert [str(p) for p in refused.value.problems] == [
        "config/meet-sched.toml:8: smtp.sender: 'Daegu Office <지현@daegu.example>' is not one sender such as "
        '"Daegu International Relations <intl@example.org>"'
    ]


@pytest.mark.slow
def test_a_linked_meetings_folder_is_read(site_dir: SiteDir, tmp_path: Path) -> None:
    """config/meetings may itself be a link (a deployment keeping config elsewhere): its files are read."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "m.yaml").write_text(GOOD_YAML, encoding="utf-8")
    meetings = site_dir.root / "config" / "meetings"
    meetings.rmdir()
    meetings.symlink_to(elsewhere)
    result = meet_sched(site_dir.root, "validate")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok: 1 meetings in 1 files"
