"""The README's feed promises over real HTTP (RFC 9110 conditional requests, RFC 5545 bodies) from a real `serve`."""

from __future__ import annotations

import gzip
import re
from collections.abc import Iterator
from datetime import timedelta
from email.utils import format_datetime, parsedate_to_datetime

import httpx
import icalendar
import pytest
from ical.calendar_stream import IcsCalendarStream
from sqlalchemy import create_engine, text

from .conftest import PG_ADMIN_URL, SiteDir
from .serving import BUI_LAN, Served, poll, serving
from .serving import COUNCIL as SHARED_COUNCIL

pytestmark = pytest.mark.slow

SETTINGS = """
[calendar]
name = "City Hall"
domain = "test.example"
organizer = { name = "Office", email = "office@test.example" }
refresh_interval = "30m"

[reminders]
default = ["1d"]

[server]
listen = "127.0.0.1:0"
base_url = "https://calendars.test.example"
public_calendars = ["city-hall", "not-yet-used"]
"""

COUNCIL = (
    SHARED_COUNCIL.replace("duration: 1h\n", "duration: 1h\nreminders: [1d, 10m]\n").replace(
        "mira.ahn@test.example }", "mira.ahn@test.example, reminders: [2h] }"
    )
    + BUI_LAN
)

BOARD = """
uid: board
calendar: board
title: Board meeting (not public)
timezone: Asia/Seoul
start: 2027-03-05T15:00
duration: 30m
reminders: [30m]
attendees:
  - { name: Ahn Mira, email: Mira.Ahn@test.example }
"""

VISIT = """
uid: visit
calendar: city-hall
title: Delegation visit
timezone: Asia/Shanghai
start: 2027-04-01T09:00
duration: 2h
attendees:
  - { name: Bui Lan, email: lan.bui@test.example }
"""

ICS = "text/calendar; charset=utf-8"


def make_site(site_dir: SiteDir) -> SiteDir:
    (site_dir.root / "config" / "meet-sched.toml").write_text(SETTINGS, encoding="utf-8")
    site_dir.meeting("council.yaml", COUNCIL)
    site_dir.meeting("board.yaml", BOARD)
    site_dir.meeting("visit.yaml", VISIT)
    return site_dir


@pytest.fixture
def site(site_dir: SiteDir) -> SiteDir:
    return make_site(site_dir)


@pytest.fixture
def served(site: SiteDir) -> Iterator[Served]:
    with serving(site.root, no_traceback=True) as server:
        yield server


def uids(body: bytes) -> set[str]:
    return {str(e["UID"]) for e in icalendar.Calendar.from_ical(body).walk("VEVENT")}


def tokens(site: SiteDir, *args: str) -> dict[str, str]:
    """email → token, from what `meet-sched feeds …` printed."""
    out = site.run("feeds", *args, check=True).stdout
    found: dict[str, str] = {}
    email = None
    for line in out.splitlines():
        who = re.search(r"<([^>]+)>", line)
        if who:
            email = who.group(1)
        url = re.search(r"https://calendars\.test\.example/feeds/([A-Za-z0-9_-]+)\.ics", line)
        if url and email:
            found[email] = url.group(1)
    return found


# -- the public feed -----------------------------------------------------------------


def test_public_feed_is_a_calendar_both_parsers_read(served: Served) -> None:
    r = served.client.get("/calendars/city-hall.ics")
    assert r.status_code == 200
    assert r.headers["content-type"] == ICS
    assert r.headers["cache-control"] == "public, max-age=1800"  # REFRESH-INTERVAL of 30m
    assert r.headers["vary"] == "Accept-Encoding"
    assert r.headers["x-content-type-options"] == "nosniff"
    cal = icalendar.Calendar.from_ical(r.content)
    assert str(cal["REFRESH-INTERVAL"].to_ical().decode()) == "PT30M"
    assert uids(r.content) == {"council@test.example", "visit@test.example"}  # not the private board meeting
    parsed = IcsCalendarStream.calendar_from_ics(r.text)
    assert sorted(e.summary for e in parsed.timeline) == ["Council session", "Delegation visit"]
    council = next(e for e in cal.walk("VEVENT") if str(e["UID"]) == "council@test.example")
    triggers = sorted(a["TRIGGER"].dt for a in council.walk("VALARM"))
    assert triggers == [-timedelta(days=1), -timedelta(minutes=10)]


