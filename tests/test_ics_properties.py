"""RFC 5545 3.1 (folding), 3.3.11 (TEXT), RFC 6868 (parameters): any text comes back exactly and injects nothing."""

from __future__ import annotations

import collections
import re
import textwrap
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo, available_timezones

import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from icalendar.timezone.tzid import tzid_from_tzinfo

from meet_sched.config import Settings, load_config, load_settings
from meet_sched.errors import ConfigError
from meet_sched.ics import IcsRenderer
from meet_sched.model import Attendee, Meeting, MeetingStatus, Person, Role, StoredMeeting

from .ics_helpers import names, parse_both, unfolded

ZONES = sorted(available_timezones() - {"localtime", "Factory"})
# RFC 5545 CONTROL: no calendar can carry these (the config refuses them with a message).
CONTROL = [chr(c) for c in range(0x20) if chr(c) not in "\t\n\r"] + ["\x7f"]
# What a Meeting refuses besides, as config files do: C1 controls and bidirectional controls.
C1 = [chr(c) for c in range(0x80, 0xA0)]
BIDI = [chr(c) for c in [*range(0x202A, 0x202F), *range(0x2066, 0x206A)]]
TEXT = st.text(st.characters(codec="utf-8", exclude_characters=[*CONTROL, *C1, *BIDI]), max_size=120)
# Hand-picked troublemakers, so that every run meets them, not only lucky ones.
NASTY = st.sampled_from(
    [
        "\r\nATTENDEE:mailto:evil@x.example",
        "\nEND:VEVENT\nBEGIN:VEVENT\nUID:evil",
        "END:VCALENDAR",
        'x";ROLE=CHAIR;X-EVIL="1',
        "a:b;c,d\\e",
        "C:\\New\\notes \\n \\N \\, \\;",
        "^'^n^^ caret",
        "대구 · 成都 · Bắc Ninh 🎥🇰🇷",
        "😀" * 40,
        "가" * 25 + "é",
        "\t tab \t",
    ]
)
ANY_TEXT = st.one_of(TEXT, NASTY, st.tuples(TEXT, NASTY, TEXT).map("".join))
NOW = datetime(2026, 11, 25, 9, 0, 7, tzinfo=UTC)


