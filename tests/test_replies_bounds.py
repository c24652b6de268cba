"""Bounded before parsed: a reply of too many components or too many bytes is refused before icalendar builds it,
in bounded time and memory (a 20 MB REPLY of 140,000 VEVENTs took 37 s and 630 MB to be refused)."""

from __future__ import annotations

import time
import tracemalloc

import pytest

from meet_sched.replies.apply import ReplyOutcome
from meet_sched.replies.intake import Intake
from meet_sched.replies.maildir import MaildirInbox
from meet_sched.replies.parse import MAX_ANSWERS, MAX_CALENDAR_BYTES, MAX_COMPONENTS, Refused, read_ics, read_message

from .conftest import SiteDir
from .replies_helpers import NOW, UID, deliver, make_site

EVENT = (
    f"BEGIN:VEVENT\r\nUID:{UID}\r\nATTENDEE;PARTSTAT=ACCEPTED:mailto:ellis@atlanta.example\r\n"
    "DTSTAMP:20261201T130000Z\r\nSEQUENCE:0\r\nEND:VEVENT\r\n"
)


def calendar(body: str) -> str:
    return f"BEGIN:VCALENDAR\r\nMETHOD:REPLY\r\nPRODID:-//test//EN\r\nVERSION:2.0\r\n{body}END:VCALENDAR\r\n"


def message(ics: str) -> bytes:
    return (
        "From: <ellis@atlanta.example>\r\nTo: office@test.example\r\nSubject: Accepted\r\nMIME-Version: 1.0\r\n"
        f'Content-Type: text/calendar; charset="utf-8"; method=REPLY\r\n\r\n{ics}'
    ).encode()


def refused_quickly(data: bytes, *, ics: bool = False) -> tuple[str, float, int]:
    """(the reason, seconds, peak bytes allocated) of refusing ``data``."""
    tracemalloc.start()
    start = time.perf_counter()
    try:
        with pytest.raises(Refused) as caught:
            (read_ics if ics else read_message)(data)
        return caught.value.reason, time.perf_counter() - start, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_a_20_mb_reply_of_140000_vevents_is_refused_before_it_is_parsed(site_dir: SiteDir) -> None:
    big = message(calendar(EVENT * 140_000))
    assert len(big) > 20_000_000
    reason, seconds, peak = refused_quickly(big)
    assert reason == f"more than {10 * MAX_COMPONENTS} iCalendar components in one message"
    assert seconds < 5 and peak < 50_000_000, (seconds, peak)
    site_dir.settings("[replies]\nmax_bytes = 25000000\n")  # the most an operator may allow
    site = make_site(site_dir)
    deliver(site, data=big)
    start = time.perf_counter()
    assert MaildirInbox(Intake(site), site.settings.inbox_dir).run_once(lambda: NOW).counts == {
        ReplyOutcome.QUARANTINED: 1
    }
    assert time.perf_counter() - start < 15


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (EVENT * (MAX_ANSWERS + 1), f"more than {MAX_ANSWERS} answers in one message"),
        # folded, as RFC 5545 allows: still counted
        (EVENT.replace("BEGIN:VEVENT", "BEGIN:VEV\r\n ENT") * (MAX_ANSWERS + 1), f"more than {MAX_ANSWERS} answers"),
        (
            EVENT.replace(
                "END:VEVENT", "BEGIN:VALARM\r\nACTION:DISPLAY\r\nEND:VALARM\r\n" * MAX_COMPONENTS + "END:VEVENT"
            ),
            f"more than {MAX_COMPONENTS} components in one iCalendar object",
        ),
        (EVENT.replace("SEQUENCE:0", "COMMENT:" + "x" * MAX_CALENDAR_BYTES), "larger than 262144 bytes"),
    ],
    ids=["answers", "folded", "components", "bytes"],
)
@pytest.mark.parametrize("ics", [False, True], ids=["message", "ics-file"])
def test_too_many_components_or_bytes_are_refused_before_parsing(body: str, reason: str, ics: bool) -> None:
    data = calendar(body).encode() if ics else message(calendar(body))
    found, seconds, peak = refused_quickly(data, ics=ics)
    assert reason in found
    assert seconds < 0.5 and peak < 5_000_000, (seconds, peak)  # parsed, they take 20 MB and more
