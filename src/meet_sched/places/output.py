"""``plan --format yaml``: a meeting file for the chosen slot, ready to commit (``validate`` accepts it)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import yaml

from ..durations import format_duration
from ..localtimes import zone_abbreviation
from ..model import Attendee
from .plan import Slot
from .rules import Place


def meeting_yaml(
    slot: Slot,
    places: Sequence[Place],
    duration: timedelta,
    *,
    title: str,
    every: str | None = None,
    attendees: Sequence[Attendee] = (),
    note: str | None = None,
) -> str:
    home = places[0]
    local = slot.start.astimezone(home.zone)
    times = " · ".join(
        f"{p.label} {slot.start.astimezone(p.zone):%H:%M} {zone_abbreviation(slot.start.astimezone(p.zone))}"
        for p in places
    )
    data: dict[str, Any] = {
        "title": title,
        "city": home.label,
        "timezone": home.zone.key,
        "start": local.strftime("%Y-%m-%dT%H:%M"),
        "duration": format_duration(duration),
    }
    if every:
        data["recurrence"] = every[6:] if every.upper().startswith("RRULE:") else every
    listed = []
    for a in attendees:
        entry: dict[str, Any] = {"name": a.name, "email": a.email} if a.name else {"email": a.email}
        if a.place:
            entry["place"] = a.place
        else:
            entry["timezone"] = a.timezone.key
            if a.country:
                entry["country"] = a.country
        if a.language != "en":
            entry["language"] = a.language
        if a.city:
            entry["city"] = a.city
        if a.role.value != "required":
            entry["role"] = a.role.value
        listed.append(entry)
    data["attendees"] = listed
    lines = [f"# {times}"]
    if note:
        lines.append(f"# {note}")
    covered = {a.place for a in attendees if a.place} | {a.timezone.key for a in attendees}
    for p in places:
        if p.name not in covered and p.zone.key not in covered:
            hint = f"place: {p.name}" if p.name else f"timezone: {p.zone.key}"
            lines.append(f"# {p.label}: add its attendees with {hint}")
    body = yaml.safe_dump(data, allow_unicode=True, sort_keys=False, default_flow_style=None, width=1000)
    return "\n".join(lines) + "\n" + body
