"""The ``meet-sched`` command.

One error boundary (:func:`main`) turns every :class:`~meet_sched.errors.MeetSchedError`
into messages on stderr and exit status 1; nothing a user can cause ends in a traceback.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from dateutil.relativedelta import relativedelta

from . import __version__
from .agenda import day_shift, render_agenda, render_table, zone_columns
from .config import Config, load_config
from .config.places import rules as place_rules
from .config.schema import check_zone
from .errors import MeetSchedError
from .model import FIRST_YEAR, LAST_YEAR, Attendee, format_duration, parse_duration, zone_abbreviation
from .places import plan as plan_slot
from .places.report import render_text, summary, to_json
from .places.rules import Place, participants
from .places.warnings import MeetingWarnings, Window, check_meetings
from .site import Site
from .store.outbox import Status as OutboxStatus

Command = Callable[[argparse.Namespace], int]
MAX_MONTHS = 60  # validate --months
MAX_PLAN_DURATION = timedelta(hours=12)  # plan --duration
COMMANDS: dict[str, Command] = {}


def command(name: str) -> Callable[[Command], Command]:
    def register(fn: Command) -> Command:
        COMMANDS[name] = fn
        return fn

    return register


def now() -> datetime:
    return datetime.now(UTC)


def progress(files: Iterable[Path]) -> Iterator[Path]:
    """Show "reading 1200/2000 files" on a terminal when there are many files."""
    items = list(files)
    show = sys.stderr.isatty() and len(items) >= 200
    for i, path in enumerate(items, start=1):
        if show and (i % 50 == 0 or i == len(items)):
            print(f"\rreading {i}/{len(items)} files", end="", file=sys.stderr, flush=True)
        yield path
    if show:
        print(file=sys.stderr)


def site_root(args: argparse.Namespace) -> Path:
    root = Path(args.root)
    if not root.is_dir():
        raise MeetSchedError(f"--root {root}: no such folder")
    return root.resolve()


def site(args: argparse.Namespace, *, open_database: bool = True) -> Site:
    """The site, its database opened and migrated once, before the command does anything else
    (whatever state the meeting files are in: only the settings are read here)."""
    s = Site(site_root(args))
    if open_database:
        s.open()
    return s


# -- commands -------------------------------------------------------------------


@command("validate")
def cmd_validate(args: argparse.Namespace) -> int:
    # Not through Site(): a problem in the settings must not hide the problems of the meeting files.
    config = load_config(site_root(args), progress=progress)
    found, window = _warnings(config, args)
    if args.format == "json":
        body = {"ok": True, "meetings": len(config.meetings), "files": config.files, **to_json(found, window)}
        print(json.dumps(body, ensure_ascii=False, indent=1))
    else:
        print(f"ok: {len(config.meetings)} meetings in {config.files} files")
        for line in render_text(found, window, show_all=args.all):
            print(line)
    if found:
        what = f"{summary(found)} (holidays, weekends, lunch, working hours)"
        if args.strict:
            print(f"meet-sched: {what}; --strict makes them errors", file=sys.stderr)
            return 1
        if args.format != "json":
            print(f"{what}; not errors (--strict makes them errors)")
    return 0


def _warnings(config: Config, args: argparse.Namespace) -> tuple[list[MeetingWarnings], Window]:
    spec = config.settings.spec
    after = now() if args.start is None else datetime.combine(args.start, time(0), tzinfo=UTC)
    window = Window(after, after + relativedelta(months=args.months or spec.warnings.months))
    if not spec.warnings.enabled:
        return [], window
    return check_meetings(config.meetings, place_rules(spec), window), window


@command("sync")
def cmd_sync(args: argparse.Namespace) -> int:
    s = site(args)
    report = s.sync(now(), progress=progress)
    print(report.summary())
    for change in report.changes:
        after = change.after
        print(f"  {change.kind.value:8} {after.uid}  SEQUENCE {after.sequence}")
    return 0


def _left_out(s: Site) -> int:
    """Say which stored meetings were left out (they cannot be read or rendered): 1 if any, else 0."""
    found = s.troubles.current()
    if not found:
        return 0
    n = len(found)
    print(
        f"meet-sched: left out {n} stored meeting{'s' if n != 1 else ''} that cannot be read or rendered:",
        file=sys.stderr,
    )
    for bad in found:
        print(f"  {bad.uid}: {bad.reason}", file=sys.stderr)
    print("hint: the next sync that changes its config file (or adds one with that uid) replaces it", file=sys.stderr)
    return 1


def _quiet_troubles(args: argparse.Namespace) -> None:
    if not args.verbose:  # _left_out says it all; -v shows the log lines too
        logging.getLogger("meet_sched.troubles").setLevel(logging.CRITICAL)


@command("export")
def cmd_export(args: argparse.Namespace) -> int:
    _quiet_troubles(args)
    s = site(args)
    report = s.export()
    for path in report.written:
        print(f"wrote {path}")
    if report.unchanged:
        print(f"{len(report.unchanged)} calendar(s) unchanged")
    return _left_out(s)


@command("run")
def cmd_run(args: argparse.Namespace) -> int:
    """Validate, sync and export: one pass of the main job."""
    _quiet_troubles(args)
    s = site(args)
    synced = s.sync(now(), progress=progress)
    print(synced.summary())
    report = s.export()
    for path in report.written:
        print(f"wrote {path.relative_to(s.root)}")
    for path in report.unchanged:
        print(f"unchanged {path.relative_to(s.root)}")
    delivered = _deliver(s, synced.outbox.summary(), verbose=args.verbose)
    left_out = _left_out(s)
    return _run_status(delivered) or left_out


EXIT_WAITING = 3  # `run`: messages of this pass wait for a retry (or were not tried: the server is down)
EXIT_FAILED = 4  # `run`: messages failed for good in this pass


def _run_status(report: Any) -> int:
    """`run`'s exit status, so that a cron job notices undelivered email: 0, EXIT_WAITING or EXIT_FAILED."""
    from .delivery.dispatcher import DispatchReport

    assert isinstance(report, DispatchReport)
    failed = report.count(OutboxStatus.FAILED)
    waiting = report.count(OutboxStatus.PENDING) + report.released
    if failed:
        print(
            f"meet-sched: {failed} message(s) failed for good in this pass (`meet-sched outbox --status failed`)",
            file=sys.stderr,
        )
    if waiting:
        print(
            f"meet-sched: {waiting} message(s) wait for a retry (`meet-sched outbox --status pending`)", file=sys.stderr
        )
    return EXIT_FAILED if failed else EXIT_WAITING if waiting else 0


