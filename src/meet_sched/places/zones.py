"""What a name that is not an IANA zone most likely meant: by city, country, abbreviation or UTC offset.

In this order: a UTC offset (``UTC+7``, ``+07:00``, ``GMT+9``: the zones at that offset now), an
abbreviation (``KST``: the zones whose clocks are called so), a city the site's own attendees
and places name, a zone's or link's city and CLDR's city and country names in the office's
languages (Babel), a country's name or ISO code and a city of 15,000 people or more in any
language (GeoNames, :mod:`.gazetteer`: ``Hanoi`` → ``Asia/Ho_Chi_Minh``), and last a zone's
city spelt alike (``Asia/Seol`` → ``Asia/Seoul``).

Several zones fit an abbreviation, an offset or a country; they are ranked (:func:`_rank`):
zones the site already uses first, then by the people of the GeoNames cities in each, then by
name.  The GeoNames data is read only when a suggestion needs it.
"""

from __future__ import annotations

import re
import zoneinfo
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, timedelta
from difflib import SequenceMatcher, get_close_matches
from functools import cache
from zoneinfo import ZoneInfo

from babel import Locale
from babel.core import get_global

from . import gazetteer
from .gazetteer import MAX_NAME_CHARS, country_zones, norm, population
from .rules import tz_rows, zone_countries

MAX_ZONE_SUGGESTIONS = 3  # zones named in one did-you-mean
NAME_LANGUAGES = ("en", "ko", "zh", "vi")  # whose CLDR city and country names are recognised
CITY_CUTOFF = 0.75  # how alike a misspelt city must be to a zone's city to be suggested

_OFFSET = re.compile(r"^(?:UTC|GMT|Z)?\s*([+\-\u2212])\s*(\d{1,2})(?::?([0-5]\d))?$", re.IGNORECASE)


@cache
def _zone_names() -> frozenset[str]:
    return frozenset(z for z in zoneinfo.available_timezones() if z.lower() != "localtime")


@cache
def _countries() -> dict[str, tuple[str, ...]]:
    """Canonical zone → the countries keeping its time (``zone1970.tab``)."""
    return {row[2]: tuple(row[0].split(",")) for row in tz_rows("zone1970.tab") if len(row) >= 3}


def canonical(zone: str) -> str:
    """A link (``Asia/Saigon``) → the zone it stands for (``Asia/Ho_Chi_Minh``), by CLDR's zone aliases."""
    aliases: Mapping[str, str] = get_global("zone_aliases")
    return aliases.get(zone, zone)


def _rank(zones: Iterable[str], prefer: Iterable[str] = ()) -> list[str]:
    """The site's own zones first (most used first), then the most populous, then by name."""
    preferred = list(dict.fromkeys(prefer))
    return sorted(
        set(zones),
        key=lambda z: (preferred.index(z) if z in preferred else len(preferred), -population(z), z),
    )


@cache
def _places() -> dict[str, tuple[str, ...]]:
    """Normalised city or country name → zones: zone and link names, CLDR exemplar cities, country names."""
    out: dict[str, set[str]] = {}

    def add(name: str, zones: Iterable[str]) -> None:
        if key := norm(name):
            out.setdefault(key, set()).update(zones)

    for zone in _zone_names():
        if "/" in zone and not zone.startswith("Etc/"):
            add(zone.rsplit("/", 1)[-1].replace("_", " "), [canonical(zone)])
    for language in NAME_LANGUAGES:  # CLDR's exemplar cities (those not spelt as in the zone's name)
        for zone, names in Locale.parse(language).time_zones.items():
            if isinstance(names.get("city"), str) and canonical(zone) in _countries():
                add(names["city"], [canonical(zone)])
    zones = country_zones()
    for language in NAME_LANGUAGES:
        for code, name in Locale.parse(language).territories.items():
            if code in zones:
                add(name, zones[code])
    return {k: tuple(v) for k, v in out.items()}


