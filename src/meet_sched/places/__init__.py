"""Places: working hours, weekends and public holidays of each attendee, and finding a time that suits them.

Pure (no database, HTTP or SMTP): the tz database, the ``holidays`` package's tables, GeoNames'
cities (only for a name that is no zone) and the domain objects of :mod:`meet_sched.model`,
:mod:`meet_sched.localtimes` and :mod:`meet_sched.durations` are all it reads.
"""

from .days import DayPlan, Verdict, day_plan, verdict
from .holidays import Holiday, holiday_on, weekend_workday
from .hours import DEFAULT_HOURS, DEFAULT_LUNCH, DEFAULT_WEEKEND, WorkingHours, parse_weekend
from .rules import Place, Rules, country_of, zone_countries

__all__ = [
    "DEFAULT_HOURS",
    "DEFAULT_LUNCH",
    "DEFAULT_WEEKEND",
    "DayPlan",
    "Holiday",
    "Place",
    "Rules",
    "Verdict",
    "WorkingHours",
    "country_of",
    "day_plan",
    "holiday_on",
    "parse_weekend",
    "verdict",
    "weekend_workday",
    "zone_countries",
]
