"""store/rsvp.py and rsvp/: answer tokens stored only as hashes, what they open, revocation, and that opening a
page writes nothing while answering records a link answer (on SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from meet_sched.config import load_settings
from meet_sched.rsvp import answer, open_link
from meet_sched.site import Site
from meet_sched.store import attendance
from meet_sched.store import rsvp as rsvp_store
from meet_sched.store.attendance import PartStat, Via
from meet_sched.store.tables import AnswerRow, RsvpToken

from .conftest import SiteDir
from .replies_helpers import DEC_10, JAN_14, MEETING, NOW, UID

KIM = "jihyun.kim@daegu.example"


@pytest.fixture
def site(site_dir: SiteDir, db_url: str) -> Site:
    site_dir.meeting("working-call.yaml", MEETING.format(start="2026-12-10T10:00"))
    s = Site(site_dir.root, load_settings(site_dir.root, {"MEET_SCHED_DATABASE_URL": db_url}))
    s.open()
    s.sync(NOW)
    return s


def mint(site: Site, attendee: str = KIM, occurrence: object = None) -> str:
    with site.db.transaction(write=True) as session:
        return rsvp_store.mint(session, UID, attendee, occurrence, NOW)  # type: ignore[arg-type]


def test_only_the_hash_is_stored_and_it_opens_the_meeting(site: Site) -> None:
    token = mint(site, KIM.upper(), JAN_14)
    with site.db.transaction() as session:
        rows = list(session.scalars(select(RsvpToken)))
    assert [(r.token_hash, r.attendee, r.occurrence) for r in rows] == [(rsvp_store.token_hash(token), KIM, JAN_14)]
    assert token not in repr([vars(r) for r in rows])
    opened = open_link(site, token, NOW)
    assert opened is not None and opened.attendee.email == KIM and opened.series
    assert opened.occurrence == JAN_14 and opened.current is PartStat.NEEDS_ACTION
    assert open_link(site, token, JAN_14 + timedelta(days=1)) is not None  # past that one: the next is offered
    for wrong in ("", "x", token[:-2], token + "A", "A" * 43):
        assert open_link(site, wrong, NOW) is None


def test_opening_writes_nothing_answering_records_a_link_answer(site: Site) -> None:
    token = mint(site)
    open_link(site, token, NOW)
    with site.db.transaction() as session:
        assert session.scalar(select(func.count()).select_from(AnswerRow)) == 0
    done = answer(site, token, PartStat.DECLINED, whole_series=False, occurrence=DEC_10, now=NOW)
    assert done is not None and done[1] and done[0].current is PartStat.DECLINED
    with site.db.transaction() as session:
        state = attendance.current(session, UID)
        (row,) = session.scalars(select(AnswerRow))
    assert state.partstat(KIM, DEC_10) is PartStat.DECLINED and state.partstat(KIM, JAN_14) is PartStat.NEEDS_ACTION
    assert (row.via, row.occurrence, row.sequence) == (Via.LINK.value, DEC_10, 0)
    assert (
        answer(site, token, PartStat.ACCEPTED, whole_series=False, occurrence=DEC_10 + timedelta(hours=1), now=NOW)
        is None
    )


def test_revoked_tokens_open_nothing(site: Site) -> None:
    kim, li = mint(site), mint(site, "li.ming@chengdu.example")
    with site.db.transaction(write=True) as session:
        assert rsvp_store.revoke(session, UID, KIM) == 1
    assert open_link(site, kim, NOW) is None
    assert answer(site, kim, PartStat.DECLINED, whole_series=True, occurrence=None, now=NOW) is None
    assert open_link(site, li, NOW) is not None
    with site.db.transaction(write=True) as session:
        assert rsvp_store.revoke(session, UID) == 1
    assert open_link(site, li, NOW) is None
    stranger = mint(site, "not.invited@example.org")  # a token for someone no longer invited
    assert open_link(site, stranger, NOW) is None
