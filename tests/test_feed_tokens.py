"""Personal feed tokens (README "Personal feeds"): unguessable, stored only as hashes, rotated and revoked at once."""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime, timedelta

import icalendar
import pytest
from ical.calendar_stream import IcsCalendarStream
from sqlalchemy import select

from meet_sched.config import load_settings
from meet_sched.errors import NotFoundError
from meet_sched.site import FeedLink, Site
from meet_sched.store.tables import FeedToken

from .conftest import SiteDir
from .test_serve_feeds import BOARD, COUNCIL, SETTINGS, VISIT

NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)


@pytest.fixture
def site(site_dir: SiteDir, db_url: str) -> Site:
    (site_dir.root / "config" / "meet-sched.toml").write_text(SETTINGS, encoding="utf-8")
    site_dir.meeting("council.yaml", COUNCIL)
    site_dir.meeting("board.yaml", BOARD)
    site_dir.meeting("visit.yaml", VISIT)
    s = Site(site_dir.root, load_settings(site_dir.root, {"MEET_SCHED_DATABASE_URL": db_url}))
    s.sync(NOW)
    return s


def stored_hashes(site: Site) -> dict[str, str]:
    with site.db.transaction() as session:
        return {row.email: row.token_hash for row in session.scalars(select(FeedToken))}


def issue_all(site: Site) -> list[FeedLink]:
    return [site.rotate_feed_token(link.person.email, NOW) for link in site.feed_links()]


def test_tokens_are_issued_once_and_stored_only_as_hashes(site: Site) -> None:
    assert [link.issued_at for link in site.feed_links()] == [None, None]
    assert stored_hashes(site) == {}  # listing issues nothing
    links = issue_all(site)
    assert [link.person.email for link in links] == ["lan.bui@test.example", "mira.ahn@test.example"]
    tokens = {link.person.email: link.token for link in links}
    assert all(t is not None and len(t) >= 43 for t in tokens.values())  # 256 bits, base64url
    assert len(set(tokens.values())) == 2
    assert links[1].url == f"https://calendars.test.example/feeds/{tokens['mira.ahn@test.example']}.ics"
    assert links[1].webcal == f"webcal://calendars.test.example/feeds/{tokens['mira.ahn@test.example']}.ics"

    hashes = stored_hashes(site)
    for email, token in tokens.items():
        assert token is not None
        assert hashes[email] == hashlib.sha256(token.encode()).hexdigest()
        assert token not in hashes.values()
        assert site.feed_owner(token) == email

    again = site.feed_links()
    assert [link.token for link in again] == [None, None]
    assert [link.issued_at for link in again] == [NOW, NOW]
    assert stored_hashes(site) == hashes


@pytest.mark.parametrize("token", ["", "short", "A" * 43, "../../etc/passwd", "ä" * 43, "A" * 200, "a b"])
def test_unknown_or_malformed_tokens_open_nothing(site: Site, token: str) -> None:
    issue_all(site)
    assert site.feed_owner(token) is None


def test_rotation_and_revocation(site: Site) -> None:
    old = {link.person.email: link.token for link in issue_all(site)}["lan.bui@test.example"]
    assert old is not None
    new = site.rotate_feed_token("Lan.Bui@Test.Example", NOW)
    assert new.token is not None and new.token != old
    assert site.feed_owner(old) is None
    assert site.feed_owner(new.token) == "lan.bui@test.example"
    assert site.feed_owner(new.token[:-1]) is None
    with pytest.raises(NotFoundError, match=re.escape("no attendee 'someone@test.example'")):
        site.rotate_feed_token("someone@test.example", NOW)

    site.revoke_feed_token("lan.bui@test.example")
    assert site.feed_owner(new.token) is None
    with pytest.raises(NotFoundError):
        site.revoke_feed_token("lan.bui@test.example")
    relinked = {link.person.email: link for link in site.feed_links()}
    assert relinked["lan.bui@test.example"].issued_at is None  # listed as having none; listing issues none


def test_personal_and_public_feeds(site: Site) -> None:
    mira = icalendar.Calendar.from_ical(site.personal_feed("MIRA.AHN@test.example").body)
    assert {str(e["UID"]) for e in mira.walk("VEVENT")} == {"council@test.example", "board@test.example"}
    assert str(mira["X-WR-CALNAME"]) == "City Hall · Ahn Mira"
    public = site.public_feed("city-hall")
    assert public is not None and public.last_modified == NOW
    assert {str(e["UID"]) for e in icalendar.Calendar.from_ical(public.body).walk("VEVENT")} == {
        "council@test.example",
        "visit@test.example",
    }
    assert site.public_feed("board") is None  # exists, but is not public
    empty = site.public_feed("not-yet-used")
    assert empty is not None and empty.last_modified is None
    assert site.personal_feed("nobody@test.example").body.count(b"BEGIN:VEVENT") == 0


