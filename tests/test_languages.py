"""README "[calendar] language" and "The agenda page": one way to choose a language; the feed's words in it."""

from __future__ import annotations

import pytest

from meet_sched.lang import SUPPORTED, accept_language, choose, language_of
from meet_sched.mail.i18n import CATALOGUE

from .conftest import SiteDir
from .ics_helpers import parse_both


def test_every_catalogue_speaks_the_supported_languages() -> None:
    assert sorted(CATALOGUE) == sorted(SUPPORTED)


@pytest.mark.parametrize(
    ("tag", "expected"),
    [("zh-CN", "zh"), ("zh-Hans", "zh"), ("zh_TW", "zh"), ("ko-KR", "ko"), ("vi-VN", "vi"), ("de", "en"), ("", "en")],
)
def test_tags_map_to_the_supported_languages(tag: str, expected: str) -> None:
    assert language_of(tag) == expected


def test_accept_language_is_ordered_by_q_values() -> None:
    # RFC 9110 section 12.5.4: a higher q wins whatever the order; q=0 means "not this one"
    assert accept_language("en;q=0.5, vi-VN;q=0.9, ko;q=0, zh-Hans") == ["zh-Hans", "vi-VN", "en"]
    assert accept_language("fr, *;q=0.1") == ["fr"]
    assert accept_language("en;q=abc, ko") == ["ko"]


@pytest.mark.parametrize(
    ("asked", "header", "default", "expected"),
    [
        ("vi", "ko-KR,ko;q=0.9", "zh", "vi"),  # ?lang= wins
        ("xx", "ko-KR,ko;q=0.9", "zh", "ko"),  # an unknown ?lang= is ignored
        (None, "fr-FR, de;q=0.8, zh-CN;q=0.5", "ko", "zh"),  # the first the site speaks
        (None, "fr-FR", "ko", "ko"),  # none spoken: the site's language
        (None, None, None, "en"),
    ],
)
def test_choose(asked: str | None, header: str | None, default: str | None, expected: str) -> None:
    assert choose(asked, header, default) == expected


@pytest.mark.parametrize(
    ("language", "video", "time"),
    [
        (
            "ko",
            "화상 회의: https://video.test.example/r/1",
            "시간: Daegu 10:00 KST · Atlanta 20:00 EST (12월 9일 (수))",
        ),
        ("zh", "视频会议：https://video.test.example/r/1", "时间：Daegu 10:00 KST · Atlanta 20:00 EST (12月9日周三)"),
        (
            "vi",
            "Họp trực tuyến: https://video.test.example/r/1",
            "Thời gian: Daegu 10:00 KST · Atlanta 20:00 EST (Thứ 4, 9 thg 12)",
        ),
    ],
)
def test_the_feed_speaks_the_calendar_language(site_dir: SiteDir, language: str, video: str, time: str) -> None:
    text = (site_dir.root / "config" / "meet-sched.toml").read_text(encoding="utf-8")
    (site_dir.root / "config" / "meet-sched.toml").write_text(
        text.replace("[calendar]\n", f'[calendar]\nlanguage = "{language}"\n', 1), encoding="utf-8"
    )
    site_dir.meeting(
        "call.yaml",
        """
        uid: call
        title: Call
        city: Daegu
        timezone: Asia/Seoul
        start: 2026-12-10T10:00
        duration: 1h
        video_url: https://video.test.example/r/1
        attendees:
          - { name: Jordan, email: jordan@atlanta.example, timezone: America/New_York, city: Atlanta }
        """,
    )
    site_dir.run("sync", check=True)
    site_dir.run("export", check=True)
    a, b = parse_both((site_dir.root / "calendars" / "default.ics").read_bytes()).event("call@test.example")
    first, second = str(a["DESCRIPTION"]).split("\n\n")
    assert first == video
    assert second == time
    assert b.description == str(a["DESCRIPTION"])


def test_display_settings_are_validated_with_their_line(site_dir: SiteDir) -> None:
    site_dir.settings(
        """
        timezone = "Asia/Hanoi"

        [calendars.Sister]
        name = "Sister cities"
        """
    )
    path = site_dir.root / "config" / "meet-sched.toml"
    text = path.read_text(encoding="utf-8")
    # the key belongs in [calendar]: move it there, under the base's [calendar] line
    text = text.replace('\ntimezone = "Asia/Hanoi"\n', "\n").replace(
        "[calendar]\n", '[calendar]\ntimezone = "Asia/Hanoi"\n', 1
    )
    path.write_text(text, encoding="utf-8")
    result = site_dir.run("validate")
    assert result.returncode == 1
    lines = text.splitlines()
    zone_line = lines.index('timezone = "Asia/Hanoi"') + 1
    table_line = lines.index("[calendars.Sister]") + 1
    assert (
        f"config/meet-sched.toml:{zone_line}: calendar.timezone: unknown time zone 'Asia/Hanoi'"
        in result.stdout + result.stderr
    )
    assert f"config/meet-sched.toml:{table_line}:" in result.stdout + result.stderr
    assert "Traceback" not in result.stderr
