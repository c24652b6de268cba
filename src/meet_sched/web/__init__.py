"""The HTTP side of ``meet-sched serve``: feeds, personal feeds, the agenda page, /healthz, /metrics."""

from .server import WebServer

__all__ = ["WebServer"]