def line_breaks_as_lf(text: str) -> str:
    """TEXT has one escaped line break (\\n): CR LF and a lone CR come back as LF."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


def exists_once(wall: datetime, zone: ZoneInfo) -> bool:
    aware = wall.replace(tzinfo=zone)
    back = aware.astimezone(UTC).astimezone(zone).replace(tzinfo=None)
    return back == wall and aware.utcoffset() == aware.replace(fold=1).utcoffset()


@pytest.fixture(scope="module")
def site_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    root = tmp_path_factory.mktemp("props")
    return load_settings(root, environ={})


@dataclass(frozen=True)
class Case:
    stored: StoredMeeting
    calendar_title: str


@st.composite
def meetings(draw: st.DrawFn) -> Case:
    zone = ZoneInfo(draw(st.sampled_from(ZONES)))
    wall = draw(st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2060, 12, 31)))
    wall = wall.replace(second=0, microsecond=0)
    if not exists_once(wall, zone):
        wall = wall.replace(hour=12, minute=0)  # noon exists once in every zone on every day
    start = wall.replace(tzinfo=zone)
    length = timedelta(minutes=draw(st.integers(1, 3 * 24 * 60)))
    people = draw(st.lists(st.tuples(ANY_TEXT, st.sampled_from(ZONES), st.sampled_from(list(Role))), max_size=4))
    attendees = tuple(
        Attendee(name=name, email=f"person{i}@x.example", timezone=ZoneInfo(z), role=role, city=draw(ANY_TEXT) or None)
        for i, (name, z, role) in enumerate(people)
    )
    video = draw(
        st.none()
        | st.from_regex(r"https://[a-z]{1,10}\.example/[A-Za-z0-9._~%!$&'()*+,;=:@/?#-]{0,40}", fullmatch=True)
    )
    meeting = Meeting(
        uid=draw(ANY_TEXT).replace("\r", "").replace("\n", "") + "@x.example",
        title=draw(ANY_TEXT),
        description=draw(ANY_TEXT),
        location=draw(ANY_TEXT),
        video_url=video,
        city=draw(ANY_TEXT) or None,
        start=start,
        end=start + length,
        timezone=zone,
        organizer=Person(draw(ANY_TEXT), "organizer@x.example"),
        recurrence=draw(st.sampled_from([None, "FREQ=WEEKLY;COUNT=5", "FREQ=DAILY;INTERVAL=2;COUNT=3"])),
        status=draw(st.sampled_from(list(MeetingStatus))),
        attendees=attendees,
        reminders=tuple(
            sorted(
                {timedelta(minutes=m) for m in draw(st.lists(st.integers(1, 14 * 24 * 60), max_size=4))}, reverse=True
            )
        ),
    )
    return Case(StoredMeeting(meeting, draw(st.integers(0, 50)), NOW, NOW, False), draw(ANY_TEXT))


STRUCTURE = ("VCALENDAR", "VTIMEZONE", "VEVENT", "VALARM")


def expected_properties(m: Meeting) -> collections.Counter[str]:
    props = ["SUMMARY", "DTSTART", "DTEND", "DTSTAMP", "UID", "SEQUENCE", "CREATED", "DESCRIPTION"]
    props += ["LAST-MODIFIED", "ORGANIZER", "STATUS"] + ["ATTENDEE"] * len(m.attendees)
    props += ["LOCATION"] * bool(m.location) + ["URL", "CONFERENCE"] * bool(m.video_url)
    props += ["RRULE"] * bool(m.recurrence)
    return collections.Counter(props)


def vevent_properties(body: bytes) -> collections.Counter[str]:
    out: collections.Counter[str] = collections.Counter()
    depth: list[str] = []
    for name in names(body):
        if name.startswith("BEGIN:"):
            depth.append(name[6:])
        elif name.startswith("END:"):
            depth.pop()
        elif depth and depth[-1] == "VEVENT":
            out[name] += 1
    return out


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=meetings())
def test_any_text_round_trips_and_nothing_is_injected(site_settings: Settings, case: Case) -> None:
    stored = case.stored
    m = stored.meeting
    body = IcsRenderer(site_settings).feed(case.calendar_title, [stored])
    parsed = parse_both(body)  # also: CRLF only, ≤ 75 octets a line, no line split inside a character

    # Structure: exactly the components and properties we wrote, whatever the text held.
    markers = [n for n in names(body) if n.startswith(("BEGIN:", "END:")) and n.split(":", 1)[1] in STRUCTURE]
    alarms = ["BEGIN:VALARM", "END:VALARM"] * len(m.reminders)
    utc_zone = tzid_from_tzinfo(m.timezone) == "UTC"  # Africa/Abidjan, Iceland…: written as UTC, no VTIMEZONE
    zones = [] if utc_zone else ["BEGIN:VTIMEZONE", "END:VTIMEZONE"]
    assert markers == ["BEGIN:VCALENDAR", *zones, "BEGIN:VEVENT", *alarms, "END:VEVENT", "END:VCALENDAR"]
    assert vevent_properties(body) == expected_properties(m)

    a, b = parsed.event(line_breaks_as_lf(m.uid))
    cal_title = line_breaks_as_lf(case.calendar_title)
    assert parsed.ical.name == [cal_title]  # (icalendar's reader keeps NAME verbatim, escapes and all)
    # X-WR-CALNAME is an extension both parsers keep verbatim: it must be escaped exactly as NAME (TEXT).
    raw = {line.split(":", 1)[0]: line.split(":", 1)[1] for line in unfolded(body)[:12] if ":" in line}
    assert raw["X-WR-CALNAME"] == raw["NAME"]

    title = line_breaks_as_lf(m.title)
    assert str(a["SUMMARY"]) == title and b.summary == title
    assert str(a["DESCRIPTION"]).startswith(line_breaks_as_lf(m.description))
    assert b.description == str(a["DESCRIPTION"])
    if m.location:
        assert str(a["LOCATION"]) == line_breaks_as_lf(m.location) == b.location
    assert [str(x.decoded("DESCRIPTION")) for x in a.walk("VALARM")] == [
        f"{title} (in {_human(r)})" for r in m.reminders
    ]
    assert [x.trigger for x in b.alarm] == [-r for r in m.reminders]

    # Parameter values (RFC 6868): exact with the strict parser.
    assert b.organizer.common_name == (line_breaks_as_lf(m.organizer.name) or None)
    assert [x.common_name for x in b.attendees] == [line_breaks_as_lf(x.name) or None for x in m.attendees]
    assert [x.uri for x in b.attendees] == [f"mailto:{x.email}" for x in m.attendees]
    if m.video_url:
        assert str(a["URL"]) == m.video_url == b.url
        assert str(a["CONFERENCE"]) == m.video_url and [c.uri for c in b.conference] == [m.video_url]
        assert [c.label for c in b.conference] == [title]
    # icalendar agrees on names as the config makes them (stripped); beyond that its reader takes a
    # backslash in a parameter value for an escape and strips unquoted values (RFC 5545 parameters have
    # no backslash escapes and keep their spaces; "ical" above reads them as written).
    listed = a.get("ATTENDEE", [])
    listed = listed if isinstance(listed, list) else [listed]
    for prop, person in [(a["ORGANIZER"], m.organizer), *zip(listed, m.attendees, strict=True)]:
        if "\\" not in person.name and person.name == person.name.strip():
            assert prop.params.get("CN", "") == line_breaks_as_lf(person.name)

    # Time: the same instants, in the meeting's own zone.
    assert a["DTSTART"].params.get("TZID") == (None if utc_zone else m.timezone.key)
    assert a.decoded("DTSTART") == m.start and b.dtstart == m.start
    assert a.decoded("DTEND") == m.end and b.dtend == m.end
    assert (int(a["SEQUENCE"]), b.sequence) == (stored.sequence, stored.sequence)
    assert str(a["STATUS"]) == m.status.value.upper() == b.status.value


def _human(offset: timedelta) -> str:
    seconds = int(offset.total_seconds())
    for size, unit in ((86400, "day"), (3600, "hour"), (60, "minute")):
        if seconds % size == 0:
            n = seconds // size
            return f"{n} {unit}{'s' if n != 1 else ''}"
    raise AssertionError(offset)


@pytest.mark.parametrize(
    "payload",
    [
        "\r\nATTENDEE:mailto:evil@x.example",
        "\nATTENDEE:mailto:evil@x.example",
        "\rATTENDEE:mailto:evil@x.example",
        "x\r\nEND:VEVENT\r\nBEGIN:VEVENT\r\nUID:evil\r\nEND:VEVENT\r\nBEGIN:VEVENT",
        'x";ROLE=CHAIR:mailto:evil@x.example\r\nX-EVIL:1',
        "x\r\n ATTENDEE:mailto:evil@x.example",  # a folded-looking continuation
    ],
)
@pytest.mark.parametrize("field", ["title", "description", "location", "organizer", "attendee", "calendar"])
def test_no_text_field_can_add_a_property_or_component(site_settings: Settings, payload: str, field: str) -> None:
    zone = ZoneInfo("Asia/Seoul")
    start = datetime(2026, 12, 10, 10, 0, tzinfo=zone)
    m = Meeting(
        uid="call@x.example",
        title=payload if field == "title" else "Call",
        description=payload if field == "description" else "",
        location=payload if field == "location" else "",
        start=start,
        end=start + timedelta(hours=1),
        timezone=zone,
        organizer=Person(payload if field == "organizer" else "O", "o@x.example"),
        attendees=(Attendee(payload if field == "attendee" else "A", "a@x.example", zone),),
    )
    stored = StoredMeeting(m, 0, NOW, NOW, False)
    body = IcsRenderer(site_settings).feed(payload if field == "calendar" else "Calendar", [stored])
    parsed = parse_both(body)
    assert vevent_properties(body) == expected_properties(m)
    markers = [n for n in names(body) if n.startswith(("BEGIN:", "END:")) and n.split(":", 1)[1] in STRUCTURE]
    assert markers == [
        "BEGIN:VCALENDAR",
        "BEGIN:VTIMEZONE",
        "END:VTIMEZONE",
        "BEGIN:VEVENT",
        "END:VEVENT",
        "END:VCALENDAR",
    ]
    assert len(parsed.events()) == 1 and len(parsed.ical.events) == 1
    assert [x.uri for x in parsed.ical.events[0].attendees] == ["mailto:a@x.example"]
    assert not any(line.startswith(("ATTENDEE:", "X-EVIL", "UID:evil")) for line in unfolded(body))


def test_the_model_refuses_what_no_calendar_can_carry() -> None:
    zone = ZoneInfo("Asia/Seoul")
    start = datetime(2026, 12, 10, 10, 0, tzinfo=zone)
    base = {
        "uid": "a@x.example",
        "title": "Call",
        "start": start,
        "end": start + timedelta(hours=1),
        "timezone": zone,
        "organizer": Person("O", "o@x.example"),
    }
    Meeting(**base)  # type: ignore[arg-type]
    for key, value, message in [
        ("title", "bell\x07", "title contains the control character U+0007 at character 5"),
        ("description", "nul\x00", "description contains the control character U+0000 at character 4"),
        ("video_url", "https://x.example/\r\nX-EVIL:1", "video_url 'https://x.example/\\r\\nX-EVIL:1' is empty"),
        ("calendar", "../../etc/passwd", "calendar '../../etc/passwd' must be lower-case letters"),
    ]:
        with pytest.raises(ValueError, match=re.escape(message)):
            Meeting(**{**base, key: value})  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="email"):
        Person("O", "o@x.example>\r\nX-EVIL:1")
    with pytest.raises(ValueError, match="email"):
        Attendee("A", "a b@x.example", zone)


def test_the_model_refuses_what_the_config_refuses_in_the_same_words() -> None:
    """C1 controls and bidirectional controls: one rule for a Meeting built in code and for a config file."""
    zone = ZoneInfo("Asia/Seoul")
    start = datetime(2026, 12, 10, 10, 0, tzinfo=zone)
    base = {"uid": "a@x.example", "title": "Call", "start": start, "end": start + timedelta(hours=1)}
    base |= {"timezone": zone, "organizer": Person("O", "o@x.example")}
    for key, value, message in [
        ("title", "Call\x9b2J", "title contains the control character U+009B at character 5"),
        ("location", "Room\u202e1", "location contains the bidirectional control U+202E at character 5, which"),
        ("description", "Agenda\u202dx", "description contains the bidirectional override U+202D at character 7"),
    ]:
        with pytest.raises(ValueError, match=re.escape(message)):
            Meeting(**{**base, key: value})  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=re.escape("name contains the control character U+0085 at character 3")):
        Person("Li\x85", "o@x.example")
    # what free text may hold besides: an isolate in a description, the marks in a name
    Meeting(**{**base, "description": "Agenda \u2067ملخص\u2069"})  # type: ignore[arg-type]
    Person("\u200fسارة", "o@x.example")


# -- the same through config files ----------------------------------------------------------------------------

LINE = st.text(
    st.characters(codec="utf-8", exclude_characters=[*CONTROL, *C1, *BIDI, "\r", "\n", "\x85", "\u2028", "\u2029"]),
    min_size=1,
    max_size=80,
).filter(lambda s: s.strip() != "")
MULTILINE = st.text(st.characters(codec="utf-8", exclude_characters=[*CONTROL, *C1, "\u202d", "\u202e"]), max_size=160)


def toml_string(value: str) -> str:
    """A TOML basic string holding exactly ``value``."""
    out = []
    for ch in value:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch in "\n\r\t":
            out.append({"\n": "\\n", "\r": "\\r", "\t": "\\t"}[ch])
        elif ord(ch) < 0x20 or ch == "\x7f":
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def write_meeting(root: Path, kind: str, title: str, description: str, name: str, location: str) -> None:
    folder = root / "config" / "meetings"
    for old in folder.glob("*"):
        old.unlink()
    fields = {"title": title, "description": description, "location": location}
    if kind == "yaml":
        data = {
            **fields,
            "timezone": "Asia/Seoul",
            "start": "2026-12-10T10:00",
            "duration": "1h",
            "attendees": [{"name": name, "email": "a@x.example", "timezone": "Asia/Ho_Chi_Minh"}],
        }
        # Escaped (\x85, \u2028…): written raw, YAML itself reads NEL and the separators as line breaks.
        (folder / "m.yaml").write_text(yaml.safe_dump(data, allow_unicode=False), encoding="utf-8")
    else:
        lines = [f"{key} = {toml_string(value)}" for key, value in fields.items()]
        lines += ['timezone = "Asia/Seoul"', "start = 2026-12-10T10:00:00", 'duration = "1h"', "", "[[attendees]]"]
        lines += [f"name = {toml_string(name)}", 'email = "a@x.example"', 'timezone = "Asia/Ho_Chi_Minh"']
        (folder / "m.toml").write_text("\n".join(lines) + "\n", encoding="utf-8")


@pytest.fixture(scope="module")
def config_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("config-props")
    (root / "config" / "meetings").mkdir(parents=True)
    (root / "config" / "meet-sched.toml").write_text(
        textwrap.dedent(
            """
            [calendar]
            domain = "test.example"
            organizer = { name = "Office", email = "office@test.example" }
            """
        ),
        encoding="utf-8",
    )
    return root


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    kind=st.sampled_from(["yaml", "toml"]),
    title=LINE | NASTY.filter(lambda s: "\n" not in s and "\r" not in s),
    description=MULTILINE | NASTY,
    name=LINE,
    location=LINE | st.just(""),
)
@example(kind="yaml", title="C:\\New; a, b", description="line 1\r\nline 2\rline 3\n\nC:\\New", name="^", location="")
@example(kind="toml", title="yes", description="1:30", name="null", location="2021-04-14")
def test_text_from_config_files_comes_back_exactly(
    config_root: Path, kind: str, title: str, description: str, name: str, location: str
) -> None:
    write_meeting(config_root, kind, title, description, name, location)
    (meeting,) = load_config(config_root, environ={}).meetings
    stored = StoredMeeting(meeting, 0, NOW, NOW, False)
    a, b = parse_both(IcsRenderer(meeting_settings(config_root)).feed("T", [stored])).event(meeting.uid)
    assert str(a["SUMMARY"]) == b.summary == title.strip()
    expected_description = line_breaks_as_lf(description).strip()
    assert str(a["DESCRIPTION"]) == b.description
    assert b.description.startswith(expected_description + "\n\n" if expected_description else "Time: ")
    assert b.attendees[0].common_name == name.strip()
    assert (b.location or "") == location.strip()


def meeting_settings(root: Path) -> Settings:
    return load_settings(root, environ={})


@pytest.mark.parametrize("kind", ["yaml", "toml"])
@pytest.mark.parametrize(
    "title", ["Call\nATTENDEE:mailto:evil@x.example", "Call\r\nX", "Call\rX", "Call\u2028X", "Call\x85X"]
)
def test_a_title_with_a_line_break_is_refused(config_root: Path, kind: str, title: str) -> None:
    write_meeting(config_root, kind, title, "fine\nto have\nlines", "Name", "")
    with pytest.raises(ConfigError) as caught:
        load_config(config_root, environ={})
    (problem,) = caught.value.problems
    assert (problem.field, problem.message) == ("title", "must be a single line (no line breaks)")
    line = 1 if kind == "toml" else _yaml_line(config_root, "title")
    assert problem.line == line


def _yaml_line(root: Path, key: str) -> int:
    text = (root / "config" / "meetings" / "m.yaml").read_text(encoding="utf-8")
    return next(i for i, line in enumerate(text.splitlines(), start=1) if line.startswith(f"{key}:"))


def test_the_toml_helper_writes_what_tomllib_reads() -> None:
    import tomllib

    sample = 'a"b\\c\nd\re\tf\u00e9😀\x01'
    assert tomllib.loads(f"k = {toml_string(sample)}")["k"] == sample
