"""Redis down must degrade, not break — and not slow every request down either.

`CircuitBreakerRedis` is the Redis client class django-redis builds (settings: REDIS_CLIENT_CLASS).
When a command fails because Redis cannot be reached, the breaker opens for
REDIS_RETRY_SECONDS: every command in that window fails at once with a ConnectionError, without
a connection attempt, so a cache call costs microseconds and becomes a miss (django-redis'
IGNORE_EXCEPTIONS), the read-your-writes check answers "primary" (db_router) and the session
check reads the database. The first command after the window tries Redis again. One warning is
logged when the breaker opens and one when Redis answers again, instead of a traceback per call
(measured by the Redis drill: per-call tracebacks doubled the median latency).

The breaker is per process, like the connection pool it guards. Writes that must not be skipped
while it is open (revocations: apps/identity/sessions.py) run inside `essential()`, which tries
Redis anyway: they are rare, and the breaker may still be open seconds after Redis came back.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import redis
from django.conf import settings

logger = logging.getLogger(__name__)

_UNREACHABLE = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)


class _Breaker:
    def __init__(self) -> None:
        self.open_until = 0.0
        self.tripped = False
        self.lock = threading.Lock()

    def check(self) -> None:
        if self.open_until and time.monotonic() < self.open_until and not getattr(_essential, "on", False):
            raise redis.exceptions.ConnectionError("Redis is unreachable (circuit open); not trying yet")

    def trip(self, exc: Exception) -> None:
        with self.lock:
            self.open_until = time.monotonic() + float(getattr(settings, "REDIS_RETRY_SECONDS", 2.0))
            if not self.tripped:
                self.tripped = True
                logger.warning("Redis unreachable (%s): degrading without it", exc.__class__.__name__)

    def succeeded(self) -> None:
        if self.tripped:
            with self.lock:
                if self.tripped:
                    self.tripped = False
                    self.open_until = 0.0
                    logger.warning("Redis answers again")


breaker = _Breaker()
_essential = threading.local()


@contextmanager
def essential() -> Iterator[None]:
    """Redis commands in this block (this thread) are tried even while the circuit is open; a
    success closes it, a failure keeps it open."""
    _essential.on = True
    try:
        yield
    finally:
        _essential.on = False


def reset() -> None:
    """Close the breaker (tests)."""
    breaker.open_until = 0.0
    breaker.tripped = False


class CircuitBreakerRedis(redis.Redis):
    def execute_command(self, *args: Any, **options: Any) -> Any:
        breaker.check()
        try:
            result = super().execute_command(*args, **options)
        except _UNREACHABLE as exc:
            breaker.trip(exc)
            raise
        breaker.succeeded()
        return result

    def pipeline(self, transaction: bool = True, shard_hint: Any = None) -> Any:
        breaker.check()
        return _BreakerPipeline(self.connection_pool, self.response_callbacks, transaction, shard_hint)


class _BreakerPipeline(redis.client.Pipeline):
    def execute(self, raise_on_error: bool = True) -> list[Any]:
        breaker.check()
        try:
            result = super().execute(raise_on_error)
        except _UNREACHABLE as exc:
            breaker.trip(exc)
            raise
        breaker.succeeded()
        return result
