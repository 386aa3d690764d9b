"""A per-process cache in front of Redis, kept coherent through Redis pub/sub (a "near cache").

What it is for: an answer every request needs (is this session live?) that changes rarely but
must change everywhere at once when it does. Redis 7.0 has no client-side caching that redis-py
supports, so each process (each gunicorn worker) keeps a small LRU of answers and a listener
thread subscribed to a channel on which every change is announced; an announcement drops the
named entries in every process within the time a pub/sub message takes (about a millisecond on
one network).

The rule that keeps it correct: **the local copy is used only while this process's subscription
is known healthy**, that is, subscribed and heard from (a message or the answer to its own
PING, sent every PING_SECONDS) within LIVENESS_SECONDS. Otherwise every lookup takes the round
trip, exactly as without this module:
- Redis restarted or the connection killed (`CLIENT KILL TYPE pubsub`): the listener's read
  fails at once, the local entries are dropped and bypassed; it re-subscribes with a growing
  pause, and starts empty, so anything changed while it was away is read again from Redis or
  the database.
- A connection that dies silently (no reset reaches us): no PING answer, so within
  LIVENESS_SECONDS the cache stops being used.
- Announcements lost some other way (the announcing process could not reach Redis): every
  entry also expires after NEAR_CACHE_SECONDS (a safety net, a few seconds).
redis-py's own silent reconnection (which re-subscribes without telling) is turned off for the
listener (no retries), and any subscribe confirmation starts the cache empty regardless.

A lookup and an announcement may cross: a load that began before an announcement must not store
its (possibly stale) answer after the announcement dropped the entry. Every drop bumps an epoch,
and a load stores its answer only if the epoch did not move while it ran.

Fork safety: gunicorn forks workers, and a thread of the parent does not exist in the child.
State is keyed by os.getpid(): the first lookup in a new process starts that process's own
listener (with fresh locks and an empty cache). Without Redis (`make run`: the local-memory
cache backend) the near cache is off: lookups always load, announcements are no-ops.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

import redis
from django.conf import settings
from django.core.cache import cache
from redis.backoff import NoBackoff
from redis.retry import Retry

logger = logging.getLogger(__name__)

V = TypeVar("V")

REDIS_BACKEND = "django_redis.cache.RedisCache"
PING_SECONDS = 1.0
# Three PINGs unanswered: the subscription is presumed dead and the local copy is bypassed.
LIVENESS_SECONDS = 3 * PING_SECONDS
RESUBSCRIBE_FIRST_PAUSE = 0.05
RESUBSCRIBE_MAX_PAUSE = 2.0


# Called (in the listener's thread) with the keys of every announcement this process hears, for
# code that must act on a change at once rather than on its next lookup: the live sync stream
# ends a revoked session's connections (apps/sync/hub.py). An observer must be quick and never
# raise; it sees announcements only while a near cache's listener runs (Redis, NEAR_CACHE_SECONDS).
drop_observers: list[Callable[[str, list[str]], None]] = []


def redis_url() -> str | None:
    """The Redis URL of the default cache, or None when the cache is not Redis."""
    return _redis_location()


def _redis_location() -> str | None:
    """The Redis URL of the default cache, or None when the cache is not Redis."""
    config = settings.CACHES["default"]
    if config["BACKEND"] != REDIS_BACKEND:
        return None
    location = config["LOCATION"]
    first = location[0] if isinstance(location, list | tuple) else str(location).split(",")[0]
    return str(first).strip()


class NearCache:
    """Named entries (`key` -> any value) cached in this process; see the module docstring."""

    def __init__(self, name: str, *, max_entries: int) -> None:
        self.name = name
        self.max_entries = max_entries
        self._pid = 0
        # Each listener thread serves one generation; a new one (close, a new process) ends it.
        self._generation = 0
        self._start_lock = threading.Lock()
        self._reset()
        os.register_at_fork(after_in_child=self._after_fork)

    def _reset(self) -> None:
        self._lock = threading.Lock()
        self._entries: OrderedDict[str, tuple[float, Any]] = OrderedDict()
        self._epoch = 0
        self._live = False
        self._heard = 0.0
        self._ttl = 0.0
        self._url: str | None = None
        self._channel = ""
        self._lost = False

    def _after_fork(self) -> None:
        # A lock held by a parent's thread at fork time would stay held forever in the child.
        self._start_lock = threading.Lock()
        self._pid = 0
        self._reset()

    # --- the request side ------------------------------------------------------------------

    def get_or_load(self, key: str, load: Callable[[], V]) -> V:
        """The cached value of `key` or, on a miss or while the subscription is not healthy,
        `load()` (which reads Redis or the database), remembered when that is safe."""
        if not self.usable():
            return load()
        now = time.monotonic()
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and entry[0] > now:
                self._entries.move_to_end(key)
                value: V = entry[1]
                return value
            epoch = self._epoch
        value = load()
        with self._lock:
            if self._live and self._epoch == epoch:
                self._entries[key] = (now + self._ttl, value)
                self._entries.move_to_end(key)
                while len(self._entries) > self.max_entries:
                    self._entries.popitem(last=False)
        return value

    def usable(self) -> bool:
        """Whether lookups may be answered locally now (starting the listener if needed)."""
        if self._pid != os.getpid():
            self._start()
        return self._live and time.monotonic() - self._heard < LIVENESS_SECONDS

    def drop(self, keys: Iterable[str]) -> None:
        """Forget `keys` in this process only (announce() tells the others)."""
        with self._lock:
            self._epoch += 1
            for key in keys:
                self._entries.pop(key, None)

    def clear(self) -> None:
        with self._lock:
            self._epoch += 1
            self._entries.clear()

    def announce(self, keys: Iterable[str]) -> None:
        """Tell every process (this one too) to drop `keys`. Best effort: Redis unreachable
        means no announcement, and the entries then live out NEAR_CACHE_SECONDS elsewhere."""
        names = [str(key) for key in keys]
        if not names or _redis_location() is None:
            return
        from django_redis import get_redis_connection

        # Redis unreachable: the circuit breaker (apps/common/cache.py) has logged it already.
        with contextlib.suppress(redis.exceptions.ConnectionError, redis.exceptions.TimeoutError):
            get_redis_connection("default").publish(self.channel(), ",".join(names))

    def channel(self) -> str:
        """Per key prefix and Redis database: pub/sub ignores databases, and the parallel test
        workers each have their own database."""
        db = redis.connection.parse_url(_redis_location() or "redis://").get("db", 0)
        return f"{cache.make_key(self.name)}:invalidate:{db}"

    def __len__(self) -> int:
        return len(self._entries)

    # --- the listener ----------------------------------------------------------------------

    def _start(self) -> None:
        with self._start_lock:
            if self._pid == os.getpid():
                return
            self._ttl = float(getattr(settings, "NEAR_CACHE_SECONDS", 0.0))
            self._url = _redis_location()
            if self._url and self._ttl > 0:
                self._channel = self.channel()
                self._generation += 1
                threading.Thread(
                    target=self._listen_forever,
                    args=(self._generation,),
                    name=f"near-cache-{self.name}",
                    daemon=True,
                ).start()
            self._pid = os.getpid()

    def close(self) -> None:
        """Stop using the local copy and let the listener end (within PING_SECONDS)."""
        self._generation += 1
        self._go_dark()

    def _listen_forever(self, generation: int) -> None:
        pause = RESUBSCRIBE_FIRST_PAUSE
        while generation == self._generation:
            try:
                self._listen(generation)
            except Exception as exc:  # Redis restarted, killed our connection, or is unreachable
                if self._live:
                    self._lost = True
                    logger.warning("near cache %s: subscription lost (%s); bypassed", self.name, exc)
            was_live = self._live
            self._go_dark()
            pause = RESUBSCRIBE_FIRST_PAUSE if was_live else min(pause * 2, RESUBSCRIBE_MAX_PAUSE)
            time.sleep(pause)

    def _listen(self, generation: int) -> None:
        assert self._url is not None
        client = redis.Redis.from_url(
            self._url,
            socket_connect_timeout=0.5,
            socket_timeout=LIVENESS_SECONDS,
            client_name=f"near-cache:{self.name}:{os.getpid()}",  # CLIENT LIST shows who listens
            # No silent reconnection: a lost connection must be seen, since what was published
            # meanwhile is lost for good.
            retry=Retry(NoBackoff(), 0),
        )
        pubsub = client.pubsub()
        try:
            pubsub.subscribe(self._channel)
            pinged = time.monotonic()
            while generation == self._generation:
                message = pubsub.get_message(timeout=PING_SECONDS)
                now = time.monotonic()
                if message is not None and generation == self._generation:
                    self._received(message, now)
                if now - pinged >= PING_SECONDS:
                    pubsub.ping()
                    pinged = now
        finally:
            pubsub.close()
            client.close()

    def _received(self, message: dict[str, Any], now: float) -> None:
        kind = message["type"]
        if kind == "subscribe":
            # (Re)subscribed: whatever was announced before is unknown, so start empty.
            with self._lock:
                self._epoch += 1
                self._entries.clear()
                self._live = True
                self._heard = now
            if self._lost:
                self._lost = False
                logger.warning("near cache %s: subscribed again", self.name)
            return
        if kind == "message":
            data = message["data"]
            keys = (data.decode() if isinstance(data, bytes) else str(data)).split(",")
            self.drop(keys)
            for observer in drop_observers:
                try:
                    observer(self.name, keys)
                except Exception:  # an observer's bug must not cost the cache its listener
                    logger.exception("near cache %s: drop observer failed", self.name)
        self._heard = now

    def _go_dark(self) -> None:
        with self._lock:
            self._live = False
            self._epoch += 1
            self._entries.clear()
