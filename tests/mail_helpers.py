"""Helpers for tests that read emails back with the ``email`` package, and a clock tests can move."""

from __future__ import annotations

import textwrap
from datetime import datetime, timedelta
from email.message import EmailMessage, Message

from .ics_helpers import Parsed, parse_both
from .smtp_sink import SilentServer, SmtpSink


class Clock:
    """An injected clock: stands still until a test moves it."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def set(self, now: datetime) -> None:
        self.now = now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


def smtp_settings(sink: SmtpSink | SilentServer, extra: str = "", *, connections: int = 2, delivery: str = "") -> str:
    """``[smtp]`` pointing at ``sink`` (plain SMTP on loopback) and quick retries; ``delivery``: more
    ``[delivery]`` keys; ``extra``: more sections."""
    return (
        textwrap.dedent(
            f"""
            [smtp]
            host = "127.0.0.1"
            port = {sink.port}
            security = "none"
            sender = "Daegu meeting reminders <reminders@daegu.example>"
            max_connections = {connections}
            timeout = "5s"

            [delivery]
            retry_base = "1m"
            retry_max = "10m"
            """
        )
        + textwrap.dedent(delivery)
        + textwrap.dedent(extra)
    )


def parts(msg: Message) -> list[Message]:
    return [p for p in msg.walk() if not p.is_multipart()]


def calendar_part(msg: Message) -> Message:
    """The inline ``text/calendar`` alternative (iMIP), not the attachment."""
    found = [
        p for p in parts(msg) if p.get_content_type() == "text/calendar" and p.get_content_disposition() != "attachment"
    ]
    assert len(found) == 1, f"{len(found)} inline text/calendar parts"
    return found[0]


def attachment(msg: Message, filename: str) -> Message:
    found = [p for p in parts(msg) if p.get_filename() == filename]
    assert len(found) == 1, f"{len(found)} attachments named {filename}"
    return found[0]


def calendar_of(part: Message) -> Parsed:
    body = part.get_payload(decode=True)
    assert isinstance(body, bytes)
    return parse_both(body)


def text_body(msg: EmailMessage) -> str:
    part = msg.get_body(("plain",))
    assert part is not None
    return str(part.get_content())  # type: ignore[attr-defined]


def html_body(msg: EmailMessage) -> str:
    part = msg.get_body(("html",))
    assert part is not None
    return str(part.get_content())  # type: ignore[attr-defined]
