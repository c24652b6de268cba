"""The limits of what a meeting may be: the supported years every moment falls in, and what a recurrence
rule may ask for (frequency, COUNT, UNTIL, occurrences a year).  The config refuses anything past them with
a message; :class:`~meet_sched.model.Meeting` expands its rule within them (no I/O)."""

from __future__ import annotations

import re
from datetime import date, datetime

# -- limits of what a meeting may be (the config refuses anything else with a message) --
FIRST_YEAR, LAST_YEAR = 1900, 2200  # SUPPORTED_YEARS: every start, end, UNTIL, exdate and occurrence
SUPPORTED_YEARS = f"{FIRST_YEAR}-{LAST_YEAR}"
RANGE_END = datetime(LAST_YEAR + 1, 1, 1)  # naive wall time: every expansion stops here
MAX_OCCURRENCES_PER_YEAR = 1000  # of one meeting; a denser series is refused, an expansion raises past it
MAX_COUNT = 10_000  # the largest RRULE COUNT
NEVER_FREQUENCIES = ("SECONDLY", "MINUTELY")  # a meeting is not a timer
SETTING_FREQUENCIES = ("HOURLY",)  # only with [limits] allow_hourly = true
_FREQ = re.compile(r"(?:^|;)FREQ=([A-Z]+)", re.IGNORECASE)
RULE_COUNT = re.compile(r"(?:^|;)COUNT=(\d+)", re.IGNORECASE)
RULE_UNTIL = re.compile(r"(?:^|;)UNTIL=(\d{4})", re.IGNORECASE)


class RecurrenceError(ValueError):
    """A series that breaks a limit above (a row written by an older version, or a corrupt one)."""


def outside_years(moment: date | datetime) -> str | None:
    """Why ``moment`` cannot be part of a meeting, or None: the supported years are 1900-2200."""
    if FIRST_YEAR <= moment.year <= LAST_YEAR:
        return None
    shown = (
        moment.replace(tzinfo=None).isoformat(timespec="minutes")
        if isinstance(moment, datetime)
        else moment.isoformat()
    )
    return f"{shown} is outside the supported years {SUPPORTED_YEARS}"


def recurrence_problem(rule: str) -> str | None:
    """What the model refuses in an RRULE value whatever the settings: a sub-hourly FREQ, COUNT, UNTIL."""
    freq = _FREQ.search(rule)
    if freq and freq.group(1).upper() in NEVER_FREQUENCIES:
        return f"FREQ={freq.group(1).upper()} is not allowed: a meeting repeats at most hourly"
    count = RULE_COUNT.search(rule)
    if count and int(count.group(1)) > MAX_COUNT:
        return f"COUNT={count.group(1)} is more than {MAX_COUNT:,} occurrences"
    until = RULE_UNTIL.search(rule)
    if until and not FIRST_YEAR <= int(until.group(1)) <= LAST_YEAR:
        return f"UNTIL in {until.group(1)} is outside the supported years {SUPPORTED_YEARS}"
    return None
