"""README "Meeting files": attendees as plain addresses, folded titles, a warning for list meetings without a uid."""

from __future__ import annotations

import pytest

from meet_sched.config import load_config
from meet_sched.errors import ConfigError

from .conftest import SiteDir


def test_an_attendee_may_be_an_address_or_name_and_address(site_dir: SiteDir) -> None:
    site_dir.meeting(
        "call.yaml",
        """
        uid: call
        title: Call
        timezone: Asia/Seoul
        start: 2027-01-05T10:00
        duration: 30m
        attendees:
          - li@chengdu.example
          - Park Seoyeon <seoyeon.park@daegu.example>
          - '"Kim, Jihyun" <jihyun@daegu.example>'
          - { name: Table, email: table@daegu.example, language: ko }
        """,
    )
    [meeting] = load_config(site_dir.root).meetings
    assert [(a.name, a.email, a.language) for a in meeting.attendees] == [
        ("", "li@chengdu.example", "en"),
        ("Park Seoyeon", "seoyeon.park@daegu.example", "en"),
        ("Kim, Jihyun", "jihyun@daegu.example", "en"),
        ("Table", "table@daegu.example", "ko"),
    ]


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("not an address", "is not a valid email address"),
        ("A <a@x.example>, B <b@x.example>", "is not one attendee"),
        ("Li <li@chengdu.example", "is not one attendee"),
    ],
)
def test_a_bad_attendee_string_is_named_at_its_line(site_dir: SiteDir, entry: str, message: str) -> None:
    site_dir.meeting(
        "call.yaml",
        f"""
        title: Call
        timezone: Asia/Seoul
        start: 2027-01-05T10:00
        duration: 30m
        attendees:
          - ok@daegu.example
          - "{entry}"
        """,
    )
    with pytest.raises(ConfigError) as caught:
        load_config(site_dir.root)
    [problem] = caught.value.problems
    assert (problem.path, problem.line) == ("config/meetings/call.yaml", 7)
    assert problem.field in ("attendees[1]", "attendees[1].email")  # a bare address is checked as the email
    assert message in problem.message


def test_a_folded_title_loses_the_line_break_yaml_adds(site_dir: SiteDir) -> None:
    site_dir.meeting(
        "call.yaml",
        """
        title: >
          Daegu–Chengdu
          working call
        timezone: Asia/Seoul
        start: 2027-01-05T10:00
        duration: 30m
        attendees:
          - name: >
              Li Ming
            email: li@chengdu.example
        """,
    )
    [meeting] = load_config(site_dir.root).meetings
    assert meeting.title == "Daegu–Chengdu working call"
    assert meeting.attendees[0].name == "Li Ming"


def test_a_line_break_inside_a_title_is_still_refused(site_dir: SiteDir) -> None:
    site_dir.meeting(
        "call.yaml",
        """
        title: |
          Two
          lines
        timezone: Asia/Seoul
        start: 2027-01-05T10:00
        duration: 30m
        """,
    )
    with pytest.raises(ConfigError) as caught:
        load_config(site_dir.root)
    assert [str(p) for p in caught.value.problems] == [
        "config/meetings/call.yaml:1: title: must be a single line (no line breaks)"
    ]


LIST = """
meetings:
  - uid: first
    title: First
    timezone: Asia/Seoul
    start: 2027-01-05T10:00
    duration: 30m
  - title: Second
    timezone: Asia/Seoul
    start: 2027-01-06T10:00
    duration: 30m
"""


def test_validate_warns_of_a_list_meeting_without_uid(site_dir: SiteDir) -> None:
    site_dir.meeting("calls.yaml", LIST)
    result = site_dir.run("validate", check=True)
    assert result.stdout.splitlines()[1] == (
        "warning: config/meetings/calls.yaml:7: meetings[1].uid: no uid: 'calls-2@test.example' comes from the "
        "meeting's place in the list, and changes if the list is reordered (subscribers then see a new meeting); "
        "give it a 'uid'"
    )
    assert result.stdout.count("warning:") == 1
    strict = site_dir.run("validate", "--strict")
    assert strict.returncode == 1
    assert "without a uid" in strict.stderr
    site_dir.meeting("calls.yaml", LIST.replace("  - title: Second", "  - uid: second\n    title: Second"))
    assert "warning:" not in site_dir.run("validate", "--strict", check=True).stdout
