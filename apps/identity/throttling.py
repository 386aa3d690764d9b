"""Sign-in abuse limits, kept in the shared cache so every pod counts together.

One gate for every place a secret is checked: API sign-in, the Django admin's sign-in, the
current password of a password change or a re-authentication, and KOReader's key
(`credential_check`). Per account and per client address:
- Each attempt is counted *before* the secret is evaluated (an atomic increment), and an
  attempt past the limit is refused with 429 without evaluating anything. So N parallel
  guesses get at most LOGIN_FAILURES_PER_ACCOUNT evaluated answers, never a few more.
- A success gives its attempt back: the account's count is cleared and the address' count
  decremented, so only failures add up. The window is fixed from the first counted attempt
  (LOGIN_LOCKOUT_SECONDS); during a lockout even the right secret is refused.
- Every sign-in, registration and reset request also meets a generous per-address ceiling
  (AUTH_IP_RATE), so an office NAT or a test suite is not locked out by its own users.
With the cache unreachable the counters cannot be kept and the limits are not enforced: the
service degrades to "no throttling" instead of refusing every sign-in.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest
from rest_framework.exceptions import Throttled
from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle
from rest_framework.views import APIView


class AuthRateThrottle(SimpleRateThrottle):
    """Per-IP ceiling for the anonymous identity endpoints (rate read at call time)."""

    scope = "auth"

    def get_rate(self) -> str:
        return settings.AUTH_IP_RATE

    def get_cache_key(self, request: Request, view: APIView | None) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


def client_ip(request: Request | HttpRequest) -> str:
    """The client's address as the limits see it (X-Forwarded-For only from NUM_PROXIES)."""
    return AuthRateThrottle().get_ident(request)  # type: ignore[arg-type]  # reads META only


def ceiling_allows(request: HttpRequest) -> Throttled | None:
    """For views outside DRF (the admin's sign-in): the AUTH_IP_RATE ceiling, as a DRF view's
    throttle would apply it. None when allowed, else the Throttled to answer with."""
    throttle = AuthRateThrottle()
    if throttle.allow_request(request, None):  # type: ignore[arg-type]
        return None
    return Throttled(wait=throttle.wait())


def _account_key(email: str) -> str:
    return "signin:attempts:acct:" + hashlib.sha256(email.encode()).hexdigest()


def _ip_key(ip: str) -> str:
    return f"signin:attempts:ip:{ip}"


def _count(key: str) -> int | None:
    """Count one attempt; the attempt's number in the window, or None when the cache cannot
    count (then nothing is limited). The first attempt opens the window (its expiry)."""
    window = settings.LOGIN_LOCKOUT_SECONDS
    for _ in range(2):
        if cache.add(key, 0, timeout=window) is None:
            return None  # the cache is unreachable (django-redis answers None, not False)
        try:
            number = cache.incr(key)
        except ValueError:  # the window ended between add and incr: open a new one
            continue
        return int(number) if number is not None else None
    return None


def _retry_after(key: str) -> float:
    ttl = getattr(cache, "ttl", None)  # django-redis knows a key's expiry; LocMemCache does not
    remaining = ttl(key) if ttl is not None else None
    if isinstance(remaining, int) and remaining > 0:
        return float(remaining)
    return float(settings.LOGIN_LOCKOUT_SECONDS)


def _locked(key: str) -> Throttled:
    return Throttled(
        wait=max(1.0, _retry_after(key)), detail="Too many failed sign-in attempts; try again later."
    )


def credential_check(*, email: str, ip: str, verify: Callable[[], Any]) -> Any:
    """Evaluate `verify()` (a secret check: a truthy result is a success) under the limits
    above, and return its result. Raises Throttled (429) while the account or the address is
    locked, without calling `verify`."""
    account, address = _account_key(email), _ip_key(ip)
    # The address first: attempts from a locked address do not count against the account.
    for key, limit in (
        (address, settings.LOGIN_FAILURES_PER_IP),
        (account, settings.LOGIN_FAILURES_PER_ACCOUNT),
    ):
        number = _count(key)
        if number is not None and number > limit:
            raise _locked(key)
    result = verify()
    if result:
        cache.delete(account)
        with contextlib.suppress(ValueError):  # the window ended meanwhile: nothing to give back
            cache.decr(address)
    return result
