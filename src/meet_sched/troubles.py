"""Stored meetings left out of calendars, feeds, the agenda and email because they cannot be read or
rendered: one bad row (written by an older version, or corrupt) never stops the others."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from datetime import datetime

from .store.meetings import Unreadable

log = logging.getLogger("meet_sched.troubles")


class Troubles:
    """Stored meetings left out because they cannot be read or rendered, by UID.

    Each version is logged once; an entry stays until a listing of every meeting finds that
    UID at another version (its config was fixed) or gone.
    """

    def __init__(self) -> None:
        self._found: dict[str, Unreadable] = {}
        self._lock = threading.Lock()

    def report(self, found: Unreadable) -> None:
        with self._lock:
            known = self._found.get(found.uid)
            self._found[found.uid] = found
        if known != found:
            log.error(
                "event=meeting-left-out uid=%s sequence=%d reason=%r",
                found.uid,
                found.sequence,
                found.reason,
            )

    def keep_only(self, versions: Iterable[tuple[str, int, datetime]]) -> None:
        """Forget the entries that are not among ``versions`` (those of every stored meeting)."""
        current = set(versions)
        with self._lock:
            self._found = {uid: f for uid, f in self._found.items() if f.cache_key in current}

    def current(self) -> list[Unreadable]:
        with self._lock:
            return sorted(self._found.values(), key=lambda f: f.uid)
