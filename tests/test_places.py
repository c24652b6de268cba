"""places/: holidays on each attendee's local date, working hours as instants, and the facts they rest on."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import holidays

from meet_sched.model import Attendee
from meet_sched.places import Rules, WorkingHours, day_plan, holiday_on, verdict
from meet_sched.places import holidays as our_holidays
from meet_sched.places.days import Why
from meet_sched.places.rules import Place, country_of
from meet_sched.workhours import Workweek

SEOUL, SHANGHAI, HCMC = ZoneInfo("Asia/Seoul"), ZoneInfo("Asia/Shanghai"), ZoneInfo("Asia/Ho_Chi_Minh")
BERLIN, NEW_YORK = ZoneInfo("Europe/Berlin"), ZoneInfo("America/New_York")
RULES = Rules()
DAEGU, CHENGDU, BAC_NINH = (
    RULES.for_zone(z, label) for z, label in ((SEOUL, "Daegu"), (SHANGHAI, "Chengdu"), (HCMC, "Bac Ninh"))
)


def _offset(zone: ZoneInfo, moment: datetime) -> timedelta:
    return moment.astimezone(zone).utcoffset() or timedelta()


def test_the_three_cities_keep_one_offset_all_year() -> None:
    for zone, hours in ((SEOUL, 9), (SHANGHAI, 8), (HCMC, 7)):
        offsets = {_offset(zone, datetime(2027, m, 15, 12, tzinfo=UTC)) for m in range(1, 13)}
        assert offsets == {timedelta(hours=hours)}


def _transitions(zone: ZoneInfo, year: int) -> list[date]:
    days = []
    day = date(year, 1, 1)
    while day.year == year:
        if _offset(zone, datetime.combine(day, time(0), UTC)) != _offset(zone, datetime.combine(day, time(23), UTC)):
            days.append(day)
        day += timedelta(days=1)
    return days


def test_berlin_and_new_york_change_their_clocks_in_2027_and_the_hours_follow() -> None:
    assert _transitions(BERLIN, 2027) == [date(2027, 3, 28), date(2027, 10, 31)]
    assert _transitions(NEW_YORK, 2027) == [date(2027, 3, 14), date(2027, 11, 7)]
    berlin = RULES.for_zone(BERLIN)
    assert day_plan(berlin, date(2027, 3, 26)).hours[0] == datetime(2027, 3, 26, 8, tzinfo=UTC)  # 09:00 CET
    assert day_plan(berlin, date(2027, 3, 29)).hours[0] == datetime(2027, 3, 29, 7, tzinfo=UTC)  # 09:00 CEST
    ny = RULES.for_zone(NEW_YORK)
    assert day_plan(ny, date(2027, 11, 8)).hours[1] == datetime(2027, 11, 8, 23, tzinfo=UTC)  # 18:00 EST


def test_tet_2027_in_vietnam() -> None:
    package = holidays.country_holidays("VN", years=2027, language="vi")
    day = next(d for d, name in sorted(package.items()) if name == "Tết Nguyên Đán")
    assert day == date(2027, 2, 6)
    found = holiday_on("VN", day, "vi")
    assert found is not None and found.local_name == "Tết Nguyên Đán"
    assert found.name == holidays.country_holidays("VN", years=2027, language="en_US")[day]
    assert day_plan(BAC_NINH, day).off


def test_chuseok_2027_in_korea_is_september_14_to_16() -> None:
    package = holidays.country_holidays("KR", years=2027, language="ko")
    chuseok = sorted(d for d, name in package.items() if "추석" in name)
    assert chuseok == [date(2027, 9, 14), date(2027, 9, 15), date(2027, 9, 16)]
    for day in chuseok:
        found = holiday_on("KR", day, "ko")
        assert found is not None and "추석" in (found.local_name or "") and "Chuseok" in found.name
        assert day_plan(DAEGU, day).off
    assert not day_plan(DAEGU, date(2027, 9, 17)).off


def test_national_day_2027_in_china_and_the_spring_festival() -> None:
    found = holiday_on("CN", date(2027, 10, 1), "zh")
    assert found is not None and found.local_name == "国庆节" and found.name == "National Day"
    spring = holiday_on("CN", date(2027, 2, 6), "zh")
    assert spring is not None and spring.local_name == "春节"
    assert holiday_on("CN", date(2027, 10, 1), "en") == holiday_on("CN", date(2027, 10, 1))
    assert str(found) == "National Day (国庆节)"


def test_substitute_days_and_adjusted_working_weekends() -> None:
    substitute = holidays.country_holidays("KR", years=2027)[date(2027, 8, 16)]
    assert "Alternative" in substitute or "Substitute" in substitute
    assert day_plan(DAEGU, date(2027, 8, 16)).off  # a Monday, in place of Liberation Day on a Sunday
    assert date(2026, 9, 20) in holidays.country_holidays("CN", years=2026).weekend_workdays
    assert date(2026, 9, 20).weekday() == 6
    assert not day_plan(CHENGDU, date(2026, 9, 20)).off  # a Sunday made a working day
    assert day_plan(CHENGDU, date(2026, 9, 19)).weekend


def test_the_local_date_decides() -> None:
    """01:00 UTC on 14 September 2027 is Chuseok in Daegu and an ordinary Monday evening in Atlanta."""
    start = datetime(2027, 9, 14, 1, tzinfo=UTC)
    end = start + timedelta(hours=1)
    assert verdict(DAEGU, start, end).reasons == (Why.HOLIDAY,)
    atlanta = verdict(RULES.for_zone(NEW_YORK, "Atlanta"), start, end)
    assert atlanta.local.date() == date(2027, 9, 13) and atlanta.reasons == (Why.LATE,)


def test_early_morning_in_daegu_is_earlier_further_west() -> None:
    start = datetime(2027, 3, 10, 8, 30, tzinfo=SEOUL)
    end = start + timedelta(hours=1)
    chengdu, bac_ninh = verdict(CHENGDU, start, end), verdict(BAC_NINH, start, end)
    assert f"{chengdu.local:%H:%M}" == "07:30" and Why.EARLY in chengdu.reasons
    assert f"{bac_ninh.local:%H:%M}" == "06:30" and Why.EARLY in bac_ninh.reasons
    assert verdict(DAEGU, start, end).reasons == (Why.EARLY,)


def test_lunch_and_weekend() -> None:
    noon = datetime(2027, 3, 10, 12, 30, tzinfo=SEOUL)
    assert verdict(DAEGU, noon, noon + timedelta(hours=1)).reasons == (Why.LUNCH,)
    saturday = datetime(2027, 3, 13, 10, tzinfo=SEOUL)
    assert verdict(DAEGU, saturday, saturday + timedelta(hours=1)).reasons == (Why.WEEKEND,)
    friday_off = Place("Dubai-like", SEOUL, "KR", weekend=frozenset({4, 5}))
    friday = datetime(2027, 3, 12, 10, tzinfo=SEOUL)
    assert verdict(friday_off, friday, friday + timedelta(hours=1)).reasons == (Why.WEEKEND,)


def test_tables_are_built_once_per_country_year_and_language() -> None:
    our_holidays._table.cache_clear()
    our_holidays.holiday_on.cache_clear()
    for day in (14, 15, 16):
        holiday_on("KR", date(2027, 9, day), "ko")
    info = our_holidays._table.cache_info()
    assert info.misses == 2 and info.hits >= 4  # (KR, 2027, en_US) and (KR, 2027, ko)


def test_a_place_gives_an_attendee_their_rules() -> None:
    vn = Place("Bac Ninh", HCMC, "VN", hours=WorkingHours.parse("08:00-17:00"), lunch=None, name="bac-ninh")
    rules = Rules(places={"bac-ninh": vn})
    who = Attendee(name="Hà", email="ha@bacninh.example", timezone=HCMC, place="bac-ninh")
    assert rules.for_attendee(who).hours == vn.hours and rules.for_attendee(who).lunch is None
    other = Attendee(name="Li", email="li@chengdu.example", timezone=SHANGHAI)
    assert rules.for_attendee(other).country == country_of(SHANGHAI) == "CN"
    assert rules.for_attendee(Attendee(name="X", email="x@example.org", timezone=BERLIN, country="DK")).country == "DK"


def test_the_page_and_validate_agree_on_who_is_at_work() -> None:
    week = Workweek()
    for hour in range(0, 24):
        start = datetime(2027, 9, 13, hour, tzinfo=UTC)
        end = start + timedelta(hours=1)
        for zone in (SEOUL, SHANGHAI, HCMC, NEW_YORK):
            reasons = verdict(RULES.for_zone(zone), start, end).reasons
            assert week.at_work(zone, start, end) == (not [r for r in reasons if r is not Why.LUNCH])
