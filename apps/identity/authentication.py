"""Bearer access-token authentication that costs no database query in the common case.

simplejwt validates the token (signature with the configured algorithm only, so `alg: none`
and foreign keys fail; expiry; token type, so a refresh token is no access token). The session
named by the token must still be live (see sessions.py). The request's user is a light
`AuthenticatedUser` carrying the id and staff flag: views that need the full account load it
through the identity selectors.

A genuine access token whose time is up is 401 `token_expired`, so the client refreshes and
retries; every other refusal is 401 `authentication_failed` (sign in again).

Each process remembers the access tokens it verified (`_VerifiedTokens`, by their exact text,
until they expire): checking the same text again would give the same answer, and it is most of
what authentication costs once the session state comes from memory (PyJWT's base64 checks and
the HMAC, ~40 us a request). Revocation does not depend on it: the session is checked on every
request.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import exceptions
from rest_framework.request import Request
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import ExpiredTokenError, InvalidToken, TokenError
from rest_framework_simplejwt.tokens import AccessToken, Token

from apps.common import context
from apps.common.errors import ApplicationError, ErrorCode

from .sessions import session_state


@dataclass(frozen=True)
class AuthenticatedUser:
    id: uuid.UUID
    is_staff: bool
    session_id: uuid.UUID
    is_active: bool = True
    is_authenticated: bool = True
    is_anonymous: bool = False

    @property
    def pk(self) -> uuid.UUID:
        return self.id


class _VerifiedTokens:
    """Access tokens whose signature, kind and claims checked out, by their exact text, for as
    long as they are unexpired: at most `max_entries` (least recently used out first)."""

    def __init__(self, max_entries: int) -> None:
        self.max_entries = max_entries
        self._tokens: OrderedDict[bytes, AccessToken] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, raw: bytes) -> AccessToken | None:
        with self._lock:
            token = self._tokens.get(raw)
            if token is None:
                return None
            if token.payload["exp"] <= time.time():  # then verified again, to say token_expired
                del self._tokens[raw]
                return None
            self._tokens.move_to_end(raw)
            return token

    def put(self, raw: bytes, token: AccessToken) -> None:
        with self._lock:
            self._tokens[raw] = token
            while len(self._tokens) > self.max_entries:
                self._tokens.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._tokens.clear()


# About 1.5 KB each: a worker sees far fewer distinct tokens within their 5 minutes.
verified_tokens = _VerifiedTokens(max_entries=1024)


class AccessTokenAuthentication(JWTAuthentication):
    www_authenticate_realm = "api"

    def authenticate(self, request: Request) -> tuple[AuthenticatedUser, Token] | None:  # type: ignore[override]
        header = self.get_header(request)
        if header is None:
            return None
        raw = self.get_raw_token(header)
        if raw is None:
            raise exceptions.AuthenticationFailed("Malformed Authorization header.")
        token = verified_tokens.get(raw)
        if token is None:
            try:
                token = AccessToken(raw)  # type: ignore[arg-type]
            except ExpiredTokenError:
                raise self.expired(raw) from None
            except TokenError:
                raise InvalidToken("The access token is invalid.") from None
            verified_tokens.put(raw, token)
        return self.user_for(token), token

    @staticmethod
    def expired(raw: bytes) -> exceptions.AuthenticationFailed:
        """The refusal of a token whose signature checked out (PyJWT checks it before the expiry)
        but whose time is up: `token_expired` for an access token, the generic refusal for any
        other kind (a refresh token is never an access token, fresh or not)."""
        try:
            AccessToken(raw, verify=False).verify_token_type()  # type: ignore[arg-type]
        except TokenError:
            return InvalidToken("The access token is invalid.")
        return exceptions.AuthenticationFailed(
            "The access token has expired: refresh it and retry.", code=ErrorCode.TOKEN_EXPIRED
        )

    def user_for(self, token: Token) -> AuthenticatedUser:
        user_id = token.get("user_id")
        session_id = token.get("sid")
        if not isinstance(user_id, str) or not isinstance(session_id, str):
            raise InvalidToken("The access token lacks its claims.")
        state = session_state(session_id)
        if state is None or state.user_id != user_id:
            raise exceptions.AuthenticationFailed("This session has ended; sign in again.")
        ctx = context.current()
        if ctx is not None:
            ctx.user_id = user_id
        return AuthenticatedUser(
            id=uuid.UUID(user_id), is_staff=state.is_staff, session_id=uuid.UUID(session_id)
        )

    def get_user(self, validated_token: Any) -> Any:  # pragma: no cover - not used
        return self.user_for(validated_token)


def require_recent_authentication(request: Request) -> None:
    """403 `reauthentication_required` unless the request's access token comes from a password
    proved within REAUTHENTICATION_SECONDS (its `auth_time`; see services._issue)."""
    token = request.auth
    auth_time = token.get("auth_time") if isinstance(token, Token) else None
    if not is_recently_authenticated(auth_time):
        raise ApplicationError(
            "This needs a recent sign-in: POST your password to /v1/auth/reauthenticate and "
            "retry with the new access token.",
            code=ErrorCode.REAUTHENTICATION_REQUIRED,
            status=403,
        )


def is_recently_authenticated(auth_time: Any) -> bool:
    if not isinstance(auth_time, int) or isinstance(auth_time, bool):
        return False
    # A minute of slack for pods whose clocks differ a little.
    return -60 <= time.time() - auth_time <= settings.REAUTHENTICATION_SECONDS


class AccessTokenScheme(OpenApiAuthenticationExtension):
    """Describes the bearer scheme in the OpenAPI schema."""

    target_class = "apps.identity.authentication.AccessTokenAuthentication"
    name = "bearerAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        return {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
