"""The zone a site shows people times in: ``[calendar] timezone``, else the organizer's, else its attendees'."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import datetime
from zoneinfo import ZoneInfo

from ..localtimes import zone_abbreviation
from ..model import Meeting
from .settings import Settings

FALLBACK_ZONE = "UTC"  # a site with no setting, no meeting and no attendee


def _most_common(counts: Counter[str]) -> str | None:
    return min(counts.items(), key=lambda kv: (-kv[1], kv[0]))[0] if counts else None


def display_zone(settings: Settings, meetings: Iterable[Meeting]) -> ZoneInfo:
    """``[calendar] timezone``; else the organizer's zone (the zone of the meetings the site's
    organizer holds, or of the organizer as an attendee); else the most common zone of the
    site's attendees; else UTC.  Ties go to the zone name first in alphabetical order."""
    if settings.spec.calendar.timezone:
        return ZoneInfo(settings.spec.calendar.timezone)
    meetings = list(meetings)
    organizer = settings.organizer.email.lower()
    own: Counter[str] = Counter(m.timezone.key for m in meetings if m.organizer.email.lower() == organizer)
    own.update(a.timezone.key for m in meetings for a in m.attendees if a.email.lower() == organizer)
    everyone: Counter[str] = Counter(a.timezone.key for m in meetings for a in m.attendees)
    return ZoneInfo(_most_common(own) or _most_common(everyone) or FALLBACK_ZONE)


def local(moment: datetime, zone: ZoneInfo) -> str:
    """``2026-12-09 10:00 KST``: a moment as people read it, in the display zone."""
    shown = moment.astimezone(zone)
    return f"{shown:%Y-%m-%d %H:%M} {zone_abbreviation(shown)}"