def _deliver(s: Site, planned: str, *, verbose: bool) -> Any:
    """Send what is due now (invitations, due reminders) and say what happened and what is next."""
    import asyncio

    if not verbose:  # the lines below say it all; -v shows the log lines too
        logging.getLogger("meet_sched.delivery").setLevel(logging.ERROR)

    from .delivery.dispatcher import Dispatcher, responsive_loop

    responsive_loop()

    async def deliver() -> tuple[str, Any]:
        dispatcher = Dispatcher(s, clock=now)
        try:
            return dispatcher.transport.name, await dispatcher.deliver_due()
        finally:
            await dispatcher.close()

    name, report = asyncio.run(deliver())
    print(f"{planned}\nemail ({name}): {report.summary()}")
    shown = report.events[:20]
    for event in shown:
        what = "retry" if event.status.value == "pending" else event.status.value
        print(f"  {what:8} {event.kind:8} {event.recipient}  {event.meeting_uid or ''}".rstrip())
        if event.status.value != "sent":
            print(f"           {event.detail}")
    if len(report.events) > len(shown):
        print(f"  … and {len(report.events) - len(shown)} more (`meet-sched outbox` lists them)")
    entries, counts = s.outbox(OutboxStatus.PENDING, limit=1)
    if entries:
        print(
            f"{counts.get('pending', 0)} pending; the next is due {entries[0].not_before:%Y-%m-%d %H:%M} UTC "
            "(`meet-sched serve` sends each at its time)"
        )
    return report


@command("invite")
def cmd_invite(args: argparse.Namespace) -> int:
    sys.stdout.buffer.write(site(args).invitation(args.uid))
    sys.stdout.flush()
    return 0


@command("agenda")
def cmd_agenda(args: argparse.Namespace) -> int:
    _quiet_troubles(args)
    s = site(args)
    start = now()
    if args.start is not None:
        zone = ZoneInfo(args.tz[0]) if args.tz else UTC
        start = datetime.combine(args.start, time(0), tzinfo=zone)
    occurrences = s.occurrences(start, start + timedelta(days=args.days))
    zones = zone_columns(args.tz, occurrences) if args.tz else []
    print(render_agenda(occurrences, zones))
    return _left_out(s)


