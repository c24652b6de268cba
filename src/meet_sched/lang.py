"""Languages: which ones the site speaks, choosing one for a reader, and the feed's own few words.

Shared by the emails (:mod:`meet_sched.mail.i18n`), the feed (:mod:`meet_sched.ics`) and the
page (:mod:`meet_sched.web`): each keeps its own words, and all of them agree on the languages.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # Babel is imported where it is used: a command that writes no dates does not load it
    from babel import Locale

FALLBACK = "en"
SUPPORTED = ("en", "ko", "zh", "vi")  # every catalogue has these; any other language reads English
MAX_ACCEPT_LANGUAGE = 32  # entries of an Accept-Language header looked at; the rest are ignored

# Language names as their speakers write them, for a language switch.
NATIVE_NAMES = {"en": "English", "ko": "한국어", "zh": "中文", "vi": "Tiếng Việt"}


def language_of(tag: str | None) -> str:
    """The supported language for a tag (``zh-Hans``, ``zh_CN`` → ``zh``; ``ko-KR`` → ``ko``; unknown → ``en``)."""
    return supported(tag) or FALLBACK


def supported(tag: str | None) -> str | None:
    """Like :func:`language_of`, but None for a language the site does not speak."""
    if not tag:
        return None
    norm = tag.strip().replace("-", "_").lower()
    if norm in SUPPORTED:
        return norm
    base = norm.split("_", 1)[0]
    return base if base in SUPPORTED else None


def accept_language(header: str | None) -> list[str]:
    """The tags of an ``Accept-Language`` header, most wanted first (RFC 9110 section 12.5.4);
    ``q=0`` means "not this one" and drops the tag."""
    if not header:
        return []
    found: list[tuple[float, int, str]] = []
    for index, item in enumerate(header.split(",")[:MAX_ACCEPT_LANGUAGE]):
        tag, _, params = item.strip().partition(";")
        q = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        tag = tag.strip()
        if tag and tag != "*" and 0 < q <= 1:
            found.append((-q, index, tag))
    return [tag for _, _, tag in sorted(found)]


def choose(asked: str | None, header: str | None, default: str | None) -> str:
    """The language of an answer: ``?lang=`` if the site speaks it, then Accept-Language, then the site's."""
    for tag in (asked, *accept_language(header)):
        found = supported(tag)
        if found:
            return found
    return language_of(default)


@cache
def locale(language: str) -> Locale:
    from babel import Locale

    return Locale.parse(language_of(language))


# -- the feed's generated text ------------------------------------------------------

FEED_WORDS: dict[str, dict[str, str]] = {
    "en": {
        "video": "Video",
        "time": "Time",
        "series": "first meeting, {date}; each meeting keeps {zone} time",
        "all_day": "all day",
        "first": "the first",
    },
    "ko": {
        "video": "화상 회의",
        "time": "시간",
        "series": "첫 회의 {date}, 매 회의는 {zone} 시각 기준",
        "all_day": "종일",
        "first": "첫 회의",
    },
    "zh": {
        "video": "视频会议",
        "time": "时间",
        "series": "首次会议 {date}，每次会议均按 {zone} 时间",
        "all_day": "全天",
        "first": "首次",
    },
    "vi": {
        "video": "Họp trực tuyến",
        "time": "Thời gian",
        "series": "buổi đầu tiên {date}; mỗi buổi theo giờ {zone}",
        "all_day": "cả ngày",
        "first": "buổi đầu tiên",
    },
}


def feed_word(language: str, key: str, **values: str) -> str:
    return FEED_WORDS[language_of(language)][key].format(**values)


def feed_separator(language: str) -> str:
    return "：" if language_of(language) == "zh" else ": "


def short_day(moment: datetime, language: str) -> str:
    """``Wed 09 Dec`` in English (as the feed always wrote it); Babel's short date in other languages."""
    lang = language_of(language)
    if lang == "en":
        return f"{moment:%a %d %b}"
    from babel.dates import format_skeleton

    return format_skeleton("MMMEd", moment, tzinfo=moment.tzinfo, locale=locale(lang))


def languages() -> Iterable[tuple[str, str]]:
    return ((code, NATIVE_NAMES[code]) for code in SUPPORTED)
