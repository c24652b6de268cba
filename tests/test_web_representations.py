"""RFC 9110 sections 12.5.3 and 13 as the feed server applies them, and "a feed is rendered once per change"."""

from __future__ import annotations

import asyncio
import gzip
import threading
from datetime import UTC, datetime, timedelta

import pytest

from meet_sched.site import Feed
from meet_sched.web.feeds import FeedCache, FeedKey, accepts_gzip, represent

T0 = datetime(2026, 11, 25, 9, 0, 0, 500000, tzinfo=UTC)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, False),
        ("", False),
        ("gzip", True),
        ("gzip, deflate, br", True),
        ("br;q=1.0, gzip;q=0.8, *;q=0.1", True),
        ("GZIP", True),
        ("x-gzip", True),
        ("gzip;q=0", False),
        ("gzip;q=0.000", False),
        ("*", True),
        ("*;q=0", False),
        ("gzip;q=0, *", False),  # an explicit refusal wins over the wildcard
        ("identity", False),
        ("br", False),
        ("gzip;q=bogus", False),
    ],
)
def test_accept_encoding(header: str | None, expected: bool) -> None:
    assert accepts_gzip(header) is expected


def test_representation() -> None:
    rep = represent(Feed(b"BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n", None), T0)
    assert gzip.decompress(rep.gzipped) == rep.body
    assert rep.gzipped == represent(Feed(rep.body, None), T0).gzipped  # no timestamp inside the gzip
    assert rep.etag != rep.etag_gzip
    assert rep.last_modified == T0.replace(microsecond=0)
    assert rep.last_modified_http == "Wed, 25 Nov 2026 09:00:00 GMT"
    assert rep.not_modified({"if-none-match": rep.etag})
    assert rep.not_modified({"if-none-match": rep.etag_gzip})
    assert rep.not_modified({"if-none-match": f"W/{rep.etag}"})
    assert rep.not_modified({"if-none-match": '"a", ' + rep.etag})
    assert rep.not_modified({"if-none-match": "*"})
    assert not rep.not_modified({"if-none-match": '"a"'})
    assert not rep.not_modified({})
    assert rep.not_modified({"if-modified-since": "Wed, 25 Nov 2026 09:00:00 GMT"})
    assert not rep.not_modified({"if-modified-since": "Wed, 25 Nov 2026 08:59:59 GMT"})
    assert not rep.not_modified({"if-modified-since": "not a date"})
    assert not rep.not_modified({"if-none-match": '"a"', "if-modified-since": "Wed, 25 Nov 2026 10:00:00 GMT"})


class Renderer:
    """A stand-in for the site: counts renders and can be held mid-render."""

    def __init__(self) -> None:
        self.body = b"one"
        self.calls = 0
        self.gate = threading.Event()
        self.gate.set()
        self.modified: datetime | None = T0

    def __call__(self, key: FeedKey) -> Feed | None:
        self.calls += 1
        self.gate.wait(5)
        return None if key[1] == "missing" else Feed(self.body, self.modified)


def test_rendered_once_per_change_even_under_concurrent_requests() -> None:
    renderer = Renderer()
    clock = [T0 + timedelta(hours=1)]
    cache = FeedCache(renderer, lambda: clock[0])

    async def scenario() -> None:
        renderer.gate.clear()
        pending = [asyncio.create_task(cache.get(("calendar", "a"))) for _ in range(50)]
        await asyncio.sleep(0.05)
        renderer.gate.set()
        reps = await asyncio.gather(*pending)
        assert renderer.calls == 1
        assert len({id(r) for r in reps}) == 1
        first = reps[0]
        assert first is not None and first.last_modified == T0.replace(microsecond=0)  # what the meetings say

        assert await cache.get(("calendar", "missing")) is None
        assert await cache.get(("calendar", "missing")) is None
        assert renderer.calls == 2

        cache.invalidate()  # a sync that changed something, but not these bytes
        same = await cache.get(("calendar", "a"))
        assert renderer.calls == 3
        assert same is first  # same ETag, same Last-Modified

        renderer.body = b"two"
        clock[0] = T0 + timedelta(hours=2)
        cache.invalidate()
        changed = await cache.get(("calendar", "a"))
        assert changed is not None and changed.etag != first.etag
        assert changed.last_modified == clock[0].replace(microsecond=0)
        for _ in range(100):
            assert await cache.get(("calendar", "a")) is changed
        assert renderer.calls == 4

    asyncio.run(scenario())


def test_last_modified_never_goes_back() -> None:
    renderer = Renderer()
    clock = [T0]
    cache = FeedCache(renderer, lambda: clock[0])

    async def scenario() -> None:
        renderer.modified = T0 + timedelta(days=1)  # meetings stamped later than the clock says
        first = await cache.get(("person", "x"))
        renderer.body = b"two"
        cache.invalidate()
        second = await cache.get(("person", "x"))
        assert first is not None and second is not None
        assert second.last_modified > first.last_modified

    asyncio.run(scenario())