@command("plan")
def cmd_plan(args: argparse.Namespace) -> int:
    """Find a time: slots ranked by fit for every place; a recurring pattern's clashes; a meeting file."""
    from .places import plan

    s = site(args)
    rules = place_rules(s.settings.spec)
    uid, people = _plan_attendees(s, args.attendees)
    horizon = timedelta(days=args.days + (400 if args.every else 1))
    first_guess = now() if args.start is None else datetime.combine(args.start, time(0), tzinfo=UTC)
    data = s.planning([a.email for a in people], first_guess - timedelta(days=1), first_guess + horizon, uid)
    try:
        named = plan.resolve_places(args.with_, rules, data.cities) if args.with_ else []
        places = plan.unique([*named, *(rules.for_attendee(a) for a in people)])
        if not places:
            raise plan.PlanError("give --with PLACES or --attendees UID-or-FILE")
        busy = plan.Busy(data.busy)
        start = plan.first_midnight(places, args.start, now())
        ranked = plan.candidates(places, args.duration, start, args.days, grid=args.grid, busy=busy)
        chosen = ranked[min(args.pick, len(ranked)) - 1]
        found = None
        if args.every:
            found = plan.pattern(places, args.every, chosen, args.duration, grid=args.grid, busy=busy)
            chosen = found.slots[0]  # DTSTART is the first occurrence (RFC 5545)
    except plan.PlanError as exc:
        raise MeetSchedError(str(exc)) from None
    if args.format == "yaml":
        from .places.output import meeting_yaml

        note = None
        if found is not None and found.rotation:
            note = "no time fits everyone's working hours: plan ranks a rotation (see the text output)"
        title = args.title or "Call: " + " – ".join(p.label for p in places)
        body = meeting_yaml(chosen, places, args.duration, title=title, every=args.every, attendees=people, note=note)
        sys.stdout.write(body)
        return 0
    shown = ranked[: args.top]
    rows = [[str(i), *_slot_cells(places, slot), _fit(slot)] for i, slot in enumerate(shown, start=1)]
    print(render_table(["#", "Date", *(p.label for p in places), "Fit"], rows))
    print(
        f"\n{len(ranked)} slots of {format_duration(args.duration)} from {start:%Y-%m-%d} for {args.days} days; "
        f"dates are {places[0].label}'s; {len(busy)} existing occurrences of the participants checked"
    )
    if found is not None:
        print(f"\n--every {args.every}: the next {len(found.slots)} occurrences")
        rows = [[str(i), *_slot_cells(places, slot), _fit(slot)] for i, slot in enumerate(found.slots, start=1)]
        print(render_table(["#", "Date", *(p.label for p in places), "Fit"], rows))
        if found.rotation:
            first, second = (", ".join(p.label for p in side) for side in found.sides(places))
            print(
                "No time fits everyone's working hours, so the occurrences rotate: odd ones keep "
                f"{first} inside working hours, even ones {second} (the times above)."
            )
        for place, outside, off in found.burden(places):
            print(f"  {place.label}: outside working hours {outside} of {len(found.slots)}, on a day off {off}")
    return 0


def _plan_attendees(s: Site, key: str | None) -> tuple[str | None, list[Attendee]]:
    """The participants of a meeting named by UID, or of a meeting file of this site."""
    if not key:
        return None, []
    path = Path(key)
    if path.suffix in (".yaml", ".yml", ".toml") or path.is_file():
        tried = [path, s.root / path, s.settings.meetings_dir / path]
        full = next((p for p in tried if p.is_file()), path).resolve()
        try:
            shown = full.relative_to(s.root).as_posix()
        except ValueError:
            raise MeetSchedError(f"--attendees {key}: not a meeting file of this site ({s.root})") from None
        meetings = [m for m in load_config(s.root).meetings if m.source.rsplit(":", 1)[0] == shown]
        if not meetings:
            raise MeetSchedError(f"--attendees {key}: no meeting in that file")
        meeting = meetings[0]
    else:
        meeting = s.meeting(key).meeting
    return meeting.uid, participants(meeting.attendees)


