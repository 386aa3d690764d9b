"""The events process's fan-out: which streams are open, and waking them when a feed advances.

One `Hub` per process, living in the ASGI server's event loop. Each open stream is a `Listener`:
the account, the session and credentials it was opened with, the last sequence number it sent
and the newest one it has heard of. Delivery never queues: a notification only raises
`latest` (and adds the types) and sets the listener's `wake` event, so a client that reads
slowly costs one pending "you are at N" however many changes happen meanwhile — the publisher
never blocks and the server never buffers without bound (the stream's own write waits on the
socket, one event at a time; docs/sync.md).

With Redis (every deployed process) one pub/sub connection per process carries:
- a channel per connected account (apps/sync/events.py), subscribed when the process opens its
  first stream for that account and unsubscribed when it closes the last. A stream never waits
  for that: it reads and sends the position at once, and the account's position is read again
  once Redis confirms the subscription (what committed in between is heard either way);
- a control channel, subscribed always, so the connection is checked (PING every second, as the
  near cache does: apps/common/near_cache.py) even while no stream is open.
While that subscription is down (Redis restarted, unreachable, the connection killed), messages
published meanwhile are lost: every stream is told to fall back to polling (`fallback`), and
once subscribed again every account's position is read from the database in one query (a
`changed` where it moved) and the streams are told `live`. The same read runs every
EVENTS_SWEEP_SECONDS as a net under lost messages (a publisher that could not reach Redis).

Without Redis (`make run`) the publishing code of this same process calls `deliver_threadsafe`.

Authentication is re-checked, not trusted for the stream's life: every announcement of a
changed session (the identity app's near-cache channel, observed through
`apps.common.near_cache.drop_observers`) re-runs the configured authentication for the streams
of those sessions at once, the sweep re-checks every stream, and a stream ends when its access
token expires (the client reconnects with a fresh one and `Last-Event-ID`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import redis
import redis.asyncio as aredis
from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import close_old_connections, router
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from rest_framework import exceptions

from apps.common import near_cache
from apps.common.errors import ApplicationError, ErrorCode

from . import events
from .models import SyncCounter

logger = logging.getLogger(__name__)

PING_SECONDS = 1.0
LIVENESS_SECONDS = 3 * PING_SECONDS
SUBSCRIBE_WAIT_SECONDS = 1.0
# Every await on Redis is bounded by this (a connection that neither answers nor fails).
REDIS_AWAIT_SECONDS = LIVENESS_SECONDS
RESUBSCRIBE_FIRST_PAUSE = 0.05
RESUBSCRIBE_MAX_PAUSE = 2.0


class TooManyStreams(ApplicationError):
    status = 429
    code = ErrorCode.TOO_MANY_STREAMS


class EventsFull(ApplicationError):
    status = 503
    code = ErrorCode.EVENTS_FULL


@dataclass(eq=False)
class Listener:
    """One open stream."""

    owner_id: uuid.UUID
    session_id: str
    # The credentials it was opened with and the authenticators that accepted them: re-run to
    # re-check the session (a revoked one fails).
    credentials: dict[str, str]
    authenticators: Sequence[Any]
    expires_at: float  # time.time() of the access token's expiry
    sent: int  # the last seq sent (or the client's Last-Event-ID); -1: none yet
    latest: int = -1
    types: set[str] | None = field(default_factory=set)  # None: unknown (a catch-up read)
    closing: str | None = None  # why the server ends the stream
    wake: asyncio.Event = field(default_factory=asyncio.Event)

    def offer(self, seq: int, types: Iterable[str] | None) -> None:
        if seq <= self.sent and seq <= self.latest:
            return
        if seq > self.latest:
            self.latest = seq
        if types is None or self.types is None:
            self.types = None
        else:
            self.types.update(types)
        self.wake.set()

    def take(self) -> tuple[int, list[str] | None] | None:
        """The `changed` event due, if the feed moved past what was sent (or, on a reconnect,
        differs from what the client saw: a restored database is behind it, and its next pull
        answers 410)."""
        if self.latest < 0 or self.latest == self.sent:
            return None
        seq, types = self.latest, (sorted(self.types) if self.types is not None else None)
        self.sent = seq
        self.types = set()
        return seq, types

    def close(self, reason: str) -> None:
        self.closing = self.closing or reason
        self.wake.set()


class Slot:
    """A reserved place among the process's and the account's streams, given back once."""

    def __init__(self, hub: Hub, owner_id: uuid.UUID) -> None:
        self.hub = hub
        self.owner_id = owner_id
        self.released = False

    def release(self) -> None:
        with self.hub.lock:
            if self.released:
                return
            self.released = True
            self.hub.total -= 1
            left = self.hub.reserved[self.owner_id] - 1
            if left:
                self.hub.reserved[self.owner_id] = left
            else:
                del self.hub.reserved[self.owner_id]


class Hub:
    def __init__(self) -> None:
        self.lock = threading.Lock()  # the reservations are taken in the view's thread
        self.total = 0
        self.reserved: dict[uuid.UUID, int] = {}
        self.by_owner: dict[uuid.UUID, set[Listener]] = {}
        self.by_session: dict[str, set[Listener]] = {}
        self.loop: asyncio.AbstractEventLoop | None = None
        self.redis_url: str | None = None
        # True while messages can reach this process: subscribed (with Redis) or always (without).
        self.live = False
        self._live_event: asyncio.Event | None = None
        self._pubsub: aredis.client.PubSub | None = None
        self._subscribed: dict[str, asyncio.Future[None]] = {}
        self._stale: set[uuid.UUID] = set()  # accounts whose position is to be read again
        self._rereading = False
        self._tasks: set[asyncio.Task[None]] = set()
        self.shutting_down = False

    # --- limits (in the view's thread, before the response starts) -------------------------------

    def reserve(self, owner_id: uuid.UUID) -> Slot:
        with self.lock:
            if self.shutting_down or self.total >= settings.EVENTS_MAX_CONNECTIONS:
                raise EventsFull(
                    "This events process holds as many streams as it may: retry shortly (another "
                    "one may take it) and poll /v1/sync/changes meanwhile.",
                    headers={"Retry-After": "5"},
                )
            if self.reserved.get(owner_id, 0) >= settings.EVENTS_MAX_PER_USER:
                raise TooManyStreams(
                    f"This account has {settings.EVENTS_MAX_PER_USER} event streams open already: "
                    "close one (one per device is enough).",
                    headers={"Retry-After": str(int(settings.EVENTS_HEARTBEAT_SECONDS))},
                )
            self.total += 1
            self.reserved[owner_id] = self.reserved.get(owner_id, 0) + 1
        slot = Slot(self, owner_id)
        return slot

    # --- the loop side -----------------------------------------------------------------------

    def _start(self) -> None:
        loop = asyncio.get_running_loop()
        if self.loop is loop:
            return
        self.loop = loop
        self._live_event = asyncio.Event()
        self.redis_url = near_cache.redis_url()
        if self.redis_url is None:
            self.live = True
            events.local_delivery = self.deliver_threadsafe
        else:
            self._spawn(self._subscription_forever())
        if self._sessions_changed not in near_cache.drop_observers:
            near_cache.drop_observers.append(self._sessions_changed)
        self._spawn(self._sweep_forever())

    def _spawn(self, coroutine: Any) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def attach(self, listener: Listener) -> None:
        """Register a stream and, with Redis, have its account's channel subscribed. Nothing
        here waits on Redis: the subscribing is the hub's own task, and once Redis confirms it
        the account's position is read again (`_reread`), so a commit between the stream's
        first position read and the subscription is heard either way."""
        self._start()
        self.by_owner.setdefault(listener.owner_id, set()).add(listener)
        self.by_session.setdefault(listener.session_id, set()).add(listener)
        if self.shutting_down:
            # SIGTERM came between this stream's reservation and now: hub.shutdown() did not
            # see it, and the process stops within its graceful timeout.
            listener.close("shutdown")
            return
        if self.redis_url is None or self._pubsub is None or not self.live:
            return  # subscribed with the others (and every position read) once live again
        self._want(listener.owner_id)

    def _want(self, owner_id: uuid.UUID) -> None:
        name = events.channel(owner_id)
        if self._pubsub is not None and name not in self._subscribed:
            waiter = self._subscribed[name] = asyncio.get_running_loop().create_future()
            waiter.add_done_callback(self._confirmed(owner_id))
            self._spawn(self._subscribe(self._pubsub, name))

    def _confirmed(self, owner_id: uuid.UUID) -> Callable[[asyncio.Future[None]], None]:
        def done(waiter: asyncio.Future[None]) -> None:
            if not waiter.cancelled():
                self._reread(owner_id)

        return done

    async def _subscribe(self, pubsub: aredis.client.PubSub, name: str) -> None:
        connection = pubsub.connection
        # A connection that failed meanwhile is the reader's to replace: subscribing on it
        # would reconnect it silently, outside the reader's loss-and-catch-up handling.
        if pubsub is not self._pubsub or connection is None or not connection.is_connected:
            return
        try:
            await asyncio.wait_for(pubsub.subscribe(name), REDIS_AWAIT_SECONDS)
        except (TimeoutError, redis.exceptions.RedisError, OSError) as exc:
            # redis-py drops a connection whose write failed or was cut short, so the reader
            # fails too and subscribes everything again; until then this stream is covered
            # by the catch-up that follows. A later stream of the account tries again.
            logger.info("events: subscribing %s failed (%s)", name, exc.__class__.__name__)
            waiter = self._subscribed.get(name)
            if waiter is not None and not waiter.done():
                del self._subscribed[name]
                waiter.cancel()

    async def settle(self) -> None:
        """Give a subscription being made a moment (the process's first stream, a Redis
        restart) before a stream tells its client to poll; never longer."""
        if not self.live and self._live_event is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._live_event.wait(), SUBSCRIBE_WAIT_SECONDS)

    def detach(self, listener: Listener) -> None:
        owned = self.by_owner.get(listener.owner_id)
        if owned is not None:
            owned.discard(listener)
            if not owned:
                del self.by_owner[listener.owner_id]
        same_session = self.by_session.get(listener.session_id)
        if same_session is not None:
            same_session.discard(listener)
            if not same_session:
                del self.by_session[listener.session_id]
        if listener.owner_id not in self.by_owner and self._pubsub is not None:
            name = events.channel(listener.owner_id)
            self._subscribed.pop(name, None)
            if self.live:
                self._spawn(self._unsubscribe(name))

    async def _unsubscribe(self, name: str) -> None:
        # Reopened meanwhile: keep it.
        if self._pubsub is not None and name not in self._subscribed:
            with contextlib.suppress(redis.exceptions.RedisError, OSError, TimeoutError):
                await asyncio.wait_for(self._pubsub.unsubscribe(name), REDIS_AWAIT_SECONDS)

    def deliver(self, owner_id: uuid.UUID, seq: int, types: Iterable[str] | None) -> None:
        for listener in self.by_owner.get(owner_id, ()):
            listener.offer(seq, types)

    def deliver_threadsafe(self, owner_id: uuid.UUID, seq: int, types: list[str]) -> None:
        if self.loop is not None and not self.loop.is_closed():
            self.loop.call_soon_threadsafe(self.deliver, owner_id, seq, types)

    def listeners(self) -> list[Listener]:
        return [listener for group in self.by_owner.values() for listener in group]

    def _set_live(self, live: bool) -> None:
        if self.live == live:
            return
        self.live = live
        if self._live_event is not None:
            if live:
                self._live_event.set()
            else:
                self._live_event.clear()
        for listener in self.listeners():
            listener.wake.set()  # each stream tells its client (`fallback` / `live`)

    def shutdown(self) -> None:
        """The process is stopping: end every stream (with `closing: shutdown`) so clients
        reconnect to another pod at once, refuse new ones."""
        with self.lock:
            self.shutting_down = True
        for listener in self.listeners():
            listener.close("shutdown")

    # --- the subscription ----------------------------------------------------------------------

    async def _subscription_forever(self) -> None:
        pause = RESUBSCRIBE_FIRST_PAUSE
        while True:
            try:
                await self._subscription()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # Redis restarted, killed our connection, unreachable
                if self.live:
                    logger.warning("events: subscription lost (%s); streams told to poll", exc)
            was_live = self.live
            self._pubsub = None
            for waiter in self._subscribed.values():
                if not waiter.done():
                    waiter.cancel()
            self._subscribed.clear()
            self._set_live(False)
            pause = RESUBSCRIBE_FIRST_PAUSE if was_live else min(pause * 2, RESUBSCRIBE_MAX_PAUSE)
            await asyncio.sleep(pause)

    async def _subscription(self) -> None:
        assert self.redis_url is not None
        client = aredis.Redis.from_url(
            self.redis_url,
            socket_connect_timeout=0.5,
            socket_timeout=LIVENESS_SECONDS,
            client_name=f"sync-events:{id(self):x}",
            # No silent reconnection: what was published while the connection was down is lost,
            # so a loss must be seen (and answered by a read of the database).
            retry=Retry(NoBackoff(), 0),
        )
        pubsub = client.pubsub()
        control = events.channel_prefix() + "control"
        try:
            owners = list(self.by_owner)
            channels = [control] + [events.channel(owner) for owner in owners]
            for name in channels[1:]:
                self._subscribed[name] = asyncio.get_running_loop().create_future()
            await asyncio.wait_for(pubsub.subscribe(*channels), REDIS_AWAIT_SECONDS)
            self._pubsub = pubsub
            heard = pinged = time.monotonic()
            prefix = events.channel_prefix()
            while True:
                message = await pubsub.get_message(timeout=PING_SECONDS)
                now = time.monotonic()
                if message is not None:
                    heard = now
                    kind = message["type"]
                    name = message["channel"]
                    name = name.decode() if isinstance(name, bytes) else str(name)
                    if kind == "message" and name.startswith(prefix):
                        self._received(name[len(prefix) :], message["data"])
                    elif kind == "subscribe":
                        waiter = self._subscribed.get(name)
                        if waiter is not None and not waiter.done():
                            waiter.set_result(None)
                        if name == control and not self.live:
                            self._set_live(True)
                            logger.info("events: subscribed (%d accounts)", len(owners))
                            # Streams opened while this subscription was being made.
                            for owner_id in list(self.by_owner):
                                self._want(owner_id)
                            self._spawn(self._catch_up_after_outage())
                if now - heard > LIVENESS_SECONDS:
                    raise TimeoutError("no answer to PING: the subscription is presumed dead")
                if now - pinged >= PING_SECONDS:
                    await asyncio.wait_for(pubsub.ping(), REDIS_AWAIT_SECONDS)
                    pinged = now
        finally:
            self._pubsub = None
            with contextlib.suppress(Exception):
                await pubsub.aclose()
            with contextlib.suppress(Exception):
                await client.aclose()

    def _received(self, owner_hex: str, data: bytes) -> None:
        try:
            owner_id = uuid.UUID(owner_hex)
            seq, types = events.decode(data)
        except (ValueError, KeyError, TypeError):
            return  # not ours (the control channel, a foreign publisher)
        self.deliver(owner_id, seq, types)

    # --- the safety nets ---------------------------------------------------------------------

    async def catch_up(self, owners: Iterable[uuid.UUID] | None = None) -> None:
        """Read the feed position of the given (default: every connected) account in one query
        and wake the streams it moved for (`types` unknown)."""
        wanted = list(owners if owners is not None else self.by_owner)
        if not wanted:
            return
        try:
            positions = await read_positions(wanted)
        except Exception:  # the database is down: the next sweep tries again
            logger.warning("events: could not read feed positions", exc_info=True)
            return
        for owner_id in wanted:
            self.deliver(owner_id, positions.get(owner_id, 0), None)

    def _reread(self, owner_id: uuid.UUID) -> None:
        """Read this account's position again soon; the accounts asked for meanwhile are read
        together in one query (a burst of new accounts costs a query or two, not one each)."""
        self._stale.add(owner_id)
        if not self._rereading:
            self._rereading = True
            self._spawn(self._reread_stale())

    async def _reread_stale(self) -> None:
        try:
            while self._stale:
                owners = list(self._stale)
                self._stale.clear()
                await self.catch_up(owners)
        finally:
            self._rereading = False

    async def _catch_up_after_outage(self) -> None:
        """Read positions now (messages published while unsubscribed are lost), and once more
        when the API processes' Redis circuit breakers have closed again: until then they skip
        Redis, so a write committed in that window published nothing (apps/common/cache.py)."""
        await self.catch_up()
        await asyncio.sleep(float(getattr(settings, "REDIS_RETRY_SECONDS", 2.0)) + 1.0)
        await self.catch_up()

    async def _sweep_forever(self) -> None:
        while True:
            await asyncio.sleep(settings.EVENTS_SWEEP_SECONDS)
            await self.catch_up()
            await self.recheck(self.listeners())

    def _sessions_changed(self, cache_name: str, keys: list[str]) -> None:
        """From the near cache's listener thread: sessions changed (revoked, most often)."""
        loop = self.loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._recheck_sessions, keys)

    def _recheck_sessions(self, keys: list[str]) -> None:
        affected = [listener for key in keys for listener in self.by_session.get(key, ())]
        if affected:
            self._spawn(self.recheck(affected))

    async def recheck(self, listeners: list[Listener]) -> None:
        if listeners:
            refusals = await sync_to_async(
                _fresh_connection(_refusals), thread_sensitive=False, executor=_recheck_thread
            )(listeners)
            for listener, reason in zip(listeners, refusals, strict=True):
                if reason is not None:
                    listener.close(reason)


