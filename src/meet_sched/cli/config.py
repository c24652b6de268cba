"""validate, sync, export and run: config files → database → calendars (and email, for run)."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from datetime import UTC, datetime, time
from typing import TYPE_CHECKING, Any

from dateutil.relativedelta import relativedelta

from ..config import Config, load_config
from ..config.display import display_zone, local
from ..config.notes import calendar_notes, past_notes, skipped_files
from ..config.people import people_notes
from ..config.places import rules as place_rules
from ..places.report import render_skipped, render_text, skipped_in, skipped_json, summary, to_json
from ..places.warnings import MeetingWarnings, Window, check_meetings
from ..store.status import OutboxStatus
from .common import left_out, now, progress, quiet_troubles, site, site_root

if TYPE_CHECKING:
    from ..site import Site


def cmd_validate(args: argparse.Namespace) -> int:
    # Not through Site(): a problem in the settings must not hide the problems of the meeting files.
    root = site_root(args)
    config = load_config(root, progress=progress)
    found, window = _warnings(config, args)
    calendars = calendar_notes(config.settings, config.located)
    past, records = past_notes(config.located, window.after, given=args.start is not None)
    skipped, listed = skipped_files(root)
    people = people_notes(config.located)
    every = [*config.notes, *calendars, *past, *skipped, *people]
    every.sort(key=lambda p: (p.path, p.line or 0, p.field))
    notes = [str(note) for note in every]
    holidays = skipped_in(config.meetings, window)
    if args.format == "json":
        body = {"ok": True, "meetings": len(config.meetings), "files": config.files, **to_json(found, window)}
        extra = {"notes": notes, "skipped": skipped_json(holidays), "skipped_files": listed, "past_records": records}
        print(json.dumps({**body, **extra}, ensure_ascii=False, indent=1))
    else:
        print(f"ok: {len(config.meetings)} meetings in {config.files} files")
        for note in notes:
            print(f"warning: {note}")
        if args.verbose:
            for line in [*listed, *records]:
                print(f"skipped: {line}" if line in listed else f"past: {line}")
        for line in render_skipped(holidays, window, show_all=args.all):
            print(line)
        for line in render_text(found, window, show_all=args.all):
            print(line)
    if notes and args.strict:
        print(
            f"meet-sched: {len(notes)} warning(s) about the configuration (meetings without a uid, unlisted "
            "or private calendars, one-off meetings already past, files not read, one address with two zones "
            "or languages); --strict makes them errors",
            file=sys.stderr,
        )
        return 1
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


def cmd_sync(args: argparse.Namespace) -> int:
    s = site(args)
    report = s.sync(now(), progress=progress)
    print(report.summary())
    for change in report.changes:
        after = change.after
        print(f"  {change.kind.value:8} {after.uid}  SEQUENCE {after.sequence}")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    quiet_troubles(args)
    s = site(args)
    report = s.export()
    for path in report.written:
        print(f"wrote {path}")
    if report.unchanged:
        print(f"{len(report.unchanged)} calendar(s) unchanged")
    return left_out(s)


def cmd_run(args: argparse.Namespace) -> int:
    """Validate, sync and export: one pass of the main job."""
    quiet_troubles(args)
    s = site(args)
    synced = s.sync(now(), progress=progress)
    print(synced.summary())
    report = s.export()
    for path in report.written:
        print(f"wrote {path.relative_to(s.root)}")
    for path in report.unchanged:
        print(f"unchanged {path.relative_to(s.root)}")
    delivered = _deliver(s, synced.outbox.summary(), verbose=args.verbose)
    skipped = left_out(s)
    return _run_status(delivered) or skipped


EXIT_WAITING = 3  # `run`: messages of this pass wait for a retry (or were not tried: the server is down)
EXIT_FAILED = 4  # `run`: messages failed for good in this pass


def _run_status(report: Any) -> int:
    """`run`'s exit status, so that a cron job notices undelivered email: 0, EXIT_WAITING or EXIT_FAILED."""
    from ..delivery.dispatcher import DispatchReport

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

    from ..delivery.dispatcher import Dispatcher, responsive_loop

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
        zone = display_zone(s.settings, (stored.meeting for stored in s.meetings()))
        print(
            f"{counts.get('pending', 0)} pending; the next is due {local(entries[0].not_before, zone)} "
            "(`meet-sched serve` sends each at its time)"
        )
    return report
