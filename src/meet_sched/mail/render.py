"""Meetings → email messages: invitations, updates and cancellations (iMIP, RFC 6047) and reminders.

Every message is ``multipart/mixed``: a ``multipart/alternative`` body (text/plain and
text/html from Jinja2 templates, HTML autoescaped; for invitations also the
``text/calendar; method=…`` part whose METHOD matches the calendar inside) and an
``.ics`` attachment.  The calendar bytes come from :class:`~meet_sched.ics.IcsRenderer`.

Headers: non-ASCII subjects and names are RFC 2047 encoded by the ``email`` package;
text from config passes :func:`one_line` before it reaches any header, and addresses are
checked, so no config text can add a header or a recipient.  The whole message is 7-bit
(quoted-printable or base64 bodies): it needs no 8BITMIME or SMTPUTF8 from the server.
"""

from __future__ import annotations

import dataclasses
import email.policy
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime
from functools import cached_property
from typing import Any
from zoneinfo import ZoneInfo

import jinja2

from ..config import Settings
from ..errors import MeetSchedError
from ..ics import IcsRenderer
from ..model import Attendee, Meeting, Person, Status, StoredMeeting, local_times, utc, zone_city
from .i18n import Words, words

POLICY = email.policy.SMTP.clone(cte_type="7bit")  # CRLF, RFC 2047 headers, 7-bit bodies

_LINE_BREAKS = re.compile(r"[\r\n\x0b\x0c\x1c-\x1e\x85\u2028\u2029]+")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_ADDRESS = re.compile(
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9-]+)+$"
)
_MESSAGE_ID = re.compile(r"^<[!-;=?-~]+@[A-Za-z0-9.-]+>$")
_URL = re.compile(r"^https?://[^\s<>\"'\x00-\x1f\x7f]+$")


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


@dataclass(frozen=True)
class Recipient:
    name: str
    email: str
    timezone: ZoneInfo
    language: str = "en"
    city: str | None = None

    @classmethod
    def of(cls, a: Attendee) -> Recipient:
        return cls(a.name, a.email, a.timezone, a.language, a.city)

    def as_attendee(self) -> Attendee:
        return Attendee(self.name, self.email, self.timezone, self.language, self.city)


@dataclass(frozen=True)
class Outgoing:
    """A rendered message and its envelope."""

    message: EmailMessage
    sender: str  # MAIL FROM
    recipient: str  # RCPT TO
    message_id: str

    @cached_property
    def data(self) -> bytes:
        return self.message.as_bytes(policy=POLICY)

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])

    @property
    def method(self) -> str | None:
        """The iTIP METHOD of the inline calendar part, if any."""
        for part in self.message.walk():
            if part.get_content_type() == "text/calendar" and part.get_content_disposition() != "attachment":
                method = part.get_param("method")
                return str(method) if method else None
        return None


@dataclass(frozen=True)
class _Row:
    label: str
    text: str
    href: str | None = None


_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("meet_sched.mail", "templates"),
    autoescape=jinja2.select_autoescape(["html"]),
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)


