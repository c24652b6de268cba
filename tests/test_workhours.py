"""The agenda page's picture: working hours, days off and their overlap across zones (tz database, holidays)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from meet_sched.workhours import WorkingHours, Workweek, common, country_of, day_off, strip

SEOUL, SHANGHAI, HCMC, NEW_YORK = (
    ZoneInfo(z) for z in ("Asia/Seoul", "Asia/Shanghai", "Asia/Ho_Chi_Minh", "America/New_York")
)
THREE = [("Daegu", SEOUL), ("Chengdu", SHANGHAI), ("Bac Ninh", HCMC)]


def test_parse_hours() -> None:
    assert WorkingHours.parse("09:00-18:00") == WorkingHours(time(9), time(18))
    assert WorkingHours.parse(" 8:30 – 17:00 ") == WorkingHours(time(8, 30), time(17))
    assert str(WorkingHours.parse("00:00-24:00")) == "00:00–24:00"
    for bad in ("9-18", "18:00-09:00", "25:00-26:00", "09:60-10:00", ""):
        with pytest.raises(ValueError):
            WorkingHours.parse(bad)


def test_country_from_zone() -> None:
    assert [country_of(z) for z in (SEOUL, SHANGHAI, HCMC, NEW_YORK)] == ["KR", "CN", "VN", "US"]
    assert country_of(ZoneInfo("UTC")) is None


def test_days_off() -> None:
    assert day_off(SEOUL, date(2026, 9, 25)) == "Chuseok"
    assert day_off(SHANGHAI, date(2026, 10, 1)) is not None  # National Day
    assert day_off(HCMC, date(2026, 9, 2)) is not None  # National Day
    assert day_off(SEOUL, date(2026, 11, 28)) == "Saturday"
    assert day_off(SEOUL, date(2026, 11, 26)) is None
    assert day_off(SHANGHAI, date(2026, 9, 20)) is None  # a Sunday made a working day around the holidays
    assert day_off(SEOUL, date(2026, 9, 25), use_holidays=False) is None


def test_the_three_cities_share_ten_to_five_korean_time() -> None:
    week = Workweek()
    day = date(2026, 12, 10)  # a Thursday, no holiday anywhere
    s = strip(THREE, day, SEOUL, week)
    assert s.overlap_spans == [
        (datetime(2026, 12, 10, 2, tzinfo=UTC), datetime(2026, 12, 10, 9, tzinfo=UTC))  # 11:00-18:00 KST
    ]
    assert s.overlap_text() == ["Daegu 11:00–18:00 KST · Chengdu 10:00–17:00 CST · Bac Ninh 09:00–16:00 UTC+7"]
    vietnam_early = Workweek(by_zone={"Asia/Ho_Chi_Minh": WorkingHours.parse("08:00-17:00")})
    assert strip(THREE, day, SEOUL, vietnam_early).overlap_text()[0].startswith("Daegu 10:00–18:00 KST")
    lo, hi = s.overlap[0]
    assert lo == pytest.approx(11 / 24) and hi == pytest.approx(18 / 24)


def test_a_holiday_in_one_city_removes_the_overlap() -> None:
    s = strip(THREE, date(2026, 9, 25), SEOUL, Workweek())  # Chuseok in Korea, Mid-Autumn in China
    assert s.rows[0].off == "Chuseok" and s.rows[0].work == []
    assert s.rows[1].off == "Mid-Autumn Festival"
    assert s.rows[2].off is None and s.rows[2].work  # an ordinary Friday in Vietnam
    assert s.overlap == []


def test_atlanta_evening_is_daegu_morning_and_no_hours_overlap() -> None:
    week = Workweek()
    start = datetime(2027, 1, 14, 8, tzinfo=SEOUL)
    s = strip(
        [("Daegu", SEOUL), ("Atlanta", NEW_YORK)],
        start.date(),
        SEOUL,
        week,
        [(start, start + timedelta(minutes=45), "call")],
    )
    assert s.overlap == []
    assert s.marks[0].local == ["Daegu 08:00 KST", "Atlanta 18:00 EST"]
    assert not week.at_work(NEW_YORK, start, start + timedelta(minutes=45))
    midnight = [t for t in s.rows[1].ticks if t.midnight]
    assert [t.label for t in midnight] == ["Thu 14"]  # Atlanta's day turns inside Daegu's day


def test_a_daylight_saving_day_is_23_hours_long() -> None:
    s = strip([("Atlanta", NEW_YORK)], date(2027, 3, 14), NEW_YORK, Workweek())
    assert s.end - s.start == timedelta(hours=23)
    assert [t.label for t in s.rows[0].ticks] == ["Sun 14", "06", "12", "18"]
    assert s.rows[0].off == "Sunday"


def test_common_of_nothing_is_nothing() -> None:
    assert common([]) == []


def test_ticks_follow_half_hour_zones() -> None:
    kolkata = ZoneInfo("Asia/Kolkata")
    s = strip([("Daegu", SEOUL), ("Delhi", kolkata)], date(2026, 12, 10), SEOUL, Workweek())
    delhi = s.rows[1]
    six = next(t for t in delhi.ticks if t.label == "06")
    # 06:00 IST is 09:30 KST: 9.5 hours into Daegu's day
    assert six.at == pytest.approx(9.5 / 24)
