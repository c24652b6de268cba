"""Email headers safe from config text: RFC 2047 encoding and folding, one-line text, checked addresses and links."""

from __future__ import annotations

import email
import email.policy
import re
from email.header import Header
from email.headerregistry import Address

from ..errors import MeetSchedError

POLICY = email.policy.SMTP.clone(cte_type="7bit")  # CRLF, RFC 2047 headers, 7-bit bodies

_LINE_BREAKS = re.compile(r"[\r\n\x0b\x0c\x1c-\x1e\x85\u2028\u2029]+")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_ADDRESS = re.compile(
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9-]+)+$"
)
_MESSAGE_ID = re.compile(r"^<[!-;=?-~]+@[A-Za-z0-9.-]+>$")
_URL = re.compile(r"^https?://[^\s<>\"'\x00-\x1f\x7f]+$")


def header_line(name: str, value: str | Address) -> bytes:
    """``Name: value`` folded to CRLF lines of at most 78 characters, ready for the wire.

    ASCII text is folded by the ``email`` package.  Other text becomes RFC 2047 encoded-words
    that carry its spaces inside them: whitespace between two encoded-words is dropped by every
    decoder (RFC 2047 section 6.2), and the ``email`` package's own folding can leave the only
    space between two words there (``quarterly call —2027년``).
    """
    if isinstance(value, Address):
        return address_line(name, value.display_name, value.addr_spec)
    if not _needs_encoding(value):
        return POLICY.fold_binary(*POLICY.header_store_parse(name, value))
    return _fold(name, _encoded_words(name, value))


def address_line(name: str, display_name: str, addr_spec: str) -> bytes:
    """``Name: display name <addr>`` as :func:`header_line` folds it, for an ``addr_spec`` already
    checked (:func:`checked_address`): no ``Address`` to build, which parses the address again."""
    if not display_name:
        return _fold(name, [addr_spec])
    return _fold(name, [*_phrase(name, display_name), f"<{addr_spec}>"])


def _needs_encoding(text: str) -> bool:
    # "=?" in plain text would be read as the start of an encoded-word by a decoder.
    return not text.isascii() or "=?" in text


def _encoded_words(name: str, text: str) -> list[str]:
    return Header(text, "utf-8", header_name=name).encode(linesep="\n").split("\n ")


_ATOMS = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?: [A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$")


def _phrase(name: str, display: str) -> list[str]:
    """A display name as words: ASCII words plain (or quoted), each run of other words encoded.

    Runs of encoded words stay as short as the text allows: a decoder that does not drop the
    space between two adjacent encoded-words (the ``email`` package's address parser is one) then
    reads the name right too, unless one run is longer than one encoded-word can hold.
    """
    words = display.split(" ")  # one_line() left single spaces only
    out: list[str] = []
    i = 0
    while i < len(words):
        j = i
        encode = _needs_encoding(words[i])
        while j < len(words) and _needs_encoding(words[j]) == encode:
            j += 1
        run = " ".join(words[i:j])
        if encode:
            out.extend(_encoded_words(name, run))
        else:  # each word an atom, or a quoted-string of its own: a phrase can fold between any two
            out.extend(
                w if _ATOMS.match(w) else '"' + w.replace("\\", "\\\\").replace('"', '\\"') + '"' for w in words[i:j]
            )
        i = j
    return out


def _fold(name: str, tokens: list[str]) -> bytes:
    """``name:`` and the tokens, a line break before a token that would pass 78 characters — never
    right after ``name:`` (a decoder that keeps folds, as the ``email`` package's legacy one does,
    would read a value starting with a line break) and never inside a token."""
    lines = [f"{name}:"]
    for token in tokens:
        started = lines[-1] not in ("", f"{name}:")  # the line holds a token already
        if started and len(lines[-1]) + 1 + len(token) > 78:
            lines.append("")
        lines[-1] += " " + token
    return ("\r\n".join(lines) + "\r\n").encode("ascii")


class MailError(MeetSchedError):
    """A message that cannot be built (an address that cannot be sent to, …)."""


def one_line(text: str) -> str:
    """Text fit for one header: line breaks (any kind) and control characters become spaces."""
    return " ".join(_CONTROL.sub(" ", _LINE_BREAKS.sub(" ", text)).split())


def checked_address(value: str) -> str:
    """A plain ASCII ``local@domain``; anything that could smuggle a header or a second recipient is refused."""
    if not _ADDRESS.match(value) or len(value) > 320:
        raise MailError(f"{value!r} is not an email address this service can send to")
    return value


def safe_link(url: str | None) -> str | None:
    """An http(s) link fit for an ``href``, or None (then it is shown as text only)."""
    return url if url and _URL.match(url) else None
