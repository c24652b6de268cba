"""``/calendars/<name>.ics`` (a public calendar) and ``/feeds/<token>.ics`` (one attendee's feed).

Each answer is counted by status.  A calendar that is not public, a missing one and an unknown token
give the very same 404; while the database is away, a 503.
"""

from __future__ import annotations

import asyncio

from starlette.requests import Request
from starlette.responses import Response

from ...model import CALENDAR_NAME
from ..responses import feed_response, not_found, unavailable
from ..state import web_of


def _ics_name(request: Request) -> str | None:
    file = str(request.path_params["file"])
    return file[:-4] if file.endswith(".ics") else None


async def calendar(request: Request) -> Response:
    web = web_of(request)
    name = _ics_name(request)
    if name is None or not CALENDAR_NAME.match(name) or name not in web.site.public_calendars:
        web.feed_answered(404)
        return not_found()
    if not web.site.opened:
        web.feed_answered(503)
        return unavailable()
    await web.fresh()
    rep = await web.feeds.get(("calendar", name))
    if rep is None:
        web.feed_answered(404)
        return not_found()
    response = feed_response(request, rep, max_age=web.feed_max_age, private=False, filename=f"{name}.ics")
    web.feed_answered(response.status_code)
    return response


async def personal(request: Request) -> Response:
    web = web_of(request)
    token = _ics_name(request)
    if not web.site.opened:
        web.feed_answered(503)
        return unavailable()
    email = None if token is None else await asyncio.to_thread(web.site.feed_owner, token)
    if email is None:
        web.feed_answered(404)
        return not_found()
    await web.fresh()
    rep = await web.feeds.get(("person", email))
    if rep is None:
        web.feed_answered(404)
        return not_found()
    response = feed_response(request, rep, max_age=web.feed_max_age, private=True, filename="meetings.ics")
    web.feed_answered(response.status_code)
    return response
