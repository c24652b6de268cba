"""The organizer's summary of the answers (``[replies] summary``): rendered from its outbox row alone.

The row (planned by :mod:`meet_sched.store.summaries`) holds the changes and the totals; this
module words them in the organizer's language, with dates in their zone (Babel), as text and
HTML.  Every text from config or from an answer (titles, names, comments) reaches a header only
through :func:`~.headers.one_line`, and the HTML only autoescaped; what an answer wrote (comments,
addresses) shows its control and bidirectional characters as escapes (:func:`~meet_sched.safe_text.neutral`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ..recurrence import outside_years
from ..safe_text import neutral
from .headers import one_line
from .i18n import Words, words
from .parts import multipart, text_part
from .render import TEMPLATE_ENV, Draft, MailRenderer, Outgoing, Recipient
from .summary_words import summary_word

GROUPS = ("ACCEPTED", "TENTATIVE", "DECLINED", "DELEGATED", "NEEDS-ACTION")
MAX_COMMENT_SHOWN = 300  # characters of an answer's comment quoted in the summary


@dataclass
class _Totals:
    when: str
    lines: list[str] = field(default_factory=list)


@dataclass
class _Section:
    title: str
    changes: list[str] = field(default_factory=list)
    totals: list[_Totals] = field(default_factory=list)


def _zone(name: object) -> ZoneInfo:
    try:
        return ZoneInfo(str(name or "UTC"))
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def _read(iso: str, zone: ZoneInfo) -> datetime | None:
    """A stored ISO moment in ``zone``, or None when it cannot be read there (out of range, malformed)."""
    try:
        when = datetime.fromisoformat(iso)
        return None if when.tzinfo is None or outside_years(when) is not None else when.astimezone(zone)
    except (ValueError, OverflowError):
        return None


class _Wording:
    def __init__(self, w: Words, zone: ZoneInfo, now: datetime) -> None:
        self.w, self.zone, self.now = w, zone, now

    def __call__(self, key: str, **values: str) -> str:
        return summary_word(self.w, key, **values)

    def moment(self, iso: str, all_day: bool) -> str:
        when = _read(iso, self.zone)
        if when is None:  # a row stored unchecked by an older version: said so, the rest of the summary intact
            return "?"
        if all_day:
            return self.w.short_date(when, self.now)
        return f"{self.w.short_date(when, self.now)} {self.w.time(when)}"

    def change(self, c: Mapping[str, Any], section: Mapping[str, Any]) -> str:
        who = one_line(str(c.get("name") or "")) or neutral(one_line(str(c.get("email") or "")))
        answer = str(c.get("answer") or "NEEDS-ACTION")
        all_day = bool(section.get("all_day"))
        if answer == "COUNTER":
            start = self.moment(str(c["start"]), all_day) if c.get("start") else "?"
            end = _read(str(c["end"]), self.zone) if c.get("end") and not all_day else None
            if end is not None:
                start = f"{start} – {self.w.time(end)}"
            said = self("COUNTER", when=start)
        elif answer == "DELEGATED":
            to = [neutral(one_line(str(a))) for a in c.get("delegated_to") or ()]  # addresses a reply wrote
            said = self("DELEGATED", to=self.w.listing(to))
        else:
            said = self(answer if answer in GROUPS else "NEEDS-ACTION")
        text = f"{who}{self.w('sep')}{said}"
        if c.get("occurrence"):
            text = self("scoped", text=text, scope=self.moment(str(c["occurrence"]), all_day))
        elif section.get("series"):
            text = self("scoped", text=text, scope=self("series"))
        comment = neutral(one_line(str(c.get("comment") or ""))[:MAX_COMMENT_SHOWN])
        return f"{text} {self('comment', comment=comment)}" if comment else text

    def totals(self, t: Mapping[str, Any], section: Mapping[str, Any]) -> _Totals:
        shown = _Totals(self.moment(str(t["start"]), bool(section.get("all_day"))))
        groups: Mapping[str, list[str]] = t.get("groups") or {}
        for group in GROUPS:
            names = [one_line(str(n)) for n in groups.get(group) or ()]
            if not names and group == "DELEGATED":
                continue
            label = self("count", label=self(f"group.{group}"), count=str(len(names)))
            shown.lines.append(f"{label}{self.w('sep')}{self.w.listing(names)}" if names else label)
        return shown


def summary_message(
    mail: MailRenderer, data: Mapping[str, Any], recipient: str, *, message_id: str, now: datetime
) -> Outgoing:
    """The summary a row of kind ``answer-summary`` describes, to its organizer."""
    w = words(str(data.get("language") or "en"))
    zone = _zone(data.get("timezone"))
    say = _Wording(w, zone, now)
    name = one_line(mail.settings.spec.calendar.name)
    sections: list[_Section] = []
    for s in data.get("meetings") or ():
        section = _Section(one_line(str(s.get("title") or "")))
        section.changes = [say.change(c, s) for c in s.get("changes") or ()]
        if s.get("more"):
            section.changes.append(say("more", count=str(s["more"])))
        section.totals = [say.totals(t, s) for t in s.get("totals") or ()]
        sections.append(section)
    if data.get("mode") == "daily":
        subject = say("subject.daily", date=w.short_date(now.astimezone(zone), now))
        lead = say("lead.daily")
    else:
        title = sections[0].title if sections else ""
        subject, lead = say("subject.each", title=title), say("lead.each", title=title)
    more = int(data.get("more_meetings") or 0)
    context: dict[str, Any] = {
        "lang": w.language,
        "title": one_line(subject),
        "lead": lead,
        "sections": sections,
        "changes_label": say("changes"),
        "totals_label": say("totals"),
        "more": say("more_meetings", count=str(more)) if more else "",
        "footer": say("footer", name=name),
    }

    def build() -> Draft:
        headers = [*mail.fixed_headers(subject), ("Content-Language", w.language)]
        alternative = multipart(
            "alternative", text_part(TEMPLATE_ENV.get_template("summary.txt").render(context), "plain")
        )
        alternative.attach(text_part(TEMPLATE_ENV.get_template("summary.html").render(context), "html"))
        return Draft(headers, alternative)

    to = Recipient(str(data.get("name") or ""), recipient, zone, w.language)
    return mail.outgoing(mail.template(None, build, None), to, message_id, now)
