"""RFC 2047 section 6.2: whitespace between encoded-words is dropped by decoders, so every subject and
display name must read back exactly through a real parser, in every language, at lengths that force folds."""

from __future__ import annotations

import email
import email.policy
import re
import string
from datetime import UTC, datetime, timedelta
from email.header import decode_header, make_header
from email.message import EmailMessage
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from meet_sched.config import load_settings
from meet_sched.ics import IcsRenderer
from meet_sched.mail import MailRenderer, Recipient
from meet_sched.mail.headers import header_line
from meet_sched.model import Attendee, Meeting, Person, StoredMeeting

from .conftest import SiteDir

SEOUL = ZoneInfo("Asia/Seoul")
NOW = datetime(2026, 12, 1, tzinfo=UTC)
MID = "<reminder.0123456789abcdef@test.example>"

# Words of the office's languages and of the punctuation its titles use (dashes, middle dots).
HANGUL = st.text(st.characters(min_codepoint=0xAC00, max_codepoint=0xD7A3), min_size=1, max_size=8)
HAN = st.text(st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF), min_size=1, max_size=6)
VIET_LETTERS = "aăâbcdđeêghiklmnoôơpqrstuưvxyàảãáạằẳẵắặầẩẫấậèẻẽéẹềểễếệìỉĩíịòỏõóọồổỗốộờởỡớợùủũúụừửữứựỳỷỹýỵ"
VIET = st.text(st.sampled_from(VIET_LETTERS), min_size=1, max_size=9)
LATIN = st.text(st.sampled_from(string.ascii_letters + string.digits), min_size=1, max_size=12)
PUNCT = st.sampled_from(["—", "–", "·", ":", "(", ")", "/", "&", "=?", "?=", '"', "'", ",", "."])
WORDS = st.lists(st.one_of(HANGUL, HAN, VIET, LATIN, PUNCT), min_size=1, max_size=40)
TITLES = WORDS.map(" ".join)
# People's names as people have them: a few short words (김지현, 李明, Nguyễn Thị Thu Hà, Jordan Ellis).
NAMES = st.lists(
    st.one_of(
        st.text(st.characters(min_codepoint=0xAC00, max_codepoint=0xD7A3), min_size=1, max_size=4),
        st.text(st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF), min_size=1, max_size=4),
        VIET.filter(lambda w: len(w) <= 5),
        LATIN,
        PUNCT,
    ),
    min_size=1,
    max_size=3,
).map(" ".join)


def reparse(data: bytes) -> EmailMessage:
    msg = email.message_from_bytes(data, policy=email.policy.default)
    assert isinstance(msg, EmailMessage)
    return msg


def legacy(data: bytes, name: str) -> str:
    """The other decoder in the standard library: email.header.make_header over decode_header, on the
    field unfolded as RFC 5322 section 2.2.3 says a reader does (compat32 hands it over folded)."""
    raw = re.sub(r"\r\n(?=[ \t])", "", email.message_from_bytes(data)[name])
    return str(make_header(decode_header(raw)))


@pytest.fixture(scope="module")
def renderer(tmp_path_factory: pytest.TempPathFactory) -> MailRenderer:
    site = SiteDir(tmp_path_factory.mktemp("site"))
    site.settings('[smtp]\nhost = "127.0.0.1"\nsender = "대구 국제관계과 <reminders@test.example>"\n')
    settings_ = load_settings(site.root)
    return MailRenderer(settings_, IcsRenderer(settings_))


_versions = iter(range(10**9))


def meeting(title: str, name: str, language: str) -> StoredMeeting:
    """A new SEQUENCE each time: rendered messages are shared per meeting version."""
    start = datetime(2027, 1, 14, 8, 0, tzinfo=SEOUL)
    m = Meeting(
        uid="call@test.example",
        title=title,
        start=start,
        end=start + timedelta(hours=1),
        timezone=SEOUL,
        organizer=Person("Daegu International Relations Office", "intl@test.example"),
        attendees=(Attendee(name, "someone@test.example", SEOUL, language),),
        reminders=(timedelta(days=1),),
    )
    return StoredMeeting(m, next(_versions), NOW, NOW, False)


def test_the_subject_that_lost_its_space() -> None:
    subject = "초대: Daegu–Atlanta quarterly call — 2027년 1월 14일 (목) 08:00 KST"
    line = header_line("Subject", subject)
    assert str(reparse(line + b"\r\n")["Subject"]) == subject
    assert legacy(line + b"\r\n", "Subject") == subject
    assert all(len(row) <= 78 for row in line.split(b"\r\n"))


@pytest.mark.slow
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(title=TITLES, name=NAMES, language=st.sampled_from(["ko", "zh", "vi", "en"]))
def test_subjects_and_names_read_back_exactly(renderer: MailRenderer, title: str, name: str, language: str) -> None:
    stored = meeting(title, name, language)
    to = Recipient.of(stored.meeting.attendees[0])
    for out in (
        renderer.reminder(stored, to, stored.meeting.start, message_id=MID, now=NOW),
        renderer.invitation(stored, to, message_id=MID, now=NOW),
    ):
        assert out.data.isascii()
        head = out.data.split(b"\r\n\r\n", 1)[0] + b"\r\n\r\n"
        assert all(len(row) <= 998 for row in head.split(b"\r\n"))  # RFC 5322 section 2.1.1
        msg = reparse(head)
        assert str(msg["Subject"]) == out.subject
        assert legacy(head, "Subject") == out.subject
        assert title in out.subject
        assert msg["To"].addresses[0].display_name == name
        assert msg["To"].addresses[0].addr_spec == "someone@test.example"
        assert msg["From"].addresses[0].display_name == "대구 국제관계과"


@settings(max_examples=300, deadline=None)
@given(name=st.lists(st.one_of(HANGUL, HAN, VIET, LATIN), min_size=1, max_size=40).map(" ".join))
@example(name="a a 000000 0000000 00000000 00000000000 000000000000")  # ASCII, folded: not after "To:"
def test_long_display_names_read_back_through_an_rfc2047_decoder(name: str) -> None:
    """Any length: folded between encoded-words, read by a decoder that drops the space there, as
    RFC 2047 says.  (The ``email`` package's address parser keeps that space, so a name too long for
    one encoded-word per run of non-ASCII words gains one there; people's names are not that long.)"""
    from email.headerregistry import Address

    line = header_line("To", Address(name, addr_spec="someone@test.example"))
    assert line.isascii() and all(len(row) <= 78 for row in line.split(b"\r\n")[:-1])
    assert legacy(line + b"\r\n", "To") == f"{name} <someone@test.example>"


@pytest.mark.parametrize(
    "name",
    [
        "Daegu International Relations Office, Sister and Partner Cities Division (Korea) — 대구",
        "Daegu International Relations Office, Sister and Partner Cities Division (Korea)",
        'The "Sister Cities" desk; Daegu Metropolitan City Hall, International Relations Division',
    ],
)
def test_a_long_name_with_specials_folds_between_its_words_and_reads_back(name: str) -> None:
    """A name that needs quoting is quoted word by word, so that it can fold anywhere (a quoted run
    as one token could not, and passed 78 characters); an address parser reads it back exactly."""
    from email.headerregistry import Address

    line = header_line("To", Address(name, addr_spec="someone@test.example"))
    assert line.isascii() and all(len(row) <= 78 for row in line.split(b"\r\n")[:-1]), line
    parsed = email.message_from_bytes(line + b"\r\n", policy=email.policy.default)["To"].addresses[0]
    assert (parsed.display_name, parsed.addr_spec) == (name, "someone@test.example")
