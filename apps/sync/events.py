"""Telling the live stream (GET /v1/sync/events) that a user's feed advanced: the publishing side.

Every feed write (`feed.changes_record`) calls `announce` inside its transaction; the message
leaves only once the transaction has committed (`transaction.on_commit`), so an event never
names a sequence number a puller cannot see yet, and a rolled-back write announces nothing.

Where it goes:
- With Redis (every deployed process): PUBLISH on the user's own channel (`channel`). Every
  events process subscribes to the channels of the users it holds streams for (apps/sync/hub.py)
  and wakes only those streams. One channel per user rather than a few shared ones: Redis does
  the filtering, so a process receives only its own users' messages, and a PUBLISH costs the
  same whether 1 or 100,000 users are connected elsewhere (docs/sync.md, "Fan-out").
- Without Redis (`make run`: one process serves the API and the streams): straight to this
  process's hub.

A PUBLISH is fire-and-forget: Redis never waits for subscribers (a slow one is cut off by Redis'
own output-buffer limit), so a write never waits for a stream. Redis unreachable costs the
event, never the write: the circuit breaker (apps/common/cache.py) makes the attempt fail at
once, and the streams, whose subscription is down too, have told their clients to poll.
The message is a hint ("your feed is at N now"); the feed stays the truth, so a lost,
duplicated or reordered message costs latency, never data.
"""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections.abc import Callable, Iterable
from functools import partial

import orjson
import redis
from django.core.cache import cache
from django.db import transaction

from apps.common.near_cache import redis_url

logger = logging.getLogger(__name__)

# Without Redis, the hub of this process (set by apps/sync/hub.py once it runs): the in-process
# fan-out of `make run`. Called from the committing thread; it must hand over to its own loop.
local_delivery: Callable[[uuid.UUID, int, list[str]], None] | None = None


def channel_prefix() -> str:
    """Per key prefix and Redis database, like the near cache's channel: pub/sub ignores
    databases, and the parallel test workers each have their own."""
    db = redis.connection.parse_url(redis_url() or "redis://").get("db", 0)
    return f"{cache.make_key('sync:events')}:{db}:"


def channel(owner_id: uuid.UUID) -> str:
    return channel_prefix() + owner_id.hex


def encode(seq: int, types: Iterable[str]) -> bytes:
    return orjson.dumps({"seq": seq, "types": sorted(set(types))})


def decode(data: bytes) -> tuple[int, list[str]]:
    message = orjson.loads(data)
    return int(message["seq"]), [str(kind) for kind in message.get("types", [])]


def announce(*, owner_id: uuid.UUID, seq: int, types: Iterable[str], using: str) -> None:
    """Announce, once the current transaction commits, that `owner_id`'s feed reached `seq`."""
    transaction.on_commit(partial(publish, owner_id, seq, sorted(set(types))), using=using)


def publish(owner_id: uuid.UUID, seq: int, types: list[str]) -> None:
    if redis_url() is None:
        if local_delivery is not None:
            local_delivery(owner_id, seq, types)
        return
    from django_redis import get_redis_connection

    # Redis unreachable: the breaker has logged it; the streams are in fallback meanwhile.
    with contextlib.suppress(redis.exceptions.ConnectionError, redis.exceptions.TimeoutError):
        get_redis_connection("default").publish(channel(owner_id), encode(seq, types))
