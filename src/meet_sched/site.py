"""Use cases of one site: the only place that wires config, store and rendering together.

The CLI, the scheduler and the web app call these; each use case is one database
transaction, and each takes ``now`` from its caller (only ``serve`` reads the clock).
"""

from __future__ import annotations

import functools
import os
import stat
import tempfile
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import select

from . import occurrences
from .config import Config, Settings, load_config, load_settings
from .errors import MeetSchedError, NotFoundError, UnreadableMeetingError
from .ics import IcsRenderer, prodid
from .model import Meeting, Person, StoredMeeting, utc
from .places.rules import participants
from .store import attendance as attendance_store
from .store import feeds as feed_store
from .store.db import CHANGES_CHANNEL, Database, notify_at_commit
from .store.meetings import (
    ROW_ERRORS,
    ChangeKind,
    SyncChange,
    Unreadable,
    all_meetings,
    describe,
    find_uid,
    get_meeting,
    read_meetings,
    sync_meetings,
)
from .store.meetings import calendars as calendar_names
from .store.notices import plan_notices
from .store.outbox import OutboxEntry, OutboxStatus, PlanPolicy, PlanReport, plan_outbox
from .store.outbox import counts as outbox_counts
from .store.outbox import entries as outbox_entries
from .store.summaries import SummaryPolicy
from .troubles import Troubles
from .vevent import Answers

Progress = Callable[[Iterable[Path]], Iterable[Path]]


@dataclass(frozen=True)
class SyncReport:
    changes: list[SyncChange]
    meetings: int
    files: int
    outbox: PlanReport = field(default_factory=PlanReport)  # emails planned or dropped in the same transaction

    def count(self, kind: ChangeKind) -> int:
        return sum(1 for c in self.changes if c.kind is kind)

    def summary(self) -> str:
        if not self.changes:
            return f"{self.meetings} meetings from {self.files} files: nothing changed"
        counts = ", ".join(f"{self.count(k)} {k.value}" for k in ChangeKind if self.count(k))
        return f"{self.meetings} meetings from {self.files} files: {counts}"


@dataclass(frozen=True)
class ExportReport:
    written: list[Path] = field(default_factory=list)
    unchanged: list[Path] = field(default_factory=list)


@dataclass(frozen=True)
class Occurrence:
    """One occurrence (:class:`meet_sched.occurrences.Occurrence`) of a stored meeting."""

    stored: StoredMeeting
    one: occurrences.Occurrence

    @property
    def start(self) -> datetime:
        """Where it is now (aware, in the meeting's zone); a cancelled one: where the series has it."""
        return self.one.start

    @property
    def end(self) -> datetime:
        return self.one.end

    @property
    def state(self) -> occurrences.State:
        return self.one.state

    @property
    def cancelled(self) -> bool:
        return self.one.cancelled

    @property
    def skipped(self) -> str | None:
        """Left out by skip_holidays: why (``Chuseok (KR)``)."""
        return self.one.reason if self.one.skipped else None

    @property
    def meeting(self) -> Meeting:
        """This occurrence's values: a moved or changed one's own title, length, place and attendees."""
        return self.one.meeting

    @property
    def moved_from(self) -> datetime | None:
        """The start the series gives this occurrence, when it was moved from there."""
        return self.one.moved_from


@dataclass(frozen=True)
class PlanningData:
    busy: list[tuple[str, datetime, datetime, str]]  # (email, start, end, title) of existing occurrences
    cities: dict[str, ZoneInfo]  # city names the meetings use, and their zones


@dataclass(frozen=True)
class Feed:
    """A rendered calendar and the newest change among the meetings it holds."""

    body: bytes
    last_modified: datetime | None  # None: it holds no meetings


@dataclass(frozen=True)
class FeedLink:
    """One attendee's personal feed; ``token`` only when it was issued just now (it is stored hashed)."""

    person: Person
    issued_at: datetime | None
    token: str | None = None
    url: str | None = None

    @property
    def webcal(self) -> str | None:
        return webcal_url(self.url) if self.url else None


