"""The settings' ``[places]`` and working-hour keys as :class:`~meet_sched.places.Rules`; an attendee's ``place:``."""

from __future__ import annotations

from collections.abc import Callable
from difflib import get_close_matches
from zoneinfo import ZoneInfo

from ..places import DEFAULT_LUNCH, Place, Rules, WorkingHours, country_of, parse_weekend
from .meeting_spec import AttendeeSpec
from .settings_spec import PlaceSection, SettingsSpec


def _lunch(text: str) -> WorkingHours | None:
    return None if text == "none" else WorkingHours.parse(text)


def rules(spec: SettingsSpec) -> Rules:
    """One model of working time: ``[places.*]``, with ``[server] working_hours(_by_zone)`` as defaults."""
    server = spec.server
    default = WorkingHours.parse(server.working_hours)
    by_zone = {zone: WorkingHours.parse(h) for zone, h in server.working_hours_by_zone.items()}
    return Rules(
        places={
            name: _place(name, p, by_zone.get(p.timezone, default), server.holidays) for name, p in spec.places.items()
        },
        hours=default,
        hours_by_zone=by_zone,
        lunch=DEFAULT_LUNCH,
        holidays=server.holidays,
    )


def _place(name: str, section: PlaceSection, hours: WorkingHours, holidays: bool) -> Place:
    zone = ZoneInfo(section.timezone)
    return Place(
        label=section.city or name,
        zone=zone,
        country=section.country or country_of(zone),
        hours=WorkingHours.parse(section.hours) if section.hours else hours,
        lunch=_lunch(section.lunch),
        weekend=parse_weekend(section.weekend),
        holidays=section.holidays and holidays,
        name=name,
    )


def resolve_place(
    attendee: AttendeeSpec, meeting_zone: ZoneInfo, spec: SettingsSpec, bad: Callable[[str, str], None]
) -> tuple[ZoneInfo, str | None, str | None] | None:
    """An attendee's (zone, country, place): ``place:`` gives zone and country; else their own or the meeting's.

    ``bad(field, message)`` is told of an unknown place (with a did-you-mean) or a place beside a zone.
    """
    if attendee.place is None:
        zone = ZoneInfo(attendee.timezone) if attendee.timezone else meeting_zone
        return zone, attendee.country, None
    section = spec.places.get(attendee.place)
    if section is None:
        close = get_close_matches(attendee.place, list(spec.places), n=1, cutoff=0.6)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        known = f"; known places: {', '.join(sorted(spec.places))}" if spec.places and not close else ""
        where = "" if spec.places else " (config/meet-sched.toml has no [places.<name>] tables)"
        bad("place", f"unknown place {attendee.place!r}{hint}{known}{where}")
        return None
    if attendee.timezone is not None:
        bad("timezone", f"place {attendee.place!r} gives the time zone ({section.timezone}); drop 'timezone'")
        return None
    return ZoneInfo(section.timezone), attendee.country or section.country, attendee.place
