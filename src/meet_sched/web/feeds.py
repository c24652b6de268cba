"""Rendered feeds as HTTP representations: bytes, gzip, strong ETag, Last-Modified; rendered once per change.

A feed is rendered (in a worker thread) the first time it is asked for after a change,
then every request is answered from memory: a 304 costs a dictionary lookup and a
string comparison.  :meth:`FeedCache.invalidate` is called after each sync that changed
something, this process's or another's (:mod:`.freshness`); the next request renders again,
and the ETag changes only if the bytes do.
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime

from ..site import Feed

FeedKey = tuple[str, str]  # ("calendar", name) or ("person", email)
Clock = Callable[[], datetime]


@dataclass(frozen=True)
class Representation:
    body: bytes
    gzipped: bytes
    etag: str  # of the identity body, quoted
    etag_gzip: str  # of the gzip body: a different representation needs a different strong ETag
    last_modified: datetime  # whole seconds, UTC
    last_modified_http: str

    def matches(self, if_none_match: str) -> bool:
        """RFC 9110 section 13.1.2: weak comparison against either of our representations."""
        if if_none_match.strip() == "*":
            return True
        for tag in if_none_match.split(","):
            tag = tag.strip()
            if tag.startswith("W/"):
                tag = tag[2:]
            if tag in (self.etag, self.etag_gzip):
                return True
        return False

    def not_modified(self, headers: Mapping[str, str]) -> bool:
        """RFC 9110 section 13.2.2: If-None-Match wins; If-Modified-Since only without it."""
        inm = headers.get("if-none-match")
        if inm is not None:
            return self.matches(inm)
        ims = headers.get("if-modified-since")
        if ims is None:
            return False
        try:
            since = parsedate_to_datetime(ims)
        except (TypeError, ValueError, IndexError):
            return False
        if since.tzinfo is None:
            since = since.replace(tzinfo=UTC)
        return self.last_modified <= since


def accepts_gzip(accept_encoding: str | None) -> bool:
    """RFC 9110 section 12.5.3: ``gzip`` (or ``*``) with a q-value above zero."""
    if not accept_encoding:
        return False
    star = None
    for item in accept_encoding.split(","):
        name, _, params = item.strip().partition(";")
        name = name.strip().lower()
        q = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if name in ("gzip", "x-gzip"):
            return q > 0
        if name == "*":
            star = q > 0
    return bool(star)


def represent(feed: Feed, last_modified: datetime) -> Representation:
    body = feed.body
    digest = hashlib.sha256(body).hexdigest()[:32]
    gzipped = gzip.compress(body, compresslevel=6, mtime=0)  # mtime=0: the same bytes give the same gzip
    lm = last_modified.astimezone(UTC).replace(microsecond=0)
    return Representation(
        body=body,
        gzipped=gzipped,
        etag=f'"{digest}"',
        etag_gzip=f'"{digest}-gzip"',
        last_modified=lm,
        last_modified_http=format_datetime(lm, usegmt=True),
    )


class FeedCache:
    """Representations of feeds, each rendered once per change, never twice at the same time."""

    def __init__(
        self,
        render: Callable[[FeedKey], Feed | None],
        clock: Clock,
        observe: Callable[[float], None] | None = None,
    ) -> None:
        self._render = render
        self._clock = clock
        self._observe = observe  # gets each render's duration in seconds
        self._current: dict[FeedKey, Representation | None] = {}
        self._previous: dict[FeedKey, Representation] = {}  # survives invalidation: keeps Last-Modified honest
        self._locks: dict[FeedKey, asyncio.Lock] = {}
        self.generation = 0
        self.renders = 0

    async def get(self, key: FeedKey) -> Representation | None:
        """The feed's representation (None: there is no such feed), rendered if it must be."""
        current = self._current
        if key in current:
            return current[key]
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            current = self._current
            if key in current:
                return current[key]
            generation = self.generation
            started = time.perf_counter()
            feed = await asyncio.to_thread(self._render, key)
            rep = None if feed is None else await asyncio.to_thread(self._represent, key, feed)
            self.renders += 1
            if self._observe is not None:
                self._observe(time.perf_counter() - started)
            if generation == self.generation:
                self._current[key] = rep
            return rep

    def _represent(self, key: FeedKey, feed: Feed) -> Representation:
        before = self._previous.get(key)
        if before is not None and before.body == feed.body:
            rep = before
        else:
            now = self._clock().astimezone(UTC).replace(microsecond=0)
            if before is None:
                moment = feed.last_modified or now  # what the meetings say, on the first render
            else:
                moment = max(feed.last_modified or now, now).replace(microsecond=0)  # the bytes changed now
                if moment <= before.last_modified:
                    moment = before.last_modified + timedelta(seconds=1)
            rep = represent(feed, moment)
        self._previous[key] = rep
        return rep

    def invalidate(self) -> None:
        self.generation += 1
        self._current = {}

    def forget(self, key: FeedKey) -> None:
        """Drop one feed entirely (a revoked token's owner, say)."""
        self._current.pop(key, None)
        self._previous.pop(key, None)
