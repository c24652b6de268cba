"""The Starlette application: feeds, personal feeds, the agenda page, /healthz and /metrics.

Only wiring: the state the handlers read (:mod:`.state`, in ``app.state.web``), the routes to the
module-level handlers (:mod:`.endpoints`) and the exception handlers (:mod:`.middleware`, whose
:class:`~.middleware.Guard` the server puts around the whole app).  Every answer comes from a
:class:`~meet_sched.site.Site` use case, rendered once per change (:mod:`.feeds`, :mod:`.page`).
Anything a client can get wrong ends in a short plain-text 4xx; an unknown token, a private calendar
and a missing one give the very same 404.  While the database cannot be used, whatever needs it
answers a plain-text 503 with ``Retry-After`` (what is rendered already keeps being served) and
/healthz says why.
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from ..errors import DatabaseError
from .endpoints import feeds, health, pages, rsvp
from .middleware import database_error, http_error, server_error
from .state import Web


def create_app(web: Web) -> Starlette:
    routes = [
        Route("/", pages.agenda, methods=["GET"]),
        Route("/week", pages.week, methods=["GET"]),
        Route("/week/{week}", pages.week, methods=["GET"]),
        Route("/month", pages.month, methods=["GET"]),
        Route("/month/{month}", pages.month, methods=["GET"]),
        Route("/meetings/{rest:path}", pages.meeting, methods=["GET"]),
        Route("/calendars/{file}", feeds.calendar, methods=["GET"]),
        Route("/feeds/{file}", feeds.personal, methods=["GET"]),
        Route("/rsvp/{token}", rsvp.answer_page, methods=["GET", "POST"]),
        Route("/healthz", health.healthz, methods=["GET"]),
        Route("/metrics", health.metrics, methods=["GET"]),
        Route("/robots.txt", pages.robots, methods=["GET"]),
        Mount("/static", app=StaticFiles(packages=[("meet_sched.web", "static")]), name="static"),
    ]
    app = Starlette(
        routes=routes,
        exception_handlers={HTTPException: http_error, DatabaseError: database_error, Exception: server_error},
    )
    # No redirect from `/x/` to `/x`: Starlette builds its Location from the request's Host header
    # (a host of the client's choosing, plain http behind a TLS proxy, and a feed's token in it).
    # A trailing slash is an unknown path like any other.  (The Mount above has no router of its own.)
    app.router.redirect_slashes = False
    app.state.web = web
    return app