UNKNOWN_BASE = "<base_url>"  # what URLs start with when [server] listen is on port 0 and base_url is not set


def webcal_url(url: str) -> str:
    """The same feed for "subscribe" buttons: ``webcal://`` opens the calendar app."""
    return "webcal://" + url.split("://", 1)[1] if "://" in url else url


class Site:
    """A folder with ``config/``, ``calendars/`` and ``var/``, and its database."""

    def __init__(self, root: Path, settings: Settings | None = None) -> None:
        self.root = root.resolve()
        self.settings = settings or load_settings(self.root)
        self._db: Database | None = None
        self._db_lock = threading.Lock()
        self._export_lock = threading.Lock()  # one export at a time: a later one never loses to an earlier read
        self.troubles = Troubles()
        self.renderer = IcsRenderer(self.settings, failed=self.report_failure)

    def report_failure(self, stored: StoredMeeting, exc: Exception) -> None:
        """``stored`` could not be rendered: it is left out (and reported) until its next version."""
        self.troubles.report(Unreadable(stored.uid, stored.sequence, stored.last_modified, describe(exc)))

    def _read(self, found: list[StoredMeeting], unreadable: list[Unreadable], everything: bool) -> None:
        for bad in unreadable:
            self.troubles.report(bad)
        if everything:
            self.troubles.keep_only([*(s.cache_key for s in found), *(u.cache_key for u in unreadable)])

    def open(self) -> bool:
        """Connect and bring the schema up to date (raises DatabaseError); True if it migrated.

        Commands and ``serve`` call this once at start, before anything else touches the
        database.  Calling it again (after the database came back) checks the schema again."""
        with self._db_lock:
            db = self._db if self._db is not None else Database(self.settings.database_url)
            try:
                migrated = db.ensure_schema()
            except BaseException:
                if db is not self._db:
                    db.dispose()
                raise
            self._db = db
            return migrated

    @property
    def opened(self) -> bool:
        return self._db is not None

    @property
    def db(self) -> Database:
        """The database, opened (and migrated) by the first caller if :meth:`open` was not called."""
        db = self._db
        if db is None:
            self.open()
            db = self._db
            assert db is not None
        return db

    def close(self) -> None:
        with self._db_lock:
            if self._db is not None:
                self._db.dispose()
                self._db = None

    # -- config → database --------------------------------------------------------

    def load(self, progress: Progress | None = None) -> Config:
        """The validated config; files unchanged since they last validated come from var/'s cache."""
        if self.root.is_dir():  # var/ holds the database, the cache and the Maildir: private when we make it
            self.settings.var_dir.mkdir(mode=0o700, exist_ok=True)
        return load_config(self.root, progress=progress, cache=True, settings=self.settings)

    def settings_changed(self) -> bool:
        """Whether config/meet-sched.toml now says something else than when this site was opened."""
        return load_settings(self.root) != self.settings

    def sync(
        self, now: datetime, config: Config | None = None, progress: Progress | None = None, *, dry_run: bool = False
    ) -> SyncReport:
        """Apply the config to the database in one transaction (raises ConfigError, changing nothing).

        ``dry_run``: the same transaction, rolled back; what it would have changed is returned and
        nothing is written (not even var/'s config cache).
        """
        if config is None:
            dry = functools.partial(load_config, self.root, progress=progress, settings=self.settings)
            config = dry() if dry_run else self.load(progress)
        with self.db.transaction(lock="meet-sched sync", rollback=dry_run) as session:
            changes = sync_meetings(session, config.meetings, utc(now))
            if changes:  # every process serving feeds of this database renders them again (PostgreSQL)
                notify_at_commit(session, CHANGES_CHANNEL)
            for change in changes:  # a new time asks everyone anew (as Google Calendar does)
                if change.before is not None and time_changed(change.before.meeting, change.after.meeting):
                    invited = [a.email for a in change.after.meeting.attendees]
                    attendance_store.reset(session, change.after.uid, change.after.sequence, utc(now), invited)
                elif change.before is not None:  # one occurrence moved asks its attendees anew
                    after = change.after.meeting
                    for moved in moved_occurrences(change.before.meeting, after):
                        invited = [a.email for a in after.instance(after.override_of(moved)).attendees]
                        sequence = change.after.instance_version(moved).sequence
                        attendance_store.reset_occurrence(session, after.uid, utc(moved), sequence, utc(now), invited)
            current = {m.uid: m for m in config.meetings}
            outbox = plan_outbox(session, utc(now), plan_policy(config.settings), current, self.troubles.report)
        return SyncReport(changes, len(config.meetings), config.files, outbox)

    def notify_config(self, now: datetime, problems: Sequence[str] | None) -> int:
        """Tell ``[notify] errors_to`` (else the organizer) that the config was refused (``problems``),
        or is accepted again (None), once per episode; returns how many notices were planned."""
        spec = self.settings.spec
        recipients = spec.notify.errors_to or [self.settings.organizer.email]
        with self.db.transaction(lock="meet-sched sync") as session:
            return plan_notices(session, utc(now), recipients, spec.calendar.language, problems)

    def plan(self, now: datetime) -> PlanReport:
        """Roll the reminder horizon forward (and re-check invitations) without reading config/."""
        with self.db.transaction(lock="meet-sched sync") as session:
            return plan_outbox(session, utc(now), plan_policy(self.settings), troubled=self.troubles.report)

    def outbox(self, status: OutboxStatus | None = None, limit: int = 50) -> tuple[list[OutboxEntry], dict[str, int]]:
        """Outbox rows for people (unfinished soonest first, then the latest finished) and counts by status."""
        with self.db.transaction() as session:
            return outbox_entries(session, status, limit), outbox_counts(session)

    # -- reading ----------------------------------------------------------------

    def meetings(self, calendar: str | None = None) -> list[StoredMeeting]:
        """Every stored meeting (of one calendar); one that cannot be read is reported and left out."""
        unreadable: list[Unreadable] = []
        with self.db.transaction() as session:
            found = all_meetings(session, calendar, unreadable)
        self._read(found, unreadable, everything=calendar is None)
        return found

    def meeting(self, key: str) -> StoredMeeting:
        with self.db.transaction() as session:
            uids = find_uid(session, key)
            if len(uids) != 1:
                hint = (
                    "`meet-sched agenda` lists meetings; give the full UID" if uids else "run `meet-sched sync` first?"
                )
                raise NotFoundError("meeting", key, hint)
            try:
                found = get_meeting(session, uids[0])
            except ROW_ERRORS as exc:
                raise UnreadableMeetingError(uids[0], describe(exc)) from None
            assert found is not None
            return found

    def calendars(self) -> dict[str, list[StoredMeeting]]:
        grouped: dict[str, list[StoredMeeting]] = {}
        for stored in self.meetings():
            grouped.setdefault(stored.meeting.calendar, []).append(stored)
        return grouped

    def calendar_title(self, name: str) -> str:
        """``[calendars.<name>] name``, else the site's name with the calendar's (``Meetings · sister-cities``)."""
        entry = self.settings.spec.calendars.get(name)
        if entry is not None and entry.name:
            return entry.name
        base = self.settings.spec.calendar.name
        return base if name == "default" else f"{base} · {name}"

    def occurrences(self, after: datetime, before: datetime, *, skipped: bool = False) -> list[Occurrence]:
        """Occurrences overlapping [after, before), soonest first; a meeting that cannot be expanded
        is reported and left out.  ``skipped``: also those ``skip_holidays`` leaves out, marked so."""
        out = []
        for s in self.meetings():
            if s.removed:
                continue
            try:
                found = occurrences.between(s.meeting, after, before, skipped=skipped)
            except Exception as exc:  # one meeting's expansion must not take the agenda down
                self.report_failure(s, exc)
                continue
            out += [Occurrence(s, one) for one in found]
        return sorted(out, key=lambda o: (utc(o.start), o.meeting.uid))

    def planning(
        self, emails: Iterable[str], after: datetime, before: datetime, exclude: str | None = None
    ) -> PlanningData:
        """For ``plan`` (read-only): the occurrences that keep these people busy, and the cities the meetings name."""
        wanted = {e.lower() for e in emails}
        busy: list[tuple[str, datetime, datetime, str]] = []
        cities: dict[str, ZoneInfo] = {}
        for stored in self.meetings():
            m = stored.meeting
            for a in m.attendees:
                if a.city:
                    cities.setdefault(a.city, a.timezone)
            if m.city:
                cities.setdefault(m.city, m.timezone)
            if stored.removed or m.cancelled or m.uid == exclude:
                continue
            who = [a.email.lower() for a in participants(m.attendees) if a.email.lower() in wanted]
            if not who:
                continue
            for start in m.occurrences(after - m.duration, before):
                one = m.at(start)  # a moved or changed occurrence keeps people busy for its own length
                busy.extend((w, start, start + one.duration, one.title) for w in who)
        return PlanningData(busy, cities)

    # -- database → files ---------------------------------------------------------

    def export(self, calendars: dict[str, list[StoredMeeting]] | None = None) -> ExportReport:
        """Write ``calendars/<name>.ics`` for every calendar; only files whose bytes change are rewritten."""
        with self._export_lock:
            return self._export(calendars)

    def _export(self, calendars: dict[str, list[StoredMeeting]] | None) -> ExportReport:
        calendars = self.calendars() if calendars is None else calendars
        target = self.settings.calendars_dir
        target.mkdir(parents=True, exist_ok=True)
        report = ExportReport()
        mode = self.settings.spec.calendar.file_mode
        answers = self.answers()
        for name, stored in sorted(calendars.items()):
            body = self.renderer.feed(self.calendar_title(name), stored, answers=answers)
            path = target / f"{name}.ics"
            (report.written if write_atomic(path, body, mode) else report.unchanged).append(path)
        # A calendar whose last meeting moved elsewhere: empty our old file rather than leave
        # subscribers with events that no longer belong to it.  Files we did not write stay, and
        # so do links and anything that is not a regular file (a link to /dev/zero, a FIFO…).
        ours = prodid(self.settings).encode()
        for path in sorted(target.glob("*.ics")):
            if path.stem in calendars or not written_by(path, ours):
                continue
            body = self.renderer.feed(self.calendar_title(path.stem), [])
            (report.written if write_atomic(path, body, mode) else report.unchanged).append(path)
        self.renderer.forget(s for group in calendars.values() for s in group)
        return report

    def invitation(self, key: str) -> bytes:
        stored = self.meeting(key)
        return self.renderer.invitation(stored, self.answers([stored.uid]).get(stored.uid))

    def answers(self, uids: Iterable[str] | None = None) -> dict[str, Answers]:
        """The attendees' answers in force, by UID, as calendars show them (PARTSTAT)."""
        with self.db.transaction() as session:
            found = attendance_store.current_all(session, None if uids is None else list(uids))
        return {uid: calendar_answers(state) for uid, state in found.items()}

    # -- feeds over HTTP ----------------------------------------------------------

    @property
    def base_url(self) -> str:
        """``[server] base_url``, else ``http://<listen>``; UNKNOWN_BASE when listen picks a free port (``:0``),
        since no URL built from that could work."""
        server = self.settings.spec.server
        if server.base_url:
            return server.base_url.rstrip("/")
        if server.listen.rpartition(":")[2].lstrip("0") == "":
            return UNKNOWN_BASE
        return f"http://{server.listen}"

    @property
    def base_url_known(self) -> bool:
        return self.base_url != UNKNOWN_BASE

    @property
    def public_calendars(self) -> list[str]:
        return list(self.settings.spec.server.public_calendars)

    def calendar_url(self, name: str, base_url: str | None = None) -> str:
        return f"{base_url or self.base_url}/calendars/{name}.ics"

    def personal_feed_url(self, token: str, base_url: str | None = None) -> str:
        return f"{base_url or self.base_url}/feeds/{token}.ics"

    @functools.cached_property
    def _memo(self) -> MeetingMemo:
        return MeetingMemo()

    def current_meetings(self, calendar: str | None = None) -> list[StoredMeeting]:
        """Like :meth:`meetings`, but only rows whose SEQUENCE or LAST-MODIFIED changed are read again.

        The database stays the source of truth (every call asks it which versions are current);
        what is remembered is the parsed meeting of each version, which is most of the cost.
        """
        memo = self._memo
        unreadable: list[Unreadable] = []
        with self.db.transaction() as session:
            versions = feed_store.meeting_versions(session, calendar)
            with memo.lock:
                stale = [uid for uid, seq, mod in versions if memo.key(uid) != (uid, seq, mod)]
            if len(stale) > MeetingMemo.REREAD_ALL:
                fresh = all_meetings(session, calendar, unreadable)
            else:
                fresh = read_meetings(session, stale, unreadable)
        for bad in unreadable:
            self.troubles.report(bad)
        if calendar is None:
            self.troubles.keep_only(versions)
        new = {s.uid: s for s in fresh}
        left_out = {u.uid for u in unreadable}
        with memo.lock:
            memo.by_uid.update(new)
            return [new.get(uid) or memo.by_uid[uid] for uid, _, _ in versions if uid not in left_out]

    def calendar_names(self) -> list[str]:
        """Every calendar that has (or had) a meeting."""
        with self.db.transaction() as session:
            return calendar_names(session)

    def public_feed(self, name: str) -> Feed | None:
        """A calendar listed in ``[server] public_calendars`` (empty until it has meetings), else None."""
        if name not in self.settings.spec.server.public_calendars:
            return None
        stored = self.current_meetings(name)
        public_attendees = self.settings.spec.server.public_attendees
        body = self.renderer.feed(
            self.calendar_title(name),
            stored,
            attendees=public_attendees,
            answers=self.answers([s.uid for s in stored]) if public_attendees else None,
        )
        return Feed(body, _newest(stored))

    def personal_feed(self, email: str) -> Feed:
        """The meetings ``email`` is invited to, in every calendar, with that attendee's own reminders."""
        key = email.lower()
        everything = self.current_meetings()
        stored = [s for s in everything if any(a.email.lower() == key for a in s.meeting.everyone())]
        names = [a.name for s in stored if not s.removed for a in s.meeting.everyone() if a.email.lower() == key]
        person = Person(next((n for n in names if n), ""), email)
        title = f"{self.settings.spec.calendar.name} · {person.name or person.email}"
        answers = self.answers([s.uid for s in stored])
        return Feed(self.renderer.personal_feed(title, email, stored, answers), _newest(stored))

    def feed_state(self) -> feed_store.FeedState:
        """A cheap fingerprint of what the feeds show: it changes whenever any process changed a meeting or
        recorded an answer."""
        with self.db.transaction() as session:
            return feed_store.feed_state(session)

    def feed_owner(self, token: str) -> str | None:
        """Whose personal feed ``token`` opens, or None (malformed, unknown or revoked)."""
        if not feed_store.plausible(token):
            return None
        with self.db.transaction() as session:
            return feed_store.email_for(session, token)

    def attendees(self) -> list[Person]:
        """Everyone invited to a current meeting (or to one of its occurrences), once each (by email,
        case-insensitively)."""
        found: dict[str, Person] = {}
        for stored in self.meetings():
            if stored.removed:
                continue
            for a in stored.meeting.everyone():
                known = found.get(a.email.lower())
                if known is None or (not known.name and a.name):
                    found[a.email.lower()] = Person(a.name, a.email)
        return sorted(found.values(), key=lambda p: p.email.lower())

    def feed_links(self) -> list[FeedLink]:
        """Every attendee's personal feed: when its token was issued (None: none yet). Reads only:
        `feeds rotate` and `feeds send` issue tokens."""
        people = self.attendees()
        with self.db.transaction() as session:
            issued = feed_store.issued(session)
        return [FeedLink(person, issued.get(person.email.lower())) for person in people]

    def attendee_language(self, email: str) -> str:
        """The language an attendee gave in their most recent current meeting (default en)."""
        key = email.lower()
        for stored in sorted(self.meetings(), key=lambda s: s.last_modified, reverse=True):
            for a in stored.meeting.attendees:
                if a.email.lower() == key and not stored.removed:
                    return a.language
        return "en"

    def new_feed_link(self, email: str) -> FeedLink:
        """A fresh personal feed URL for ``email``, not stored yet (:meth:`keep_feed_link` stores it)."""
        person = self._attendee(email)
        token = feed_store.new_token()
        return FeedLink(person, None, token, self.personal_feed_url(token))

    def feed_link_for_invitation(self, email: str, now: datetime, retry_since: datetime | None) -> FeedLink | None:
        """A new personal feed for an attendee who has none (or whose one was issued at or after
        ``retry_since``: by an earlier attempt at the same invitation), stored at once; else None."""
        key = email.lower()
        with self.db.transaction(write=True) as session:
            issued = feed_store.issued(session).get(key)
            if issued is not None and (retry_since is None or issued < retry_since):
                return None
            token = feed_store.issue(session, key, utc(now))
        return FeedLink(Person("", email), utc(now), token, self.personal_feed_url(token))

    def keep_feed_link(self, link: FeedLink, now: datetime) -> None:
        """Make ``link`` the attendee's personal feed; their previous URL stops working."""
        assert link.token is not None
        with self.db.transaction(write=True) as session:
            feed_store.issue(session, link.person.email, utc(now), link.token)

    def rotate_feed_token(self, email: str, now: datetime) -> FeedLink:
        """A new token for ``email``; the old URL stops working at once."""
        person = self._attendee(email)
        with self.db.transaction(write=True) as session:
            token = feed_store.issue(session, person.email, utc(now))
        return FeedLink(person, utc(now), token, self.personal_feed_url(token))

    def revoke_feed_token(self, email: str) -> None:
        with self.db.transaction(write=True) as session:
            if not feed_store.revoke(session, email):
                raise NotFoundError("personal feed for", email, "`meet-sched feeds list` shows who has one")

    def _attendee(self, email: str) -> Person:
        person = next((p for p in self.attendees() if p.email.lower() == email.strip().lower()), None)
        if person is None:
            raise NotFoundError(
                "attendee", email, "personal feeds are for attendees of current meetings; see `meet-sched feeds list`"
            )
        return person

    def database_ok(self) -> None:
        """Raise DatabaseError unless the database answers a trivial query."""
        with self.db.transaction() as session:
            session.execute(select(1))


