"""Session state as authentication sees it, cached so a valid access token costs no SQL query.

Every access token names its session (`sid`). Authentication needs to know that the session is
still live and whose it is; that answer is cached for a short while and dropped explicitly
whenever a session is revoked or its user changes, so revocation takes effect at once (not
when the 5-minute access token expires). On a cache miss (or with Redis down) the answer comes
from the primary database, never a replica, so a session created a millisecond ago is found.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass

from django.core.cache import cache
from django.utils import timezone

from .models import DeviceSession

PRIMARY = "default"
STATE_TTL_SECONDS = 60
_REVOKED = "revoked"


@dataclass(frozen=True)
class SessionState:
    user_id: str
    is_staff: bool


def _key(session_id: str) -> str:
    return f"auth:sess:{session_id}"


def session_state(session_id: str) -> SessionState | None:
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
    cache.set(_key(session_id), (state.user_id, state.is_staff), STATE_TTL_SECONDS)
    return state


def forget(session_ids: Iterable[str | uuid.UUID]) -> None:
    """Drop cached state (the user changed) so the next request re-reads the database."""
    keys = [_key(str(sid)) for sid in session_ids]
    if keys:
        cache.delete_many(keys)


def mark_revoked(session_ids: Iterable[str | uuid.UUID]) -> None:
    """Remember revocations in the cache itself, so no pod keeps a stale "live" answer."""
    entries = {_key(str(sid)): _REVOKED for sid in session_ids}
    if entries:
        cache.set_many(entries, STATE_TTL_SECONDS)
