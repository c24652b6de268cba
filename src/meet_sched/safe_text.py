"""Text from outside (an answer's COMMENT, a DELEGATED-TO, an address, a file name), made fit to show.

What a reply or a file carries reaches a terminal, a log, a mail and a page.  There, some characters
act instead of showing: a line break forges a line of a report, ESC and the C1 controls (U+009B is a
one-character ESC [) clear a terminal or set its title, and the bidirectional controls make a line
read in another order than it is written ("…txt.exe" shown as "…exe.txt").  :func:`neutral` shows
each of them as a visible escape (``\\u001b``, ``\\u202e``) at every such place, so what was sent can
still be seen, and nothing it holds acts.

Text from the config is checked when it is loaded (``config.schema``: no controls, no embeddings,
overrides or isolates); it needs none of this, and keeps the marks U+200E/U+200F that right-to-left
names need.
"""

from __future__ import annotations

import re

# C0 controls, DEL, the C1 controls (NEL among them), the line and paragraph separators, and every
# bidirectional control: the Arabic letter mark, the LRM/RLM marks, the embeddings and overrides
# (U+202A-U+202E) and the isolates (U+2066-U+2069).
_ACTING = re.compile(r"[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def _escape(found: re.Match[str]) -> str:
    return f"\\u{ord(found.group()):04x}"  # the form JSON and Python read back (a log value stays JSON)


def neutral(text: str) -> str:
    """``text`` with every control and bidirectional character shown as a visible escape: one line,
    whatever it held (a line break is ``\\u000a``), that does nothing but show."""
    return _ACTING.sub(_escape, text)