class MeetingMemo:
    """Parsed meetings by UID, each for the version (SEQUENCE, LAST-MODIFIED) it was read at."""

    REREAD_ALL = 50  # more changed rows than this: one query for all rather than one per row

    def __init__(self) -> None:
        self.by_uid: dict[str, StoredMeeting] = {}
        self.lock = threading.Lock()  # feeds are rendered in worker threads

    def key(self, uid: str) -> tuple[str, int, datetime] | None:
        found = self.by_uid.get(uid)
        return None if found is None else found.cache_key


def _newest(stored: Iterable[StoredMeeting]) -> datetime | None:
    return max((s.last_modified for s in stored), default=None)


def time_changed(before: Meeting, after: Meeting) -> bool:
    """Whether the meeting happens at another time (or date, or set of dates) than before."""

    def when(m: Meeting) -> tuple[object, ...]:
        return (utc(m.start), m.duration, m.timezone.key, m.recurrence, tuple(m.exdates), tuple(m.rdates))

    return when(before) != when(after)


def moved_occurrences(before: Meeting, after: Meeting) -> list[datetime]:
    """The occurrences (as the series starts them) an override now puts at another time than before,
    the series' own time being the same (a change of the series' time is :func:`time_changed`)."""

    def times(m: Meeting, occurrence: datetime) -> tuple[datetime, datetime] | None:
        o = m.override_of(occurrence)
        if o is not None and o.cancelled:
            return None
        return (utc(occurrence), utc(occurrence + m.duration)) if o is None else (utc(o.start), utc(o.end))

    occurrences = sorted({o.occurrence for o in (*before.overrides, *after.overrides)})
    return [o for o in occurrences if times(after, o) is not None and times(before, o) != times(after, o)]


