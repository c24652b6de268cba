"""README "A schema for editors": generated from the validating models; accepts every sample, refuses the broken."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from datetime import date, time
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from meet_sched.config.json_schema import KINDS, render, schema, shipped
from meet_sched.config.sources import read_source

from .conftest import REPO
from .test_config_validation import BROKEN

# Broken files whose fault needs the whole meeting, the zone database or the parser's view of the
# text: `validate` finds them, a schema cannot say them.  Every other broken file must be refused.
NEEDS_VALIDATE = {
    "dst-gap.yaml": "a wall time the zone skips",
    "dst-occurrence.yaml": "an occurrence on a daylight-saving change",
    "dst-overlap.toml": "a wall time that happens twice",
    "duplicate-key.yaml": "a key given twice is gone once parsed",
    "end.yaml": "an end before the start",
    "exdates.yaml": "exdates without a recurrence",
    "long-uid.yaml": "the UID's length with the domain added",
    "zone.toml": "an unknown time zone (the zone list differs between systems)",
    "zone.yaml": "an unknown time zone",
}
UNPARSABLE = {"malformed.toml", "malformed.yaml"}  # not YAML or TOML at all: no document to check


def plain(value: Any) -> Any:
    """What an editor checks: TOML dates and times as their text."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, date | time):
        return value.isoformat()
    return value


def document(path: Path, shown: str) -> Any:
    problems: list[Any] = []
    source = read_source(path, shown, problems)
    assert source is not None, problems
    return plain(source.data)


def validator(kind: str) -> jsonschema.Draft202012Validator:
    body = schema(kind)
    jsonschema.Draft202012Validator.check_schema(body)
    return jsonschema.Draft202012Validator(body)


SAMPLES = sorted((REPO / "config" / "meetings").rglob("*.*"))


@pytest.mark.parametrize("path", SAMPLES, ids=lambda p: p.name)
def test_every_sample_meeting_is_accepted(path: Path) -> None:
    errors = list(validator("meeting").iter_errors(document(path, path.name)))
    assert not errors, [e.message for e in errors]


def test_the_sample_settings_are_accepted() -> None:
    path = REPO / "config" / "meet-sched.toml"
    errors = list(validator("settings").iter_errors(document(path, path.name)))
    assert not errors, [e.message for e in errors]


@pytest.mark.parametrize(("name", "body", "expected"), BROKEN, ids=[case[0] for case in BROKEN])
def test_the_broken_files_are_refused(tmp_path: Path, name: str, body: str, expected: list[str]) -> None:
    if name in UNPARSABLE:
        pytest.skip("not a document")
    path = tmp_path / name
    path.write_text(textwrap.dedent(body), encoding="utf-8")
    refused = bool(list(validator("meeting").iter_errors(document(path, name))))
    assert refused is (name not in NEEDS_VALIDATE), expected


@pytest.mark.parametrize(
    "entry",
    [
        {"title": "x", "timezone": "Asia/Seoul", "start": "2027-01-05T10:00", "attendees": ["li@chengdu.example"]},
        {"meetings": [{"title": "x", "timezone": "Asia/Seoul", "start": "2027-01-05T10:00", "duration": "1h"}]},
        {"title": "Folded\n", "timezone": "Asia/Seoul", "start": "2027-01-05", "recurrence": "freq=weekly"},
    ],
)
def test_the_friendlier_forms_are_accepted(entry: dict[str, Any]) -> None:
    assert not list(validator("meeting").iter_errors(entry))


@pytest.mark.parametrize(
    "entry",
    [
        {"title": "a\nb", "timezone": "Asia/Seoul", "start": "2027-01-05T10:00"},
        {"title": "x", "timezone": "Asia/Seoul", "start": "2027-01-05T10:00", "duration": "1h", "end": "2027-01-05"},
        {"title": "x", "timezone": "Asia/Seoul", "start": "2027-01-05T10:00", "recurrence": "FREQ=FORTNIGHTLY"},
        {"meetings": []},
    ],
)
def test_shapes_the_validator_refuses_are_refused(entry: dict[str, Any]) -> None:
    assert list(validator("meeting").iter_errors(entry))


@pytest.mark.parametrize("kind", KINDS)
def test_the_shipped_schema_is_the_generated_one(kind: str) -> None:
    assert shipped(kind).read_text(encoding="utf-8") == render(kind), (
        f"regenerate it: meet-sched schema {kind} > {shipped(kind).relative_to(REPO)}"
    )


@pytest.mark.parametrize("kind", KINDS)
def test_meet_sched_schema_prints_it(kind: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "meet_sched", "schema", kind], capture_output=True, text=True, timeout=60, check=True
    )
    assert json.loads(result.stdout) == schema(kind)


def test_an_unknown_kind_is_refused() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "meet_sched", "schema", "places"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    assert "invalid choice: 'places'" in result.stderr


def test_the_command_line_offers_every_schema() -> None:
    from meet_sched.cli.review_args import SCHEMA_KINDS

    assert SCHEMA_KINDS == KINDS