def test_strong_etag_and_last_modified_give_304(served: Served) -> None:
    first = served.client.get("/calendars/city-hall.ics")
    etag = first.headers["etag"]
    assert re.fullmatch(r'"[0-9a-f]{32}"', etag)  # strong: no W/
    last_modified = parsedate_to_datetime(first.headers["last-modified"])

    again = served.client.get("/calendars/city-hall.ics", headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == etag
    assert again.headers["cache-control"] == "public, max-age=1800"

    listed = served.client.get("/calendars/city-hall.ics", headers={"If-None-Match": f'"other", W/{etag}'})
    assert listed.status_code == 304
    assert served.client.get("/calendars/city-hall.ics", headers={"If-None-Match": '"other"'}).status_code == 200

    since = served.client.get("/calendars/city-hall.ics", headers={"If-Modified-Since": first.headers["last-modified"]})
    assert since.status_code == 304
    earlier = format_datetime(last_modified - timedelta(seconds=1), usegmt=True)
    assert served.client.get("/calendars/city-hall.ics", headers={"If-Modified-Since": earlier}).status_code == 200
    # RFC 9110 13.1.3: If-Modified-Since is ignored when If-None-Match is present
    both = served.client.get(
        "/calendars/city-hall.ics",
        headers={"If-None-Match": '"other"', "If-Modified-Since": first.headers["last-modified"]},
    )
    assert both.status_code == 200
    garbage = served.client.get("/calendars/city-hall.ics", headers={"If-Modified-Since": "yesterday"})
    assert garbage.status_code == 200


def test_head_gives_the_get_headers_without_a_body(served: Served) -> None:
    get = served.client.get("/calendars/city-hall.ics")
    head = served.client.head("/calendars/city-hall.ics")
    assert head.status_code == 200
    assert head.content == b""
    for name in ("content-type", "content-length", "etag", "last-modified", "cache-control"):
        assert head.headers[name] == get.headers[name], name
    assert int(head.headers["content-length"]) == len(get.content)
    assert (
        served.client.head("/calendars/city-hall.ics", headers={"If-None-Match": get.headers["etag"]}).status_code
        == 304
    )


def test_gzip_when_the_client_accepts_it(served: Served) -> None:
    with httpx.Client(base_url=served.url) as raw:
        plain = raw.get("/calendars/city-hall.ics", headers={"Accept-Encoding": "identity"})
        assert "content-encoding" not in plain.headers
        req = raw.build_request("GET", "/calendars/city-hall.ics", headers={"Accept-Encoding": "gzip"})
        zipped = raw.send(req, stream=True)
        compressed = b"".join(zipped.iter_raw())
        zipped.close()
    assert zipped.headers["content-encoding"] == "gzip"
    assert int(zipped.headers["content-length"]) == len(compressed) < len(plain.content)
    assert gzip.decompress(compressed) == plain.content
    assert zipped.headers["etag"] != plain.headers["etag"]  # another representation, another strong ETag
    refused = served.client.get("/calendars/city-hall.ics", headers={"Accept-Encoding": "gzip;q=0, br"})
    assert "content-encoding" not in refused.headers
    # either ETag revalidates: the client may have cached either representation
    for etag in (plain.headers["etag"], zipped.headers["etag"]):
        r = served.client.get("/calendars/city-hall.ics", headers={"If-None-Match": etag, "Accept-Encoding": "gzip"})
        assert r.status_code == 304


def test_a_public_calendar_without_meetings_is_an_empty_calendar(served: Served) -> None:
    r = served.client.get("/calendars/not-yet-used.ics")
    assert r.status_code == 200
    assert uids(r.content) == set()
    # …and the log says so, in case it is a typo in [server] public_calendars
    served.wait_for_log(re.compile(r"event=public-calendar-empty calendar=not-yet-used known=board,city-hall"))
    assert "calendar=city-hall" not in served.log


def test_private_missing_and_misnamed_calendars_are_the_same_404(served: Served) -> None:
    answers = [
        served.client.get(path)
        for path in (
            "/calendars/board.ics",  # exists, but not public
            "/calendars/nothing.ics",
            "/calendars/city-hall",
            "/calendars/City-Hall.ics",
            "/feeds/" + "A" * 43 + ".ics",  # a well-formed token nobody holds
            "/feeds/short.ics",
        )
    ]
    assert {r.status_code for r in answers} == {404}
    assert {r.content for r in answers} == {b"Not Found\n"}
    shapes = {tuple(sorted((k, v) for k, v in r.headers.items() if k != "date")) for r in answers}
    assert len(shapes) == 1, shapes


# -- live config -----------------------------------------------------------------------


def test_an_edit_changes_the_etag_within_seconds_and_a_bad_edit_changes_nothing(site: SiteDir, served: Served) -> None:
    first = served.client.get("/calendars/city-hall.ics")
    site.meeting("council.yaml", COUNCIL.replace("title: Council session", "title: Council session (moved)"))

    def fetch() -> httpx.Response:
        return served.client.get("/calendars/city-hall.ics", headers={"If-None-Match": first.headers["etag"]})

    changed = poll(fetch, lambda r: r.status_code == 200, timeout=10)
    assert changed.headers["etag"] != first.headers["etag"]
    council = next(
        e for e in icalendar.Calendar.from_ical(changed.content).walk("VEVENT") if "council" in str(e["UID"])
    )
    assert str(council["SUMMARY"]) == "Council session (moved)"
    assert int(council["SEQUENCE"]) == 1
    assert parsedate_to_datetime(changed.headers["last-modified"]) > parsedate_to_datetime(
        first.headers["last-modified"]
    )

    # an invalid edit: logged with the validate message; the last good feed is still served
    site.meeting("visit.yaml", VISIT.replace("Asia/Shanghai", "Asia/Shangai"))
    served.wait_for_log(re.compile(r"visit\.yaml:\d+: timezone: unknown time zone 'Asia/Shangai'"), timeout=10)
    still = served.client.get("/calendars/city-hall.ics", headers={"If-None-Match": changed.headers["etag"]})
    assert still.status_code == 304
    health = served.client.get("/healthz").json()
    assert "1 problem" in health["last_sync_error"]

    # deleting a file: the meeting stays in the feed, cancelled
    (site.root / "config" / "meetings" / "visit.yaml").unlink()
    gone = poll(fetch, lambda r: r.status_code == 200 and b"STATUS:CANCELLED" in r.content, timeout=10)
    visit = next(e for e in icalendar.Calendar.from_ical(gone.content).walk("VEVENT") if "visit" in str(e["UID"]))
    assert str(visit["STATUS"]) == "CANCELLED"
    assert served.client.get("/healthz").json()["last_sync_error"] is None


# -- personal feeds ------------------------------------------------------------------------


def test_a_personal_feed_holds_exactly_that_attendees_meetings_with_their_reminders(
    site: SiteDir, served: Served
) -> None:
    issued = tokens(site, "rotate", "mira.ahn@test.example") | tokens(site, "rotate", "lan.bui@test.example")
    assert set(issued) == {"mira.ahn@test.example", "lan.bui@test.example"}
    assert all(len(t) >= 22 for t in issued.values())  # ≥ 128 bits of base64url

    mira = served.client.get(f"/feeds/{issued['mira.ahn@test.example']}.ics")
    assert mira.status_code == 200
    assert mira.headers["content-type"] == ICS
    assert mira.headers["cache-control"] == "private, max-age=1800"
    cal = icalendar.Calendar.from_ical(mira.content)
    events = {str(e["UID"]): e for e in cal.walk("VEVENT")}
    assert set(events) == {"council@test.example", "board@test.example"}  # the private calendar too
    assert [a["TRIGGER"].dt for a in events["council@test.example"].walk("VALARM")] == [-timedelta(hours=2)]
    assert [a["TRIGGER"].dt for a in events["board@test.example"].walk("VALARM")] == [-timedelta(minutes=30)]
    assert "Ahn Mira" in str(cal["X-WR-CALNAME"])
    council = events["council@test.example"]
    assert {str(a) for a in council.get("ATTENDEE")} == {"mailto:mira.ahn@test.example", "mailto:lan.bui@test.example"}
    parsed = IcsCalendarStream.calendar_from_ics(mira.text)
    assert sorted(e.uid for e in parsed.events) == ["board@test.example", "council@test.example"]

    lan = served.client.get(f"/feeds/{issued['lan.bui@test.example']}.ics")
    assert uids(lan.content) == {"council@test.example", "visit@test.example"}
    assert (
        served.client.get(
            f"/feeds/{issued['lan.bui@test.example']}.ics", headers={"If-None-Match": lan.headers["etag"]}
        ).status_code
        == 304
    )

    # a second `feeds list` does not show (it cannot: only hashes are kept) or change the URLs
    assert tokens(site, "list") == {}
    assert served.client.get(f"/feeds/{issued['mira.ahn@test.example']}.ics").status_code == 200


def test_rotation_kills_the_old_token_at_once(site: SiteDir, served: Served) -> None:
    old = tokens(site, "rotate", "lan.bui@test.example")["lan.bui@test.example"]
    assert served.client.get(f"/feeds/{old}.ics").status_code == 200
    new = tokens(site, "rotate", "LAN.BUI@test.example")["lan.bui@test.example"]
    assert new != old
    assert served.client.get(f"/feeds/{old}.ics").status_code == 404
    assert served.client.get(f"/feeds/{new}.ics").status_code == 200
    assert served.client.get(f"/feeds/{new[:-1]}.ics").status_code == 404
    site.run("feeds", "revoke", "lan.bui@test.example", check=True)
    assert served.client.get(f"/feeds/{new}.ics").status_code == 404


# -- operations ------------------------------------------------------------------------------


def test_healthz_and_metrics(served: Served) -> None:
    health = served.client.get("/healthz")
    assert health.status_code == 200
    assert health.headers["cache-control"] == "no-store"
    body = health.json()
    assert body["status"] == "ok"
    assert body["database"] == "ok"
    assert body["scheduler"] == "running"
    assert body["last_sync_at"] is not None

    etag = served.client.get("/calendars/city-hall.ics").headers["etag"]
    served.client.get("/calendars/city-hall.ics", headers={"If-None-Match": etag})
    served.client.get("/calendars/board.ics")
    metrics = served.client.get("/metrics")
    assert metrics.status_code == 200
    assert metrics.headers["content-type"].startswith("text/plain; version=")
    text = metrics.text
    for code in ("200", "304", "404"):
        assert re.search(rf'^meet_sched_feed_requests_total{{code="{code}"}} [1-9]', text, re.M), code
    assert re.search(r"^meet_sched_sync_errors_total 0\.0$", text, re.M)


@pytest.mark.postgres
def test_unhealthy_is_503_and_recovers(site: SiteDir, pg_url: str) -> None:
    """The database goes away under a running service: /healthz says so with a 503, then recovers."""
    name = pg_url.rsplit("/", 1)[1]
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    server = Served(site.root, env={"MEET_SCHED_DATABASE_URL": pg_url})
    try:
        assert server.client.get("/healthz").status_code == 200
        with admin.connect() as conn:
            conn.execute(text(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS false'))
            conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"), {"n": name})
        r = server.client.get("/healthz")
        assert r.status_code == 503
        assert r.json()["status"] == "unhealthy"
        assert r.json()["problems"] == ["database"]
        assert "Traceback" not in r.text
        assert server.client.get("/calendars/city-hall.ics").status_code == 200  # the last good feed is still served
        with admin.connect() as conn:
            conn.execute(text(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS true'))
        assert server.client.get("/healthz").status_code == 200
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS true'))
        admin.dispose()
        assert server.stop() == 0, server.log


def test_a_settings_edit_asks_for_a_restart_and_meetings_keep_syncing(site: SiteDir, served: Served) -> None:
    """A running serve keeps the settings it started with (listen address, calendar name) and says so."""
    first = served.client.get("/calendars/city-hall.ics")
    settings = site.root / "config" / "meet-sched.toml"
    settings.write_text(settings.read_text(encoding="utf-8").replace('"City Hall"', '"Renamed"'), encoding="utf-8")
    health = poll(lambda: served.client.get("/healthz").json(), lambda h: h["settings_changed_restart_needed"])
    assert health["status"] == "ok"
    served.wait_for_log(re.compile(r"event=settings-changed file=config/meet-sched\.toml"), timeout=10)

    site.meeting("council.yaml", COUNCIL.replace("title: Council session", "title: Council session (later)"))

    def fetch() -> httpx.Response:
        return served.client.get("/calendars/city-hall.ics", headers={"If-None-Match": first.headers["etag"]})

    changed = poll(fetch, lambda r: r.status_code == 200, timeout=10)
    cal = icalendar.Calendar.from_ical(changed.content)
    assert str(cal["X-WR-CALNAME"]).startswith("City Hall")  # the started-with name, consistently
    assert "Council session (later)" in {str(e["SUMMARY"]) for e in cal.walk("VEVENT")}

    settings.write_text(settings.read_text(encoding="utf-8").replace('"Renamed"', '"City Hall"'), encoding="utf-8")
    poll(lambda: served.client.get("/healthz").json(), lambda h: not h["settings_changed_restart_needed"])


def test_public_feeds_do_not_hand_out_attendees_addresses(site: SiteDir, served: Served) -> None:
    """Anyone with a public URL can read it: no ATTENDEE names or addresses unless [server] public_attendees."""
    body = served.client.get("/calendars/city-hall.ics").content
    assert b"mira.ahn@test.example" not in body and b"lan.bui@test.example" not in body
    for event in icalendar.Calendar.from_ical(body).walk("VEVENT"):
        assert "ATTENDEE" not in event
        assert str(event["ORGANIZER"]) == "mailto:office@test.example"  # RFC 5546: still there
    # the file export keeps them (it is the site's own record, not served by meet-sched)
    exported = (site.root / "calendars" / "city-hall.ics").read_bytes()
    assert b"mailto:mira.ahn@test.example" in exported


def test_public_attendees_setting_lists_them(site_dir: SiteDir) -> None:
    make_site(site_dir)
    settings = site_dir.root / "config" / "meet-sched.toml"
    settings.write_text(
        settings.read_text(encoding="utf-8").replace("[server]\n", "[server]\npublic_attendees = true\n"),
        encoding="utf-8",
    )
    server = Served(site_dir.root)
    try:
        body = server.client.get("/calendars/city-hall.ics").content
        council = next(e for e in icalendar.Calendar.from_ical(body).walk("VEVENT") if "council" in str(e["UID"]))
        assert {str(a) for a in council.get("ATTENDEE")} == {
            "mailto:mira.ahn@test.example",
            "mailto:lan.bui@test.example",
        }
    finally:
        assert server.stop() == 0, server.log
