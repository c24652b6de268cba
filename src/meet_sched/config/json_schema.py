"""JSON Schema of the config files for editors, generated from the pydantic models that validate them.

The schema describes the shape (keys, types, enums, patterns); the checks that need the whole
meeting (a start in the zone's gap, an RRULE that fits the start) stay with ``validate``.
A copy of each is shipped in ``schemas/`` (a test proves it equals the generated one).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from . import limits
from .meeting_spec import MeetingSpec
from .settings_spec import SettingsSpec

KINDS = ("meeting", "settings")
SHIPPED = Path(__file__).with_name("schemas")
DIALECT = "https://json-schema.org/draft/2020-12/schema"


def meeting_schema() -> dict[str, Any]:
    """A meeting file: one meeting, or ``meetings:`` and a list of them."""
    one = MeetingSpec.model_json_schema()
    defs = one.pop("$defs", {})
    defs["Meeting"] = one
    return {
        "$schema": DIALECT,
        "title": "meet-sched meeting file",
        "description": "One meeting, or `meetings:` with a list of meetings (config/meetings/**.yaml or .toml).",
        "$defs": defs,
        "anyOf": [
            {"$ref": "#/$defs/Meeting"},
            {
                "type": "object",
                "properties": {
                    "meetings": {
                        "type": "array",
                        "minItems": 1,
                        "maxItems": limits.MAX_MEETINGS_PER_FILE,
                        "items": {"$ref": "#/$defs/Meeting"},
                    }
                },
                "required": ["meetings"],
                "additionalProperties": False,
            },
        ],
    }


def settings_schema() -> dict[str, Any]:
    """config/meet-sched.toml."""
    body = SettingsSpec.model_json_schema()
    return {"$schema": DIALECT, **body, "title": "meet-sched settings (config/meet-sched.toml)"}


def schema(kind: str) -> dict[str, Any]:
    if kind == "meeting":
        return meeting_schema()
    if kind == "settings":
        return settings_schema()
    raise ValueError(f"no schema {kind!r}; there are {', '.join(KINDS)}")


def render(kind: str) -> str:
    """The schema as the shipped file holds it: sorted keys, indented, ending with a newline."""
    return json.dumps(schema(kind), ensure_ascii=False, indent=2, sort_keys=True) + "\n"


def shipped(kind: str) -> Path:
    return SHIPPED / f"{kind}.schema.json"