class MailRenderer:
    """Builds the messages of one site (sender, domain, calendar name from its settings)."""

    def __init__(self, settings: Settings, ics: IcsRenderer | None = None) -> None:
        self.settings = settings
        self.ics = ics or IcsRenderer(settings)
        self._text = _ENV.get_template("message.txt")
        self._html = _ENV.get_template("message.html")

    @cached_property
    def sender(self) -> Address:
        """From: ``[smtp] sender``, else the site's organizer."""
        smtp = self.settings.spec.smtp
        if smtp is not None:
            header = POLICY.header_factory("from", smtp.sender)
            found: Address = header.addresses[0]
            return Address(one_line(found.display_name), addr_spec=checked_address(found.addr_spec))
        o = self.settings.organizer
        return Address(one_line(o.name), addr_spec=checked_address(o.email))

    # -- messages ------------------------------------------------------------------

    def invitation(
        self, stored: StoredMeeting, to: Recipient, *, message_id: str, now: datetime, update: bool = False
    ) -> Outgoing:
        """REQUEST (an invitation, or an update), or CANCEL when the meeting is cancelled or ``to`` is
        no longer invited — always what is true of the meeting as stored."""
        m = stored.meeting
        invited = any(a.email.lower() == to.email.lower() for a in m.attendees)
        cancelled = stored.removed or m.status is Status.CANCELLED
        if cancelled or not invited:
            kind, lead = "cancel", "lead.cancel" if cancelled else "lead.uninvited"
            body = self.ics.invitation(stored) if cancelled else _uninvite(self.settings, stored, to)
            method = "CANCEL"
        else:
            kind = "update" if update else "request"
            lead, body, method = f"lead.{kind}", self.ics.invitation(stored), "REQUEST"
        w = words(to.language)
        start = _next_start(m, now)
        rows = self._rows(w, m, to, start, now, series=kind != "cancel")
        subject = w(f"subject.{kind}", title=one_line(m.title), when=w.when(start.astimezone(to.timezone), now))
        note = w("calendar.cancel" if method == "CANCEL" else "calendar.request")
        msg = self._message(w, to, subject, message_id, now, m, w(lead, title=one_line(m.title)), rows, note)
        msg.add_alternative(body, maintype="text", subtype="calendar", params={"method": method, "charset": "UTF-8"})
        msg.add_attachment(body, maintype="application", subtype="ics", filename="invite.ics")
        return Outgoing(msg, self.sender.addr_spec, checked_address(to.email), message_id)

    def reminder(
        self, stored: StoredMeeting, to: Recipient, occurrence: datetime, *, message_id: str, now: datetime
    ) -> Outgoing:
        """``Reminder: <title> — tomorrow 10:00 KST``, in ``to``'s language and zone, with an .ics attached."""
        m = stored.meeting
        w = words(to.language)
        start = occurrence.astimezone(m.timezone)
        subject = w("subject.reminder", title=one_line(m.title), when=w.when(start.astimezone(to.timezone), now))
        lead = w("lead.reminder", title=one_line(m.title), relative=w.relative(utc(start) - utc(now)))
        rows = self._rows(w, m, to, start, now, series=False)
        msg = self._message(w, to, subject, message_id, now, m, lead, rows, w("calendar.reminder"))
        title = self.settings.spec.calendar.name
        if any(a.email.lower() == to.email.lower() for a in m.attendees):
            body = self.ics.personal_feed(title, to.email, [stored])
        else:
            body = self.ics.feed(title, [stored])
        msg.add_attachment(
            body,
            maintype="text",
            subtype="calendar",
            params={"method": "PUBLISH", "charset": "UTF-8"},
            filename="meeting.ics",
        )
        return Outgoing(msg, self.sender.addr_spec, checked_address(to.email), message_id)

    def test(self, to: str, *, message_id: str, now: datetime) -> Outgoing:
        """A short message for ``meet-sched send-test``."""
        w = words(self.settings.spec.calendar.language)
        name = one_line(self.settings.spec.calendar.name)
        msg = EmailMessage(policy=POLICY)
        self._headers(msg, Recipient("", to, ZoneInfo("UTC")), w("test.subject", name=name), message_id, now)
        msg.set_content(w("test.body", name=name) + "\n", subtype="plain", charset="utf-8")
        return Outgoing(msg, self.sender.addr_spec, checked_address(to), message_id)

    # -- pieces --------------------------------------------------------------------

    def _headers(self, msg: EmailMessage, to: Recipient, subject: str, message_id: str, now: datetime) -> None:
        if not _MESSAGE_ID.match(message_id):
            raise MailError(f"{message_id!r} is not a Message-ID")
        msg["From"] = self.sender
        msg["To"] = Address(one_line(to.name), addr_spec=checked_address(to.email))
        msg["Subject"] = one_line(subject)
        msg["Date"] = format_datetime(utc(now))
        msg["Message-ID"] = message_id
        msg["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation replies
        msg["X-Auto-Response-Suppress"] = "All"

    def _message(
        self,
        w: Words,
        to: Recipient,
        subject: str,
        message_id: str,
        now: datetime,
        m: Meeting,
        lead: str,
        rows: list[_Row],
        calendar_note: str,
    ) -> EmailMessage:
        msg = EmailMessage(policy=POLICY)
        self._headers(msg, to, subject, message_id, now)
        organizer = m.organizer
        if organizer.email.lower() != self.sender.addr_spec.lower():
            msg["Reply-To"] = Address(one_line(organizer.name), addr_spec=checked_address(organizer.email))
        msg["Content-Language"] = w.language
        video = safe_link(m.video_url)
        context: dict[str, Any] = {
            "lang": w.language,
            "title": one_line(m.title),
            "greeting": w("greeting", name=one_line(to.name)) if to.name.strip() else w("greeting.anonymous"),
            "lead": lead,
            "rows": rows,
            "details_label": w("label.details"),
            "sep": w("sep"),
            "details": m.description.splitlines() if m.description else [],
            "join_href": video,
            "join_label": w("join"),
            "calendar_note": calendar_note,
            "footer": w("footer", organizer=_person(organizer)),
        }
        msg.set_content(self._text.render(context), subtype="plain", charset="utf-8")
        msg.add_alternative(self._html.render(context), subtype="html", charset="utf-8")
        return msg

    def _rows(self, w: Words, m: Meeting, to: Recipient, start: datetime, now: datetime, *, series: bool) -> list[_Row]:
        """When (in ``to``'s zone), the same moment in every other zone, duration, place, link, organizer."""
        mine = start.astimezone(to.timezone)
        times = local_times(m, start)
        label = next((t.label for t in times if _zone_key(t.moment) == to.timezone.key), None)
        label = label or to.city or zone_city(to.timezone)
        rows = [_Row(w("label.when"), f"{w.full_date(mine)} {w.time(mine)} ({label})")]
        others = [
            f"{t.label} {w.time(t.moment)}"
            + (f" ({w.short_date(t.moment, now)})" if t.moment.date() != mine.date() else "")
            for t in times
            if _zone_key(t.moment) != to.timezone.key
        ]
        if others:
            rows.append(_Row(w("label.zones"), " · ".join(others)))
        rows.append(_Row(w("label.duration"), w.duration(m.duration)))
        if series and m.recurrence:
            upcoming = [s for s in m.occurrences(utc(start) + timedelta(seconds=1), utc(start) + timedelta(days=800))]
            shown = [f"{w.short_date(s.astimezone(to.timezone), now)}" for s in upcoming[:4]]
            if shown:
                rows.append(_Row(w("label.next"), " · ".join(shown) + (" …" if len(upcoming) > 4 else "")))
        if m.location:
            rows.append(_Row(w("label.where"), one_line(m.location)))
        if m.video_url:
            rows.append(_Row(w("label.video"), m.video_url, safe_link(m.video_url)))
        rows.append(_Row(w("label.organizer"), _person(m.organizer)))
        return rows


def _zone_key(moment: datetime) -> str:
    tz = moment.tzinfo
    return tz.key if isinstance(tz, ZoneInfo) else str(tz)


def _person(p: Person) -> str:
    return f"{one_line(p.name)} <{p.email}>" if p.name else p.email


def _next_start(m: Meeting, now: datetime) -> datetime:
    """The occurrence an invitation leads with: the next one, or the first if none is left."""
    return next(iter(m.occurrences(utc(now), utc(now) + timedelta(days=3660))), m.start)


def _uninvite(settings: Settings, stored: StoredMeeting, to: Recipient) -> bytes:
    """METHOD:CANCEL for one attendee removed from a meeting that goes on (RFC 5546 section 3.2.5)."""
    meeting = dataclasses.replace(stored.meeting, status=Status.CANCELLED, attendees=(to.as_attendee(),))
    variant = dataclasses.replace(stored, meeting=meeting)
    # A renderer of its own: the shared one caches events by UID and SEQUENCE, which this variant shares.
    return IcsRenderer(settings).invitation(variant)
