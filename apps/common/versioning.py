"""ETag / If-Match on versioned objects.

The ETag is the quoted version (`"7"`). Views turn an If-Match header into an expected version;
services compare it with the row they hold locked, so two racing writers cannot both pass the
check. A stale If-Match is refused with 412 before anything is written; without If-Match the
write proceeds (clients opt in to optimistic concurrency).
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

from rest_framework.request import Request

from .errors import PreconditionFailed

# An If-Match that can match no version (garbage, or a tag we never issued).
NEVER = -1
# The tags we issue: a quoted version in ASCII digits (str.isdigit also takes "²" and other
# Unicode digits, which int() then refuses).
_ETAG = re.compile(r'"[0-9]{1,18}"')


def etag_for(version: int) -> str:
    return f'"{version}"'


def expected_version(request: Request) -> int | None:
    """The version an If-Match header asks for; None when absent or `*`."""
    header = request.headers.get("If-Match")
    if not header:
        return None
    tags = [part.strip().removeprefix("W/") for part in header.split(",") if part.strip()]
    if "*" in tags:
        return None
    for tag in tags:
        if _ETAG.fullmatch(tag):
            return int(tag[1:-1])
    return NEVER


def require_version(current: int, expected: int | None) -> None:
    if expected is not None and expected != current:
        raise PreconditionFailed(
            f"The object has changed: it is now at version {current}.",
            extra={"current_version": current},
            headers={"ETag": etag_for(current)},
        )


class ETagMixin:
    """For DRF views: put the object's version in the ETag header of single-object responses.

    `conditional_methods` are the view's methods that honour If-Match (the schema declares the
    header on exactly those: apps/common/schema.py)."""

    conditional_methods: ClassVar[frozenset[str]] = frozenset({"PUT", "PATCH", "DELETE"})

    def finalize_response(self, request: Request, response: Any, *args: Any, **kwargs: Any) -> Any:
        response = super().finalize_response(request, response, *args, **kwargs)  # type: ignore[misc]
        data = getattr(response, "data", None)
        if (
            200 <= response.status_code < 300
            and isinstance(data, dict)
            and isinstance(data.get("version"), int)
            and "results" not in data
        ):
            response["ETag"] = etag_for(data["version"])
        return response
