"""What the handlers read from ``request.app.state.web``: the site, the clock, the rendered feeds and
pages, the answer pages, the metrics and the running service, and how to keep them current."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from typing import Any, Protocol

from starlette.requests import Request

from ..errors import DatabaseError, MeetSchedError
from ..metrics import Metrics
from ..site import Feed, Site
from .feeds import FeedCache, FeedKey
from .page import PageRenderer
from .rsvp import RsvpPages

log = logging.getLogger("meet_sched.web")

Clock = Callable[[], datetime]


class HealthSource(Protocol):
    """What the running service tells /healthz (``meet_sched.service.Service`` is one)."""

    @property
    def running(self) -> bool: ...

    @property
    def health(self) -> Any: ...

    def database_failed(self, error: DatabaseError) -> None: ...

    def database_answered(self) -> None: ...


@dataclass
class Web:
    """Everything the handlers need (``create_app`` puts it in ``app.state.web``)."""

    site: Site
    clock: Clock
    metrics: Metrics
    service: HealthSource
    base_url: str
    feeds: FeedCache
    page: PageRenderer
    rsvp: RsvpPages | None = None  # one-click answer pages (with a configured [server] base_url)
    # asked before answering from memory: drops what is rendered if anyone wrote since (web/freshness.py)
    current: Callable[[], Awaitable[None]] | None = None

    @cached_property
    def feed_max_age(self) -> int:
        """Seconds in a feed's ``Cache-Control: max-age``: the calendar's refresh interval."""
        return int(self.site.settings.spec.calendar.refresh_interval.total_seconds())

    def feed_answered(self, code: int) -> None:
        """Count a feed request by the status it got."""
        self.metrics.feed_requests.labels(code=str(code)).inc()

    async def fresh(self) -> None:
        if self.current is not None:
            await self.current()

    def invalidate(self) -> None:
        self.feeds.invalidate()
        self.page.invalidate()

    async def warm(self) -> None:
        """Render the public feeds now, so that the first subscriber after a change does not wait."""
        if not self.site.opened:  # the database is not there yet: the first request after it is renders
            return
        try:
            for name in self.site.public_calendars:
                await self.feeds.get(("calendar", name))
        except DatabaseError as exc:
            self.service.database_failed(exc)
        except MeetSchedError as exc:  # the request that needs it will try again
            log.warning("event=warm-failed error=%s", exc)
        except Exception:  # a bug; the request that needs the feed gets a 500 and the same traceback
            log.exception("event=warm-failed")

    async def check_public_calendars(self) -> None:
        """Say so when a public calendar has no meetings: most likely a typo in [server] public_calendars."""
        if not self.site.opened:
            return
        try:
            known = set(await asyncio.to_thread(self.site.calendar_names))
        except DatabaseError as exc:
            self.service.database_failed(exc)
            return
        except MeetSchedError as exc:
            log.warning("event=check-failed error=%s", exc)
            return
        for name in self.site.public_calendars:
            if name not in known:
                log.warning(
                    "event=public-calendar-empty calendar=%s known=%s "
                    "hint=no meeting is in it yet; check [server] public_calendars in config/meet-sched.toml",
                    name,
                    ",".join(sorted(known)) or "-",
                )


def web_of(request: Request) -> Web:
    """The state a handler answers from."""
    web: Web = request.app.state.web
    return web


def render_feed(site: Site) -> Callable[[FeedKey], Feed | None]:
    """What a :class:`FeedCache` renders with: a public calendar's feed or a person's."""

    def render(key: FeedKey) -> Feed | None:
        kind, value = key
        return site.public_feed(value) if kind == "calendar" else site.personal_feed(value)

    return render