@cache
def _abbreviations() -> dict[str, tuple[str, ...]]:
    """KST → zones whose clocks are called so in January or July of this year or the last."""
    out: dict[str, set[str]] = {}
    year = date.today().year
    moments = [datetime(y, m, 15, 12, tzinfo=UTC) for y in (year - 1, year) for m in (1, 7)]
    for zone in _countries():
        tz = ZoneInfo(zone)
        for moment in moments:
            name = moment.astimezone(tz).tzname() or ""
            if name.isalpha():
                out.setdefault(name.upper(), set()).add(zone)
    return {k: tuple(v) for k, v in out.items()}


def _at_offset(offset: timedelta) -> list[str]:
    """The zones of ``zone.tab`` (each country's own names) whose clocks are ``offset`` from UTC now."""
    now = datetime.now(UTC)
    return [z for z in zone_countries() if now.astimezone(ZoneInfo(z)).utcoffset() == offset]


def _or(names: list[str]) -> str:
    quoted = [repr(n) for n in names]
    return quoted[0] if len(quoted) == 1 else f"{', '.join(quoted[:-1])} or {quoted[-1]}"


def zone_hint(name: str, prefer: Iterable[str] = (), cities: Mapping[str, str] | None = None) -> str:
    """What follows ``unknown time zone 'X'``: a did-you-mean that points the right way, or how to name one.

    ``prefer``: zones the site already uses (ranked first); ``cities``: the site's own city → zone
    (``Chengdu`` → ``Asia/Shanghai``, from its attendees and places).
    """
    text = name.strip()
    prefer = tuple(prefer)
    if (m := _OFFSET.match(text)) is not None:
        sign = -1 if m.group(1) != "+" else 1
        offset = sign * timedelta(hours=int(m.group(2)), minutes=int(m.group(3) or 0))
        found = _rank(_at_offset(offset), prefer)[:MAX_ZONE_SUGGESTIONS]
        if found:
            return f" (a UTC offset; zones at that offset: {_or(found)}; a zone also keeps its daylight saving rules)"
        return " (a UTC offset no zone keeps; use an IANA name such as Asia/Seoul)"
    if text.isalpha() and text.upper() in _abbreviations():
        found = _rank(_abbreviations()[text.upper()], prefer)[:MAX_ZONE_SUGGESTIONS]
        return f" (an abbreviation; did you mean {_or(found)}?)"
    city = norm(text.rsplit("/", 1)[-1])
    if len(text) > MAX_NAME_CHARS:  # no place or zone is called so: nothing to look up or spell alike
        return " (use an IANA name such as Asia/Seoul)"
    site = {norm(k): v for k, v in (cities or {}).items()}
    if city in site:
        return f" (did you mean {site[city]!r}?)"
    if city in _places():
        return f" (did you mean {_or(_rank(_places()[city], prefer)[:MAX_ZONE_SUGGESTIONS])}?)"
    if found := gazetteer.country_zone_list(text.rsplit("/", 1)[-1])[:MAX_ZONE_SUGGESTIONS]:
        return f" (did you mean {_or(found)}?)"
    if (place := gazetteer.city(city)) is not None:
        if norm(place.name) == norm(place.zone.rsplit("/", 1)[-1]):  # Seol is Seoul, in Asia/Seoul
            return f" (did you mean {place.zone!r}?)"
        return f" ({place.name} is in {place.zone!r})"
    close = _close_city(city, [*site, *_places()])
    if close is not None:
        zones = [site[close]] if close in site else _rank(_places()[close], prefer)[:MAX_ZONE_SUGGESTIONS]
        return f" (did you mean {_or(zones)}?)"
    whole = get_close_matches(text, sorted(_zone_names()), n=1, cutoff=0.8)
    if whole:
        return f" (did you mean {whole[0]!r}?)"
    return " (use an IANA name such as Asia/Seoul)"


def _close_city(city: str, known: list[str]) -> str | None:
    """The one known city spelt most like ``city``, if it is alike enough (Seol → Seoul, not Hanoi → Yangon)."""
    if len(city) < 3:
        return None
    best = max(known, key=lambda k: SequenceMatcher(None, city, k).ratio(), default=None)
    if best is None or SequenceMatcher(None, city, best).ratio() < CITY_CUTOFF:
        return None
    return best
