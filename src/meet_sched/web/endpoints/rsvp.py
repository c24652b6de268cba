"""``/rsvp/<token>``: the one-click answer page (GET shows it, POST from its form answers), served by
:class:`~meet_sched.web.rsvp.RsvpPages` when a ``[server] base_url`` is configured, else the one 404."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from ..responses import not_found, plain, unavailable
from ..state import web_of


async def answer_page(request: Request) -> Response:
    web = web_of(request)
    if web.rsvp is None:
        return not_found()
    if not web.site.opened:
        return unavailable()
    if request.method == "POST":
        return await web.rsvp.act(request, not_found, plain)
    return await web.rsvp.show(request, not_found)
