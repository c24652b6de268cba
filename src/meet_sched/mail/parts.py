"""MIME parts of a message: text bodies, multipart containers and attachments, all 7-bit."""

from __future__ import annotations

import email
import email.policy
from email import encoders
from email.message import Message
from email.mime.multipart import MIMEMultipart
from email.mime.nonmultipart import MIMENonMultipart
from email.mime.text import MIMEText

BODY_POLICY = email.policy.compat32.clone(linesep="\r\n")


def text_part(text: str, subtype: str) -> Message:
    """text/plain or text/html, UTF-8, base64, with CRLF line ends (RFC 2046 section 4.1.1)."""
    part = MIMEText("\r\n".join(text.splitlines()) + "\r\n", subtype, "utf-8", policy=BODY_POLICY)
    del part["MIME-Version"]  # only the message as a whole has one
    return part


def multipart(subtype: str, first: Message) -> Message:
    container = MIMEMultipart(subtype, policy=BODY_POLICY)
    del container["MIME-Version"]
    container.attach(first)
    return container


def base64_part(
    body: bytes, maintype: str, subtype: str, *, params: dict[str, str] | None = None, filename: str | None = None
) -> Message:
    """A base64 part (its bytes, CRLF line ends included, kept exactly); an attachment when it has a file name."""
    part = MIMENonMultipart(maintype, subtype, policy=BODY_POLICY, **(params or {}))
    del part["MIME-Version"]
    part.set_payload(body)
    encoders.encode_base64(part)
    if filename:
        part.add_header("Content-Disposition", "attachment", filename=filename)
    return part
