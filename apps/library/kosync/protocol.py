"""KOReader progress-sync protocol details: errors, the Accept gate, credentials.

Everything here follows ../shared/specs/kosync/README.md (the reference server's behaviour):
error bodies are `{"code", "message"}` with the reference codes and statuses, responses are
`application/json`, the Accept header must name `application/vnd.koreader.v1+json` (plain
`application/json` is accepted too, as other compatible servers do).
"""

from __future__ import annotations

import hashlib
import re
import uuid

from django.contrib.auth.hashers import check_password, make_password
from django.core.cache import cache
from rest_framework.exceptions import Throttled

from apps.common.text import is_storable
from apps.identity import selectors as identity_selectors
from apps.identity import throttling

ERRORS: dict[str, tuple[int, int, str]] = {
    # name: (http status, kosync code, message) — verbatim from the reference server
    "unauthorized": (401, 2001, "Unauthorized"),
    "username_taken": (402, 2002, "Username is already registered."),
    "invalid_request": (403, 2003, "Invalid request"),
    "no_document": (403, 2004, "Field 'document' not provided."),
    "registration_disabled": (402, 2005, "User registration is disabled."),
    "accept_missing": (412, 100, "Accept header not set."),
    "accept_invalid": (412, 101, "Invalid Accept header format."),
    "accept_version": (412, 102, "Unsupported version specified in the Accept header."),
    "bad_json": (400, 103, "Could not parse JSON in body."),
    "not_a_hash": (400, 104, "Body should be a JSON hash."),
}

MEDIA_TYPE = "application/vnd.koreader.v1+json"
_VND = re.compile(r"^application/vnd\.koreader\.v(\d+)[^+]*\+json$")
DOCUMENT = re.compile(r"^[A-Za-z0-9_]{1,64}$")
VERIFIED_SECONDS = 300


class KosyncError(Exception):
    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.status, self.code, self.message = ERRORS[name]


def check_accept(header: str | None) -> None:
    if not header:
        raise KosyncError("accept_missing")
    kinds = [part.split(";")[0].strip().lower() for part in header.split(",")]
    for kind in kinds:
        match = _VND.match(kind)
        if match:
            if match.group(1) != "1":
                raise KosyncError("accept_version")
            return
    if "application/json" in kinds:
        return
    raise KosyncError("accept_invalid")


def user_key(password: str) -> str:
    """What KOReader sends for a password: md5 hex of its UTF-8 bytes, lower case."""
    return hashlib.md5(password.encode("utf-8"), usedforsecurity=False).hexdigest()


def authenticate(*, username: str | None, key: str | None, ip: str) -> uuid.UUID:
    """The account behind KOReader's `x-auth-user` (the account's e-mail) and `x-auth-key`.

    Keys are compared with a slow hash, under the same sign-in limits as passwords
    (identity's credential_check: a lockout answers `unauthorized`, as KOReader knows no 429).
    Every refusal costs the same: an unknown address or an account without a key hashes the
    key too, so timing does not tell which addresses have KOReader sync. A successful check is
    remembered briefly (keyed by the stored hash, so changing the key forgets it) to keep
    KOReader's 2-5 s timeouts comfortable; only the right key meets that shortcut."""
    if not username or not key or ":" in username or not is_storable(username) or not is_storable(key):
        raise KosyncError("unauthorized")
    email = username.strip().lower()
    user = identity_selectors.user_for_login(email=email)
    stored = user.kosync_key_hash if user is not None and user.is_active else ""
    memo = "kosync:ok:" + hashlib.sha256(f"{stored}\0{key}".encode()).hexdigest()
    remembered = cache.get(memo) is not None  # asked for every key: the same round trip for all
    if stored and remembered:
        return user.id  # type: ignore[union-attr]  # stored is only set with a user

    def verify() -> bool:
        if not stored:
            make_password(key)  # the same work as a real check
            return False
        return check_password(key, stored)

    try:
        ok = throttling.credential_check(email=email, ip=ip, verify=verify)
    except Throttled:
        raise KosyncError("unauthorized") from None
    if not ok:
        raise KosyncError("unauthorized")
    cache.set(memo, True, VERIFIED_SECONDS)
    return user.id  # type: ignore[union-attr]
