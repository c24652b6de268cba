"""Prometheus metrics of one running service (a registry per service, nothing global)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.messages = Counter(
            "meet_sched_messages", "Messages handled by the dispatcher, by outcome.", ["status"], registry=r
        )
        self.outbox_pending = Gauge("meet_sched_outbox_pending", "Messages waiting in the outbox.", registry=r)
        self.dispatch_lateness = Histogram(
            "meet_sched_dispatch_lateness_seconds",
            "How long after its due time a message was handed to the mail server.",
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 15, 60, 300, 3600),
            registry=r,
        )
        self.feed_requests = Counter(
            "meet_sched_feed_requests", "Feed requests, by answer (200, 304, 404).", ["code"], registry=r
        )
        self.sync_errors = Counter("meet_sched_sync_errors", "Config syncs rejected or failed.", registry=r)
        self.replies = Counter(
            "meet_sched_replies",
            "Attendees' answers taken in, by outcome (applied, stale, counter, quarantined) and by how they "
            "came (via: imip for an iMIP REPLY or COUNTER, link for a one-click answer).",
            ["outcome", "via"],
            registry=r,
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)
