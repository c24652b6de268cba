"""Who works when: a :class:`Place` per attendee, from a named place in the settings or from defaults.

A place is a zone, the country whose public holidays apply (explicit, or the tz database's
``zone.tab`` country of the zone), local working hours, a lunch break and the weekend days.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from zoneinfo import ZoneInfo

from ..localtimes import zone_city
from ..model import Attendee, Role
from .hours import DEFAULT_HOURS, DEFAULT_LUNCH, DEFAULT_WEEKEND, WorkingHours


def _tab(name: str) -> str:
    try:
        return resources.files("tzdata").joinpath(f"zoneinfo/{name}").read_text(encoding="utf-8")
    except (ModuleNotFoundError, FileNotFoundError, OSError):
        system = Path("/usr/share/zoneinfo") / name
        return system.read_text(encoding="utf-8") if system.is_file() else ""


def _rows(text: str) -> list[list[str]]:
    return [line.split("\t") for line in text.splitlines() if line.strip() and not line.startswith("#")]


def tz_rows(name: str) -> list[list[str]]:
    """The rows of one of the tz database's tables (``zone.tab``, ``zone1970.tab``, ``iso3166.tab``)."""
    return _rows(_tab(name))


@cache
def zone_countries() -> dict[str, str]:
    """IANA zone → ISO 3166 country code, from the tz database's ``zone.tab``."""
    return {parts[2]: parts[0] for parts in _rows(_tab("zone.tab")) if len(parts) >= 3}


@cache
def _shared_zones() -> dict[str, tuple[str, ...]]:
    """Zones that ``zone1970.tab`` gives to several countries (Europe/Berlin: DE, DK, NO, SE, SJ)."""
    out = {}
    for parts in _rows(_tab("zone1970.tab")):
        if len(parts) >= 3 and "," in parts[0]:
            out[parts[2]] = tuple(parts[0].split(","))
    return out


def country_of(zone: ZoneInfo) -> str | None:
    return zone_countries().get(zone.key)


def countries_sharing(zone: ZoneInfo) -> tuple[str, ...]:
    """Every country that keeps ``zone``'s clocks, when there are several (else empty)."""
    return _shared_zones().get(zone.key, ())


@dataclass(frozen=True)
class Place:
    """Where someone works: their zone, holidays' country, hours, lunch and weekend."""

    label: str
    zone: ZoneInfo
    country: str | None
    hours: WorkingHours = DEFAULT_HOURS
    lunch: WorkingHours | None = DEFAULT_LUNCH
    weekend: frozenset[int] = DEFAULT_WEEKEND
    holidays: bool = True  # look up public holidays of ``country``
    name: str | None = None  # the key of a named place in the settings

    @property
    def key(self) -> tuple[object, ...]:
        """Places with the same rules share their day plans (label and name aside)."""
        return (self.zone.key, self.country, self.hours, self.lunch, self.weekend, self.holidays)


@dataclass(frozen=True)
class Rules:
    """The settings' named places and the defaults for attendees who name none."""

    places: Mapping[str, Place] = field(default_factory=dict)
    hours: WorkingHours = DEFAULT_HOURS
    hours_by_zone: Mapping[str, WorkingHours] = field(default_factory=dict)
    lunch: WorkingHours | None = DEFAULT_LUNCH
    weekend: frozenset[int] = DEFAULT_WEEKEND
    holidays: bool = True

    def for_zone(self, zone: ZoneInfo, label: str | None = None, country: str | None = None) -> Place:
        """The default place of someone in ``zone`` (a named place with that zone is not implied)."""
        return Place(
            label=label or zone_city(zone),
            zone=zone,
            country=country or country_of(zone),
            hours=self.hours_by_zone.get(zone.key, self.hours),
            lunch=self.lunch,
            weekend=self.weekend,
            holidays=self.holidays,
        )

    def for_attendee(self, attendee: Attendee) -> Place:
        if attendee.place and attendee.place in self.places:
            named = self.places[attendee.place]
            return Place(
                label=attendee.city or named.label,
                zone=named.zone,
                country=attendee.country or named.country,
                hours=named.hours,
                lunch=named.lunch,
                weekend=named.weekend,
                holidays=named.holidays and self.holidays,
                name=named.name,
            )
        return self.for_zone(attendee.timezone, attendee.city, attendee.country)


def participants(attendees: tuple[Attendee, ...]) -> list[Attendee]:
    """The attendees whose time counts (a non-participant's does not)."""
    return [a for a in attendees if a.role is not Role.NON_PARTICIPANT]
