"""Values for ``key=value`` log lines."""

from __future__ import annotations

import json


def quote(value: object) -> str:
    """A log value: bare when it is one plain word, else JSON-quoted (so no reply or message can forge a line)."""
    text = str(value)
    if text and all(c.isalnum() or c in "-_.:@/<>+=" for c in text):
        return text
    return json.dumps(text, ensure_ascii=False)
