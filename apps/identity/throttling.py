"""Sign-in abuse limits, kept in the shared cache so every pod counts together.

- Failed logins lock an account (and, with a higher limit, an IP address) for the rest of a
  fixed window once they reach the limit; during the lockout even the right password is
  refused with 429, so guessing gains nothing. A success clears the account's counter.
- Every sign-in, registration and reset request also meets a generous per-IP ceiling
  (AUTH_IP_RATE), so an office NAT or a test suite is not locked out by its own users.
With the cache unreachable the counters cannot be kept and the limits are not enforced: the
service degrades to "no throttling" instead of refusing every login.
"""

from __future__ import annotations

import hashlib
import time
from typing import Any

from django.conf import settings
from django.core.cache import cache
from rest_framework.exceptions import Throttled
from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle
from rest_framework.views import APIView


class AuthRateThrottle(SimpleRateThrottle):
    """Per-IP ceiling for the anonymous identity endpoints (rate read at call time)."""

    scope = "auth"

    def get_rate(self) -> str:
        return settings.AUTH_IP_RATE

    def get_cache_key(self, request: Request, view: APIView) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


def client_ip(request: Request) -> str:
    return AuthRateThrottle().get_ident(request)


def _account_key(email: str) -> str:
    return "login:fail:acct:" + hashlib.sha256(email.encode()).hexdigest()


def _ip_key(ip: str) -> str:
    return f"login:fail:ip:{ip}"


def _read(key: str) -> dict[str, Any] | None:
    value = cache.get(key)
    if isinstance(value, dict) and value.get("until", 0) > time.time():
        return value
    return None


def check_login_allowed(*, email: str, ip: str) -> None:
    """Raise 429 (with Retry-After) while the account or the address is locked."""
    for key, limit in (
        (_account_key(email), settings.LOGIN_FAILURES_PER_ACCOUNT),
        (_ip_key(ip), settings.LOGIN_FAILURES_PER_IP),
    ):
        state = _read(key)
        if state is not None and state["count"] >= limit:
            raise Throttled(
                wait=max(1.0, state["until"] - time.time()),
                detail="Too many failed sign-in attempts; try again later.",
            )


def record_login_failure(*, email: str, ip: str) -> None:
    now = time.time()
    for key in (_account_key(email), _ip_key(ip)):
        state = _read(key) or {"count": 0, "until": now + settings.LOGIN_LOCKOUT_SECONDS}
        state["count"] += 1
        cache.set(key, state, timeout=max(1, int(state["until"] - now) + 1))


def record_login_success(*, email: str) -> None:
    cache.delete(_account_key(email))
