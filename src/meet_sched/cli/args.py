"""Argument types of the commands: bounded whole numbers, dates, zones and durations, each limit named."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from datetime import date, timedelta

from ..durations import format_duration, parse_duration
from ..recurrence import FIRST_YEAR, LAST_YEAR

MAX_MONTHS = 60  # validate --months
MAX_PLAN_DURATION = timedelta(hours=12)  # plan --duration
MAX_AGENDA_DAYS = 3660  # agenda --days: ten years
MAX_OUTBOX_LIMIT = 100_000  # outbox --limit
AGENDA_FIRST_DATE = date(FIRST_YEAR, 1, 1)  # agenda --from: the supported years; nothing happens outside them
AGENDA_LAST_DATE = date(LAST_YEAR, 12, 31)


def whole(what: str, most: int) -> Callable[[str], int]:
    def convert(value: str) -> int:
        try:
            number = int(value) if len(value) <= 20 else 0  # int() of a long run of digits costs time
        except ValueError:
            number = 0
        if not 1 <= number <= most:
            raise argparse.ArgumentTypeError(f"{value[:30]!r} is not a whole number of {what} from 1 to {most:,}")
        return number

    return convert


positive = whole("days", MAX_AGENDA_DAYS)
limit = whole("rows", MAX_OUTBOX_LIMIT)


def months(value: str) -> int:
    number = int(value) if value.isdigit() else 0
    if not 1 <= number <= MAX_MONTHS:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number of months from 1 to {MAX_MONTHS}")
    return number


def names(value: str) -> list[str]:
    return [n.strip() for n in value.split(",") if n.strip()]


def duration(value: str) -> timedelta:
    try:
        found = parse_duration(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    if found > MAX_PLAN_DURATION:
        raise argparse.ArgumentTypeError(f"{value!r} is longer than {format_duration(MAX_PLAN_DURATION)}")
    return found


def grid(value: str) -> timedelta:
    from ..places.plan import GRIDS  # imported when the argument is given

    found = duration(value)
    if found not in GRIDS:
        raise argparse.ArgumentTypeError(f"{value!r}: the grid is 15m or 30m")
    return found


def date_(value: str) -> date:
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value[:30]!r} is not a date such as 2021-04-14") from None
    if not AGENDA_FIRST_DATE <= day <= AGENDA_LAST_DATE:
        raise argparse.ArgumentTypeError(f"{value!r} is not between {AGENDA_FIRST_DATE} and {AGENDA_LAST_DATE}")
    return day


def zone(value: str) -> str:
    from ..config.fields import check_zone  # imported when the argument is given

    try:
        return check_zone(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