def test_cli_feeds_list_and_rotate(site_dir: SiteDir) -> None:
    (site_dir.root / "config" / "meet-sched.toml").write_text(SETTINGS, encoding="utf-8")
    site_dir.meeting("council.yaml", COUNCIL)
    site_dir.run("sync", check=True)
    first = site_dir.run("feeds", "list", check=True).stdout
    assert "/feeds/" not in first
    assert "https://calendars.test.example/calendars/city-hall.ics" in first
    none_yet = "  Ahn Mira <mira.ahn@test.example>: none yet; `meet-sched feeds send mira.ahn@test.example` mails one"
    assert none_yet in first
    rotated = site_dir.run("feeds", "rotate", "mira.ahn@test.example", check=True).stdout
    assert rotated.count("/feeds/") == 2
    second = site_dir.run("feeds", "list", check=True).stdout
    assert "/feeds/" not in second
    assert re.search(r"Ahn Mira <mira.ahn@test.example>: issued \d{4}-\d\d-\d\d \d\d:\d\d UTC", second)
    assert "meet-sched feeds rotate mira.ahn@test.example` makes a new URL" in second
    bad = site_dir.run("feeds", "rotate", "nobody@test.example")
    assert bad.returncode == 1
    assert bad.stderr.startswith("meet-sched: no attendee 'nobody@test.example'")
    assert "Traceback" not in bad.stderr


def test_current_meetings_follow_the_database(site: Site, site_dir: SiteDir) -> None:
    """Feeds read only changed rows again, yet always say what the database says (even after another process)."""
    assert site.current_meetings() == site.meetings()
    site_dir.meeting("council.yaml", COUNCIL.replace("title: Council session", "title: Council session, moved"))
    (site_dir.root / "config" / "meetings" / "visit.yaml").unlink()
    other = Site(site.root, site.settings)  # another process syncs the same database
    other.sync(NOW + timedelta(hours=1))
    other.close()
    current = site.current_meetings("city-hall")
    assert current == site.meetings("city-hall")
    assert [(s.uid, s.meeting.title, s.sequence, s.removed) for s in current] == [
        ("council@test.example", "Council session, moved", 1, False),
        ("visit@test.example", "Delegation visit", 1, True),
    ]
    assert site.public_feed("city-hall").body == site.renderer.feed(  # type: ignore[union-attr]
        site.calendar_title("city-hall"), site.meetings("city-hall"), attendees=False
    )


def test_feeds_list_on_a_free_port_prints_no_url_that_cannot_work(site_dir: SiteDir) -> None:
    """listen = "…:0" without base_url: `feeds list` cannot know the port serve will get."""
    settings = SETTINGS.replace('base_url = "https://calendars.test.example"\n', "")
    assert 'listen = "127.0.0.1:0"' in settings and "base_url" not in settings
    (site_dir.root / "config" / "meet-sched.toml").write_text(settings, encoding="utf-8")
    site_dir.meeting("council.yaml", COUNCIL)
    site_dir.run("sync", check=True)
    out = site_dir.run("feeds", "list", check=True).stdout
    assert "127.0.0.1:0" not in out.replace("127.0.0.1:0 picks a free port", "")
    assert "http://" not in out and "webcal://" not in out
    assert "<base_url>/calendars/city-hall.ics" in out
    assert "set [server] base_url" in out
    rotated = site_dir.run("feeds", "rotate", "mira.ahn@test.example", check=True).stdout
    assert re.search(r"<base_url>/feeds/[A-Za-z0-9_-]{43}\.ics", rotated) and "http://" not in rotated


def test_a_guest_of_one_occurrence_has_that_occurrence_in_their_personal_feed(site_dir: SiteDir) -> None:
    """Invited to one occurrence of a series alone: their feed holds that occurrence's VEVENT (its
    RECURRENCE-ID, their own alarm), as their invitation did; the series attendees' feeds are unchanged;
    once taken off it, it is gone from theirs."""
    series = (
        "uid: weekly\ntitle: Weekly call\ntimezone: Asia/Seoul\nstart: 2027-01-07T10:00\nduration: 1h\n"
        "recurrence: FREQ=WEEKLY;COUNT=4\nreminders: [1d]\nattendees: [kim@daegu.example]\n"
    )
    guest = (
        "overrides:\n  - occurrence: 2027-01-14\n    title: Weekly call with Bac Ninh\n"
        "    attendees: [kim@daegu.example, { email: ha@bacninh.example, reminders: [2h] }]\n"
    )
    path = site_dir.meeting("weekly.yaml", series + guest)
    s = Site(site_dir.root, load_settings(site_dir.root, environ={}))
    try:
        s.sync(datetime(2026, 12, 1, tzinfo=UTC))
        assert "ha@bacninh.example" in {p.email for p in s.attendees()}
        body = s.personal_feed("HA@bacninh.example").body
        (event,) = icalendar.Calendar.from_ical(body).walk("VEVENT")
        assert str(event["SUMMARY"]) == "Weekly call with Bac Ninh"
        assert event["RECURRENCE-ID"].dt == datetime(2027, 1, 14, 1, 0, tzinfo=UTC)
        assert event["DTSTART"].params["TZID"] == "Asia/Seoul"
        (alarm,) = event.walk("VALARM")
        assert alarm["TRIGGER"].dt == -timedelta(hours=2)
        (parsed,) = IcsCalendarStream.from_ics(body.decode()).calendars
        assert [e.recurrence_id for e in parsed.events] == ["20270114T100000"]
        kim = icalendar.Calendar.from_ical(s.personal_feed("kim@daegu.example").body).walk("VEVENT")
        assert [("RECURRENCE-ID" in e) for e in kim] == [False, True]  # the series and its changed occurrence

        path.write_text(series, encoding="utf-8")
        s.sync(datetime(2026, 12, 2, tzinfo=UTC))
        assert s.personal_feed("ha@bacninh.example").body.count(b"BEGIN:VEVENT") == 0
    finally:
        s.close()
