"""Primary/replica routing with read-your-writes, lag and failure handling.

Rules (DESIGN.md §2):
- writes, and every read inside a transaction, go to the primary ("default");
- other reads made while serving a request go to a healthy replica, chosen at random;
- after a user writes, that user's reads stay on the primary for READ_YOUR_WRITES_SECONDS;
  the pin lives in the shared cache so every pod honours it. When the cache cannot answer,
  reads go to the primary (stale reads are worse than a busier primary);
- each process re-measures a replica's health at most every REPLICA_CHECK_INTERVAL_SECONDS; a
  replica that does not answer, or whose replay lags more than REPLICA_MAX_LAG_SECONDS, is
  benched for REPLICA_COOLDOWN_SECONDS;
- a safe request whose replica read fails mid-request is run again on the primary by
  ReplicaRoutingMiddleware, so a dying replica costs latency, not errors;
- reads outside a request (management commands, jobs) use the primary.
"""

from __future__ import annotations

import contextlib
import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import DatabaseError, InterfaceError, OperationalError, connections
from django.http import HttpRequest, HttpResponse

from apps.common import context

logger = logging.getLogger(__name__)

PRIMARY = "default"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

# Seconds of replay lag; 0 when the replica has replayed everything it received.
_LAG_SQL = """
SELECT CASE
  WHEN NOT pg_is_in_recovery() THEN 0
  WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0
  ELSE COALESCE(EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp()), 0)
END
"""


@dataclass
class _ReplicaHealth:
    checked_at: float = 0.0
    down_until: float = 0.0
    lag: float = 0.0


_health: dict[str, _ReplicaHealth] = {}
_health_lock = threading.Lock()


def reset_health() -> None:
    """Forget every measurement (tests, and after an operator repaired a replica)."""
    with _health_lock:
        _health.clear()


def bench_replica(alias: str, reason: str) -> None:
    with _health_lock:
        state = _health.setdefault(alias, _ReplicaHealth())
        state.down_until = time.monotonic() + settings.REPLICA_COOLDOWN_SECONDS
        state.checked_at = time.monotonic()
    logger.warning("replica %s benched: %s", alias, reason)
    with contextlib.suppress(DatabaseError):
        connections[alias].close()


def measure_lag(alias: str) -> float:
    connection = connections[alias]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(_LAG_SQL)
            return float(cursor.fetchone()[0])
        cursor.execute("SELECT 1")
        return 0.0


def _is_healthy(alias: str) -> bool:
    now = time.monotonic()
    with _health_lock:
        state = _health.setdefault(alias, _ReplicaHealth())
        if now < state.down_until:
            return False
        due = now - state.checked_at >= settings.REPLICA_CHECK_INTERVAL_SECONDS
        if not due:
            return True
        state.checked_at = now  # one check per interval even when requests race
    try:
        lag = measure_lag(alias)
    except (OperationalError, InterfaceError) as exc:
        bench_replica(alias, f"unreachable ({exc.__class__.__name__})")
        return False
    with _health_lock:
        state.lag = lag
    if lag > settings.REPLICA_MAX_LAG_SECONDS:
        bench_replica(alias, f"lagging {lag:.1f}s")
        return False
    return True


# --- read-your-writes pins -------------------------------------------------------------------


def _pin_key(user_id: str) -> str:
    return f"ryw:{user_id}"


def _raw_redis() -> Any | None:
    client = getattr(cache, "client", None)
    return client.get_client(write=True) if client is not None else None


def pin_user(user_id: str) -> None:
    seconds = settings.READ_YOUR_WRITES_SECONDS
    if seconds <= 0:
        return
    try:
        redis = _raw_redis()
        if redis is not None:
            redis.set(cache.make_key(_pin_key(user_id)), b"1", px=int(seconds * 1000))
        else:
            cache.set(_pin_key(user_id), True, seconds)
    except Exception as exc:  # Redis down: reads of everyone fall back to the primary below
        logger.warning("could not store read-your-writes pin: %s", exc)


def is_pinned(user_id: str) -> bool:
    try:
        redis = _raw_redis()
        if redis is not None:
            return bool(redis.exists(cache.make_key(_pin_key(user_id))))
        return cache.get(_pin_key(user_id)) is not None
    except Exception:
        return True  # cannot know: the primary is the safe answer


# --- the router ------------------------------------------------------------------------------


def _choose_read_alias() -> str:
    replicas: list[str] = settings.REPLICA_DATABASES
    if not replicas or not settings.REPLICA_READS_ENABLED:
        return PRIMARY
    ctx = context.current()
    if ctx is None or ctx.pin_primary:
        return PRIMARY
    if connections[PRIMARY].in_atomic_block:
        return PRIMARY
    if ctx.user_id and not ctx.pin_checked:
        ctx.pin_checked = True
        if is_pinned(ctx.user_id):
            ctx.pin_primary = True
            return PRIMARY
    for alias in ctx.replicas_used:
        # One request reads one replica: two replicas at different replay points could
        # otherwise show, within one answer, a feed entry and not yet its object.
        return alias if _is_healthy(alias) else PRIMARY
    healthy = [alias for alias in replicas if _is_healthy(alias)]
    if not healthy:
        return PRIMARY
    alias = random.choice(healthy)  # noqa: S311 - spreading load, not security
    ctx.replicas_used.add(alias)
    return alias


class PrimaryReplicaRouter:
    def db_for_read(self, model: Any, **hints: Any) -> str:
        return _choose_read_alias()

    def db_for_write(self, model: Any, **hints: Any) -> str:
        ctx = context.current()
        if ctx is not None:
            ctx.pin_primary = True  # the rest of this request reads what it wrote
        return PRIMARY

    def allow_relation(self, obj1: Any, obj2: Any, **hints: Any) -> bool:
        return True  # all aliases hold the same data

    def allow_migrate(self, db: str, app_label: str, **hints: Any) -> bool:
        return db == PRIMARY


class ReplicaRoutingMiddleware:
    """Retries a safe request on the primary when its replica failed, and pins writers."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        ctx = context.current()
        if ctx is None:
            return response
        failed = getattr(request, "_replica_failed", None)
        if failed:
            for alias in failed:
                bench_replica(alias, "query failed during a request")
            request._replica_failed = None  # type: ignore[attr-defined]
            request._replica_retried = True  # type: ignore[attr-defined]
            ctx.pin_primary = True
            ctx.replicas_used.clear()
            response = self.get_response(request)
        if request.method not in SAFE_METHODS and ctx.user_id:
            pin_user(ctx.user_id)
        return response

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        ctx = context.current()
        if (
            isinstance(exception, (OperationalError, InterfaceError))
            and ctx is not None
            and ctx.replicas_used
            and request.method in SAFE_METHODS
            and not getattr(request, "_replica_retried", False)
        ):
            request._replica_failed = set(ctx.replicas_used)  # type: ignore[attr-defined]
            return HttpResponse(status=503)  # replaced by the retry in __call__
        return None
