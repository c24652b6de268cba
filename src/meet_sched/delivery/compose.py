"""Job → message: the text of one outbox message, as it is sent.

It owns the :class:`Composer`, which turns a claimed :class:`~meet_sched.store.outbox.Job`
and its meeting into an :class:`~meet_sched.mail.Outgoing` — invitation, update, cancel,
reminder, notice or organizer's summary — with what the claim brought along: the meeting as
its recipient last saw it, the answers given so far, and a one-click answer link; and who a
message goes to (:func:`recipient`), as configured now or as planned.  It reads no database
and sends nothing: the dispatcher fills its maps while claiming, and the pass sends.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ..mail import MailRenderer, Outgoing, Recipient
from ..mail.summary import summary_message
from ..model import Meeting, StoredMeeting, utc
from ..site import calendar_answers
from ..store import attendance, outbox
from ..store.outbox import Job, MessageKind


class Composer:
    """Renders claimed jobs; holds, per claimed message, what its text needs beside the meeting."""

    def __init__(self, mail: MailRenderer, domain: str, rsvp_base: str | None) -> None:
        self.mail = mail
        self.domain = domain
        # One-click answers: only with a configured [server] base_url (the default, http://<listen>, is
        # this machine's own address, which nobody reading the mail elsewhere could open).
        self.rsvp_base = rsvp_base
        self.previous: dict[int, Meeting] = {}  # claimed updates: the meeting as their recipient last saw it
        self.answers: dict[str, attendance.Attendance] = {}  # answers in force, of meetings invited to lately
        self.links: dict[int, str] = {}  # claimed message id → its answer token (only in memory and the message)

    def prepare(self, jobs: Sequence[Job], meetings: dict[str, StoredMeeting], now: datetime) -> None:
        """Render one message per distinct text among ``jobs``, so the workers find it ready."""
        seen: set[tuple[object, ...]] = set()
        for job in jobs:
            stored = meetings.get(job.meeting_uid)
            if stored is None or job.kind.self_contained:
                continue
            to = recipient(self.mail, stored, job)
            text = (job.kind, job.meeting_uid, job.occurrence, to.language, to.timezone.key, to.city)
            if text in seen:
                continue
            seen.add(text)
            with contextlib.suppress(Exception):  # a worker renders it again and reports the problem
                self.render(job, stored, now)

    def render(
        self, job: Job, stored: StoredMeeting | None, now: datetime, feed: tuple[str, str] | None = None
    ) -> Outgoing:
        """The message ``job`` stands for; ``feed`` is a new personal feed's (https, webcal) links."""
        mid = outbox.message_id(job.key, self.domain)
        if job.kind is MessageKind.SUMMARY:
            return summary_message(self.mail, job.attendee, job.recipient, message_id=mid, now=now)
        if job.kind.notice:
            data = job.attendee
            problems = [str(p) for p in data.get("problems") or ()]
            language = str(data.get("language") or "en")
            more = int(data.get("more") or 0)
            fixed = job.kind is MessageKind.FIXED
            return self.mail.notice(job.recipient, language, problems, more, fixed=fixed, message_id=mid, now=now)
        assert stored is not None
        to = recipient(self.mail, stored, job)
        token = self.links.get(job.id)
        rsvp = None if token is None or self.rsvp_base is None else self.rsvp_base + token
        if job.kind is MessageKind.REMINDER:
            assert job.occurrence is not None
            return self.mail.reminder(stored, to, job.occurrence, message_id=mid, now=now, rsvp=rsvp)
        state = self.answers.get(job.meeting_uid)
        if job.occurrence is not None:  # about one occurrence of a series
            return self.mail.occurrence_invitation(
                stored,
                to,
                job.occurrence,
                message_id=mid,
                now=now,
                previous=self.previous.get(job.id),
                answer_again=state is not None and attendance.must_answer(state, to.email, utc(job.occurrence)),
                rsvp=rsvp,
                first=job.kind is MessageKind.REQUEST,
            )
        return self.mail.invitation(
            stored,
            to,
            message_id=mid,
            now=now,
            update=job.kind is MessageKind.UPDATE,
            previous=self.previous.get(job.id),
            feed=feed,
            answers=None if state is None else calendar_answers(state),
            answer_again=state is not None and attendance.must_answer(state, to.email),
            rsvp=rsvp,
        )


def recipient(mail: MailRenderer, stored: StoredMeeting, job: Job) -> Recipient:
    """The attendee as configured now, or as planned (someone no longer invited gets their cancel)."""
    attendee = mail.attendee(stored, job.recipient)
    if attendee is not None:
        return Recipient.of(attendee)
    data = job.attendee
    try:
        zone = ZoneInfo(str(data.get("timezone") or stored.meeting.timezone.key))
    except (ZoneInfoNotFoundError, ValueError):
        zone = stored.meeting.timezone
    return Recipient(
        name=str(data.get("name") or ""),
        email=str(data.get("email") or job.recipient),
        timezone=zone,
        language=str(data.get("language") or "en"),
        city=data.get("city"),
    )