# Two threads of the hub's own, each with its own database connection, so that neither waits
# for asgiref's one shared thread (exampleapp/asgi.py), where every request's synchronous steps
# run: a stream's first position read queued there behind whatever else is (a request's cache
# call on an unreachable Redis, the sweep's re-authentication of every stream) was issue 18's
# "first event stall". Positions: one indexed query each, no Redis. Re-checks: authentication,
# which may ask Redis, kept off both the position reads and the requests.
_positions_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="events-positions")
_recheck_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="events-recheck")


async def read_positions(owner_ids: list[uuid.UUID]) -> dict[uuid.UUID, int]:
    """`feed_positions` in the hub's positions thread."""
    read = sync_to_async(
        _fresh_connection(feed_positions), thread_sensitive=False, executor=_positions_thread
    )
    positions: dict[uuid.UUID, int] = await read(owner_ids)
    return positions


def _fresh_connection(function: Callable[[list[Any]], Any]) -> Callable[[list[Any]], Any]:
    """Outside a request no signal closes a broken or expired connection (the database
    restarted): check before each use, as each request does."""

    def run(items: list[Any]) -> Any:
        close_old_connections()
        return function(items)

    return run


def feed_positions(owner_ids: list[uuid.UUID]) -> dict[uuid.UUID, int]:
    """Each account's newest sequence number, from the primary (a replica may be behind)."""
    rows = (
        SyncCounter.objects.using(router.db_for_write(SyncCounter))
        .filter(owner_id__in=owner_ids)
        .values_list("owner_id", "last_seq")
    )
    return {owner_id: int(seq) for owner_id, seq in rows}


def _refusals(listeners: list[Listener]) -> list[str | None]:
    """For each stream, why its credentials no longer authenticate its account (None: they do)."""
    out: list[str | None] = []
    for listener in listeners:
        request = SimpleNamespace(META=listener.credentials)
        reason: str | None = "session_ended"
        for authenticator in listener.authenticators:
            try:
                result = authenticator.authenticate(request)
            except exceptions.AuthenticationFailed as exc:
                codes = exc.get_codes()
                reason = "token_expired" if codes == ErrorCode.TOKEN_EXPIRED else "session_ended"
                break
            if result is not None:
                user = result[0]
                reason = None if getattr(user, "id", None) == listener.owner_id else "session_ended"
                break
        out.append(reason)
    return out


hub = Hub()
