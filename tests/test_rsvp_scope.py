"""README "One-click answers": what a link answers — the series by default from a series invitation, one
occurrence (by its identity, even moved) from a link about it, only for those it invites, never for a
cancelled meeting — and crafted form values are a 400, never a 500 (the app in-process, real database)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from meet_sched.replies.apply import ReplyOutcome
from meet_sched.replies.intake import Intake
from meet_sched.service import Service
from meet_sched.site import Site
from meet_sched.store import attendance
from meet_sched.store import rsvp as rsvp_store
from meet_sched.store.attendance import PartStat, Via
from meet_sched.web.app import create_app
from meet_sched.web.rsvp import RsvpPages

from .conftest import SiteDir
from .replies_helpers import MEETING, NOW, UID
from .serving import web_state
from .test_reply_rules import APR_08, ELLIS, KIM, LI, MAR_11, MAR_12, OVERRIDES, WANG, message

BASE = "http://meet.test.example"


@dataclass
class App:
    site: Site
    site_dir: SiteDir

    def token(self, who: str, occurrence: datetime | None = None) -> str:
        """A link as the dispatcher mints it for a message to ``who`` (about ``occurrence``)."""
        with self.site.db.transaction(write=True) as session:
            return rsvp_store.mint(session, UID, who, occurrence, NOW)

    def request(self, method: str, token: str, **kwargs: object) -> httpx.Response:
        async def go() -> httpx.Response:
            service = Service(self.site)
            web = web_state(service, base_url=BASE, clock=lambda: NOW)

            async def answered(uids: frozenset[str]) -> None:
                return None

            web.rsvp = RsvpPages(self.site, lambda: NOW, BASE, answered)
            transport = httpx.ASGITransport(app=create_app(web))
            async with httpx.AsyncClient(transport=transport, base_url=BASE) as client:
                return await client.request(method, f"/rsvp/{token}", **kwargs)  # type: ignore[arg-type]

        return asyncio.run(go())

    def post(self, token: str, **form: str) -> httpx.Response:
        return self.request("POST", token, data=form, headers={"origin": BASE})

    def answers(self) -> list[attendance.Answer]:
        with self.site.db.transaction() as session:
            return [a for a in attendance.history(session, UID) if a.via is Via.LINK]

    def state(self) -> attendance.Attendance:
        with self.site.db.transaction() as session:
            return attendance.current(session, UID)


@pytest.fixture
def app(site_dir: SiteDir) -> Iterator[App]:
    site_dir.settings(f'[server]\nbase_url = "{BASE}"\n[invitations]\nenabled = false\n')
    site_dir.meeting("working-call.yaml", MEETING.format(start="2026-12-10T10:00") + OVERRIDES)
    site = Site(site_dir.root)
    site.open()
    site.sync(NOW)
    try:
        yield App(site, site_dir)
    finally:
        site.close()


def checked_scope(page: str) -> str:
    (value,) = re.findall(r'name="scope" value="(\w+)" checked', page)
    return value


def occurrence_field(page: str) -> str:
    (value,) = re.findall(r'name="occurrence" value="([^"]+)"', page)
    return value


def test_a_series_invitation_s_link_answers_for_the_series_by_default_and_says_so(app: App) -> None:
    token = app.token(ELLIS)
    page = app.request("GET", token).text
    assert checked_scope(page) == "series"
    done = app.post(token, answer="declined", scope="series", occurrence=occurrence_field(page))
    assert done.status_code == 200
    assert "your answer is recorded (Decline) for all meetings of this series" in done.text
    assert checked_scope(done.text) == "series"
    assert "Your answer so far: Decline" in done.text  # the thanks and the state agree
    assert app.state().declined(ELLIS) and [a.occurrence for a in app.answers()] == [None]


def test_a_link_about_one_occurrence_answers_for_it_and_says_so(app: App) -> None:
    token = app.token(ELLIS, datetime(2027, 1, 14, 1, 0, tzinfo=UTC))  # a reminder's
    page = app.request("GET", token).text
    assert checked_scope(page) == "occurrence"
    done = app.post(token, answer="tentative", scope="occurrence", occurrence=occurrence_field(page))
    assert "your answer is recorded (Maybe) for this meeting only (Wed, Jan 13, 2027 20:00 EST)" in done.text
    assert checked_scope(done.text) == "occurrence"
    assert app.state().partstat(ELLIS, datetime(2027, 1, 14, 1, 0, tzinfo=UTC)) is PartStat.TENTATIVE


def test_a_moved_occurrence_is_answered_by_its_identity_and_shown_where_it_is_now(app: App) -> None:
    token = app.token(LI, MAR_12)  # a reminder of the moved occurrence names its new start
    page = app.request("GET", token).text
    assert occurrence_field(page) == MAR_11.isoformat()  # what it is answered as: its RECURRENCE-ID
    assert "2027年3月12日" in page and "09:00" in page  # shown on the 12th (09:00 in Chengdu), where it is now
    done = app.post(token, answer="declined", scope="occurrence", occurrence=MAR_11.isoformat())
    assert done.status_code == 200
    assert app.state().declined(LI, MAR_11)
    again = app.post(token, answer="accepted", scope="occurrence", occurrence=MAR_12.isoformat())  # its new start
    assert again.status_code == 200 and app.state().partstat(LI, MAR_11) is PartStat.ACCEPTED


def test_an_occurrence_s_own_attendees_answer_it_and_no_one_else(app: App) -> None:
    guest = app.token(WANG, APR_08)  # her invitation to that occurrence alone
    page = app.request("GET", guest)
    assert page.status_code == 200 and checked_scope(page.text) == "occurrence"
    assert 'value="series"' not in page.text  # she answers for that one only
    assert app.post(guest, answer="accepted", scope="occurrence", occurrence=APR_08.isoformat()).status_code == 200
    assert app.state().partstat(WANG, APR_08) is PartStat.ACCEPTED
    assert app.post(guest, answer="declined", scope="series").status_code == 404
    outsider = app.token(ELLIS)  # on the series, not on that occurrence
    assert app.post(outsider, answer="declined", scope="occurrence", occurrence=APR_08.isoformat()).status_code == 404
    (only,) = app.answers()
    assert only.attendee == WANG and only.occurrence is not None and only.occurrence.replace(tzinfo=UTC) == APR_08


def test_a_cancelled_meeting_s_links_answer_404_and_record_nothing(app: App) -> None:
    token = app.token(KIM)
    assert app.request("GET", token).status_code == 200
    app.site_dir.meeting(
        "working-call.yaml", MEETING.format(start="2026-12-10T10:00") + OVERRIDES + "status: cancelled\n"
    )
    app.site.sync(NOW + timedelta(minutes=1))
    assert app.request("GET", token).status_code == 404
    assert app.post(token, answer="accepted", scope="series").status_code == 404
    assert app.answers() == []


@pytest.mark.parametrize(
    "crafted",
    ["9999-12-31T23:59:59+00:00", "0001-01-01T00:00+14:00", "2027-03-11T10:00", "1900-01-01T00:00+14:00", "x"],
)
def test_a_crafted_occurrence_is_a_400(app: App, crafted: str) -> None:
    token = app.token(KIM)
    posted = app.post(token, answer="accepted", scope="occurrence", occurrence=crafted)
    assert posted.status_code == 400
    shown = app.request("GET", token, params={"answer": "accepted", "occurrence": crafted})
    assert shown.status_code == 200
    assert app.answers() == []


def test_after_a_reply_stamped_ahead_of_the_clock_the_page_s_thanks_and_state_agree(app: App) -> None:
    ahead = message(
        ELLIS, "SEQUENCE:0", attendee=f"ATTENDEE;PARTSTAT=DECLINED:mailto:{ELLIS}", stamp="20261201T180000Z"
    )
    assert Intake(app.site).take(ahead, NOW).outcome is ReplyOutcome.APPLIED  # 6 h ahead: within the skew, kept
    token = app.token(ELLIS)
    done = app.post(token, answer="accepted", scope="series")
    assert "your answer is recorded (Accept)" in done.text and "Your answer so far: Accept" in done.text
    assert app.state().partstat(ELLIS) is PartStat.ACCEPTED
