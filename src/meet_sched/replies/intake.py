"""Taking answers in: one message (or .ics file) at a time, each in its own transaction.

:class:`Intake` is what the Maildir, IMAP and ``replies import`` share: size bound, parse, match,
record, and — once per batch — the outbox re-planned for the meetings whose answers changed
(a decliner's pending reminders are dropped; an attendee who no longer declines gets theirs again;
the organizers' summaries, ``[replies] summary``) and the listeners told (the feeds' cache).
Nothing here ever sends a message: an answer is never answered (no mail loops).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.orm import Session

from ..logfmt import quote as _q
from ..model import utc
from ..site import Site, plan_policy, summary_policy
from ..store.db import transient
from ..store.outbox import plan_outbox
from ..store.summaries import plan_summaries
from .apply import Meetings, ReplyOutcome, Result, apply, quarantined
from .parse import Incoming, Refused, read_ics, read_message

log = logging.getLogger("meet_sched.replies")

Listener = Callable[[frozenset[str]], None]


@dataclass
class Tally:
    """What a batch did, by outcome; ``changed``: meetings whose answers in force changed;
    ``proposed``: meetings someone proposed a new time for (COUNTER)."""

    counts: dict[ReplyOutcome, int] = field(default_factory=dict)
    changed: set[str] = field(default_factory=set)
    proposed: set[str] = field(default_factory=set)

    def add(self, result: Result) -> None:
        self.counts[result.outcome] = self.counts.get(result.outcome, 0) + 1
        self.changed |= result.changed
        self.proposed |= result.proposed

    def summary(self) -> str:
        return ", ".join(f"{n} {o.value}" for o, n in sorted(self.counts.items())) or "nothing"


class Intake:
    """Answers into the database of one site."""

    def __init__(self, site: Site, *, counted: Callable[[ReplyOutcome], None] | None = None) -> None:
        self.site = site
        self.max_bytes = site.settings.spec.replies.max_bytes
        self.counted = counted
        self._listeners: list[Listener] = []
        self._meetings = Meetings()

    def on_change(self, listener: Listener) -> None:
        """Call ``listener(uids)`` after a batch changed the answers in force of these meetings."""
        self._listeners.append(listener)

    def take(self, data: bytes, now: datetime, *, ics: bool = False, name: str = "") -> Result:
        """One message (``ics``: a bare .ics file): parsed, checked and recorded, all or nothing."""
        return self.take_many([(name, data, ics)], now)[0]

    def take_many(self, items: Sequence[tuple[str, bytes, bool]], now: datetime) -> list[Result]:
        """Several messages, (name, bytes, is-ics) each, recorded in one transaction: each is still all
        or nothing (every check is made before anything of it is written), and a crash before the
        commit leaves every one of them to be taken again."""
        parsed = [self._parse(data, ics) for _, data, ics in items]
        results: list[Result] = []
        if any(isinstance(p, Incoming) for p in parsed):
            with self.site.db.transaction(write=True) as session:
                for p in parsed:
                    results.append(self._apply(session, p, utc(now)) if isinstance(p, Incoming) else p)
        else:
            results = [p for p in parsed if isinstance(p, Result)]
        for (name, _, _), result in zip(items, results, strict=True):
            self._log(result, name)
            if self.counted is not None:
                self.counted(result.outcome)
        return results

    def refuse(self, reason: str, *, name: str = "") -> Result:
        """A message that could not even be read: quarantined (logged and counted as one)."""
        result = quarantined(reason)
        self._log(result, name)
        if self.counted is not None:
            self.counted(result.outcome)
        return result

    def _parse(self, data: bytes, ics: bool) -> Incoming | Result:
        if len(data) > self.max_bytes:
            return quarantined(f"larger than {self.max_bytes} bytes")
        try:
            return read_ics(data) if ics else read_message(data)
        except Refused as exc:
            return quarantined(exc.reason)
        except Exception as exc:  # whatever breaks on one message is that message's: the next are taken
            log.debug("event=reply-unreadable", exc_info=True)
            return quarantined(f"cannot be read ({_failure(exc)})")

    def _apply(self, session: Session, incoming: Incoming, now: datetime) -> Result:
        """One message in a savepoint of the batch's transaction: if it fails, only its own writes are
        undone and it is quarantined — unless the database itself failed, which stops the batch (nothing
        of it committed, every message left to be taken again)."""
        try:
            with session.begin_nested():
                return apply(session, incoming, now, self._meetings)
        except Exception as exc:
            if transient(exc):
                raise
            log.debug("event=reply-unappliable", exc_info=True)
            return quarantined(f"cannot be applied ({_failure(exc)})")

    def _log(self, result: Result, name: str) -> None:
        if result.outcome is ReplyOutcome.QUARANTINED:
            log.warning("event=reply-quarantined message=%s reason=%s", _q(name or "-"), _q(result.reason or ""))
            return
        for a in result.answers:
            log.info(
                "event=reply-%s uid=%s attendee=%s partstat=%s occurrence=%s",
                a.outcome.value,
                _q(a.uid),
                _q(a.attendee),
                a.partstat,
                a.occurrence.isoformat() if a.occurrence else "series",
            )

    def settle(self, tally: Tally, now: datetime) -> None:
        """After a batch: re-plan the outbox for the meetings whose answers changed (and the summaries,
        for them and for new proposals); tell the listeners."""
        if not tally.changed and not tally.proposed:
            return
        with self.site.db.transaction(lock="meet-sched sync") as session:
            if tally.changed:
                plan_outbox(
                    session,
                    utc(now),
                    plan_policy(self.site.settings),
                    troubled=self.site.troubles.report,
                    only=sorted(tally.changed),
                )
            plan_summaries(session, utc(now), summary_policy(self.site.settings), tally.changed | tally.proposed)
        if not tally.changed:
            return
        for listener in self._listeners:
            try:
                listener(frozenset(tally.changed))
            except Exception:  # one listener's bug must not keep the others from hearing of it
                log.exception("event=listener-failed")

    def take_all(self, items: Iterable[tuple[str, bytes, bool]], now: datetime) -> Tally:
        """(name, bytes, is-ics) of each, then :meth:`settle`: ``replies import``."""
        tally = Tally()
        for name, data, ics in items:
            tally.add(self.take(data, now, ics=ics, name=name))
        self.settle(tally, now)
        return tally


def _failure(exc: BaseException) -> str:
    """The error's kind and first line (a database error's own, without the statement and its values)."""
    orig = getattr(exc, "orig", None)
    source = orig if isinstance(orig, BaseException) else exc
    first = (str(source).strip().splitlines() or [""])[0][:120]
    return f"{type(source).__name__}: {first}" if first else type(source).__name__
