"""``/healthz`` and ``/metrics``.

:func:`health_report` is the document /healthz answers, made from what the service, the database
probe and the left-out meetings say, with no I/O; the handler asks the database (within
``HEALTH_TIMEOUT``) and answers 503 when the report is ``unhealthy``.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST
from starlette.requests import Request
from starlette.responses import Response

from ...errors import DatabaseError, MeetSchedError
from ...store.meetings import Unreadable
from ..state import Web, web_of

HEALTH_TIMEOUT = 5  # seconds /healthz waits for the database's answer
MAX_HEALTH_PROBLEMS = 20  # config problems /healthz lists (the rest are counted; the log and `validate` have all)


def health_report(
    health: Any, *, database_problem: str | None, running: bool, left_out: Sequence[Unreadable]
) -> dict[str, Any]:
    """The /healthz document: ``unhealthy`` when the database or the scheduler is down, ``degraded``
    while the last good state is served for a reason it names, else ``ok``.

    ``health`` is the service's :class:`~meet_sched.service.Health`; ``database_problem`` why the
    database cannot be used (None: it answered); ``left_out`` the stored meetings served without.
    """
    problems = [*(["database"] if database_problem is not None else []), *([] if running else ["scheduler"])]
    replies_error = getattr(health, "replies_error", None)
    config_problems = [*getattr(health, "settings_problems", ()), *getattr(health, "config_problems", ())]
    degraded = [  # still serving the last good state, and saying why not the newest
        *(["config"] if config_problems else []),
        *(["sync"] if health.last_sync_error and not config_problems and "database" not in problems else []),
        *(["meetings-left-out"] if left_out else []),
        *(["replies"] if replies_error else []),
    ]
    status = "unhealthy" if problems else "degraded" if degraded else "ok"
    body: dict[str, Any] = {
        "status": status,
        "problems": [*problems, *degraded],
        "config_problems": config_problems[:MAX_HEALTH_PROBLEMS],
        "config_problems_more": max(0, len(config_problems) - MAX_HEALTH_PROBLEMS),
        "meetings_left_out": [{"uid": f.uid, "reason": f.reason} for f in left_out],
        "database": "ok" if database_problem is None else database_problem,
        "scheduler": "running" if running else "stopped",
        "started_at": _iso(health.started_at),
        "last_sync_at": _iso(health.last_sync_at),
        "last_sync_error": health.last_sync_error,
        "settings_changed_restart_needed": health.settings_changed,
        "sync_errors": health.sync_errors,
        "last_dispatch_at": _iso(health.last_dispatch_at),
    }
    if getattr(health, "replies", None) is not None:
        body["replies"] = {
            "inbox": health.replies,
            "last_checked_at": _iso(health.last_replies_at),
            "error": health.replies_error,
        }
    return body


async def _database_problem(web: Web, health: Any) -> str | None:
    """Why the database cannot be used now; None when it answered within ``HEALTH_TIMEOUT``."""
    if not web.site.opened:  # never opened yet: the service retries; say why it could not
        reason: str = health.database_error or "not opened yet"
        return reason
    try:
        await asyncio.wait_for(asyncio.to_thread(web.site.database_ok), timeout=HEALTH_TIMEOUT)
        web.service.database_answered()
        return None
    except MeetSchedError as exc:
        if isinstance(exc, DatabaseError):
            web.service.database_failed(exc)
        return str(exc)
    except TimeoutError:
        return f"no answer within {HEALTH_TIMEOUT} s"


async def healthz(request: Request) -> Response:
    web = web_of(request)
    health = web.service.health
    database_problem = await _database_problem(web, health)
    body = health_report(
        health,
        database_problem=database_problem,
        running=web.service.running,
        left_out=web.site.troubles.current(),  # served without them: degraded, not down
    )
    return Response(
        json.dumps(body, ensure_ascii=False, indent=1) + "\n",
        status_code=503 if body["status"] == "unhealthy" else 200,
        media_type="application/json",
        headers={"cache-control": "no-store"},
    )


async def metrics(request: Request) -> Response:
    web = web_of(request)
    return Response(web.metrics.render(), media_type=CONTENT_TYPE_LATEST, headers={"cache-control": "no-store"})


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()