def _slot_cells(places: Sequence[Place], slot: plan_slot.Slot) -> list[str]:
    ref = slot.start.astimezone(places[0].zone)
    cells = [f"{ref:%a %Y-%m-%d}"]
    for p in places:
        local = slot.start.astimezone(p.zone)
        cells.append(f"{local:%H:%M} {zone_abbreviation(local)}{day_shift(local, ref)}")
    return cells


def _fit(slot: plan_slot.Slot) -> str:
    return "fits everyone" if slot.fits else "; ".join(slot.problems())


@command("serve")
def cmd_serve(args: argparse.Namespace) -> int:
    """Run the service: watch config/, deliver email, serve feeds; stops on SIGINT/SIGTERM."""
    import asyncio

    from .delivery.dispatcher import Dispatcher
    from .service import Service
    from .web import WebServer

    s = site(args, open_database=False)  # the service opens it, and keeps trying while it cannot
    components: list[Any] = [Dispatcher(s), WebServer(s)]
    asyncio.run(Service(s, components).run())
    return 0


@command("feeds")
def cmd_feeds(args: argparse.Namespace) -> int:
    """Subscription URLs: public calendars, and each attendee's personal feed."""
    s = site(args)
    both = s.base_url_known  # else one line, "<base_url>/…": a webcal:// twin of it says nothing more
    if args.feeds_command == "rotate":
        link = s.rotate_feed_token(args.email, now())
        print(f"new personal feed for {_who(link.person)}; the old URL no longer works:")
        print(f"  {link.url}\n  {link.webcal}" if both else f"  {link.url}")
        _unknown_base(s)
        return 0
    if args.feeds_command == "revoke":
        s.revoke_feed_token(args.email)
        print(f"revoked the personal feed of {args.email}; `meet-sched feeds rotate` issues a new one")
        return 0
    from .site import webcal_url

    print("Public calendars (no token needed):")
    for name in s.public_calendars:
        url = s.calendar_url(name)
        print(f"  {name}\n    {url}\n    {webcal_url(url)}" if both else f"  {name}\n    {url}")
    if not s.public_calendars:
        print("  none ([server] public_calendars in config/meet-sched.toml)")
    links = s.feed_links(now())
    print("\nPersonal feeds (an attendee's meetings in every calendar, with their own reminders):")
    for link in links:
        if link.token:
            print(f"  {_who(link.person)}: new; send these to them, they are shown only now")
            print(f"    {link.url}\n    {link.webcal}" if both else f"    {link.url}")
        else:
            issued = f"{link.issued_at:%Y-%m-%d %H:%M} UTC" if link.issued_at else "earlier"
            print(
                f"  {_who(link.person)}: issued {issued}; only a hash is kept, "
                f"`meet-sched feeds rotate {link.person.email}` makes a new URL"
            )
    if not links:
        print("  none yet (no attendees; run `meet-sched sync` first?)")
    _unknown_base(s)
    return 0


def _unknown_base(s: Site) -> None:
    if not s.base_url_known:
        print(
            f"\n{s.settings.spec.server.listen} picks a free port when serve starts, so no address is known here: "
            "replace <base_url> with the address subscribers reach, or set [server] base_url "
            "in config/meet-sched.toml to print whole URLs"
        )


def _who(person: Any) -> str:
    return f"{person.name} <{person.email}>" if person.name else str(person.email)


@command("outbox")
def cmd_outbox(args: argparse.Namespace) -> int:
    """The outbox as a table: what will be sent when, and what became of what was sent."""
    s = site(args)
    status = OutboxStatus(args.status) if args.status else None
    entries, counts = s.outbox(status, args.limit)
    rows = [("Due (UTC)", "Status", "Kind", "Recipient", "Meeting", "Tries", "Detail")]
    for e in entries:
        kind = e.kind
        if e.offset_seconds is not None:
            kind = f"{kind} {format_duration(timedelta(seconds=e.offset_seconds))}"
        due = e.not_before if e.status == "pending" else e.due_at
        detail = e.detail or ""
        if e.status == "pending" and e.not_before > e.due_at:
            detail = f"retry ({detail})" if detail else "retry"
        rows.append((f"{due:%Y-%m-%d %H:%M}", e.status, kind, e.recipient, e.meeting_uid, str(e.attempts), detail[:60]))
    if len(rows) == 1:
        print("the outbox is empty" if not counts else f"no {args.status} messages")
    else:
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        for i, row in enumerate(rows):
            print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
            if i == 0:
                print("  ".join("-" * w for w in widths))
    if counts:
        order = ["pending", "sending", "sent", "failed", "expired", "skipped"]
        print("\n" + " · ".join(f"{counts[k]} {k}" for k in order if counts.get(k)))
    return 0


