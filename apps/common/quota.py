"""One storage quota per user over everything that holds their bytes.

USER_STORAGE_QUOTA_BYTES covers library files (with the declared size of direct uploads in
progress: an upload reserves its space when it starts) and the text of notes (titles, bodies
and the revisions kept of them). Each app reports its part through the STORAGE_USAGE setting
(part name -> dotted path of a `(*, user_id) -> int` selector), so this module imports no
domain app. Writers check before they grow a user's data, inside the user's feed lock
(apps/sync/feed.owner_write), which serialises one user's checks.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings
from django.utils.module_loading import import_string

from .errors import ApplicationError, ErrorCode


class QuotaExceeded(ApplicationError):
    # 413, not 507: the client must free space or send less; a 5xx would invite retries.
    status = 413
    code = ErrorCode.QUOTA_EXCEEDED

    def __init__(self, detail: str, *, used: int, quota: int) -> None:
        super().__init__(detail, extra={"used_bytes": used, "quota_bytes": quota})


def usage(*, user_id: uuid.UUID) -> dict[str, int]:
    """Bytes counted against the quota, by part (`files`, `notes`)."""
    return {name: int(import_string(path)(user_id=user_id)) for name, path in settings.STORAGE_USAGE.items()}


def used(*, user_id: uuid.UUID) -> int:
    return sum(usage(user_id=user_id).values())


def exceeded(*, used_bytes: int, what: str) -> QuotaExceeded:
    quota = settings.USER_STORAGE_QUOTA_BYTES
    return QuotaExceeded(f"This {what} does not fit in your storage quota.", used=used_bytes, quota=quota)


def check(*, user_id: uuid.UUID, adding: int, what: str) -> None:
    """Refuse (413 `quota_exceeded`) a change that would grow the user's data by `adding`
    bytes past the quota. Shrinking or keeping the size is always allowed (a user over a
    lowered quota can still edit down and delete)."""
    if adding <= 0:
        return
    total = used(user_id=user_id)
    if total + adding > settings.USER_STORAGE_QUOTA_BYTES:
        raise exceeded(used_bytes=total, what=what)


def summary(*, user_id: uuid.UUID) -> dict[str, Any]:
    """What /v1/users/me shows."""
    parts = usage(user_id=user_id)
    return {
        "used_bytes": sum(parts.values()),
        "quota_bytes": settings.USER_STORAGE_QUOTA_BYTES,
        "parts": parts,
    }
