"""Session state as authentication sees it, cached so a valid access token costs no SQL query
and, most of the time, no Redis round trip either.

Every access token names its session (`sid`). Authentication needs to know that the session is
still live and whose it is; that answer is cached for a short while and dropped explicitly
whenever a session is revoked or its user changes, so revocation takes effect at once (not
when the 5-minute access token expires). Two levels:
- each process keeps answers in memory (apps/common/near_cache.py) for at most
  NEAR_CACHE_SECONDS, and only while its Redis pub/sub subscription is healthy; every revocation
  and change is announced on a channel once committed, and drops the entry in every process
  within milliseconds (docs/operations.md has the measured bound);
- Redis keeps them for STATE_TTL_SECONDS, shared by every pod: a revocation writes a `revoked`
  marker there first, so a process whose subscription is down (it then always asks Redis)
  still refuses the session.
On a Redis miss (or with Redis down) the answer comes from the primary database, never a
replica, so a session created a millisecond ago is found.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from apps.common import cache as redis_cache
from apps.common.near_cache import NearCache

from .models import DeviceSession

PRIMARY = "default"
STATE_TTL_SECONDS = 60
_REVOKED = "revoked"
# A few thousand live sessions per worker: ~1 MB at most, more than a pod serves in a minute.
near = NearCache("auth:sess", max_entries=4096)


@dataclass(frozen=True)
class SessionState:
    user_id: str
    is_staff: bool


def _key(session_id: str) -> str:
    return f"auth:sess:{session_id}"


def session_state(session_id: str) -> SessionState | None:
    return near.get_or_load(session_id, lambda: _shared_state(session_id))


def _shared_state(session_id: str) -> SessionState | None:
    cached = cache.get(_key(session_id))
    if cached == _REVOKED:
        return None
    if isinstance(cached, tuple):
        return SessionState(user_id=cached[0], is_staff=cached[1])
    try:
        sid = uuid.UUID(session_id)
    except ValueError:
        return None
    row = (
        DeviceSession.objects.using(PRIMARY)
        .filter(id=sid, revoked_at__isnull=True, expires_at__gt=timezone.now(), user__is_active=True)
        .values_list("user_id", "user__is_staff")
        .first()
    )
    if row is None:
        cache.set(_key(session_id), _REVOKED, STATE_TTL_SECONDS)
        return None
    state = SessionState(user_id=str(row[0]), is_staff=bool(row[1]))
    # Only if absent: a revocation committed after the read above may have written its marker
    # already, and a "live" written over it would be served by every pod for a minute.
    cache.add(_key(session_id), (state.user_id, state.is_staff), STATE_TTL_SECONDS)
    return state


def forget(session_ids: Iterable[str | uuid.UUID]) -> None:
    """Drop cached state (the user changed) so the next request re-reads the database.
    Call it once the change is committed."""
    ids = [str(sid) for sid in session_ids]
    if ids:
        with redis_cache.essential():
            cache.delete_many([_key(sid) for sid in ids])
        _drop_everywhere(ids)


def mark_revoked(session_ids: Iterable[str | uuid.UUID]) -> None:
    """Remember revocations in Redis itself, so no pod keeps a stale "live" answer, not even one
    whose subscription is down. Call it once the revocation is committed."""
    ids = [str(sid) for sid in session_ids]
    if ids:
        with redis_cache.essential():
            cache.set_many({_key(sid): _REVOKED for sid in ids}, STATE_TTL_SECONDS)
        _drop_everywhere(ids)


def _drop_everywhere(ids: list[str]) -> None:
    # This process at once (its next request must not wait for its own announcement); the
    # others through the channel, after the commit: announced earlier, a pod could reload the
    # old state from the database before the change is visible there.
    near.drop(ids)
    transaction.on_commit(_announce(ids), using=PRIMARY)


def _announce(ids: list[str]) -> Callable[[], None]:
    def announce() -> None:
        with redis_cache.essential():  # not skipped because Redis failed a moment ago
            near.announce(ids)

    return announce