@command("send-test")
def cmd_send_test(args: argparse.Namespace) -> int:
    """Send one test message through the configured transport and print the server's answer."""
    import asyncio

    from .delivery.dispatcher import send_test

    name, reply = asyncio.run(send_test(site(args, open_database=False), args.email, now()))
    print(f"sent to {args.email} via {name}: {reply}")
    return 0


@command("db")
def cmd_db(args: argparse.Namespace) -> int:
    s = site(args, open_database=False)
    from .store.db import Database, safe_url

    db = Database(s.settings.database_url)
    if args.db_command == "copy":
        from .store.copy import copy_database

        if not args.to:
            print("meet-sched: db copy: --to URL is required (the empty database to copy into)", file=sys.stderr)
            return 2
        counts = copy_database(db, Database(args.to))
        done = ", ".join(f"{n} {table}" for table, n in counts.items())
        print(f"copied {safe_url(s.settings.database_url)} to {safe_url(args.to)}: {done}")
        return 0
    if args.to:
        print("meet-sched: db: --to is only for db copy", file=sys.stderr)
        return 2
    if args.db_command == "upgrade":
        db.upgrade()
    print(f"{safe_url(s.settings.database_url)}: schema {db.current()} (latest {db.head()})")
    return 0


# -- parser -----------------------------------------------------------------------


MAX_AGENDA_DAYS = 3660  # agenda --days: ten years
MAX_OUTBOX_LIMIT = 100_000  # outbox --limit
AGENDA_FIRST_DATE = date(FIRST_YEAR, 1, 1)  # agenda --from: the supported years; nothing happens outside them
AGENDA_LAST_DATE = date(LAST_YEAR, 12, 31)


def _whole(what: str, most: int) -> Callable[[str], int]:
    def convert(value: str) -> int:
        try:
            number = int(value) if len(value) <= 20 else 0  # int() of a long run of digits costs time
        except ValueError:
            number = 0
        if not 1 <= number <= most:
            raise argparse.ArgumentTypeError(f"{value[:30]!r} is not a whole number of {what} from 1 to {most:,}")
        return number

    return convert


_positive = _whole("days", MAX_AGENDA_DAYS)
_limit = _whole("rows", MAX_OUTBOX_LIMIT)


def _months(value: str) -> int:
    number = int(value) if value.isdigit() else 0
    if not 1 <= number <= MAX_MONTHS:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number of months from 1 to {MAX_MONTHS}")
    return number


def _names(value: str) -> list[str]:
    return [n.strip() for n in value.split(",") if n.strip()]


def _duration(value: str) -> timedelta:
    try:
        found = parse_duration(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    if found > MAX_PLAN_DURATION:
        raise argparse.ArgumentTypeError(f"{value!r} is longer than {format_duration(MAX_PLAN_DURATION)}")
    return found


def _grid(value: str) -> timedelta:
    found = _duration(value)
    if found not in plan_slot.GRIDS:
        raise argparse.ArgumentTypeError(f"{value!r}: the grid is 15m or 30m")
    return found


def _date(value: str) -> date:
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value[:30]!r} is not a date such as 2021-04-14") from None
    if not AGENDA_FIRST_DATE <= day <= AGENDA_LAST_DATE:
        raise argparse.ArgumentTypeError(f"{value!r} is not between {AGENDA_FIRST_DATE} and {AGENDA_LAST_DATE}")
    return day