def calendar_answers(state: attendance_store.Attendance) -> Answers:
    """The store's answers in force → what a calendar shows: PARTSTAT for the series, and for each
    occurrence someone answered differently."""
    people = sorted({*state.series, *(who for who, _ in state.occurrences)})
    series = tuple((who, state.partstat(who).value) for who in people if state.partstat(who).value != "NEEDS-ACTION")
    occurrences = []
    for when in state.answered_occurrences():
        pairs = tuple((who, state.partstat(who, when).value) for who in people)
        if any(p != state.partstat(who).value for who, p in pairs):
            occurrences.append((when, tuple((who, p) for who, p in pairs if p != "NEEDS-ACTION")))
    return Answers(series, tuple(occurrences))


def plan_policy(settings: Settings) -> PlanPolicy:
    spec = settings.spec
    return PlanPolicy(
        horizon=spec.reminders.horizon,
        invitations=spec.invitations.enabled,
        all_day_at=spec.reminders.all_day_at,
        update_quiet=spec.delivery.update_quiet,
    )


def summary_policy(settings: Settings) -> SummaryPolicy:
    """``[replies] summary``: what the organizers' summaries of the answers follow."""
    spec = settings.spec
    return SummaryPolicy(
        spec.replies.summary,
        spec.replies.summary_at,
        spec.delivery.update_quiet,
        spec.calendar.language,
        spec.calendar.timezone,
    )


