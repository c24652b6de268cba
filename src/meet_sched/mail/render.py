"""Meetings → email messages: invitations, updates and cancellations (iMIP, RFC 6047) and reminders.

Every message is ``multipart/mixed``: a ``multipart/alternative`` body (text/plain and
text/html from Jinja2 templates, HTML autoescaped; for invitations also the
``text/calendar; method=…`` part whose METHOD matches the calendar inside) and an
``.ics`` attachment.  The calendar bytes come from :class:`~meet_sched.ics.IcsRenderer`.

Headers: non-ASCII subjects and names are RFC 2047 encoded-words (:func:`~.headers.header_line`) that
carry their spaces inside them, so no decoder can lose one at a fold;
text from config passes :func:`~.headers.one_line` before it reaches any header, and addresses are
checked, so no config text can add a header or a recipient.  The whole message is 7-bit
(quoted-printable or base64 bodies): it needs no 8BITMIME or SMTPUTF8 from the server.
"""

from __future__ import annotations

import dataclasses
import email
import email.policy
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage, Message
from email.utils import format_datetime
from functools import cached_property
from typing import Any
from zoneinfo import ZoneInfo

import jinja2

from ..config import Settings
from ..config.places import rules as place_rules
from ..ics import IcsRenderer
from ..localtimes import all_day_dates
from ..model import (
    Attendee,
    Meeting,
    MeetingStatus,
    Override,
    StoredMeeting,
    utc,
)
from ..places import Rules, holiday_on
from ..vevent import Answers
from .answer_words import answer_word
from .changes import changes
from .headers import _MESSAGE_ID, POLICY, MailError, address_line, checked_address, header_line, one_line, safe_link
from .i18n import Words, words
from .parts import BODY_POLICY, base64_part, multipart, text_part
from .rows import (
    _changed_rows,
    _day,
    _next_start,
    _person,
    _Row,
    _when,
    answer_links,
    when_rows,
)

TEMPLATES_KEPT = 1024  # messages differing only in To, Date and Message-ID share one rendering


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
    """A rendered message (its bytes, CRLF, 7-bit) and its envelope."""

    data: bytes
    sender: str  # MAIL FROM
    recipient: str  # RCPT TO
    message_id: str
    subject: str
    method: str | None = None  # the iTIP METHOD of the inline calendar part, if any

    @cached_property
    def message(self) -> EmailMessage:
        """The bytes read back by the ``email`` package."""
        parsed = email.message_from_bytes(self.data, policy=POLICY)
        assert isinstance(parsed, EmailMessage)
        return parsed


@dataclass(frozen=True)
class Draft:
    """A message before serialization: its top-level headers, and the MIME tree of its body."""

    headers: list[tuple[str, Any]]
    body: Message


@dataclass(frozen=True)
class _Template:
    """Everything of a message but To, Date and Message-ID, serialized once for all who read the same text."""

    head: bytes  # folded header lines (From, Subject, MIME-Version, Content-Type with its boundary, …)
    body: bytes  # the MIME body after the blank line
    subject: str
    method: str | None