def _zone(value: str) -> str:
    try:
        return check_zone(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="meet-sched", description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--version", action="version", version=f"meet-sched {__version__}")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--root",
        default=os.environ.get("MEET_SCHED_ROOT", "."),
        help="the site folder holding config/, calendars/ and var/ (default: $MEET_SCHED_ROOT or .)",
    )
    common.add_argument("-v", "--verbose", action="store_true", help="log more")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    p = sub.add_parser("validate", parents=[common], help="check every config file; list every problem")
    p.add_argument("--strict", action="store_true", help="warnings are errors too (exit status 1)")
    p.add_argument("--format", choices=["text", "json"], default="text", help="text (default) or json for tools")
    p.add_argument("--all", action="store_true", help="list every clashing occurrence, not the first few")
    p.add_argument("--from", dest="start", type=_date, metavar="DATE", help="warn from this date (UTC) on, not now")
    p.add_argument("--months", type=_months, metavar="N", help="how far ahead to warn (default [warnings] months)")
    sub.add_parser("sync", parents=[common], help="apply config/ to the database")
    sub.add_parser("export", parents=[common], help="write calendars/<calendar>.ics")
    sub.add_parser("run", parents=[common], help="validate, sync and export in one go")
    p = sub.add_parser("invite", parents=[common], help="print the iTIP invitation (REQUEST/CANCEL) of a meeting")
    p.add_argument("uid", help="the meeting's UID (the part before @ is enough)")
    p = sub.add_parser("agenda", parents=[common], help="upcoming meetings, with a column per time zone")
    p.add_argument("--days", type=_positive, default=30, help="how far ahead (default 30)")
    p.add_argument(
        "--from",
        dest="start",
        type=_date,
        metavar="DATE",
        help="start at this date (YYYY-MM-DD, in the first --tz zone, else UTC) instead of now",
    )
    p.add_argument("--tz", type=_zone, action="append", metavar="ZONE", help="a zone column (repeatable)")
    p = sub.add_parser("plan", parents=[common], help="find a time that suits every place; print a meeting file")
    p.add_argument("--with", dest="with_", type=_names, metavar="PLACES", help="places, zones or cities (commas)")
    p.add_argument("--duration", type=_duration, required=True, help="how long, e.g. 1h or 90m")
    p.add_argument("--from", dest="start", type=_date, metavar="DATE", help="first day (default tomorrow)")
    p.add_argument("--days", type=_positive, default=14, help="days to search (default 14)")
    p.add_argument("--attendees", metavar="UID-or-FILE", help="a meeting whose attendees take part")
    p.add_argument("--every", metavar="RRULE", help='a recurring pattern, e.g. "FREQ=MONTHLY;BYDAY=2WE"')
    p.add_argument("--grid", type=_grid, default=timedelta(minutes=30), help="15m or 30m (default 30m)")
    p.add_argument("--top", type=_positive, default=10, help="how many slots to list (default 10)")
    p.add_argument("--pick", type=_positive, default=1, help="which ranked slot --format yaml writes (default 1)")
    p.add_argument("--title", help="the title of the meeting file")
    p.add_argument("--format", choices=["text", "yaml"], default="text", help="text (default), or yaml: a meeting file")
    sub.add_parser("serve", parents=[common], help="run the service (sync on change, email, HTTP feeds)")
    p = sub.add_parser("feeds", help="subscription URLs of public and personal feeds")
    feeds = p.add_subparsers(dest="feeds_command", required=True, metavar="ACTION")
    feeds.add_parser(
        "list", parents=[common], help="print every feed's URLs; issue personal feeds to attendees without one"
    )
    r = feeds.add_parser("rotate", parents=[common], help="issue a new personal feed URL; the old one stops working")
    r.add_argument("email", help="the attendee's email address")
    r = feeds.add_parser("revoke", parents=[common], help="stop an attendee's personal feed")
    r.add_argument("email", help="the attendee's email address")
    p = sub.add_parser("outbox", parents=[common], help="emails planned, sent, failed or expired")
    p.add_argument("--status", choices=[st.value for st in OutboxStatus], help="only messages with this status")
    p.add_argument("--limit", type=_limit, default=50, help="how many rows (default 50)")
    p = sub.add_parser("send-test", parents=[common], help="send a test email through [smtp] (or into the Maildir)")
    p.add_argument("email", help="where to send it")
    p = sub.add_parser("db", parents=[common], help="database schema")
    p.add_argument("db_command", choices=["upgrade", "current", "copy"])
    p.add_argument("--to", metavar="URL", help="db copy: the empty database (e.g. postgresql+psycopg://…) to copy into")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
        stream=sys.stderr,
    )
    for noisy in ("alembic", "apscheduler"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        return COMMANDS[args.command](args)
    except MeetSchedError as exc:
        for line in exc.lines():
            print(f"meet-sched: {line}" if line == str(exc) else line, file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("meet-sched: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    raise SystemExit(main())
