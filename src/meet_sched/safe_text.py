"""The characters that act instead of showing (controls, bidirectional controls), and the two rules on them.

Text reaches a terminal, a log, a mail, a calendar and a page.  There, some characters act instead
of showing: a line break forges a line of a report, ESC and the C1 controls (U+009B is a
one-character ESC [) clear a terminal or set its title, and the bidirectional controls make a line
read in another order than it is written ("…txt.exe" shown as "…exe.txt").  Their classes are
written once here, and two rules use them:

- :func:`refusal`: what text that is stored and sent may not hold — names, titles and descriptions
  of the config (checked when it is loaded) and of every meeting however it is built
  (:mod:`meet_sched.model`): no control character but line breaks and HTAB, and no bidirectional
  embedding, override or isolate (free text: no override).  The marks U+200E/U+200F stay allowed:
  right-to-left names need them.
- :func:`neutral`: text from outside (an answer's COMMENT, a DELEGATED-TO, an address, a file name)
  shows each acting character as a visible escape (``\\u001b``, ``\\u202e``), so what was sent can
  still be seen, and nothing it holds acts.
"""

from __future__ import annotations

import re

# Classes as regular-expression ranges (the JSON Schema for editors says them in these words too).
# C0 controls but HTAB, LF and CR; DEL and the C1 controls (U+0080-U+009F): no calendar or email can
# carry them, and some terminals act on them (U+009B starts an escape sequence).
CONTROLS = r"\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f"
# The line breaks and HTAB that CONTROLS leaves to the one-line and free-text rules.
BREAKS_AND_TAB = r"\x09\x0a\x0d"
LINE_SEPARATORS = r"\u2028\u2029"
# Bidirectional embeddings, overrides and isolates: they make a line read differently from what it
# holds ("Budget review" that displays as something else).
BIDI_CONTROLS = r"\u202a-\u202e\u2066-\u2069"
# Overrides alone: in free text, embeddings and isolates have honest uses in mixed-direction prose.
BIDI_OVERRIDES = r"\u202d\u202e"
# The Arabic letter mark and the LRM/RLM marks: they only affect the characters next to them.
BIDI_MARKS = r"\u061c\u200e\u200f"

_CONTROL = re.compile(f"[{CONTROLS}]")
_BIDI = re.compile(f"[{BIDI_CONTROLS}]")
_BIDI_OVERRIDE = re.compile(f"[{BIDI_OVERRIDES}]")
_ACTING = re.compile(f"[{CONTROLS}{BREAKS_AND_TAB}{LINE_SEPARATORS}{BIDI_CONTROLS}{BIDI_MARKS}]")


def refusal(text: str, *, one_line: bool) -> str | None:
    """Why ``text`` may not be stored, in the words that follow a key (``title: …``), or None.

    ``one_line``: a name, title or location, which may hold no bidirectional control at all; else
    free text (a description), which may hold no override.  Line breaks are the caller's rule.
    """
    if (m := _CONTROL.search(text)) is not None:
        return f"contains the control character U+{ord(m.group()):04X} at character {m.start() + 1}"
    if one_line and (m := _BIDI.search(text)) is not None:
        return (
            f"contains the bidirectional control U+{ord(m.group()):04X} at character {m.start() + 1}, "
            "which can make the line display as something other than what it says"
        )
    if not one_line and (m := _BIDI_OVERRIDE.search(text)) is not None:
        return (
            f"contains the bidirectional override U+{ord(m.group()):04X} at character {m.start() + 1}, "
            "which makes the text display in an order other than the one it is written in"
        )
    return None


def _escape(found: re.Match[str]) -> str:
    return f"\\u{ord(found.group()):04x}"  # the form JSON and Python read back (a log value stays JSON)


def neutral(text: str) -> str:
    """``text`` with every control and bidirectional character shown as a visible escape: one line,
    whatever it held (a line break is ``\\u000a``), that does nothing but show."""
    return _ACTING.sub(_escape, text)