TEMPLATE_ENV = jinja2.Environment(
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
        self._text = TEMPLATE_ENV.get_template("message.txt")
        self._html = TEMPLATE_ENV.get_template("message.html")
        self._templates: OrderedDict[tuple[Any, ...], _Template] = OrderedDict()
        self._calendars: OrderedDict[tuple[Any, ...], tuple[Message, ...]] = OrderedDict()
        self._attendees: OrderedDict[tuple[Any, ...], dict[str, Attendee]] = OrderedDict()
        self._lock = threading.Lock()  # the caches are shared with a thread that renders ahead

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
        self,
        stored: StoredMeeting,
        to: Recipient,
        *,
        message_id: str,
        now: datetime,
        update: bool = False,
        previous: Meeting | None = None,
        feed: tuple[str, str] | None = None,
        answers: Answers | None = None,
        answer_again: bool = False,
        rsvp: str | None = None,
    ) -> Outgoing:
        """REQUEST (an invitation, or an update), or CANCEL when the meeting is cancelled or ``to`` is
        no longer invited — always what is true of the meeting as stored.

        ``previous``: for an update, the meeting as ``to`` last received it; the update then names
        what changed and shows the old value beside each new one.  ``feed``: (https, webcal) of the
        recipient's personal feed, shown as two more rows (then the message is not shared).
        ``answers``: the PARTSTAT each attendee has given, carried in the calendar part;
        ``answer_again``: the time changed, so the update asks ``to`` to answer again.  ``rsvp``: ``to``'s
        one-click answer URL (links to it are added, and the text is then ``to``'s own)."""
        m = stored.meeting
        invited = self.attendee(stored, to.email) is not None
        cancelled = stored.removed or m.status is MeetingStatus.CANCELLED
        kind = "cancel" if cancelled or not invited else "update" if update else "request"
        method = "CANCEL" if kind == "cancel" else "REQUEST"
        w = words(to.language)
        start = _next_start(m, now)
        when = _when(w, m, start, to, now)
        holiday = None if kind == "cancel" else self.holiday(self.attendee(stored, to.email), start, w)
        before = previous if kind == "update" else None
        key: tuple[Any, ...] | None = None
        if (invited or cancelled) and feed is None:  # a removed attendee's CANCEL names them: not shared
            shown = before.content_hash() if before else None
            key = ("invitation", kind, *stored.cache_key, w.language, to.timezone.key, to.city, when, _day(now), shown)
            key += (holiday, answers, answer_again and kind == "update")
        links = answer_links(w, rsvp) if rsvp and kind != "cancel" else ()
        if links:
            key = None  # the links are this recipient's own

        def calendar() -> tuple[Message, ...]:
            uninvited = kind == "cancel" and not cancelled
            body = _uninvite(self.settings, stored, to) if uninvited else self.ics.invitation(stored, answers)
            return (
                base64_part(body, "text", "calendar", params={"method": method, "charset": "UTF-8"}),  # the iMIP part
                base64_part(body, "application", "ics", filename="invite.ics"),
            )

        def build() -> Draft:
            uninvited = kind == "cancel" and not cancelled
            lead_key = ("lead.uninvited" if uninvited else "lead.cancel") if kind == "cancel" else f"lead.{kind}"
            lead = w(lead_key, title=one_line(m.title))
            rows = self._rows(w, m, to, start, now, series=kind != "cancel", holiday=holiday)
            found = changes(before, m) if before else []
            if before and found:
                lead = w("lead.changed", title=one_line(m.title), changes=w.listing([w(f"change.{c}") for c in found]))
                rows = _changed_rows(w, rows, before, m, to, now, found)
            if feed is not None and kind != "cancel":
                https, webcal = feed
                rows += [_Row(w("feed.webcal"), webcal), _Row(w("feed.https"), https, safe_link(https))]
            subject = w("subject.uninvited" if uninvited else f"subject.{kind}", title=one_line(m.title), when=when)
            note = w("calendar.cancel" if method == "CANCEL" else "calendar.request")
            parts = calendar() if key is None else self._parts(("itip", method, *stored.cache_key, answers), calendar)
            inline, attached = parts
            if answer_again and kind == "update":
                lead = f"{lead} {w('lead.answer_again')}"
            return self._message(w, subject, m, lead, rows, note, inline, attached, links)

        return self.outgoing(self.template(key, build, method), to, message_id, now)

    def occurrence_invitation(
        self,
        stored: StoredMeeting,
        to: Recipient,
        occurrence: datetime,
        *,
        message_id: str,
        now: datetime,
        previous: Meeting | None = None,
        answer_again: bool = False,
        rsvp: str | None = None,
        first: bool = False,
    ) -> Outgoing:
        """About one occurrence of a series only (its RECURRENCE-ID ``occurrence``): a REQUEST with that
        occurrence as it is now (RFC 5546 section 3.2.2), or a CANCEL of it alone (section 3.2.5) when it
        is cancelled or ``to`` is not invited to it.

        ``first``: ``to`` holds nothing of it yet (invited to this occurrence alone): the REQUEST reads
        as an invitation, not as an update.  ``previous``: that occurrence as ``to`` last received it (a
        meeting of its own); an update then names what changed with the old value beside each new one,
        as :meth:`invitation` does.  ``answer_again``: its time changed, so the update asks ``to`` to
        answer again.  ``rsvp``: ``to``'s one-click answer URL for this occurrence (links to it are added,
        and the text is then ``to``'s own)."""
        m = stored.meeting
        occurrence = occurrence.astimezone(m.timezone)
        override = m.override_of(occurrence)
        instance = m.instance(override) if override is not None else m.plain_instance(occurrence)
        invited = any(a.email.lower() == to.email.lower() for a in instance.attendees)
        cancelled = instance.cancelled or not invited
        kind = "cancel" if cancelled else "request" if first else "update"
        method = "CANCEL" if cancelled else "REQUEST"
        w = words(to.language)
        start = occurrence if cancelled else instance.start  # a cancellation names the occurrence it cancels
        when = _when(w, instance, start, to, now)
        zone, city, rid = to.timezone.key, to.city, utc(occurrence)
        before = previous if kind == "update" else None
        again = answer_again and kind == "update"
        shown = before.content_hash() if before else None
        key: tuple[Any, ...] | None = (
            *("occurrence", kind, *stored.cache_key, rid, w.language, zone, city, when),
            *(shown, _day(now) if shown else None, again),
        )
        variant = stored
        if cancelled and not instance.cancelled:  # uninvited from this one occurrence (or its override is gone)
            gone = (
                dataclasses.replace(override, cancelled=True, attendees=(to.as_attendee(),))
                if override is not None
                else Override(occurrence, instance.start, instance.end, cancelled=True, attendees=(to.as_attendee(),))
            )
            others = tuple(o for o in m.overrides if o.occurrence != occurrence)
            variant = dataclasses.replace(stored, meeting=dataclasses.replace(m, overrides=(*others, gone)))
            key = None
        links = answer_links(w, rsvp) if rsvp and not cancelled else ()
        if links:
            key = None  # the links are this recipient's own

        def calendar() -> tuple[Message, ...]:
            body = self.ics.occurrence_invitation(variant, occurrence)
            return (
                base64_part(body, "text", "calendar", params={"method": method, "charset": "UTF-8"}),  # the iMIP part
                base64_part(body, "application", "ics", filename="invite.ics"),
            )

        def build() -> Draft:
            rows = self._rows(w, instance, to, start, now, series=False)
            said = "uninvited" if cancelled and not instance.cancelled else kind  # the meeting goes ahead
            subject = w(f"subject.{said}", title=one_line(instance.title), when=when)
            note = w("calendar.cancel" if method == "CANCEL" else "calendar.request")
            parts = calendar() if key is None else self._parts(("itip-one", method, *key[2:10]), calendar)
            inline, attached = parts
            lead = w(f"lead.{said}", title=one_line(instance.title))
            found = changes(before, instance) if before else []
            if before and found:
                named = w.listing([w(f"change.{c}") for c in found])
                lead = w("lead.changed", title=one_line(instance.title), changes=named)
                rows = _changed_rows(w, rows, before, instance, to, now, found)
            if again:
                lead = f"{lead} {w('lead.answer_again')}"
            return self._message(w, subject, instance, lead, rows, note, inline, attached, links)

        return self.outgoing(self.template(key, build, method), to, message_id, now)

    def reminder(
        self,
        stored: StoredMeeting,
        to: Recipient,
        occurrence: datetime,
        *,
        message_id: str,
        now: datetime,
        rsvp: str | None = None,
    ) -> Outgoing:
        """``Reminder: <title> — tomorrow 10:00 KST``, in ``to``'s language and zone, with an .ics attached
        (and links to ``rsvp``, ``to``'s one-click answer URL, when given)."""
        start = occurrence.astimezone(stored.meeting.timezone)
        m = stored.meeting.at(start)  # a moved or changed occurrence: its own title, place and length
        w = words(to.language)
        when = _when(w, m, start, to, now)
        relative = w.relative(utc(start) - utc(now))
        if m.all_day:  # "today" or "tomorrow" on the recipient's own date
            relative = w.day_span(*all_day_dates(m, start), now.astimezone(to.timezone))
        attendee = self.attendee(stored, to.email)
        alarms = m.reminders_for(attendee) if attendee else m.reminders
        holiday = self.holiday(attendee, start, w)
        shared = ("reminder", *stored.cache_key, utc(start), w.language, to.timezone.key, to.city, when, relative)
        key = None if rsvp else (*shared, alarms, holiday)  # with links, the text is this recipient's own
        links = answer_links(w, rsvp) if rsvp else ()

        def calendar() -> tuple[Message, ...]:
            body = self.ics.reminder(self.settings.spec.calendar.name, stored, alarms)  # O(1) in the attendees
            params = {"method": "PUBLISH", "charset": "UTF-8"}
            return (base64_part(body, "text", "calendar", params=params, filename="meeting.ics"),)

        def build() -> Draft:
            subject = w("subject.reminder", title=one_line(m.title), when=when)
            if m.all_day:
                lead = w("lead.reminder.all_day", title=one_line(m.title), day=relative)
            else:
                lead = w("lead.reminder", title=one_line(m.title), relative=relative)
            rows = self._rows(w, m, to, start, now, series=False, holiday=holiday)
            (attached,) = self._parts(("publish", *stored.cache_key, alarms), calendar)
            return self._message(w, subject, m, lead, rows, w("calendar.reminder"), None, attached, links)

        return self.outgoing(self.template(key, build, None), to, message_id, now)

    def test(self, to: str, *, message_id: str, now: datetime) -> Outgoing:
        """A short message for ``meet-sched send-test``."""
        w = words(self.settings.spec.calendar.language)
        name = one_line(self.settings.spec.calendar.name)

        def build() -> Draft:
            headers = self.fixed_headers(w("test.subject", name=name))
            return Draft(headers, text_part(w("test.body", name=name), "plain"))

        return self.outgoing(self.template(None, build, None), Recipient("", to, ZoneInfo("UTC")), message_id, now)

    @cached_property
    def rules(self) -> Rules:
        """Whose public holidays apply to whom: the settings' places, as ``validate`` reads them."""
        return place_rules(self.settings.spec)

    def holiday(self, attendee: Attendee | None, start: datetime, w: Words) -> str | None:
        """The public holiday of ``attendee``'s place on their local date of ``start``, named in their language."""
        if attendee is None:
            return None
        place = self.rules.for_attendee(attendee)
        if not place.holidays or not place.country:
            return None
        found = holiday_on(place.country, start.astimezone(place.zone).date(), attendee.language)
        if found is None:
            return None
        return w("holiday", name=found.local_name if found.local_name and w.language != "en" else found.name)

    def notice(
        self,
        to: str,
        language: str,
        problems: list[str],
        more: int,
        *,
        fixed: bool,
        message_id: str,
        now: datetime,
    ) -> Outgoing:
        """To the site's contact: the running service refused a config change (every problem, as
        ``path:line: message``), or the config is accepted again.  Plain text; no calendar."""
        w = words(language)
        name = one_line(self.settings.spec.calendar.name)
        if fixed:
            subject, text = w("notice.fixed.subject", name=name), w("notice.fixed.body")
        else:
            listed = [one_line(p) for p in problems] + ([w("notice.more", count=str(more))] if more else [])
            subject = w("notice.rejected.subject", name=name)
            text = w("notice.rejected.body") + "\n\n" + "\n".join(listed) + "\n\n" + w("notice.rejected.after")

        def build() -> Draft:
            headers = [*self.fixed_headers(subject), ("Content-Language", w.language)]
            return Draft(headers, text_part(text, "plain"))

        return self.outgoing(self.template(None, build, None), Recipient("", to, ZoneInfo("UTC")), message_id, now)

    def feed_link(self, to: Recipient, https: str, webcal: str, *, message_id: str, now: datetime) -> Outgoing:
        """An attendee's personal subscription link (webcal:// for calendar programs, https:// for the
        web ones), in their language.  Never cached: the link is a secret of this one recipient."""
        w = words(to.language)
        name = one_line(self.settings.spec.calendar.name)
        text = "\n".join(
            [
                w("feed.lead", name=name),
                "",
                f"{w('feed.webcal')}{w('sep')}{webcal}",
                f"{w('feed.https')}{w('sep')}{https}",
                "",
                w("feed.private"),
            ]
        )

        def build() -> Draft:
            headers = [*self.fixed_headers(w("feed.subject", name=name)), ("Content-Language", w.language)]
            return Draft(headers, text_part(text, "plain"))

        return self.outgoing(self.template(None, build, None), to, message_id, now)

    def attendee(self, stored: StoredMeeting, email: str) -> Attendee | None:
        """The attendee of ``stored`` with this address (case-insensitive), from an index kept per version."""
        index = self._attendees.get(stored.cache_key)
        if index is None:
            index = {a.email.lower(): a for a in stored.meeting.attendees}
            with self._lock:
                self._attendees[stored.cache_key] = index
                while len(self._attendees) > TEMPLATES_KEPT:
                    self._attendees.popitem(last=False)
        return index.get(email.lower())

    # -- assembling --------------------------------------------------------------------

    def _parts(self, key: tuple[Any, ...], build: Callable[[], tuple[Message, ...]]) -> tuple[Message, ...]:
        """Calendar parts, encoded once per meeting version and shared by every message that carries them."""
        parts = self._calendars.get(key)
        if parts is None:
            parts = build()
            with self._lock:
                self._calendars[key] = parts
                while len(self._calendars) > TEMPLATES_KEPT:
                    self._calendars.popitem(last=False)
        return parts

    def template(self, key: tuple[Any, ...] | None, build: Callable[[], Draft], method: str | None) -> _Template:
        """The message without To, Date and Message-ID; cached by ``key`` (None: not shared)."""
        if key is not None:
            with self._lock:
                found = self._templates.get(key)
                if found is not None:
                    self._templates.move_to_end(key)
                    return found
        draft = build()
        # Headers with text from config go through the modern policy (RFC 2047; it refuses CR/LF); the
        # MIME tree underneath, fixed names and encoded bodies, through the legacy API, which is much faster.
        head = b"".join(header_line(name, value) for name, value in draft.headers)
        tree_head, _, body = draft.body.as_bytes(policy=BODY_POLICY).partition(b"\r\n\r\n")
        subject = next(str(value) for name, value in draft.headers if name == "Subject")
        template = _Template(head + b"MIME-Version: 1.0\r\n" + tree_head + b"\r\n", body, subject, method)
        if key is not None:
            with self._lock:
                self._templates[key] = template
                while len(self._templates) > TEMPLATES_KEPT:
                    self._templates.popitem(last=False)
        return template

    def outgoing(self, template: _Template, to: Recipient, message_id: str, now: datetime) -> Outgoing:
        """Add To, Date and Message-ID (folded and RFC 2047-encoded by the ``email`` package) to a template."""
        if not _MESSAGE_ID.match(message_id):
            raise MailError(f"{message_id!r} is not a Message-ID")
        address = checked_address(to.email)
        to_line = address_line("To", one_line(to.name), address)
        # Date and Message-ID are plain ASCII of a fixed shape (the Message-ID was matched above): no folding.
        date_line = f"Date: {format_datetime(utc(now).replace(microsecond=0))}\r\n".encode("ascii")
        data = b"".join(
            [
                to_line,
                date_line,
                b"Message-ID: ",
                message_id.encode("ascii"),
                b"\r\n",
                template.head,
                b"\r\n",
                template.body,
            ]
        )
        return Outgoing(data, self.sender.addr_spec, address, message_id, template.subject, template.method)

    def fixed_headers(self, subject: str) -> list[tuple[str, Any]]:
        return [
            ("From", self.sender),
            ("Subject", one_line(subject)),
            ("Auto-Submitted", "auto-generated"),  # RFC 3834: no vacation replies
            ("X-Auto-Response-Suppress", "All"),
        ]

    def _message(
        self,
        w: Words,
        subject: str,
        m: Meeting,
        lead: str,
        rows: list[_Row],
        calendar_note: str,
        inline: Message | None,
        attached: Message,
        links: tuple[_Row, ...] = (),
    ) -> Draft:
        """mixed[alternative[text, html, (the iMIP calendar)], the .ics attachment]."""
        headers = self.fixed_headers(subject)
        organizer = m.organizer
        if organizer.email.lower() != self.sender.addr_spec.lower():
            headers.append(("Reply-To", Address(one_line(organizer.name), addr_spec=checked_address(organizer.email))))
        headers.append(("Content-Language", w.language))
        context: dict[str, Any] = {
            "lang": w.language,
            "title": one_line(m.title),
            "lead": lead,
            "rows": rows,
            "details_label": w("label.details"),
            "sep": w("sep"),
            "details": m.description.splitlines() if m.description else [],
            "join_href": safe_link(m.video_url),
            "join_label": w("join"),
            "calendar_note": calendar_note,
            "footer": w("footer", organizer=_person(organizer)),
            "answer_prompt": answer_word(w, "prompt") if links else "",
            "answer_links": links,
        }
        alternative = multipart("alternative", text_part(self._text.render(context), "plain"))
        alternative.attach(text_part(self._html.render(context), "html"))
        if inline is not None:
            alternative.attach(inline)
        mixed = multipart("mixed", alternative)
        mixed.attach(attached)
        return Draft(headers, mixed)

    def _rows(
        self,
        w: Words,
        m: Meeting,
        to: Recipient,
        start: datetime,
        now: datetime,
        *,
        series: bool,
        holiday: str | None = None,
    ) -> list[_Row]:
        """When (:func:`.rows.when_rows`), then place, link, organizer."""
        return when_rows(w, m, to, start, now, series=series, holiday=holiday) + self._place_rows(w, m)

    def _place_rows(self, w: Words, m: Meeting) -> list[_Row]:
        rows = []
        if m.location:
            rows.append(_Row(w("label.where"), one_line(m.location)))
        if m.video_url:
            rows.append(_Row(w("label.video"), m.video_url, safe_link(m.video_url)))
        rows.append(_Row(w("label.organizer"), _person(m.organizer)))
        return rows


def _uninvite(settings: Settings, stored: StoredMeeting, to: Recipient) -> bytes:
    """METHOD:CANCEL for one attendee removed from a meeting that goes on (RFC 5546 section 3.2.5)."""
    meeting = dataclasses.replace(stored.meeting, status=MeetingStatus.CANCELLED, attendees=(to.as_attendee(),))
    variant = dataclasses.replace(stored, meeting=meeting)
    return IcsRenderer(settings).invitation(variant)
