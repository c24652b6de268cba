"""`meet-sched feeds send`: mail attendees their personal subscription links.

Sent directly through the transport, not through the outbox: the message holds the token, and the
database keeps only tokens' hashes.  A link is stored (replacing the attendee's previous one) only
once the mail server has accepted the message, so a failed send leaves the old URL working.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from ..errors import MeetSchedError
from ..mail.render import MailRenderer, Recipient
from ..site import Site, webcal_url
from .transport import SendError, Transport, make_transport


@dataclass(frozen=True)
class Sent:
    email: str
    error: str | None  # None: sent, and the new link is the attendee's feed now


async def send_feed_links(
    site: Site, emails: list[str], now: datetime, transport: Transport | None = None
) -> list[Sent]:
    """Mail each of ``emails`` (every attendee when empty) a new personal feed link, in their language."""
    if not site.base_url_known:
        raise MeetSchedError(
            "feeds send needs [server] base_url in config/meet-sched.toml: the links must reach the "
            "address subscribers use, not the address serve listens on"
        )
    people = emails or [p.email for p in site.attendees()]
    links = [site.new_feed_link(e) for e in people]  # every address checked before anything is sent
    transport = transport or make_transport(site.settings)
    renderer = MailRenderer(site.settings)
    zone = site.settings.spec.calendar
    out: list[Sent] = []
    try:
        for link in links:
            assert link.url is not None
            language = site.attendee_language(link.person.email)
            to = Recipient(link.person.name, link.person.email, ZoneInfo("UTC"), language)
            message = renderer.feed_link(
                to, link.url, webcal_url(link.url), message_id=f"<feed.{uuid.uuid4().hex}@{zone.domain}>", now=now
            )
            try:
                await transport.send(message)
            except SendError as error:
                out.append(Sent(link.person.email, error.reply))
                continue
            site.keep_feed_link(link, now)
            out.append(Sent(link.person.email, None))
    finally:
        await transport.close()
    return out
