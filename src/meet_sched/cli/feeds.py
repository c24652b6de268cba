"""feeds: subscription URLs of public calendars and personal feeds; rotate and revoke."""

from __future__ import annotations

import argparse
from typing import Any

from ..site import Site
from .common import now, site


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
    if args.feeds_command == "send":
        return _send(s, list(args.emails))
    if args.feeds_command == "revoke":
        s.revoke_feed_token(args.email)
        print(f"revoked the personal feed of {args.email}; `meet-sched feeds rotate` issues a new one")
        return 0
    from ..site import webcal_url

    print("Public calendars (no token needed):")
    for name in s.public_calendars:
        url = s.calendar_url(name)
        print(f"  {name}\n    {url}\n    {webcal_url(url)}" if both else f"  {name}\n    {url}")
    if not s.public_calendars:
        print("  none ([server] public_calendars in config/meet-sched.toml)")
    links = s.feed_links()
    print("\nPersonal feeds (an attendee's meetings in every calendar, with their own reminders):")
    for link in links:
        if link.issued_at is None:
            print(
                f"  {_who(link.person)}: none yet; `meet-sched feeds send {link.person.email}` mails one, "
                f"`meet-sched feeds rotate {link.person.email}` prints one"
            )
        else:
            print(
                f"  {_who(link.person)}: issued {link.issued_at:%Y-%m-%d %H:%M} UTC; only a hash is kept, "
                f"`meet-sched feeds rotate {link.person.email}` makes a new URL"
            )
    if not links:
        print("  none yet (no attendees; run `meet-sched sync` first?)")
    _unknown_base(s)
    return 0


def _send(s: Site, emails: list[str]) -> int:
    """Mail personal feed links; 1 if any could not be sent (their old URL keeps working)."""
    import asyncio

    from ..delivery.feedmail import send_feed_links

    results = asyncio.run(send_feed_links(s, emails, now()))
    for r in results:
        print(f"  sent     {r.email}" if r.error is None else f"  failed   {r.email}: {r.error}")
    failed = [r for r in results if r.error is not None]
    print(f"feeds send: {len(results) - len(failed)} sent" + (f", {len(failed)} failed" if failed else ""))
    return 1 if failed else 0


def _unknown_base(s: Site) -> None:
    if not s.base_url_known:
        print(
            f"\n{s.settings.spec.server.listen} picks a free port when serve starts, so no address is known here: "
            "replace <base_url> with the address subscribers reach, or set [server] base_url "
            "in config/meet-sched.toml to print whole URLs"
        )


def _who(person: Any) -> str:
    return f"{person.name} <{person.email}>" if person.name else str(person.email)
