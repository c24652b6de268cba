"""The one-click answer page: ``GET /rsvp/<token>`` shows it, ``POST /rsvp/<token>`` (its form) answers.

A GET changes nothing (mail scanners and link previews fetch every link in a message).  An
unknown, malformed or revoked token, an attendee no longer invited and a meeting no longer current
(removed, cancelled) all get the app's one 404, after the same hash-and-look-up.  The form posts
back to the very URL it came from; a POST from another origin is refused, and one without the form's
fields, or with an ``occurrence`` that is no date-time with an offset in the supported years, is a
400.  Tokens are never logged.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from urllib.parse import parse_qs, urlsplit

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from .. import occurrences
from ..mail.answer_words import answer_word
from ..mail.i18n import Words, words
from ..mail.reading import Reader
from ..model import utc
from ..rsvp import CHOICES, Opened, Scope, answer, open_link
from ..rsvp.rules import readable
from ..site import Site
from ..store.attendance import PartStat
from ..store.feeds import token_hash
from .page import _asset_version
from .protocol import MAX_FORM

log = logging.getLogger("meet_sched.web")

FORM_TYPE = "application/x-www-form-urlencoded"
PAGE_CSP = "default-src 'none'; style-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
Clock = Callable[[], datetime]
Answered = Callable[[frozenset[str]], Awaitable[None]]
Counted = Callable[[str], None]  # an answer taken in, by outcome (applied, stale)


class RsvpPages:
    def __init__(
        self, site: Site, clock: Clock, base_url: str, answered: Answered, counted: Counted | None = None
    ) -> None:
        self.site = site
        self.clock = clock
        self.origin = _origin(base_url)
        self.answered = answered
        self.counted = counted
        self.env = Environment(
            loader=PackageLoader("meet_sched.web", "templates"),
            autoescape=select_autoescape(default=True, default_for_string=True),
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.css = f"/static/rsvp.css?v={_asset_version('rsvp.css')}"

    def render(self, token: str, opened: Opened, chosen: str | None, done: PartStat | None) -> str:
        to = opened.attendee
        w = words(to.language)
        m = opened.stored.meeting
        one = occurrences.of(m, opened.occurrence) if opened.occurrence else occurrences.occurrence(m, opened.start)
        reader = Reader(w, to.timezone, self.clock())
        short = reader.short(one)
        thanks = ""
        if done is not None:
            said = _said(w, done)
            if opened.scope is Scope.SERIES:
                thanks = answer_word(w, "page.done_series", answer=said)
            elif opened.scope is Scope.OCCURRENCE:
                thanks = answer_word(w, "page.done_occurrence", answer=said, when=short)
            else:
                thanks = answer_word(w, "page.done", answer=said)
        return self.env.get_template("rsvp.html").render(
            lang=w.language,
            css=self.css,
            heading=answer_word(w, "page.title", title=m.title),
            when=reader.labelled(one, to.city),  # as the When row of their mails
            current=answer_word(w, "page.current", answer=_said(w, opened.current)),
            done=thanks,
            change=answer_word(w, "page.change"),
            action=f"/rsvp/{token}",
            occurrence=opened.occurrence.isoformat() if opened.series and opened.occurrence else "",
            scope_label=answer_word(w, "page.scope"),
            scope_occurrence=answer_word(w, "scope.occurrence", when=short),
            scope_series=answer_word(w, "scope.series") if opened.whole_series else "",
            scope=(opened.scope or Scope.SERIES).value,
            confirm=answer_word(w, "page.confirm"),
            choices=[(c.value.lower(), answer_word(w, c.value)) for c in CHOICES],
            chosen=chosen or "",
        )

    async def show(self, request: Request, not_found: Callable[[], Response]) -> Response:
        token = str(request.path_params["token"])
        opened = await asyncio.to_thread(open_link, self.site, token, self.clock())
        if opened is None:
            return not_found()
        chosen = request.query_params.get("answer")
        chosen = chosen if chosen in {c.value.lower() for c in CHOICES} else None
        return self._page(self.render(token, opened, chosen, None))

    async def act(
        self, request: Request, not_found: Callable[[], Response], plain: Callable[[int, str], Response]
    ) -> Response:
        token = str(request.path_params["token"])
        origin = request.headers.get("origin")
        if origin is not None and origin != self.origin:
            return plain(403, "Forbidden: the answer must come from its own page")
        if request.headers.get("content-type", "").split(";")[0].strip().lower() != FORM_TYPE:
            return plain(400, "Bad Request: expected the answer page's form")
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_FORM:
                return plain(413, "Content Too Large")
        try:
            fields = parse_qs(body.decode("ascii"), strict_parsing=True, max_num_fields=4)
        except (UnicodeDecodeError, ValueError):
            return plain(400, "Bad Request: expected the answer page's form")
        given = _one(fields, "answer")
        choice = next((c for c in CHOICES if c.value.lower() == given), None)
        scope = _one(fields, "scope") or "series"
        raw_occurrence = _one(fields, "occurrence")
        if choice is None or scope not in ("series", "occurrence"):
            return plain(400, "Bad Request: expected the answer page's form")
        occurrence: datetime | None = None
        if scope == "occurrence":
            occurrence = _moment(raw_occurrence)
            if occurrence is None:
                return plain(400, "Bad Request: expected the answer page's form")
        now = self.clock()
        result = await asyncio.to_thread(
            answer, self.site, token, choice, whole_series=scope == "series", occurrence=occurrence, now=now
        )
        if result is None:
            return not_found()
        opened, changed, applied = result
        if self.counted is not None:
            self.counted("applied" if applied else "stale")
        log.info(
            "event=rsvp token=sha256:%s answer=%s scope=%s changed=%s",
            token_hash(token)[:12],
            choice.value,
            scope,
            str(changed).lower(),
        )
        if changed:
            await self.answered(frozenset({opened.stored.uid}))
        return self._page(self.render(token, opened, choice.value.lower(), choice if applied else None))

    @staticmethod
    def _page(html: str) -> Response:
        return HTMLResponse(
            html,
            headers={
                "cache-control": "no-store",
                "x-robots-tag": "noindex, nofollow",
                "content-security-policy": PAGE_CSP,
                # same-origin, not no-referrer: with no-referrer a browser sends its form with "Origin: null"
                "referrer-policy": "same-origin",
            },
        )


def _said(w: Words, partstat: PartStat | None) -> str:
    return answer_word(w, partstat.value if partstat in CHOICES else "NEEDS-ACTION")


def _moment(raw: str | None) -> datetime | None:
    """The form's ``occurrence``: an aware ISO date-time in the supported years (in UTC too), else None."""
    try:
        moment = datetime.fromisoformat(raw or "")
    except ValueError:
        return None
    if moment.tzinfo is None or not readable(moment):
        return None
    return utc(moment)


def _one(fields: dict[str, list[str]], name: str) -> str | None:
    values = fields.get(name)
    return values[0] if values and len(values) == 1 else None


def _origin(base_url: str) -> str:
    parts = urlsplit(base_url)
    return f"{parts.scheme}://{parts.netloc}"
