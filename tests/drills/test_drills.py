"""Every fault drill of `make drills`, with the smallest load (drills/scenarios.py, size "test").

The assertions are the issue's figures: counts that must be zero (failed requests, stale reads,
duplicates, rows without objects, ...) and the two explicit bounds (Redis-down median at most
twice the normal one; at most 20 s without successful writes across a failover). Each failure
message carries the drill's notes (what it did and saw). The order matters: the failover drill
comes last, since with `pg_ctl promote` it leaves the stack without a standby.
"""

from __future__ import annotations

import pytest

from drills import scenarios
from drills.results import SIZES, DrillResult
from drills.stack import DrillStack

pytestmark = pytest.mark.drills

SIZE = SIZES["test"]


def _check(result: DrillResult) -> None:
    missed = [f"{f.name}: {f.shown()} (target {f.target})" for f in result.figures if not f.ok]
    assert not missed, f"{result.title}: {missed}\n" + "\n".join(result.notes)
    assert result.figures


def test_replica_killed_during_reads(drill_stack: DrillStack) -> None:
    _check(scenarios.replica_killed(drill_stack, SIZE))


def test_replica_lag_never_serves_stale_own_writes(drill_stack: DrillStack) -> None:
    result = scenarios.replica_lag(drill_stack, SIZE)
    _check(result)
    # The control read without pins must have hit the stale replica, or the drill proved nothing.
    assert any("control:" in note and f"{SIZE.threads} of {SIZE.threads}" in note for note in result.notes)


def test_redis_killed_then_restarted(drill_stack: DrillStack) -> None:
    _check(scenarios.redis_outage(drill_stack, SIZE))


def test_s3_stopped_during_uploads(drill_stack: DrillStack) -> None:
    _check(scenarios.s3_outage(drill_stack, SIZE))


def test_sigterm_to_gunicorn_during_load(drill_stack: DrillStack) -> None:
    _check(scenarios.sigterm(drill_stack, SIZE))


def test_sigkill_of_workers_during_pushes(drill_stack: DrillStack) -> None:
    _check(scenarios.sigkill_pushes(drill_stack, SIZE))


def test_pushes_retried_with_random_drops(drill_stack: DrillStack) -> None:
    _check(scenarios.push_retries(drill_stack, SIZE))


def test_events_process_sigterm_during_load(drill_stack: DrillStack) -> None:
    """Streams move to a new events process with Last-Event-ID and miss nothing (drills/events.py)."""
    _check(scenarios.events_sigterm(drill_stack, SIZE))


def test_events_streams_through_a_redis_restart(drill_stack: DrillStack) -> None:
    """`fallback` while Redis is down, `live` and caught up after it is back (drills/events.py)."""
    _check(scenarios.events_redis(drill_stack, SIZE))


def test_point_in_time_restore_after_a_destructive_delete(drill_stack: DrillStack) -> None:
    """WAL archived with barman-cloud to the stack's S3 server, a base backup under load, a
    recorded time T, every task deleted; a new server restored to T has every write acknowledged
    before T and none started after, and the app is ready on it (drills/pitr.py)."""
    _check(scenarios.pitr(drill_stack, SIZE))


def test_primary_killed_standby_promoted(drill_stack: DrillStack) -> None:
    _check(scenarios.failover(drill_stack, SIZE))
