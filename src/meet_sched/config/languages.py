"""Language codes of attendees and settings: a code Babel knows, not a country code (``vn`` → ``vi``)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from difflib import get_close_matches
from functools import cache
from typing import Any

EXAMPLES = "ko, zh, vi or en"
_COMMON = frozenset({"en", "ko", "zh", "vi", "ja", "de", "fr", "es", "it", "pt", "ru", "th", "id", "ms"})
_SHAPE = re.compile(r"^[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{2,8})*$")


@cache
def _known() -> tuple[str, ...]:
    from babel.localedata import locale_identifiers

    return tuple(sorted({i.split("_", 1)[0] for i in locale_identifiers()}))


def _country_language(code: str) -> tuple[str, str] | None:
    """``VN`` → (``Vietnam``, ``vi``): the country's main language, from CLDR's likely subtags
    (else its first official or de facto language)."""
    from babel import Locale
    from babel.core import get_global
    from babel.languages import get_official_languages

    likely: Mapping[str, str] = get_global("likely_subtags")
    found = likely.get(f"und_{code.upper()}") or next(iter(get_official_languages(code.upper(), de_facto=True)), None)
    name = Locale.parse("en").territories.get(code.upper())
    if not found or not name:
        return None
    return name, found.split("_", 1)[0]


def check_language(value: Any) -> str:
    """A language code Babel knows (``ko``, ``zh-Hant``, ``pt-BR``); a country code or unknown code is refused."""
    if not isinstance(value, str) or not _SHAPE.match(value.strip()):
        raise ValueError(f"{value!r} is not a language code such as {EXAMPLES}")
    code = value.strip()
    first = code.replace("-", "_").split("_", 1)[0]
    if first.lower() in _COMMON and first.islower() and code == first:  # the usual case, without loading Babel
        return code
    from babel import Locale, UnknownLocaleError

    try:
        language = Locale.parse(code.replace("-", "_")).language
    except (UnknownLocaleError, ValueError):
        language = None
    if language is not None and language == first.lower():
        return code
    if language is not None:  # an alias or an old code: kor → ko, iw → he
        raise ValueError(f"{code!r} is another name of the language code {language!r} (did you mean {language!r}?)")
    country = _country_language(first)
    if country is not None:
        name, main = country
        raise ValueError(
            f"{code!r} is not a language code: {first.upper()} is the country code of {name}, "
            f"whose main language is {main!r} (did you mean {main!r}?)"
        )
    same_length = [k for k in _known() if len(k) == len(first)]  # "zz" is not a misspelt "lzz"
    close = get_close_matches(first.lower(), same_length, n=1, cutoff=0.6)
    hint = f" (did you mean {close[0]!r}?)" if close else f" (use a code such as {EXAMPLES})"
    raise ValueError(f"unknown language code {code!r}{hint}")
