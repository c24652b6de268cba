"""The agenda page: ``/`` (the list), ``/week``, ``/month``, ``/meetings/<uid>`` and its
``calendar.ics``; and ``/robots.txt``.

A page is in the language asked for (``?lang=``, then ``Accept-Language``, then the site's).
"""

from __future__ import annotations

import asyncio
from urllib.parse import unquote

from starlette.requests import Request
from starlette.responses import Response

from ...lang import choose
from ..page import View
from ..responses import ICS, not_found, page_response, plain, unavailable
from ..state import Web, web_of
from ..views import meeting_ics


def _language(web: Web, request: Request) -> str:
    return choose(
        request.query_params.get("lang"),
        request.headers.get("accept-language"),
        web.site.settings.spec.calendar.language,
    )


async def _show(request: Request, view: View) -> Response:
    web = web_of(request)
    if not web.site.opened:
        return unavailable()
    await web.fresh()
    found = await web.page.get(_language(web, request), view)
    return not_found() if found is None else page_response(request, found)


async def agenda(request: Request) -> Response:
    return await _show(request, ("list", ""))


async def week(request: Request) -> Response:
    return await _show(request, ("week", str(request.path_params.get("week", ""))))


async def month(request: Request) -> Response:
    return await _show(request, ("month", str(request.path_params.get("month", ""))))


async def meeting(request: Request) -> Response:
    # the UID comes from the raw path: percent-encoded, it may hold any character, '/' too
    raw = (request.scope.get("raw_path") or request.url.path.encode()).decode("latin-1")
    rest = raw.removeprefix("/meetings/")
    segment, _, tail = rest.partition("/")
    if not segment or tail not in ("", "calendar.ics"):
        return not_found()
    try:
        uid = unquote(segment, encoding="utf-8", errors="strict")
    except UnicodeDecodeError:
        return not_found()
    if tail:
        web = web_of(request)
        if not web.site.opened:
            return unavailable()
        body = await asyncio.to_thread(meeting_ics, web.site, uid)
        if body is None:
            return not_found()
        return Response(
            body,
            media_type=ICS,
            headers={"content-disposition": 'attachment; filename="meeting.ics"', "cache-control": "no-cache"},
        )
    return await _show(request, ("meeting", uid))


async def robots(request: Request) -> Response:
    return plain(200, "User-agent: *\nDisallow: /feeds/\nDisallow: /rsvp/\nDisallow: /metrics\nDisallow: /healthz")
