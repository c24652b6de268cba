"""Public holidays of a country on a local date, named in English and in the attendee's language.

From the ``holidays`` package: its public category, with the substitute days it knows
(Korea's 대체 휴일, China's 补假) and the weekend days a country turns into working days
(China's adjusted working weekends, ``weekend_workdays``).  One table per
(country, year, language), built once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import cache, lru_cache

import holidays as holidays_package

ENGLISH = ("en_US", "en_GB", "en")
HOLIDAY_CACHE = 65536  # (country, date, language) answers kept in memory


@dataclass(frozen=True)
class Holiday:
    day: date
    country: str
    name: str  # English (or the country's own language when the package has no English)
    local_name: str | None  # in the attendee's language, when it differs from ``name``

    def __str__(self) -> str:
        return f"{self.name} ({self.local_name})" if self.local_name else self.name


@cache
def supported_countries() -> frozenset[str]:
    """ISO codes the package has tables for, from its registry (without importing every country's module)."""
    try:
        from holidays.registry import COUNTRIES

        return frozenset(code for entry in COUNTRIES.values() for code in entry[1:3] if isinstance(code, str))
    except (ImportError, AttributeError, TypeError, IndexError):
        return frozenset(holidays_package.list_supported_countries())


@cache
def _languages(country: str) -> tuple[str, ...]:
    try:
        return tuple(holidays_package.country_holidays(country, years=[]).supported_languages)
    except (NotImplementedError, KeyError):
        return ()


@lru_cache(maxsize=1024)
def package_language(country: str, language: str | None) -> str | None:
    """The package's name for ``language`` in ``country``'s table (``zh`` → ``zh_CN``), or None."""
    if not language:
        return None
    wanted = language.replace("-", "_")
    known = _languages(country)
    if wanted in known:
        return wanted
    base = wanted.split("_")[0].lower()
    if base == "en":
        return next((e for e in ENGLISH if e in known), None)
    for candidate in sorted(known):
        if candidate.split("_")[0].lower() == base:
            return candidate
    return None


@cache
def _table(country: str, year: int, language: str | None) -> holidays_package.HolidayBase | None:
    try:
        return holidays_package.country_holidays(country, years=year, language=language)
    except (NotImplementedError, KeyError):
        return None


def _name(table: holidays_package.HolidayBase, day: date) -> str:
    return "; ".join(str(n) for n in table.get_list(day))


@lru_cache(maxsize=HOLIDAY_CACHE)
def holiday_on(country: str | None, day: date, language: str | None = None) -> Holiday | None:
    """The public holiday on ``day`` in ``country``, or None (also for a country the package does not know)."""
    if not country:
        return None
    english = _table(country, day.year, package_language(country, "en"))
    if english is None or day not in english:
        return None
    name = _name(english, day)
    local = package_language(country, language)
    local_name = None
    if local is not None and local != package_language(country, "en"):
        table = _table(country, day.year, local)
        if table is not None and (other := _name(table, day)) != name:
            local_name = other
    return Holiday(day, country, name, local_name)


def weekend_workday(country: str | None, day: date) -> bool:
    """Whether ``country`` made this weekend day a working day (China's adjusted weekends)."""
    if not country:
        return False
    table = _table(country, day.year, package_language(country, "en"))
    return table is not None and day in getattr(table, "weekend_workdays", ())
