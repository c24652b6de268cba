"""meet-sched plan (README "Places, holidays and working hours"): the best slot suits every place, avoids
holidays and the participants' meetings, rotates for far zones, and its meeting file validates."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
import yaml

from meet_sched.places import Rules
from meet_sched.places.plan import Busy, PlanError, candidates, pattern, resolve_places

from .conftest import SiteDir

SEOUL = ZoneInfo("Asia/Seoul")
HOUR = timedelta(hours=1)
RULES = Rules()
THREE = resolve_places(["Asia/Seoul", "Asia/Shanghai", "Asia/Ho_Chi_Minh"], RULES)

PLACES = """
[places.daegu]
timezone = "Asia/Seoul"
city = "Daegu"

[places.chengdu]
timezone = "Asia/Shanghai"
city = "Chengdu"

[places.bac-ninh]
timezone = "Asia/Ho_Chi_Minh"
city = "Bac Ninh"

[places.atlanta]
timezone = "America/New_York"
city = "Atlanta"
"""


def _in_daegu(moment: datetime) -> tuple[date, time]:
    local = moment.astimezone(SEOUL)
    return local.date(), local.time()


def test_the_best_slot_of_an_ordinary_week_suits_all_three_cities() -> None:
    start = datetime(2027, 3, 8, tzinfo=SEOUL)  # Monday; no holiday in any of the three that week
    ranked = candidates(THREE, HOUR, start, 7)
    best = ranked[0]
    assert best.fits
    at = _in_daegu(best.start)[1]
    assert at == time(11) or time(15) <= at <= time(17), at  # a slot within 11:00-12:00 or 15:00-18:00 KST
    for v in best.verdicts:
        lo, hi = v.plan.hours
        assert lo <= best.start and best.end <= hi  # inside each working day
        assert v.plan.lunch is not None and (best.end <= v.plan.lunch[0] or best.start >= v.plan.lunch[1])
    fitting = [s for s in ranked if s.fits]
    starts = {time(11), time(15), time(15, 30), time(16), time(16, 30), time(17)}
    assert {_in_daegu(s.start)[1] for s in fitting} == starts


def test_a_week_with_chuseok_avoids_it() -> None:
    start = datetime(2027, 9, 13, tzinfo=SEOUL)  # Chuseok is 14-16 September 2027
    ranked = candidates(THREE, HOUR, start, 5)
    assert _in_daegu(ranked[0].start)[0] in (date(2027, 9, 13), date(2027, 9, 17))
    assert all(_in_daegu(s.start)[0] not in (date(2027, 9, d) for d in (14, 15, 16)) for s in ranked if s.fits)


def test_the_participants_meetings_count() -> None:
    start = datetime(2027, 3, 8, tzinfo=SEOUL)
    free = candidates(THREE, HOUR, start, 1)[0]
    busy = Busy([("kim@daegu.example", free.start - timedelta(minutes=30), free.end, "Budget review")])
    ranked = candidates(THREE, HOUR, start, 1, busy=busy)
    assert ranked[0].start != free.start and ranked[0].fits
    clashing = next(s for s in ranked if s.start == free.start)
    assert clashing.busy == (("kim@daegu.example", "Budget review"),)


def test_far_zones_rotate_the_burden() -> None:
    two = resolve_places(["Asia/Seoul", "America/New_York"], RULES)
    ranked = candidates(two, HOUR, datetime(2027, 3, 8, tzinfo=SEOUL), 7)
    assert not any(s.fits for s in ranked)  # no hour is inside both working days
    found = pattern(two, "FREQ=MONTHLY;BYDAY=2WE", ranked[0], HOUR)
    assert found.rotation and len(found.slots) == 12
    (_, seoul_out, _), (_, atlanta_out, _) = found.burden(two)
    assert seoul_out == atlanta_out == 6
    for n, slot in enumerate(found.slots):
        outside = [v.place.zone.key for v in slot.out_of_hours]
        assert len(outside) == 1 and outside != [v.place.zone.key for v in found.slots[n - 1].out_of_hours]


def _site(site_dir: SiteDir) -> None:
    site_dir.settings(PLACES)
    site_dir.meeting(
        "team.yaml",
        """
        title: Team
        timezone: Asia/Seoul
        start: 2027-03-08T10:00
        duration: 1h
        attendees:
          - { name: 김지현, email: kim@daegu.example, place: daegu, language: ko }
          - { name: 李明, email: li@chengdu.example, place: chengdu, language: zh }
          - { name: Hà, email: ha@bacninh.example, place: bac-ninh, language: vi }
        """,
    )


def test_plan_prints_every_place_local_time(site_dir: SiteDir) -> None:
    _site(site_dir)
    result = site_dir.run("plan", "--with", "daegu,chengdu,bac-ninh", "--duration", "1h", "--from", "2027-03-08")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["#", "Date", "Daegu", "Chengdu", "Bac", "Ninh", "Fit"]
    assert lines[2].split()[:9] == ["1", "Mon", "2027-03-08", "15:00", "KST", "14:00", "CST", "13:00", "UTC+7"]
    assert lines[2].endswith("fits everyone")


def test_plan_every_says_which_occurrences_clash(site_dir: SiteDir) -> None:
    _site(site_dir)
    result = site_dir.run(
        "plan", "--with", "daegu,chengdu,bac-ninh", "--duration", "1h", "--from", "2027-03-08",
        "--every", "FREQ=MONTHLY;BYDAY=2WE",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    june = next(ln for ln in result.stdout.splitlines() if "2027-06-09" in ln)
    assert "Chengdu: Dragon Boat Festival" in june  # 端午节, 9 June 2027
    assert "Chengdu: outside working hours 0 of 12, on a day off 1" in result.stdout
    far = site_dir.run("plan", "--with", "daegu,atlanta", "--duration", "1h", "--from", "2027-03-08",
                       "--every", "FREQ=MONTHLY;BYDAY=2WE")  # fmt: skip
    assert "No time fits everyone's working hours, so the occurrences rotate" in far.stdout
    assert "Daegu: outside working hours 6 of 12" in far.stdout
    assert "Atlanta: outside working hours 6 of 12" in far.stdout


def test_plan_yaml_is_a_meeting_file_that_validates(site_dir: SiteDir) -> None:
    _site(site_dir)
    result = site_dir.run(
        "plan", "--attendees", "config/meetings/team.yaml", "--duration", "1h", "--from", "2027-03-08",
        "--every", "FREQ=MONTHLY;BYDAY=2WE", "--format", "yaml", "--title", "Working call",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    data = yaml.safe_load(result.stdout)
    assert data["start"] == "2027-03-10T15:00" and data["recurrence"] == "FREQ=MONTHLY;BYDAY=2WE"
    assert [a["place"] for a in data["attendees"]] == ["daegu", "chengdu", "bac-ninh"]
    (site_dir.root / "config" / "meetings" / "planned.yaml").write_text(result.stdout, encoding="utf-8")
    check = site_dir.run("validate", "--from", "2027-03-01")
    assert check.returncode == 0, check.stdout + check.stderr
    assert check.stdout.startswith("ok: 2 meetings in 2 files")
    assert "Working call" in check.stdout  # the Dragon Boat Festival in Chengdu, as plan said


def test_plan_avoids_the_participants_meetings_in_the_database(site_dir: SiteDir) -> None:
    _site(site_dir)
    site_dir.meeting(
        "busy.yaml",
        """
        title: Daily stand-up
        timezone: Asia/Seoul
        start: 2027-03-01T15:00
        duration: 1h
        recurrence: FREQ=DAILY;COUNT=60
        attendees: [{ email: li@chengdu.example, place: chengdu }]
        """,
    )
    site_dir.run("sync", check=True)
    result = site_dir.run("plan", "--attendees", "team", "--duration", "1h", "--from", "2027-03-08", "--top", "3")
    assert result.returncode == 0, result.stderr
    first = result.stdout.splitlines()[2]
    assert "15:00 KST" not in first and first.endswith("fits everyone")
    assert "existing occurrences of the participants checked" in result.stdout
    before = {p.name: p.stat().st_mtime_ns for p in (site_dir.root / "var").iterdir()}  # plan writes nothing
    site_dir.run("plan", "--attendees", "team", "--duration", "1h", "--from", "2027-03-08", check=True)
    assert {p.name: p.stat().st_mtime_ns for p in (site_dir.root / "var").iterdir()} == before


def test_plan_bad_input_is_a_message(site_dir: SiteDir) -> None:
    _site(site_dir)
    result = site_dir.run("plan", "--with", "daegu,chengduu", "--duration", "1h")
    assert result.returncode == 1
    assert "--with 'chengduu': not a place of [places], an IANA zone or a known city (did you mean 'chengdu'?)" in (
        result.stderr
    )
    assert "Traceback" not in result.stderr
    assert site_dir.run("plan", "--with", "daegu", "--duration", "2d").returncode == 2


def test_with_takes_places_zones_and_city_names() -> None:
    atlanta = ZoneInfo("America/New_York")
    found = resolve_places(["Seoul", "ho chi minh", "Atlanta", "Europe/Berlin"], RULES, {"Atlanta": atlanta})
    assert [p.zone.key for p in found] == ["Asia/Seoul", "Asia/Ho_Chi_Minh", "America/New_York", "Europe/Berlin"]
    assert [p.label for p in found] == ["Seoul", "ho chi minh", "Atlanta", "Berlin"]
    assert [p.country for p in found] == ["KR", "VN", "US", "DE"]


def test_with_takes_any_city_of_geonames_and_points_a_wrong_zone_the_right_way() -> None:
    """Hanoi and Chengdu are no zone names of the tz database: GeoNames places them (Asia/Ho_Chi_Minh,
    Asia/Shanghai), with their country's holidays; a zone that does not exist gets the way to the right one."""
    found = resolve_places(["Hanoi", "Chengdu", "Bắc Ninh"], RULES)
    assert [(p.label, p.zone.key, p.country) for p in found] == [
        ("Hanoi", "Asia/Ho_Chi_Minh", "VN"),
        ("Chengdu", "Asia/Shanghai", "CN"),
        ("Bắc Ninh", "Asia/Ho_Chi_Minh", "VN"),
    ]
    with pytest.raises(PlanError) as caught:
        resolve_places(["Asia/Hanoi"], RULES)
    assert str(caught.value) == (
        "--with 'Asia/Hanoi': not a place of [places], an IANA zone or a known city (Hanoi is in 'Asia/Ho_Chi_Minh')"
    )
