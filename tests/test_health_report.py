"""README "Start-up and a database that is away": what /healthz says, made from the service's state with no server."""

from __future__ import annotations

from datetime import UTC, datetime

from meet_sched.service import Health
from meet_sched.store.meetings import Unreadable
from meet_sched.web.endpoints.health import MAX_HEALTH_PROBLEMS, health_report

STARTED = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)


def test_all_well_is_ok_and_says_each_part() -> None:
    health = Health(started_at=STARTED, last_sync_at=STARTED, last_dispatch_at=STARTED, sync_errors=2)
    report = health_report(health, database_problem=None, running=True, left_out=[])
    assert report == {
        "status": "ok",
        "problems": [],
        "config_problems": [],
        "config_problems_more": 0,
        "meetings_left_out": [],
        "database": "ok",
        "scheduler": "running",
        "started_at": "2027-03-01T09:00:00+00:00",
        "last_sync_at": "2027-03-01T09:00:00+00:00",
        "last_sync_error": None,
        "settings_changed_restart_needed": False,
        "sync_errors": 2,
        "last_dispatch_at": "2027-03-01T09:00:00+00:00",
    }


def test_a_database_away_is_unhealthy_and_hides_the_sync_failure_it_causes() -> None:
    health = Health(last_sync_error="database is locked")
    report = health_report(health, database_problem="no answer within 5 s", running=False, left_out=[])
    assert report["status"] == "unhealthy"
    assert report["problems"] == ["database", "scheduler"]
    assert report["database"] == "no answer within 5 s"
    assert report["scheduler"] == "stopped"


def test_a_sync_failure_alone_is_degraded() -> None:
    report = health_report(Health(last_sync_error="boom"), database_problem=None, running=True, left_out=[])
    assert (report["status"], report["problems"]) == ("degraded", ["sync"])


def test_config_problems_are_listed_up_to_the_limit_and_counted_past_it() -> None:
    settings = ("config/meet-sched.toml:1: bad",)
    meetings = tuple(f"meetings/m{i}.yaml:2: bad" for i in range(MAX_HEALTH_PROBLEMS + 3))
    health = Health(settings_problems=settings, config_problems=meetings, last_sync_error="refused")
    report = health_report(health, database_problem=None, running=True, left_out=[])
    assert report["status"] == "degraded"
    assert report["problems"] == ["config"]  # the refused sync is the config's fault, said once
    assert report["config_problems"] == [*settings, *meetings][:MAX_HEALTH_PROBLEMS]
    assert report["config_problems_more"] == 4


def test_left_out_meetings_and_a_failing_inbox_are_named() -> None:
    health = Health(replies="maildir var/inbox", last_replies_at=STARTED, replies_error="permission denied")
    left_out = [Unreadable(uid="u1@x", sequence=3, last_modified=STARTED, reason="bad RRULE")]
    report = health_report(health, database_problem=None, running=True, left_out=left_out)
    assert report["problems"] == ["meetings-left-out", "replies"]
    assert report["meetings_left_out"] == [{"uid": "u1@x", "reason": "bad RRULE"}]
    assert report["replies"] == {
        "inbox": "maildir var/inbox",
        "last_checked_at": "2027-03-01T09:00:00+00:00",
        "error": "permission denied",
    }


def test_no_inbox_no_replies_section() -> None:
    assert "replies" not in health_report(Health(), database_problem=None, running=True, left_out=[])
