"""Values for ``key=value`` log lines."""

from __future__ import annotations

import json

from .safe_text import neutral


def quote(value: object) -> str:
    """A log value: bare when it is one plain word, else JSON-quoted (so no reply or message can forge a
    line), with the C1 and bidirectional controls JSON leaves as they are escaped too."""
    text = str(value)
    if text and all(c.isalnum() or c in "-_.:@/<>+=" for c in text):
        return text
    return neutral(json.dumps(text, ensure_ascii=False))
