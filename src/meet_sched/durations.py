"""Durations as a meeting file writes them: ``90m``, ``1h30m``, ``1d`` or ISO 8601 ``PT1H30M``, read and
written back (no I/O)."""

from __future__ import annotations

import re
from datetime import timedelta

DURATION_UNITS = {"w": 604800, "d": 86400, "h": 3600, "m": 60, "s": 1}
_SHORT_DURATION = re.compile(r"^(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")
_ISO_DURATION = re.compile(r"^P(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$")
MAX_DURATION = timedelta(days=36_500)  # the longest duration parse_duration reads: 100 years


def parse_duration(text: str) -> timedelta:
    """``90m``, ``1h30m``, ``45s``, ``1d``, ``2w`` or ISO 8601 ``PT1H30M`` → a positive timedelta.

    Raises ValueError with a message fit for a user.
    """
    s = text.strip()
    m = _ISO_DURATION.match(s.upper()) if s[:1].upper() == "P" else _SHORT_DURATION.match(s.lower())
    if not s or not m or not any(m.groups()) or (s.upper().endswith("T")):
        raise ValueError(f"{text!r} is not a duration (try 90m, 1h30m, 45s, 1d or PT1H30M)")
    if any(len(g or "") > 12 for g in m.groups()):  # int() of a long run of digits costs time; none is meant
        raise ValueError(f"{text!r} is longer than {format_duration(MAX_DURATION)}, the longest duration read")
    weeks, days, hours, minutes, seconds = (int(g or 0) for g in m.groups())
    total = weeks * 604800 + days * 86400 + hours * 3600 + minutes * 60 + seconds  # exact, before timedelta
    if total <= 0:
        raise ValueError(f"{text!r} must be longer than zero")
    if total > MAX_DURATION.total_seconds():
        raise ValueError(f"{text!r} is longer than {format_duration(MAX_DURATION)}, the longest duration read")
    return timedelta(seconds=total)


def format_duration(value: timedelta) -> str:
    """The short form parse_duration reads back: 1d2h30m."""
    total = int(value.total_seconds())
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if total >= size:
            parts.append(f"{total // size}{unit}")
            total %= size
    return "".join(parts) or "0s"
