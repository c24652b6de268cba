"""The rows of a message's table (what, when, where, with whom, and what changed) and the words around them."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import islice
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from .. import occurrences
from ..localtimes import zone_abbreviation
from ..model import (
    Attendee,
    Meeting,
    Person,
    utc,
)
from .answer_words import CHOICES, answer_word
from .changes import Change, added
from .headers import one_line, safe_link
from .i18n import Words
from .reading import Reader, mark_word

if TYPE_CHECKING:
    from .render import Recipient


@dataclass(frozen=True)
class _Row:
    label: str
    text: str
    href: str | None = None
    old: str | None = None  # an update: what this row said in the version last received (struck through)
    was: str | None = None  # the same, as words for the plain text ("was …")


def _changed_rows(
    w: Words, rows: list[_Row], old: Meeting, new: Meeting, to: Recipient, now: datetime, found: list[Change]
) -> list[_Row]:
    """The rows of an update with the old value beside each changed one (the times in ``to``'s zone),
    a title row for a new title, and who was added or removed."""
    labels = {row.label: i for i, row in enumerate(rows)}
    out = list(rows)

    def mark(label: str, old_text: str, new_text: str | None = None, href: str | None = None) -> None:
        row = _Row(label, new_text or w("none"), href, old_text, w("was", old=old_text))
        if label in labels:
            current = out[labels[label]]
            if current.text == old_text:
                return
            out[labels[label]] = dataclasses.replace(current, old=row.old, was=row.was)
        else:  # the new version has no such row (no place any more): say so where it used to be
            out.append(row)

    if Change.TIME in found:
        text = out[0].text
        old_text = Reader(w, to.timezone, now).when(occurrences.occurrence(old, _next_start(old, now)))
        if not text.startswith(old_text + " ("):
            mark(w("label.when"), old_text)
        if old.duration != new.duration:
            mark(w("label.duration"), w.duration(old.duration))
    if Change.RECURRENCE in found:
        after = utc(_next_start(old, now)) + timedelta(seconds=1)  # as the new "next" row: after the one shown
        reader = Reader(w, to.timezone, now)
        upcoming = list(islice(occurrences.starting(old, after, after + timedelta(days=800)), NEXT_SHOWN + 1))
        old_text = " · ".join(reader.listed(o) for o in upcoming[:NEXT_SHOWN])
        mark(w("label.next"), (old_text + (" …" if len(upcoming) > NEXT_SHOWN else "")) or w("none"))
    if Change.PLACE in found:
        mark(w("label.where"), one_line(old.location) or w("none"), one_line(new.location) or None)
    if Change.VIDEO in found:
        mark(w("label.video"), old.video_url or w("none"), new.video_url, safe_link(new.video_url))
    if Change.TITLE in found:
        title = one_line(old.title)
        out.insert(0, _Row(w("label.title"), one_line(new.title), None, title, w("was", old=title)))
    if Change.ATTENDEES in found:
        names = [_name(a) for a in added(old, new)]
        gone = [_name(a) for a in added(new, old)]
        if names:
            out.append(_Row(w("label.added"), ", ".join(names)))
        if gone:
            out.append(_Row(w("label.removed"), ", ".join(gone)))
    return out


def _name(a: Attendee) -> str:
    return one_line(a.name) or a.email


SHIFTS_SHOWN = 3  # changes of an attendee's local time listed in one message
SHIFT_WINDOW = timedelta(days=366)  # looked for this far after the occurrence a message is about
NEXT_SHOWN = 4  # occurrences a series' invitation lists after the one it leads with
CHANGED_SHOWN = 3  # moved or cancelled occurrences listed besides those


def local_time_changes(m: Meeting, start: datetime, zone: ZoneInfo) -> list[datetime]:
    """The occurrences after ``start`` (within a year) at which the series' own time of day in ``zone``
    changes, as local datetimes in ``zone``: a series kept in Asia/Seoul time moves from 18:00 EST
    to 19:00 EDT for an attendee in Atlanta when daylight saving time starts there.  An occurrence
    moved alone is no change of the series: it is listed as moved (:func:`when_rows`)."""

    def shown(moment: datetime) -> tuple[int, int, str]:
        return moment.hour, moment.minute, zone_abbreviation(moment)

    before = shown(start.astimezone(zone))
    changes: list[datetime] = []
    after = utc(start) + timedelta(seconds=1)
    for one in occurrences.starting(m, after, after + SHIFT_WINDOW):
        if one.moved:
            continue
        local = one.start.astimezone(zone)
        if shown(local) != before:
            changes.append(local)
            before = shown(local)
            if len(changes) == SHIFTS_SHOWN:
                break
    return changes


def when_rows(
    w: Words, m: Meeting, to: Recipient, start: datetime, now: datetime, *, series: bool, holiday: str | None
) -> list[_Row]:
    """When (in ``to``'s zone, or the dates all day) and whether it is their public holiday, the same
    moment in every other zone, the duration; for a series, its next occurrences (a moved or cancelled
    one marked so), the changes of ``to``'s local time and the other occurrences moved or cancelled."""
    one = occurrences.occurrence(m, start)
    reader = Reader(w, to.timezone, now)
    rows = [_Row(w("label.when"), reader.labelled(one, to.city))]
    if holiday and not one.all_day:
        rows.append(_Row(w("label.holiday"), holiday))
    others = [] if one.all_day else reader.other_zones(one)
    if others:
        rows.append(_Row(w("label.zones"), " · ".join(others)))
    if not one.all_day or m.days > 1:
        rows.append(_Row(w("label.duration"), w.duration(timedelta(days=m.days) if one.all_day else m.duration)))
    if not (series and m.recurrence):
        return rows
    after = utc(start) + timedelta(seconds=1)
    horizon = timedelta(days=3660 if one.all_day else 800)
    ahead = occurrences.upcoming(m, after, NEXT_SHOWN + 1, horizon)
    going = [o for o in ahead if not o.cancelled]
    listed = ahead[: ahead.index(going[NEXT_SHOWN - 1]) + 1] if len(going) >= NEXT_SHOWN else ahead
    if listed:
        more = " …" if len(going) > NEXT_SHOWN else ""
        rows.append(_Row(w("label.next"), " · ".join(reader.listed(o) for o in listed) + more))
    if not one.all_day:
        shifts = local_time_changes(m, start, to.timezone)
        if shifts:
            text = " · ".join(w("shift", date=w.short_date(s, now), time=w.time(s)) for s in shifts)
            rows.append(_Row(w("label.shift"), text))
    later = after if not listed else utc(listed[-1].start) + timedelta(seconds=1)
    changed = [o for o in occurrences.between(m, later, after + SHIFT_WINDOW) if o.moved or o.cancelled]
    if changed:
        rows.append(_Row(mark_word(w, "label.changed"), " · ".join(reader.listed(o) for o in changed[:CHANGED_SHOWN])))
    return rows


def _when(w: Words, m: Meeting, start: datetime, to: Recipient, now: datetime) -> str:
    """The subject's ``tomorrow 10:00 KST``, in ``to``'s zone; an all-day meeting's date(s) without a time."""
    return Reader(w, to.timezone, now).subject(occurrences.occurrence(m, start))


def answer_links(w: Words, rsvp: str) -> tuple[_Row, ...]:
    """Accept / Maybe / Decline: each opens the confirmation page at ``rsvp`` with that answer chosen."""
    url = safe_link(rsvp)
    if url is None:
        return ()
    return tuple(_Row(answer_word(w, c), f"{url}?answer={c.lower()}", f"{url}?answer={c.lower()}") for c in CHOICES)


def _zone_key(moment: datetime) -> str:
    tz = moment.tzinfo
    return tz.key if isinstance(tz, ZoneInfo) else str(tz)


def _person(p: Person) -> str:
    return f"{one_line(p.name)} <{p.email}>" if p.name else p.email


def _day(now: datetime) -> str:
    """The UTC date: "N days from now" texts in a cached message are good for one day at most."""
    return f"{utc(now):%Y-%m-%d}"


def _next_start(m: Meeting, now: datetime) -> datetime:
    """The occurrence an invitation leads with: the next one, or the first if none is left."""
    return next(iter(m.occurrences(utc(now), utc(now) + timedelta(days=3660))), m.start)
