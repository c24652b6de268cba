"""Whatever a REPLY says (dates at and past the extremes, SEQUENCE, DTSTAMP, PARTSTAT, a COMMENT of control characters,
every RECURRENCE-ID form), intake never raises and never keeps the next message in the same Maildir from being taken."""

from __future__ import annotations

import shutil

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from meet_sched.replies.intake import Intake
from meet_sched.replies.maildir import MaildirInbox

from .conftest import SiteDir
from .replies_helpers import FIXTURES, NOW, UID, make_site

years = st.one_of(st.sampled_from([1, 2, 1899, 1900, 2026, 2027, 2200, 2201, 9998, 9999]), st.integers(1, 9999))
dates = st.builds(lambda y, m, d: f"{y:04d}{m:02d}{d:02d}", years, st.integers(1, 13), st.integers(1, 32))
times = st.builds(lambda h, m, s: f"{h:02d}{m:02d}{s:02d}", st.integers(0, 24), st.integers(0, 60), st.integers(0, 60))
moments = st.one_of(
    st.builds(lambda d, t: f":{d}T{t}Z", dates, times),  # UTC (Google)
    st.builds(lambda d, t: f";TZID=Asia/Seoul:{d}T{t}", dates, times),  # TZID (Apple, Outlook)
    st.builds(lambda d, t: f";TZID=Pacific/Kiritimati:{d}T{t}", dates, times),  # +14:00
    st.builds(lambda d, t: f":{d}T{t}", dates, times),  # floating
    st.builds(lambda d: f";VALUE=DATE:{d}", dates),  # all-day
    st.just(":20261210T010000Z"),  # the first occurrence itself
    st.text(max_size=20).map(lambda s: ":" + s.replace("\r", "").replace("\n", "")),  # anything
)
comments = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=40)


def property_line(name: str, value: str | None) -> list[str]:
    return [] if value is None else [f"{name}{value}"]


@st.composite
def replies(draw: st.DrawFn) -> bytes:
    method = draw(st.sampled_from(["REPLY", "REPLY", "COUNTER"]))
    partstat = draw(st.one_of(st.sampled_from(["ACCEPTED", "DECLINED", "TENTATIVE", "DELEGATED"]), st.text(max_size=8)))
    sequence = draw(st.one_of(st.integers(-(2**64), 2**64), st.text(max_size=6)))
    lines = [
        "BEGIN:VCALENDAR",
        f"METHOD:{method}",
        "VERSION:2.0",
        "BEGIN:VEVENT",
        f"ATTENDEE;PARTSTAT={partstat}:mailto:ellis@atlanta.example",
        f"UID:{UID}",
        f"SEQUENCE:{sequence}",
        *property_line("DTSTAMP", draw(st.none() | moments)),
        *property_line("RECURRENCE-ID", draw(st.none() | moments)),
        *property_line("DTSTART", draw(st.none() | moments)),
        *property_line("DTEND", draw(st.none() | moments)),
        *property_line("COMMENT:", draw(st.none() | comments)),
        "END:VEVENT",
        "END:VCALENDAR",
        "",
    ]
    ics = "\r\n".join(line.replace("\r", "").replace("\n", "") for line in lines)
    head = (
        "From: <ellis@atlanta.example>\r\nTo: office@test.example\r\nSubject: answer\r\nMIME-Version: 1.0\r\n"
        f'Content-Type: text/calendar; charset="utf-8"; method={method}\r\n\r\n'
    )
    return (head + ics).encode("utf-8", "surrogatepass")


def test_no_reply_raises_or_blocks_the_next_message(site_dir: SiteDir) -> None:
    site = make_site(site_dir)
    inbox = site.settings.inbox_dir
    taker = MaildirInbox(Intake(site), inbox)
    good = FIXTURES / "google-accepted.eml"
    passes = iter(range(10**6))

    @settings(
        max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture], database=None
    )
    @given(replies())
    def one(data: bytes) -> None:
        n = next(passes)
        (inbox / "new").mkdir(parents=True, exist_ok=True)
        (inbox / "new" / f"{1764700000 + 2 * n}.M0P1.generated").write_bytes(data)
        shutil.copyfile(good, inbox / "new" / f"{1764700001 + 2 * n}.M1P1.good")
        tally = taker.run_once(lambda: NOW)  # raises nothing
        assert sum(tally.counts.values()) == 2
        assert not any((inbox / "new").iterdir())
        assert (inbox / ".processed" / "cur" / f"{1764700001 + 2 * n}.M1P1.good:2,S").exists()  # taken, not held

    one()
