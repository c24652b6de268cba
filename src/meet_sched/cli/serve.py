"""serve: the long-running service (sync on change, email, HTTP feeds)."""

from __future__ import annotations

import argparse
from typing import Any

from .common import site


def cmd_serve(args: argparse.Namespace) -> int:
    """Run the service: watch config/, deliver email, serve feeds; stops on SIGINT/SIGTERM."""
    import asyncio

    from ..delivery.dispatcher import Dispatcher
    from ..replies.component import RepliesComponent
    from ..service import Service
    from ..web import WebServer

    s = site(args, open_database=False)  # the service opens it, and keeps trying while it cannot
    components: list[Any] = [Dispatcher(s), WebServer(s), RepliesComponent(s)]
    asyncio.run(Service(s, components).run())
    return 0