OURS_WITHIN = 512  # bytes at the start of a calendars/*.ics that must name our PRODID for export to touch it


def written_by(path: Path, marker: bytes) -> bool:
    """Whether ``path`` is a regular file (not a link) whose first OURS_WITHIN bytes hold ``marker``.

    Only those bytes are read; a link is not followed (O_NOFOLLOW) and a FIFO is not waited on.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:  # a link (ELOOP), gone, unreadable
        return False
    try:
        return stat.S_ISREG(os.fstat(fd).st_mode) and marker in os.read(fd, OURS_WITHIN)
    except OSError:
        return False
    finally:
        os.close(fd)


_UMASK = threading.Lock()


def umask_mode() -> int:
    """0666 less the process's umask: the mode ``open()`` gives a new file."""
    try:
        for line in Path("/proc/self/status").read_text(encoding="ascii").splitlines():
            if line.startswith("Umask:"):
                return 0o666 & ~int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    with _UMASK:  # os.umask can only be read by setting it
        mask = os.umask(0o077)
        os.umask(mask)
    return 0o666 & ~mask


def write_atomic(path: Path, body: bytes, mode: int | None = None) -> bool:
    """Replace ``path`` with ``body`` atomically (temp file + rename); False if it already held it.

    A full or read-only disk raises ``path: reason`` and leaves the old file as it was, with no
    temporary file behind.
    """
    try:
        if path.stat().st_size == len(body) and path.read_bytes() == body:
            return False
    except FileNotFoundError:
        pass
    except OSError as exc:
        raise MeetSchedError(f"{path}: {exc.strerror or exc}") from None
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise MeetSchedError(f"{path}: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(body)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, umask_mode() if mode is None else mode)  # mkstemp makes 0600, whatever the umask says
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise MeetSchedError(f"{path}: {exc.strerror or exc}") from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return True
