"""load_config on any meeting file either accepts it or raises ConfigError with problems - never another exception."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from meet_sched.config import load_config
from meet_sched.config.meeting_spec import AttendeeSpec, MeetingSpec
from meet_sched.errors import ConfigError

from .conftest import SiteDir

KEYS = sorted({*MeetingSpec.model_fields, *AttendeeSpec.model_fields, "meetings", "<<", "colour"})

texts = st.one_of(
    st.text(max_size=30),
    st.sampled_from(
        [
            "Asia/Seoul",
            "2030-01-10T10:00",
            "2030-01-10",
            "1h",
            "99999999999d",
            "PT1H",
            "FREQ=WEEKLY;BYDAY=TH",
            "a@test.example",
            "a@例え.jp",
            "jürgen@test.example",
            'https://v.example/a"<>',
            "Budget\u202e",
            "x\u009by",
            "confirmed",
            "chair",
            "ko",
            "",
        ]
    ),
)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.dates(min_value=date(1, 1, 1)),
    st.datetimes(min_value=datetime(1, 1, 1)),
    texts,
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.one_of(st.sampled_from(KEYS), st.text(max_size=8)), inner, max_size=5),
    ),
    max_leaves=30,
)
meetings = st.dictionaries(st.sampled_from(KEYS), values, max_size=12)
documents = st.one_of(meetings, st.fixed_dictionaries({"meetings": st.lists(meetings, max_size=3)}), values)

# Raw text: the pieces YAML and TOML are made of, in any order (tags, anchors, aliases, brackets, indents).
pieces = st.sampled_from(
    [
        "\n",
        "  ",
        "- ",
        ": ",
        "title",
        "start",
        "attendees",
        "email",
        "&a ",
        "*a",
        "<<: ",
        "!!int ",
        "!!timestamp ",
        "!!float ",
        "!!bool ",
        "!!binary ",
        "!!set ",
        "!!python/name:os.system ",
        "[",
        "]",
        "{",
        "}",
        ",",
        "'",
        '"',
        "#",
        "=",
        "[[attendees]]",
        "\\",
        "\t",
        "1h",
        "0b2",
        "2030-01-10T10:00",
        "\u0085",
        "\x9b",
        "\ufeff",
        "---",
        "...",
        "? ",
        "|",
        ">",
        "%YAML 1.1",
        "x = 1",
        "a.b = 2",
        '"""',
        "'''",
    ]
)
raw = st.lists(pieces, max_size=60).map("".join)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> SiteDir:
    return SiteDir(tmp_path_factory.mktemp("fuzz") / "site")


def _check(site: SiteDir, name: str, body: str) -> None:
    folder = site.root / "config" / "meetings"
    for old in folder.iterdir():
        old.unlink()
    (folder / name).write_text(body, encoding="utf-8", errors="surrogatepass")
    try:
        load_config(site.root)
    except ConfigError as exc:
        assert exc.problems, "a ConfigError lists its problems"
        for problem in exc.problems:
            assert problem.message and isinstance(problem.path, str)
            str(problem).encode("utf-8")  # printable: no lone surrogates


def _dump(document: Any) -> str:
    return yaml.safe_dump(document, allow_unicode=True, sort_keys=False)


@pytest.mark.slow
@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(documents)
def test_generated_yaml_is_accepted_or_refused_with_problems(site: SiteDir, document: Any) -> None:
    _check(site, "m.yaml", _dump(document))


@pytest.mark.slow
@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw, st.sampled_from(["m.yaml", "m.toml"]))
def test_raw_text_is_accepted_or_refused_with_problems(site: SiteDir, body: str, name: str) -> None:
    _check(site, name, body)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.integers(min_value=1, max_value=12), st.integers(min_value=2, max_value=12))
def test_aliases_of_aliases_are_bounded(site: SiteDir, levels: int, width: int) -> None:
    lines = [f"a0: &a0 [{', '.join(['x'] * width)}]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * width)}]" for i in range(1, levels)]
    _check(site, "m.yaml", "\n".join(lines) + "\n")
