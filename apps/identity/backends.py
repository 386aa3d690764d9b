"""Django's own sign-in (the admin) through the API's sign-in gate.

`authenticate()` is how the admin's login form checks a password. This backend answers it with
services.credentials_verify, so staff sign-in meets exactly the API's lockout and counting: a
locked account stays locked at /admin/login/, and wrong passwords there lock the account for
the API too. A lockout propagates as DRF's Throttled out of `authenticate()` (it only swallows
PermissionDenied); the admin site (admin_site.py) answers it with 429.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.backends import ModelBackend
from django.http import HttpRequest

from . import services
from .throttling import client_ip


class SignInGateBackend(ModelBackend):
    def authenticate(
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> Any:
        if request is None or username is None or password is None:
            return None  # no request, no address to count against: nothing is checked here
        return services.credentials_verify(email=username, password=password, ip=client_ip(request))
